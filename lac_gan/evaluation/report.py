"""Table 1 as the paper lays it out (table1.md, table1.csv) and every number in results.json.

Scores are in %, one decimal. '-' marks an AU without a score: the detector has no output for it
(OpenFace and AU24), or no frame of the set could be scored for it. 'Avg' averages over the AUs
scored in both sets, and its gap is Avg(Real) - Avg(Synthesis), as in the paper.

Beyond the paper, a control: 'Source' scores the unedited source frames against the same target
labels (what an identity generator would score), and 'Edit success' is, per AU, the share of pairs
whose source and target labels differ there (both known) where the detector reads the synthetic face
as the target state. Their 'Avg' averages the AUs that have a value (Source: among those of the Real
and Synthesis average).
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from lac_gan.common.errors import naming_path
from lac_gan.common.json_files import write_json_atomic
from lac_gan.data import metrics
from lac_gan.data.au_table import AU_NAMES

METRICS = (("f1", "F1"), ("accuracy", "Acc"))  # (AUScore field, column label)
COLUMNS = ("AU", "Real F1", "Real Acc", "Synthesis F1", "Synthesis Acc", "Gaps F1", "Gaps Acc",
           "Source F1", "Source Acc", "Edit success")


def _score(score: metrics.AUScore | None, field: str) -> float | None:
    value = None if score is None else getattr(score, field)
    return None if value is None or math.isnan(value) else value


def _gap(real: float | None, synthetic: float | None) -> float | None:
    return None if real is None or synthetic is None else real - synthetic


def table1_rows(real: list, synthetic: list, source: list | None = None,
                edit_success: list | None = None) -> list[dict]:
    """One dict per AU plus 'Avg': the numbers of Table 1 (None where the table shows '-').

    'Avg' of a metric averages the AUs scored in both sets, so that Avg(Real) - Avg(Synthesis) is
    the mean of the per-AU gaps. `source` (AUScores of the unedited sources against the targets)
    and `edit_success` (metrics.EditSuccess) fill the control columns; without them they are '-'.
    """
    source = source if source is not None else [None] * len(AU_NAMES)
    edit_success = edit_success if edit_success is not None else [None] * len(AU_NAMES)
    rows = []
    for name, r, s, o, e in zip(AU_NAMES, real, synthetic, source, edit_success):
        row = {"AU": name, "Edit success": _score(e, "rate")}
        for field, label in METRICS:
            row[f"Real {label}"], row[f"Synthesis {label}"] = _score(r, field), _score(s, field)
            row[f"Source {label}"] = _score(o, field)
        rows.append(row)
    average = {"AU": "Avg"}
    for _, label in METRICS:
        both = [row for row in rows if row[f"Real {label}"] is not None and row[f"Synthesis {label}"] is not None]
        for set_label in ("Real", "Synthesis"):
            average[f"{set_label} {label}"] = (float(np.mean([row[f"{set_label} {label}"] for row in both]))
                                               if both else None)
        average[f"Source {label}"] = _mean([row[f"Source {label}"] for row in both])
    average["Edit success"] = _mean([row["Edit success"] for row in rows])
    rows.append(average)
    for row in rows:
        for _, label in METRICS:
            row[f"Gaps {label}"] = _gap(row[f"Real {label}"], row[f"Synthesis {label}"])
    return [{c: row[c] for c in COLUMNS} for row in rows]


def _mean(values: list) -> float | None:
    """The mean of the values that are not None; None when there is none."""
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


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
              f"synthetic {failures['synthetic']} of {results['protocol']['pairs']}."]
    source = results.get("source")
    if source is not None:
        lines += ["", "Control: Source = the unedited source faces scored against the same target labels "
                  "(what an identity generator scores); Edit success = of the pairs whose source and target "
                  "labels differ in that AU (both known), the share whose synthetic face the detector reads "
                  "as the target, in %; '-' = no such pair or no output.",
                  f"Source detections: {source['reused_real_detections']} pairs reuse the real set's detection "
                  f"of the same frame, {source['detected_separately']} detected in sets/source; detection "
                  f"failures {source['detection_failures']} of {results['protocol']['pairs']}."]
    lines.append("")
    with naming_path(path):
        path.write_text("\n".join(lines))


def write_csv(path: Path, rows: list[dict]) -> None:
    with naming_path(path), path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({c: _cell(row[c]) for c in COLUMNS} for row in rows)


def write_report(out_dir: Path, results: dict, scored: dict | None) -> None:
    """Adds the scores to `results` and writes results.json, plus the Table 1 files when a detector
    ran (`scored`: per set, its per-AU scores and detection failures)."""
    if scored is not None:
        source = scored.get("source")
        edit_success = scored.get("edit_success")
        rows = table1_rows(scored["real"]["scores"], scored["synthetic"]["scores"],
                           None if source is None else source["scores"], edit_success)
        results["table1"] = rows
        results["detection_failures"] = {s: scored[s]["detection_failures"] for s in ("real", "synthetic")}
        results["scores"] = {s: metrics.scores_by_name(scored[s]["scores"]) for s in ("real", "synthetic")}
        if source is not None:
            results["source"] = {**{k: v for k, v in source.items() if k != "scores"},
                                 "scores": metrics.scores_by_name(source["scores"])}
        if edit_success is not None:
            results["edit_success"] = metrics.edit_success_by_name(edit_success)
        write_markdown(out_dir / "table1.md", rows, results)
        write_csv(out_dir / "table1.csv", rows)
    write_json_atomic(out_dir / "results.json", results)
