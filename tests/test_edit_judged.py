"""benchmarks/edit_judged_all.py on a tiny labelled folder: the astronaut's face in six variants (two
people, JPEG), labelled by the stand-in OpenFace (tests/fake_openface: AU readings drawn from each
file's bytes, so the test recomputes every reading the judge made), edited by the warp and by an
editor that moves nothing, judged by the stand-in and an untrained tiny JAA-Net."""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from lac_gan.data.au_table import AU_NAMES, AU_NUMBERS
from lac_gan.jaanet import config as jaanet_config
from lac_gan.jaanet.model import build_model
from lac_gan.nets.synthesis import EDITORS_WITHOUT_WEIGHTS
from lac_gan.nets.warp_editor import WarpEditor
from tfrecords_tools import labeller

REPO = Path(__file__).resolve().parents[1]
FAKE_DIR = Path(__file__).resolve().parent / "fake_openface"
sys.path[:0] = [str(FAKE_DIR), str(REPO / "benchmarks")]
import edit_judged_all  # noqa: E402
import fake_faces  # noqa: E402  (what the stand-in reads in a photo)

FAKE_BINARY = str(FAKE_DIR / "FeatureExtraction")
AUS = ("AU1", "AU12")
COUNT = 2


class StillEditor(WarpEditor):
    """The warp with every movement zero: an edit that changes no pixel."""

    def plan(self, *inputs):
        plan = super().plan(*inputs)
        return dataclasses.replace(plan, moves=plan.moves * 0.0)


def fake_reading(path: Path) -> list[int | None]:
    """The stand-in's reading of a photo, in AU_NAMES' order (None for AU24: OpenFace has none)."""
    values = dict(zip(fake_faces.AUS_C, fake_faces.occurrences(path)))
    return [None if n == 24 else int(values[n]) for n in AU_NUMBERS]


@pytest.fixture(scope="module")
def labelled(astronaut, tmp_path_factory) -> Path:
    """Two people of three variants each (shifted, brightened, mirrored), labelled, both in part3."""
    root = tmp_path_factory.mktemp("judged")
    face = astronaut[0:280, 90:370]
    for person, mirrored in (("Ann", False), ("Bob", True)):
        for number, shift in enumerate((0, 4, 8)):
            pixels = np.clip(face[:, ::-1] if mirrored else face, 0, 255 - shift) + shift
            path = root / "people" / person / f"{number}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.ascontiguousarray(pixels.astype(np.uint8))).save(path)
    (root / "folds.json").write_text(json.dumps({"part1": [], "part2": [], "part3": ["S0001", "S0002"]}))
    labeller.label(str(root / "people"), str(root / "labels"), FAKE_BINARY, folds=str(root / "folds.json"))
    return root / "labels"


@pytest.fixture(scope="module")
def jaanet(tmp_path_factory) -> Path:
    """An untrained tiny JAA-Net logdir: its readings are arbitrary, its path through the run is not."""
    logdir = tmp_path_factory.mktemp("jaanet")
    config = jaanet_config.tiny()
    config.save(logdir)
    tf.train.CheckpointManager(tf.train.Checkpoint(model=build_model(config)), str(logdir), 1).save(checkpoint_number=1)
    return logdir


def run(labelled: Path, out: Path, *extra: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(EDITORS_WITHOUT_WEIGHTS, "still", StillEditor)
        edit_judged_all.main(["--labels", str(labelled), "--aus", ",".join(AUS), "--editors", "warp,still",
                              "--count", str(COUNT), "--openface_bin", FAKE_BINARY, "--out_dir", str(out), *extra])


def originals(labelled: Path) -> dict[str, list[int | None]]:
    """{photo key: the stand-in's reading of the labelled file}: the labels the photos were chosen by."""
    return {f"{p.parent.parent.name}_{p.parent.name}_{p.stem}": fake_reading(p.resolve())
            for p in (labelled / "images").glob("*/*/*")}


def test_one_run_judges_every_cell_and_a_rerun_does_only_what_is_left(labelled, jaanet, tmp_path, monkeypatch):
    """One test for the run's many figures: a module fixture shared by several tests could be built
    on each of the suite's two workers."""
    out = tmp_path / "out"
    run(labelled, out, "--combos", "happy", "--jaanet_checkpoint", str(jaanet))
    results = json.loads((out / "edit_judged_all.json").read_text())
    check_cells(out, results, labelled)
    check_controls(out, results, labelled)
    check_tables(out, results)
    # A killed run: one cell not written. The rerun edits that cell only, and the figures are the same.
    (out / "cells" / "AU12_on" / "warp" / "cell.json").unlink()
    edited_cells = []
    real_edit_cell = edit_judged_all.edit_cell
    monkeypatch.setattr(edit_judged_all, "edit_cell",
                        lambda edit, *args: edited_cells.append(edit.folder) or real_edit_cell(edit, *args))
    run(labelled, out, "--combos", "happy")  # without JAA-Net, whose model takes longest to load
    assert edited_cells == ["AU12_on"]
    rerun = json.loads((out / "edit_judged_all.json").read_text())
    assert rerun["judges"]["openface"] == results["judges"]["openface"]


def check_cells(out: Path, results: dict, labelled: Path) -> None:
    """Each cell's figures are the stand-in's readings of its edited photos and their unedited copies."""
    assert set(results["judges"]) == {"openface", "jaanet"}
    cells = results["judges"]["openface"]["cells"]
    assert set(cells) == {*AUS, "happy"} and all(set(c) == {"warp", "still"} for c in cells.values())
    labels = originals(labelled)
    for name in AUS:
        j = AU_NAMES.index(name)
        for direction, target in (("on", 1), ("off", 0)):
            candidates = [k for k, r in labels.items() if r[j] == 1 - target]
            for editor in ("warp", "still"):
                cell_dir = out / "cells" / f"{name}_{direction}" / editor
                keys = sorted(json.loads((cell_dir / "cell.json").read_text())["dlib_distance"])
                assert len(keys) == min(COUNT, len(candidates)) and set(keys) <= set(candidates)
                unedited = [fake_reading(out / "unedited" / "photos" / k.split("_")[0] / f"{k}.png") for k in keys]
                edited = [fake_reading(cell_dir / "photos" / k.split("_")[0] / f"{k}.png") for k in keys]
                score = cells[name][editor][direction]
                assert score["photos"] == score["aus"][name]["photos"] == len(keys)
                assert score["aus"][name]["read_unedited"] == np.mean([r[j] for r in unedited])
                assert score["aus"][name]["read_after"] == np.mean([r[j] for r in edited])
                expected_changes = {}
                for i, au in enumerate(AU_NAMES):
                    before, after = (np.mean([r[i] for r in readings]) if au not in (name, "AU24") else 0
                                     for readings in (unedited, edited))
                    if abs(after - before) >= 0.1:
                        expected_changes[au] = [float(before), float(after)]
                assert score["other_aus_changed"] == expected_changes
                assert score["same_person"] == 1.0
                # Nothing moved: the still editor, and the warp asked for AU12 on the astronaut's broad
                # smile (it adds what her lip corners lack: nothing). The judge reads the control's AUs.
                if editor == "still" or (name, direction) == ("AU12", "on"):
                    assert expected_changes == {} and score["mean_dlib_distance"] < 1e-6
                else:
                    assert 0.05 < score["mean_dlib_distance"] < 0.6


def check_controls(out: Path, results: dict, labelled: Path) -> None:
    """Each control judged once for all cells; its agreement with the labels the photos were chosen by."""
    for control_name in ("unedited", "mirrored"):
        photos = sorted((out / control_name / "photos").glob("*/*.png"))
        assert json.loads((out / control_name / "openface.json").read_text()) == {
            p.stem: fake_reading(p) for p in photos}
    control = json.loads((out / "unedited" / "openface.json").read_text())
    assert sorted(control) == sorted(p.stem for p in (out / "mirrored" / "photos").glob("*/*.png"))
    # Agreement: the labels (the stand-in on the original JPEG) against the PNG copy's reading.
    labels = originals(labelled)
    agreement = results["judges"]["openface"]["agreement"]["unedited"]
    assert set(agreement) == set(AU_NAMES) - {"AU24"}
    for j, au in enumerate(AU_NAMES):
        if au == "AU24":
            continue
        for state, name in ((0, "absent"), (1, "present")):
            keys = [k for k in control if labels[k][j] == state]
            expected = np.mean([control[k][j] == state for k in keys]) if keys else None
            assert agreement[au][name] == {"photos": len(keys), "read_again": pytest.approx(expected)}
    # JAA-Net reads all 12 AUs, AU24 included, of every photo judged unedited.
    jaanet = json.loads((out / "unedited" / "jaanet.json").read_text())
    assert sorted(jaanet) == sorted(control) and all(len(r) == 12 and set(r) <= {0, 1} for r in jaanet.values())


def check_tables(out: Path, results: dict) -> None:
    table = (out / "edit_judged_all.md").read_text()
    assert "## OpenFace 2.0.6" in table and "## JAA-Net" in table and "PNG copy / mirrored" in table
    for row in ("| AU1 | warp |", "| AU12 | still |", "| happy (AU6+AU12) | warp |"):
        assert table.count(row) == 2  # one per judge
    happy = results["judges"]["jaanet"]["cells"]["happy"]["warp"]
    assert set(happy) == {"on", "off"} and set(happy["on"]["aus"]) <= {"AU6", "AU12", "all"}


@pytest.mark.parametrize("flags, message", [
    (["--aus", "AU5"], "unknown action unit 'AU5'"),
    (["--editors", "carg=/nonexistent/run"], "no such checkpoint"),
    (["--directions", "up"], "--directions up"),
])
def test_a_bad_flag_is_a_one_line_error(labelled, tmp_path, flags, message):
    with pytest.raises(SystemExit) as error:
        edit_judged_all.main(["--labels", str(labelled), "--openface_bin", FAKE_BINARY, "--out_dir", str(tmp_path),
                              *flags])
    assert message in str(error.value.code) and "\n" not in str(error.value.code)


def test_a_missing_labels_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(SystemExit) as error:
        edit_judged_all.main(["--labels", str(tmp_path / "none"), "--openface_bin", FAKE_BINARY,
                              "--out_dir", str(tmp_path / "out")])
    assert "no folds.json" in str(error.value.code) and "\n" not in str(error.value.code)
