"""End to end: Table 1 protocol on a tiny test fold written in the converter's layout.

The main test loads the real synthesiser from an untrained `tiny()` checkpoint, as the command
line does; the quicker ones inject a test double with its call signature (Eq. 2 with every AU
region brightened or darkened). The detector is OpenFace's subprocess path with the stand-in binary.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image

from builders import write_converted_dataset, write_untrained_checkpoint
from lac_gan.common.errors import UsageError
from lac_gan.data import attention
from lac_gan.data.au_table import AU_NAMES, NUM_AUS
from lac_gan.evaluation.face_identity import IdentityJudge
from lac_gan.evaluation.protocol import EvaluationConfig, choose_pairs, run_evaluation, synthesis_labels
from lac_gan.nets.config import tiny

REPO = Path(__file__).resolve().parents[1]
FAKE_BINARY = REPO / "tests" / "fake_openface" / "FeatureExtraction"
SIZE = tiny().image_size
# (subject, task, frames) of the test part; F015's single frame has no partner and is left out.
FRAMES = [("F007", "T1", (10, 11, 12)), ("F007", "T2", (5, 6, 7)), ("M003", "T1", (1, 2, 3, 4)),
          ("F015", "T3", (9,))]
PAIRS = 10


def write_test_fold(data_dir: Path, astronaut: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    examples = []
    for k, (subject, task, frames) in enumerate(FRAMES):
        for frame in frames:
            crop = astronaut[20 + 3 * frame: 220 + 3 * frame, 150 + 5 * k: 350 + 5 * k]
            examples.append({"image": np.asarray(Image.fromarray(crop).resize((SIZE, SIZE), Image.BILINEAR)),
                             "labels": rng.choice([0, 1, 9], size=NUM_AUS, p=[0.5, 0.4, 0.1]),
                             "subject": subject, "task": task, "frame": frame})
    write_converted_dataset(data_dir, SIZE, {"part3": examples})


def region_synthesizer(images, attention_maps, target_labels, **faces):
    """Test double: Eq. 2 with region i = source +0.3 where AU i is wanted present, -0.3 absent."""
    shift = 0.6 * tf.cast(target_labels, tf.float32) - 0.3  # [B, 12]
    regions = tf.clip_by_value(images[None] + tf.transpose(shift)[:, :, None, None, None], -1.0, 1.0)
    return attention.compose(images, regions, attention_maps)


def pixels(images):
    return np.reshape(images, (len(images), -1))


PIXELS = IdentityJudge("pixels", pixels, "cosine_similarity", "cosine similarity of the pixels")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, astronaut):
    folder = tmp_path_factory.mktemp("fold")
    write_test_fold(folder, astronaut)
    return folder


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("logdir")
    write_untrained_checkpoint(logdir)
    return str(logdir)


def evaluate(data_dir, out_dir, synthesizer=region_synthesizer, **changes):
    """run_evaluation with the fake OpenFace; `synthesizer=None` loads `changes['checkpoint']`."""
    settings = {"detector": "openface", "openface_bin": str(FAKE_BINARY), "batch_size": 4, "figure_faces": 2}
    config = EvaluationConfig(data_dir=str(data_dir), out_dir=str(out_dir), **{**settings, **changes})
    return run_evaluation(config, synthesizer=synthesizer, judge=PIXELS,
                          image_size=None if synthesizer is None else SIZE)


def test_table1_end_to_end(data_dir, checkpoint, tmp_path, caplog):
    caplog.set_level("INFO")
    results = evaluate(data_dir, tmp_path / "run", synthesizer=None, checkpoint=checkpoint)
    out = tmp_path / "run"
    assert "synthesised: 10/10" in caplog.text and "OpenFace on synthetic: 10/10" in caplog.text

    table = pd.read_csv(out / "table1.csv", na_values="-")
    assert table["AU"].tolist() == [*AU_NAMES, "Avg"]
    assert table.set_index("AU").loc["AU24"].isna().all()  # OpenFace has no AU24
    scores = table.drop(columns="AU").drop(index=11)
    assert scores.filter(like="Real").stack().between(0, 100).all()
    assert scores.filter(like="Synthesis").stack().between(0, 100).all()
    # Gaps come from unrounded scores: within rounding of the printed difference.
    np.testing.assert_allclose(table["Gaps F1"], table["Real F1"] - table["Synthesis F1"], atol=0.11)
    markdown = (out / "table1.md").read_text()
    assert "| AU24 | - | - | - | - | - | - |" in markdown and "| Avg |" in markdown

    assert results["protocol"]["pairs"] == PAIRS and results["detection_failures"] == {"real": 0, "synthetic": 0}
    assert results["detector"]["covered_aus"] == [n for n in AU_NAMES if n != "AU24"]
    assert "-au_static" in results["detector"]["provenance"]["real"]
    for pair in results["pairs"]:
        assert pair["real"].split("/")[0] == pair["source"].split("/")[0] and pair["real"] != pair["source"]
    for set_name in ("real", "synthetic"):
        assert len(list((out / "sets" / set_name).glob("*.png"))) == PAIRS
    assert results["preservation"]["mae_outside_au_regions"] == 0.0  # Eq. 2 leaves it untouched
    assert results["preservation"]["mae_inside_au_regions"] > 0
    identity = results["identity"]
    assert 0.5 < identity["synthetic_vs_source"]["mean_cosine_similarity"] <= 1.0
    assert identity["synthetic_vs_source"]["pairs"] == identity["real_target_vs_source"]["pairs"] == PAIRS
    # The synthesiser edits AU regions only, so its output is closer to its source than another frame is.
    assert (identity["synthetic_vs_source"]["mean_cosine_similarity"]
            > identity["real_target_vs_source"]["mean_cosine_similarity"])
    assert json.loads((out / "results.json").read_text())["table1"] == results["table1"]
    for figure in results["figures"]:
        assert Image.open(out / figure).size[0] > 4 * SIZE

    # The saved OpenFace CSV folders read back as precomputed detections give the same table.
    again = evaluate(data_dir, tmp_path / "again", detector="precomputed",
                     precomputed_real=str(out / "detector" / "real"),
                     precomputed_synthetic=str(out / "detector" / "synthetic"))
    assert again["pairs"] == results["pairs"] and again["table1"] == results["table1"]


def test_same_seed_same_synthetic_images(data_dir, checkpoint, tmp_path):
    # Loads the checkpoint twice: also catches generator weights missing from checkpoints.
    runs = [evaluate(data_dir, tmp_path / name, synthesizer=None, checkpoint=checkpoint, detector="none",
                     max_frames=3, seed=2, figure_faces=0) for name in ("first", "second")]
    assert runs[0]["pairs"] == runs[1]["pairs"]
    images = [[p.read_bytes() for p in sorted((tmp_path / name / "sets" / "synthetic").glob("*.png"))]
              for name in ("first", "second")]
    assert len(images[0]) == 3 and images[0] == images[1]


def test_failures_are_counted_and_subsample_is_seeded(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_OPENFACE_FAILURES", "1")  # images 2, 3 and the last one fail
    results = evaluate(data_dir, tmp_path / "run", max_frames=5, seed=3)
    assert results["protocol"]["pairs"] == 5
    assert results["detection_failures"] == {"real": 3, "synthetic": 3}
    scored = [s["frames"] for s in results["scores"]["real"].values() if s is not None]
    assert max(scored) <= 2  # only 2 of 5 frames were analysed
    assert "synthetic 3 of 5" in (tmp_path / "run" / "table1.md").read_text()


def test_subjects_restrict_the_pairs_to_matching_ids(data_dir, tmp_path):
    results = evaluate(data_dir, tmp_path / "run", subjects="F0.*")
    assert {p["real"].split("/")[0] for p in results["pairs"]} == {"F007"}
    assert results["protocol"]["pairs"] == 6
    with pytest.raises(UsageError, match="matches none"):
        evaluate(data_dir, tmp_path / "none", subjects="X.*")
    with pytest.raises(UsageError, match="not a regular expression"):
        evaluate(data_dir, tmp_path / "bad", subjects="(")


def test_no_detector_writes_the_sets_only_and_identity_uses_vggface(data_dir, tmp_path):
    from lac_gan.nets import vggface
    rng = np.random.default_rng(0)
    weights = {name: [rng.normal(0, 0.05, kernel).astype(np.float32), np.zeros(bias, np.float32)]
               for name, (kernel, bias) in vggface.conv_layer_shapes().items()}
    vggface.write_weights(tmp_path / vggface.WEIGHTS_FILE_NAME, weights)
    config = EvaluationConfig(data_dir=str(data_dir), out_dir=str(tmp_path / "run"), detector="none",
                              max_frames=2, figure_faces=0,
                              identity_weights=str(tmp_path / vggface.WEIGHTS_FILE_NAME))
    results = run_evaluation(config, synthesizer=region_synthesizer, image_size=SIZE)
    assert results["detector"] is None and "table1" not in results
    assert not (tmp_path / "run" / "table1.md").exists()
    assert len(list((tmp_path / "run" / "sets" / "synthetic").glob("*.png"))) == 2
    identity = results["identity"]["synthetic_vs_source"]
    assert results["identity"]["model"] == "vggface"
    assert identity["pairs"] == 2 and -1 <= identity["mean_cosine_similarity"] <= 1


def test_pairs_stay_within_subject_and_follow_the_seed():
    index = pd.DataFrame({"subject": ["A"] * 3 + ["B"] * 2 + ["C"], "task": "T1", "frame": [1, 2, 3, 1, 2, 1]})
    pairs = choose_pairs(index, seed=7)
    assert pairs["target"].tolist() == [0, 1, 2, 3, 4]  # C has a single frame
    assert (index["subject"][pairs["source"]].to_numpy() == index["subject"][pairs["target"]].to_numpy()).all()
    assert (pairs["source"] != pairs["target"]).all()
    assert pairs.equals(choose_pairs(index, seed=7))
    assert len(choose_pairs(index, seed=7, max_frames=2)) == 2


def test_unknown_labels_keep_the_source_state():
    target = np.array([1, 0, 9, 9])
    source = np.array([0, 1, 1, 9])
    assert synthesis_labels(target, source).tolist() == [1, 0, 1, 0]


def test_command_line(data_dir, checkpoint, tmp_path):
    # A subprocess: evaluate.py's flags would clash with other CLIs' flags imported by other tests.
    command = [sys.executable, str(REPO / "evaluate.py"), "--checkpoint", checkpoint, "--data_dir", str(data_dir),
               "--fold", "1", "--detector", "openface", "--openface_bin", str(FAKE_BINARY),
               "--openface_args=-mloc model/main_clnf_general.txt", "--out_dir", str(tmp_path / "out"),
               "--max_frames", "3", "--seed", "5", "--batch_size", "2"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["protocol"]["seed"] == 5 and results["protocol"]["pairs"] == 3
    assert results["protocol"]["openface_args"] == "-mloc model/main_clnf_general.txt"
    # The tiny preset's 32 px faces, which OpenFace cannot read, are enlarged for it.
    assert results["detector"]["provenance"]["real"].endswith(
        "-aus -au_static -mloc model/main_clnf_general.txt (faces enlarged first, bicubic: 32x32 -> 112x112)")
    assert "synthesised: 3/3" in result.stderr


def test_missing_openface_fails_before_synthesis(data_dir, tmp_path, monkeypatch):
    from lac_gan.evaluation.openface import OpenFaceError
    monkeypatch.delenv("OPENFACE_BIN", raising=False)

    def never_called(*args):
        raise AssertionError("synthesised although the detector cannot run")
    with pytest.raises(OpenFaceError, match="nowhere"):
        evaluate(data_dir, tmp_path / "out", synthesizer=never_called, openface_bin=str(tmp_path / "nowhere"))


def test_table1_with_the_warp_editor_needs_no_checkpoint(data_dir, tmp_path):
    """`evaluate --editor warp`: the fixed warp makes the synthetic set (moving the records' own
    landmarks where the pair's labels change), with Fig. 3 / Fig. 5 and Table 1 as for a model."""
    results = evaluate(data_dir, tmp_path / "run", synthesizer=None, editor="warp")
    out = tmp_path / "run"
    assert results["protocol"]["pairs"] == PAIRS
    assert (out / "figures" / "fig3_single_aus.png").is_file() and (out / "table1.md").is_file()
    # The warp moved the faces where a pair's labels differ; its reach is larger than JAA-Net's maps.
    assert results["preservation"]["mae_inside_au_regions"] > 0


def test_a_second_run_into_the_same_out_dir_replaces_the_first_as_a_whole(data_dir, tmp_path):
    """After an 8-pair run, a 2-pair run into the same folder left 6 old images beside 2 new ones in
    each set and a table1.md of 8 pairs beside a results.json of 2."""
    out = tmp_path / "run"
    first = evaluate(data_dir, out, max_frames=8)
    assert first["protocol"]["pairs"] == 8
    (out / "notes.txt").write_text("the user's own file")
    second = evaluate(data_dir, out, max_frames=2, detector="none")
    assert second["protocol"]["pairs"] == 2
    for set_name in ("real", "synthetic"):
        assert len(list((out / "sets" / set_name).glob("*.png"))) == 2
    assert not (out / "table1.md").exists() and not (out / "table1.csv").exists()
    assert (out / "notes.txt").read_text() == "the user's own file"
