"""The bundled model (lac_gan/nets/bundled.py): written from a training logdir, loaded with every
file checked against its manifest; a missing, truncated or changed file, or a config.json that does
not fit the weights, is a one-line error naming the file."""
import json

import numpy as np
import pytest

from builders import write_untrained_checkpoint
from lac_gan.common.errors import DataError, UsageError
from lac_gan.data.au_table import AU_NAMES
from lac_gan.nets import bundled, config as config_lib


@pytest.fixture()
def model_dir(tmp_path):
    logdir = write_untrained_checkpoint(tmp_path / "run", config_lib.tiny_region())
    return bundled.write_bundled_model(str(logdir), tmp_path / "bundled", {"command": "test"}).parent


def test_a_bundled_model_loads_and_edits(model_dir, astronaut):
    from lac_gan.product.editing import FaceEditor
    manifest = json.loads((model_dir / bundled.MANIFEST_NAME).read_text())
    assert manifest["generator"] == "region" and manifest["command"] == "test" and "step" in manifest
    assert set(manifest["files"]) == {"config.json", "generator.index", "generator.data-00000-of-00001"}
    editor = bundled.load_bundled_model(model_dir)
    assert editor.family == "region"
    edited = FaceEditor(editor).edit(astronaut, {AU_NAMES.index("AU12"): 1})
    assert edited.shape == astronaut.shape


def test_a_truncated_weights_file_is_named(model_dir):
    weights = model_dir / "generator.data-00000-of-00001"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(DataError, match=rf"{weights}: truncated"):
        bundled.load_bundled_model(model_dir)


def test_a_missing_file_is_named(model_dir):
    (model_dir / "generator.index").unlink()
    with pytest.raises(DataError, match=r"generator\.index: missing"):
        bundled.load_bundled_model(model_dir)


def test_a_config_that_does_not_fit_the_weights_is_named(model_dir):
    """config.json changed (and the manifest with it, so only the fit can tell): the weights are refused."""
    values = json.loads((model_dir / "config.json").read_text())
    values["region_channels"] = [8, 8, 8]
    (model_dir / "config.json").write_text(json.dumps(values))
    manifest = json.loads((model_dir / bundled.MANIFEST_NAME).read_text())
    manifest["files"]["config.json"] = {"bytes": (model_dir / "config.json").stat().st_size,
                                        "sha256": bundled._sha256(model_dir / "config.json")}
    (model_dir / bundled.MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=r"generator: does not fit .*config\.json"):
        bundled.load_bundled_model(model_dir)


def test_no_bundled_model_says_what_to_pass(tmp_path):
    with pytest.raises(UsageError, match="--checkpoint .* or --editor warp"):
        bundled.load_bundled_model(tmp_path)


def test_the_shipped_model_matches_its_manifest_and_edits_with_no_flags(astronaut):
    """The model in this package (lac_gan/resources/bundled_model): every file as its manifest says,
    small, a region editor that `load_synthesizer()` (no --checkpoint, no --editor) returns, whose
    AU12 edit of the astronaut changes her lower face and nothing above her brows."""
    from lac_gan.nets.synthesis import load_synthesizer
    from lac_gan.product.editing import FaceEditor
    manifest = bundled.read_manifest(bundled.bundled_model_dir())
    assert manifest["generator"] == "region" and manifest["held_out_openface"] and manifest["command"]
    assert sum(f["bytes"] for f in manifest["files"].values()) < 30e6
    editor = FaceEditor(load_synthesizer())
    assert editor.synthesizer.family == "region"
    face = editor.alignments(astronaut, all_faces=False)[0]
    to_photo = np.linalg.inv(np.vstack([face.to_crop, [0, 0, 1]]))[:2]
    points = np.c_[face.landmarks, np.ones(len(face.landmarks))] @ to_photo.T
    brows_top, eyes = points[:10, 1].min(), points[19:31, 1].mean()
    edited = editor.edit(astronaut, {AU_NAMES.index("AU12"): 0}, alignments=[face])  # her smile undone
    changed = np.any(edited != astronaut, axis=-1)
    rows = np.flatnonzero(changed.any(axis=1))
    assert changed.sum() > 1000 and rows.min() > brows_top
    assert changed[int(eyes):].sum() > 0.9 * changed.sum()


def test_rejudging_the_bundled_model_replaces_its_scores_and_keeps_its_weights(model_dir, tmp_path):
    """benchmarks/bundle_model.py without --checkpoint: the editing code changed, the weights did
    not; the manifest gets the new held-out scores and the commit that judged them, every other
    field (the training record, the files' sizes and hashes) as it was, and the model still loads."""
    import subprocess
    import sys
    from pathlib import Path
    judged = tmp_path / "judged" / "AU4_1"
    judged.mkdir(parents=True)
    (judged / "edit_judged.json").write_text(json.dumps({
        "au": "AU4", "set": "AU4=1", "label_before": 0, "edited": 100, "present_after_edit": {"AU4": 0.59},
        "present_unedited": {"AU4": 0.0}, "identity": {"same_person_share": 1.0}}))
    before = json.loads((model_dir / bundled.MANIFEST_NAME).read_text())
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "benchmarks/bundle_model.py", "--judged", str(tmp_path / "judged"),
                             "--out", str(model_dir)], cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    after = json.loads((model_dir / bundled.MANIFEST_NAME).read_text())
    assert after["held_out_openface"] == {"AU4=1 on 100 held-out photos with AU4 absent": {
        "read_after_edit": 0.59, "read_unedited": 0.0, "same_person": 1.0}}
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
    assert after["judged_with_commit"] == head
    assert {k: v for k, v in after.items() if k not in ("held_out_openface", "judged_with_commit")} == before
    bundled.load_bundled_model(model_dir)
