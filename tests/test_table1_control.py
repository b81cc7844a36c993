"""Table 1's control: the Source column (unedited sources scored against the targets) and per-AU edit
success, on the tiny test fold of test_evaluate.py.

With detections written by hand (--detector precomputed) the expected numbers are known exactly: a
detector that reads every real frame's labels gives Source = the source frames' labels scored against
the targets; a perfect editor then has edit success 100 %, an identity editor 0 % and Synthesis =
Source. These fail if Source were read from the synthetic detections or edit success ignored the
targets. With the stand-in OpenFace, an identity synthesiser scores Synthesis = Source exactly, also
for sources that are no real frame (a --max_frames run detects those in sets/source).
"""
import json

import numpy as np
import pandas as pd
import pytest

from lac_gan.data import metrics
from lac_gan.data.au_table import AU_NAMES, AU_NUMBERS, NUM_AUS
from lac_gan.evaluation.protocol import EvaluationConfig, choose_pairs, run_evaluation, source_images
from lac_gan.evaluation.report import table1_rows
from test_evaluate import FAKE_BINARY, PIXELS, SIZE, region_synthesizer, write_test_fold

PAIRS = 10
MAX_FRAMES, SEED = 5, 1  # a subsample whose sources are partly real frames, partly not


def identity_synthesizer(images, attention_maps, target_labels, **faces):
    return images


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, astronaut):
    folder = tmp_path_factory.mktemp("fold")
    write_test_fold(folder, astronaut)
    return folder


def evaluate(data_dir, out_dir, synthesizer=region_synthesizer, **changes):
    settings = {"detector": "openface", "openface_bin": str(FAKE_BINARY), "batch_size": 4, "figure_faces": 0}
    config = EvaluationConfig(data_dir=str(data_dir), out_dir=str(out_dir), **{**settings, **changes})
    return run_evaluation(config, synthesizer=synthesizer, judge=PIXELS, image_size=SIZE)


def write_detections(path, names, labels):
    """A precomputed CSV: one row per image, AUxx_c = `labels` (9 read as absent)."""
    table = pd.DataFrame({"filename": names})
    for j, number in enumerate(AU_NUMBERS):
        table[f"AU{number:02d}_c"] = (np.asarray(labels)[:, j] == 1).astype(float)
    table.to_csv(path, index=False)
    return str(path)


def expected_scores(target, predicted):
    """(F1, accuracy) in % per AU of 0/1 `predicted` against `target`, 9s dropped, by hand."""
    scores = []
    for j in range(NUM_AUS):
        keep = target[:, j] != 9
        t, p = target[keep, j] == 1, predicted[keep, j] == 1
        tp, fp, fn = np.sum(t & p), np.sum(~t & p), np.sum(t & ~p)
        scores.append((0.0 if tp == 0 else 100 * 2 * tp / (2 * tp + fp + fn), 100 * np.mean(t == p)))
    return scores


@pytest.fixture(scope="module")
def written_sets(data_dir, tmp_path_factory):
    """The sets and pairs of a full run, without a detector."""
    out = tmp_path_factory.mktemp("sets")
    results = evaluate(data_dir, out, detector="none")
    target = np.array([p["labels"] for p in results["pairs"]])
    by_key = {p["real"]: p["labels"] for p in results["pairs"]}
    source = np.array([by_key[p["source"]] for p in results["pairs"]])  # every source is a real frame here
    synthesis = np.array([p["synthesis_labels"] for p in results["pairs"]])
    return out, target, source, synthesis


def test_source_and_edit_success_with_known_detections(data_dir, written_sets, tmp_path):
    out, target, source, synthesis = written_sets
    names = [f"{i:06d}.png" for i in range(PAIRS)]
    real_csv = write_detections(tmp_path / "real.csv", names, target)  # a detector right on every real face
    runs = {}
    for editor, synthetic_labels in (("perfect", synthesis), ("identity", source)):
        synthetic_csv = write_detections(tmp_path / f"{editor}.csv", names, synthetic_labels)
        runs[editor] = evaluate(data_dir, tmp_path / editor, detector="precomputed",
                                precomputed_real=real_csv, precomputed_synthetic=synthetic_csv)

    differ = (target != 9) & (source != 9) & (target != source)
    assert differ.any(axis=0).sum() >= 8  # the fold gives most AUs some pair to edit
    expected_source = expected_scores(target, source)
    for editor, results in runs.items():
        table = pd.read_csv(tmp_path / editor / "table1.csv", na_values="-").set_index("AU")
        assert list(table.columns[-3:]) == ["Source F1", "Source Acc", "Edit success"]
        rows = {row["AU"]: row for row in results["table1"]}
        for j, name in enumerate(AU_NAMES):
            # Source: the real detection of each pair's source frame against the pair's target.
            assert rows[name]["Source F1"] == pytest.approx(expected_source[j][0])
            assert rows[name]["Source Acc"] == pytest.approx(expected_source[j][1])
            assert results["source"]["scores"][name]["frames"] == int(np.sum(target[:, j] != 9))
            edit = results["edit_success"][name]
            assert edit["pairs"] == int(differ[:, j].sum())
            if not differ[:, j].any():
                assert rows[name]["Edit success"] is None and np.isnan(table.loc[name, "Edit success"])
                continue
            assert rows[name]["Edit success"] == (100.0 if editor == "perfect" else 0.0)
            assert edit["source_rate"] == 0.0  # the source's own labels never match a differing target
        assert results["source"]["reused_real_detections"] == PAIRS
        assert results["source"]["detected_separately"] == 0
        assert rows["Avg"]["Edit success"] == (100.0 if editor == "perfect" else 0.0)
        assert rows["Avg"]["Source F1"] == pytest.approx(np.mean([s[0] for s in expected_source]))
        saved = json.loads((tmp_path / editor / "results.json").read_text())
        assert saved["edit_success"] == results["edit_success"] and saved["source"] == results["source"]
        assert "| Edit success |" in (tmp_path / editor / "table1.md").read_text()
    # The identity editor's synthetic faces are read as their sources: Synthesis = Source.
    for row in runs["identity"]["table1"]:
        assert row["Synthesis F1"] == pytest.approx(row["Source F1"])
        assert row["Synthesis Acc"] == pytest.approx(row["Source Acc"])
    # The perfect editor scores 100 where Source does not.
    perfect = {row["AU"]: row for row in runs["perfect"]["table1"]}
    assert perfect["Avg"]["Synthesis Acc"] == 100.0 and perfect["Avg"]["Source Acc"] < 90.0


def test_identity_synthesiser_scores_its_sources_with_openface(data_dir, tmp_path):
    index_pairs = pairs_of_subsample(data_dir)
    where, _ = source_images(index_pairs)
    assert {"real", "source"} <= set(where)  # both ways of finding a source's detection are exercised
    results = evaluate(data_dir, tmp_path / "run", synthesizer=identity_synthesizer,
                       max_frames=MAX_FRAMES, seed=SEED)
    out = tmp_path / "run"
    assert len(list((out / "sets" / "source").glob("*.png"))) == len(set(index_pairs["source"][where == "source"]))
    assert results["source"]["detected_separately"] == int(np.sum(where == "source"))
    assert "sets/source" in results["source"]["provenance"]
    table = pd.read_csv(out / "table1.csv", na_values="-").set_index("AU")
    assert table.loc["AU24"].isna().all()  # no OpenFace output: '-' in the new columns too
    scored = table.drop(index="AU24")
    np.testing.assert_array_equal(scored["Synthesis F1"], scored["Source F1"])
    np.testing.assert_array_equal(scored["Synthesis Acc"], scored["Source Acc"])
    for name, edit in results["edit_success"].items():
        if name == "AU24":
            assert edit is None
        elif edit["pairs"]:
            # An identity edit succeeds exactly where the unedited source already matches the target.
            assert edit["rate"] == edit["source_rate"]
    assert results["pairs"][0]["source_image"].split("/")[0] in ("real", "source")


def pairs_of_subsample(data_dir):
    from lac_gan.data.dataset import fold_files
    from lac_gan.evaluation.protocol import read_frame_index
    return choose_pairs(read_frame_index(fold_files(str(data_dir), 1, "test")), SEED, MAX_FRAMES)


def test_precomputed_subsample_needs_source_detections(data_dir, tmp_path):
    first = evaluate(data_dir, tmp_path / "sets", detector="none", max_frames=MAX_FRAMES, seed=SEED)
    sets = tmp_path / "sets" / "sets"
    names = {s: sorted(p.name for p in (sets / s).glob("*.png")) for s in ("real", "synthetic", "source")}
    assert names["source"]
    csvs = {s: write_detections(tmp_path / f"{s}.csv", n, np.ones((len(n), NUM_AUS), int))
            for s, n in names.items()}
    with pytest.raises(Exception, match="--precomputed_source"):  # a usage error, before synthesis
        evaluate(data_dir, tmp_path / "without", detector="precomputed", max_frames=MAX_FRAMES, seed=SEED,
                 precomputed_real=csvs["real"], precomputed_synthetic=csvs["synthetic"])
    results = evaluate(data_dir, tmp_path / "with", detector="precomputed", max_frames=MAX_FRAMES, seed=SEED,
                       precomputed_real=csvs["real"], precomputed_synthetic=csvs["synthetic"],
                       precomputed_source=csvs["source"])
    assert results["pairs"] == first["pairs"]
    # Every detection says "present": Source equals Synthesis, and edit success is the share of
    # differing pairs whose target is "present".
    for row in results["table1"]:
        assert row["Source F1"] == row["Synthesis F1"] and row["Source Acc"] == row["Synthesis Acc"]
    for name, edit in results["edit_success"].items():
        if edit["pairs"]:
            assert edit["rate"] == pytest.approx(100 * edit["to_present_pairs"] / edit["pairs"])


def test_edit_success_by_hand():
    target = np.zeros((5, NUM_AUS), int)
    source = np.zeros((5, NUM_AUS), int)
    target[:, 0], source[:, 0] = [1, 1, 0, 9, 1], [0, 0, 1, 0, 1]  # pairs 0-2 differ; 3 unknown; 4 same
    synthetic = np.zeros((5, NUM_AUS))
    synthetic[:, 0] = [0.9, 0.1, 0.2, 1.0, 1.0]  # pair 0 switched on, pair 1 not, pair 2 switched off
    source_occurrence = np.zeros((5, NUM_AUS))
    source_occurrence[:, 0] = [1.0, 0.0, 1.0, 0.0, 1.0]  # pair 0 already reads as its target
    failed = np.zeros(5, bool)
    covered = np.ones(NUM_AUS, bool)
    covered[-1] = False
    result = metrics.edit_success(target, source, synthetic, failed, covered, source_occurrence, failed)
    au1 = result[0]
    assert (au1.pairs, au1.successes) == (3, 2) and au1.rate == pytest.approx(200 / 3)
    assert (au1.to_present_pairs, au1.to_present_rate) == (2, 50.0)
    assert (au1.to_absent_pairs, au1.to_absent_rate) == (1, 100.0)
    assert au1.source_rate == pytest.approx(100 / 3)
    assert result[1].pairs == 0 and np.isnan(result[1].rate)  # no differing pair: '-'
    assert result[-1] is None
    # A failed synthetic detection is left out of the denominator, never read as a failed edit.
    failed[0] = True
    assert metrics.edit_success(target, source, synthetic, failed, covered)[0].pairs == 2
    rows = table1_rows([None] * NUM_AUS, [None] * NUM_AUS, None, result)
    assert rows[0]["Edit success"] == pytest.approx(200 / 3) and rows[1]["Edit success"] is None
    assert rows[-1]["Edit success"] == pytest.approx(200 / 3)  # Avg over the AUs with a value
