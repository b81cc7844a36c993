"""Table 1 as the paper lays it out (table1.md, table1.csv) and every number in results.json.

Scores are in %, one decimal. '-' marks an AU without a score: the detector has no output for it
(OpenFace and AU24), or no frame of the set could be scored for it. 'Avg' averages over the AUs
scored in both sets, and its gap is Avg(Real) - Avg(Synthesis), as in the paper.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from lac_gan.au_table import AU_NAMES
from lac_gan.evaluation import metrics

METRICS = (("f1", "F1"), ("accuracy", "Acc"))  # (AUScore field, column label)
COLUMNS = ("AU", "Real F1", "Real Acc", "Synthesis F1", "Synthesis Acc", "Gaps F1", "Gaps Acc")


def _score(score: metrics.AUScore | None, field: str) -> float | None:
    value = None if score is None else getattr(score, field)
    return None if value is None or math.isnan(value) else value


def _gap(real: float | None, synthetic: float | None) -> float | None:
    return None if real is None or synthetic is None else real - synthetic


def table1_rows(real: list, synthetic: list) -> list[dict]:
    """One dict per AU plus 'Avg': the numbers of Table 1 (None where the table shows '-').

    'Avg' of a metric averages the AUs scored in both sets, so that Avg(Real) - Avg(Synthesis) is
    the mean of the per-AU gaps.
    """
    rows = []
    for name, r, s in zip(AU_NAMES, real, synthetic):
        row = {"AU": name}
        for field, label in METRICS:
            row[f"Real {label}"], row[f"Synthesis {label}"] = _score(r, field), _score(s, field)
        rows.append(row)
    average = {"AU": "Avg"}
    for _, label in METRICS:
        both = [row for row in rows if row[f"Real {label}"] is not None and row[f"Synthesis {label}"] is not None]
        for set_label in ("Real", "Synthesis"):
            average[f"{set_label} {label}"] = (float(np.mean([row[f"{set_label} {label}"] for row in both]))
                                               if both else None)
    rows.append(average)
    for row in rows:
        for _, label in METRICS:
            row[f"Gaps {label}"] = _gap(row[f"Real {label}"], row[f"Synthesis {label}"])
    return [{c: row[c] for c in COLUMNS} for row in rows]


def _cell(value) -> str:
    return value if isinstance(value, str) else "-" if value is None else f"{value:.1f}"


def write_markdown(path: Path, rows: list[dict], results: dict) -> None:
    detector = results["detector"]
    failures = results["detection_failures"]
    lines = [f"# Table 1 ({detector['name']}, fold {results['protocol']['fold']}, "
             f"{results['protocol']['pairs']} pairs, seed {results['protocol']['seed']})", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(row[c]) for c in COLUMNS) + " |" for row in rows]
    lines += ["", "F1 (positive class) and accuracy in %; frames labelled 9 are dropped per AU; Gaps = Real - "
              "Synthesis; '-' = no output from the detector for that AU (or no scorable frame).",
              f"Detection failures (excluded from that set's scores): real {failures['real']}, "
              f"synthetic {failures['synthetic']} of {results['protocol']['pairs']}.", ""]
    path.write_text("\n".join(lines))


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({c: _cell(row[c]) for c in COLUMNS} for row in rows)


def write_report(out_dir: Path, results: dict, scored: dict | None) -> None:
    """Adds the scores to `results` and writes results.json, plus the Table 1 files when a detector
    ran (`scored`: per set, its per-AU scores and detection failures)."""
    if scored is not None:
        rows = table1_rows(scored["real"]["scores"], scored["synthetic"]["scores"])
        results["table1"] = rows
        results["detection_failures"] = {s: scored[s]["detection_failures"] for s in scored}
        results["scores"] = {s: metrics.scores_by_name(scored[s]["scores"]) for s in scored}
        write_markdown(out_dir / "table1.md", rows, results)
        write_csv(out_dir / "table1.csv", rows)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=_json_default))


def _json_default(value):
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
