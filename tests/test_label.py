"""`lacgan label` (tfrecords_tools/label.py): with the stand-in OpenFace (tests/fake_openface: faces
decided by file names, AU outputs by file bytes) for the logic and bad inputs, and with the real
OpenFace 2.0.6 of ../shared/tools/openface on fixture photos when it is there."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from lac_gan.data.au_table import AU_NUMBERS
from lac_gan.data.landmarks import IBUG68_TO_49
from tfrecords_tools import label_layout, labeller, openface_runs

FAKE_DIR = Path(__file__).resolve().parent / "fake_openface"
FAKE_BINARY = str(FAKE_DIR / "FeatureExtraction")
sys.path.insert(0, str(FAKE_DIR))
import fake_faces  # noqa: E402  (what the stand-in finds in a photo)

REPO_ROOT = Path(__file__).resolve().parents[1]


def photo(path: Path, seed: int, size=(120, 100)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def expected_labels(path: Path) -> list[int]:
    """The paper's 12 AUs the stand-in reports for this photo (AU24: 9, OpenFace has none)."""
    values = dict(zip(fake_faces.AUS_C, fake_faces.occurrences(path)))
    return [9 if n == 24 else int(values[n]) for n in AU_NUMBERS]


@pytest.fixture()
def people(tmp_path) -> Path:
    """Three people of good photos, one with only bad files, and bad photos mixed in."""
    root = tmp_path / "people"
    photo(root / "Ann_Lee" / "b.jpg", 1)
    photo(root / "Ann_Lee" / "a.PNG", 2)
    photo(root / "Ann_Lee" / "c_lowconf.jpeg", 3)
    photo(root / "Bob" / "1.jpg", 4)
    photo(root / "Bob" / "2_noface.jpg", 5)
    (root / "Bob" / "notes.txt").write_text("not a photo")
    (root / "Bob" / "3.jpg").write_bytes(b"\xff\xd8 truncated")
    photo(root / "Cy" / "crowd.jpg", 6, size=(200, 160))
    photo(root / "Dee" / "only_noface.jpg", 7)
    (root / "Eve").mkdir()
    return root


def run_label(images, out, **options):
    return labeller.label(str(images), str(out), FAKE_BINARY, **options)


def test_photos_are_labelled_into_the_bp4d_layout_and_every_bad_file_counted(people, tmp_path):
    out = tmp_path / "out"
    manifest = run_label(people, out, photos_per_call=3, workers=2)
    counts = manifest["counts"]
    assert counts["inputs"] == 8 and counts["labelled"] == 4
    assert counts["skipped"]["counts"] == {"low_confidence": 1, "no_face": 2, "not_an_image": 1,
                                           "unreadable_image": 1, "subject_without_usable_photo": 2}
    assert manifest["subject_names"] == {"S0001": "Ann_Lee", "S0002": "Bob", "S0003": "Cy", "S0004": "Dee",
                                         "S0005": "Eve"}
    # Frames are numbered in sorted file order: a.PNG 1, b.jpg 2, c_lowconf.jpeg 3 (left out).
    images = out / "images" / "S0001" / "T1"
    assert sorted(p.name for p in images.iterdir()) == ["1.png", "2.jpg"]
    assert (images / "2.jpg").resolve() == (people / "Ann_Lee" / "b.jpg").resolve()
    table = pd.read_csv(out / "AU_OCC" / "S0001_T1.csv")
    assert list(table.columns) == ["0", *map(str, AU_NUMBERS)]
    assert table.loc[table["0"] == 2].iloc[0, 1:].tolist() == expected_labels(people / "Ann_Lee" / "b.jpg")
    # Of the crowd's three faces the centred one is taken, though it is the least confident.
    points = np.loadtxt(out / "landmarks_49" / "S0003" / "T1" / "1.txt").reshape(49, 2)
    centred = np.array(fake_faces.landmarks(100, 80, 10)).reshape(2, 68).T[list(IBUG68_TO_49)]
    np.testing.assert_allclose(points, centred + 1.0, atol=0.01)  # OpenFace 0-based -> 1-based files
    sources = pd.read_csv(out / "sources.csv")
    assert sources.loc[sources["subject"] == "S0003", "source"].tolist() == ["Cy/crowd.jpg"]
    assert sources.loc[sources["subject"] == "S0003", "confidence"].tolist() == [0.9]
    folds = json.loads((out / "folds.json").read_text())
    assert sorted(s for members in folds.values() for s in members) == ["S0001", "S0002", "S0003"]


def test_a_photo_that_stops_openface_costs_only_itself(tmp_path):
    root = tmp_path / "people"
    for name in ("1.jpg", "2_crash.jpg", "3.jpg"):
        photo(root / "Ann" / name, len(name))
    manifest = run_label(root, tmp_path / "out")
    assert manifest["counts"]["labelled"] == 2
    assert manifest["counts"]["skipped"]["counts"] == {"openface_error": 1}
    assert manifest["counts"]["skipped"]["examples"]["openface_error"][0].endswith("2_crash.jpg")


def test_a_killed_run_resumes_without_redoing_saved_units(people, tmp_path, monkeypatch):
    out, calls = tmp_path / "out", tmp_path / "calls.txt"
    monkeypatch.setenv("FAKE_OPENFACE_CALLS", str(calls))
    first = run_label(people, out, photos_per_call=2)
    units = sorted((out / label_layout.WORK_DIR / "units").iterdir())
    assert len(units) == len(calls.read_text().splitlines()) == 4
    units[-1].unlink()  # as if killed before the last unit was saved
    (out / "label_manifest.json").unlink()
    shutil.rmtree(out / "AU_OCC")
    calls.unlink()
    again = run_label(people, out, photos_per_call=2)
    assert len(calls.read_text().splitlines()) == 1  # only the lost unit ran again
    assert again["counts"] == first["counts"]
    assert len(list((out / "AU_OCC").iterdir())) == 3


def test_a_resumed_run_with_other_settings_is_refused(people, tmp_path):
    run_label(people, tmp_path / "out")
    with pytest.raises(openface_runs.LabelError, match="min_confidence"):
        run_label(people, tmp_path / "out", min_confidence=0.5)


def test_frames_mode_labels_each_video_in_frame_order(tmp_path):
    root = tmp_path / "frames"
    for number in (1, 2, 10):  # file-name order would put 10 before 2
        photo(root / "F001" / "T1" / f"{number}.jpg", number)
    photo(root / "F001" / "T1" / "x7.jpg", 7)
    (root / "F001" / "T1" / "readme.txt").write_text("x")
    photo(root / "F_02" / "T1" / "1.jpg", 9)
    folds = tmp_path / "folds.json"
    folds.write_text(json.dumps({"part1": ["F001"], "part2": [], "part3": []}))
    out = tmp_path / "out"
    manifest = labeller.label(str(root), str(out), FAKE_BINARY, mode=openface_runs.MODE_FRAMES, folds=str(folds))
    assert manifest["counts"]["labelled"] == 3
    assert manifest["counts"]["skipped"]["counts"] == {"bad_frame_name": 1, "not_an_image": 1,
                                                      "bad_subject_name": 1}
    table = pd.read_csv(out / "AU_OCC" / "F001_T1.csv")
    assert table["0"].tolist() == [1, 2, 10]
    for number in (1, 2, 10):
        row = table.loc[table["0"] == number].iloc[0, 1:].tolist()
        assert row == expected_labels(root / "F001" / "T1" / f"{number}.jpg")
    assert json.loads((out / "folds.json").read_text()) == {"part1": ["F001"], "part2": [], "part3": []}


def test_labelled_folders_combine_and_convert(people, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    run_label(people, first)
    with pytest.raises(openface_runs.LabelError, match="subject S0001 is in both"):
        labeller.combine([str(first), str(first)], str(tmp_path / "all"))
    run_label(people, second, subject_prefix="X")
    manifest = labeller.combine([str(first), str(second)], str(tmp_path / "all"))
    assert manifest["counts"]["labelled"] == 8
    folds = json.loads((tmp_path / "all" / "folds.json").read_text())
    assert sorted(s for members in folds.values() for s in members) == [
        "S0001", "S0002", "S0003", "X0001", "X0002", "X0003"]
    from lac_gan.data import conversion, frame_pipeline
    converted = conversion.convert(str(tmp_path / "all" / "images"), str(tmp_path / "all" / "AU_OCC"),
                                str(tmp_path / "records"), landmarks_root=str(tmp_path / "all" / "landmarks_49"),
                                folds=str(tmp_path / "all" / "folds.json"),
                                settings=frame_pipeline.Settings(image_size=32, landmarks="files"))
    assert converted["frames"]["written"] == 8


def run_cli(*arguments):
    return subprocess.run([sys.executable, "-m", "lac_gan", "label", *arguments], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=120)


def test_openface_without_face_landmark_img_beside_it_is_one_line_naming_both(people, tmp_path):
    lonely = tmp_path / "bin" / "FeatureExtraction"
    lonely.parent.mkdir()
    shutil.copy(FAKE_BINARY, lonely)
    result = run_cli("--images", str(people), "--out_dir", str(tmp_path / "out"), "--openface_bin", str(lonely))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(lonely) in lines[0] and str(lonely.with_name("FaceLandmarkImg")) in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def real_openface(shared_dir):
    binary = shared_dir / "tools" / "openface" / "FeatureExtraction"
    probe = subprocess.run([str(binary.parent / "bin" / "FaceLandmarkImg"), "-help"], capture_output=True, text=True)
    if "error while loading shared libraries" in probe.stderr:
        pytest.skip(f"OpenFace's runtime libraries are not installed: run {binary.parent / 'install-runtime.sh'}")
    return binary


def test_real_openface_labels_agree_with_a_direct_run_and_convert(real_openface, shared_dir, tmp_path):
    faces = shared_dir / "fixtures" / "faces"
    root = tmp_path / "people"
    for person, name in (("A", "0-f1-su-ph.jpg"), ("A", "multi_face.jpg"), ("B", "single_face.jpg"),
                         ("B", "0-f15-hao-ph.jpg")):
        (root / person).mkdir(parents=True, exist_ok=True)
        shutil.copy(faces / name, root / person / name)
    out = tmp_path / "out"
    manifest = labeller.label(str(root), str(out), str(real_openface))
    assert manifest["counts"]["labelled"] == 4
    direct = tmp_path / "direct"
    subprocess.run([str(real_openface.with_name("FaceLandmarkImg")), "-fdir", str(root / "A"), "-out_dir",
                    str(direct), *openface_runs.OPENFACE_FLAGS], capture_output=True, check=True, timeout=300)
    table = pd.read_csv(direct / "multi_face.csv", skipinitialspace=True)
    width, height = Image.open(root / "A" / "multi_face.jpg").size
    centre = [np.hypot(np.mean([r[f"x_{i}"] for i in range(68)]) - width / 2,
                       np.mean([r[f"y_{i}"] for i in range(68)]) - height / 2) for _, r in table.iterrows()]
    nearest = table.iloc[int(np.argmin(centre))]
    labelled = pd.read_csv(out / "AU_OCC" / "S0001_T1.csv").set_index("0")
    assert labelled.loc[2].tolist() == [9 if n == 24 else int(nearest[f"AU{n:02d}_c"]) for n in AU_NUMBERS]
    points = np.loadtxt(out / "landmarks_49" / "S0001" / "T1" / "2.txt").reshape(49, 2)
    expected = np.stack([[nearest[f"x_{i}"] for i in IBUG68_TO_49], [nearest[f"y_{i}"] for i in IBUG68_TO_49]], 1)
    np.testing.assert_allclose(points, expected + 1.0, atol=0.01)
    from lac_gan.data import conversion, frame_pipeline
    converted = conversion.convert(str(out / "images"), str(out / "AU_OCC"), str(tmp_path / "records"),
                                landmarks_root=str(out / "landmarks_49"), folds=str(out / "folds.json"),
                                settings=frame_pipeline.Settings(image_size=64, landmarks="files"))
    assert converted["frames"]["written"] == 4
    assert os.listdir(tmp_path / "records")


def test_subjects_are_spread_evenly_in_frames_and_people():
    frames = {"Bush": 9, **{f"P{i}": 1 for i in range(12)}, "Two": 2}
    parts = label_layout.spread_over_parts(frames)
    assert sorted(s for members in parts.values() for s in members) == sorted(frames)
    totals = sorted(sum(frames[s] for s in members) for members in parts.values())
    assert totals == [7, 7, 9]  # the 9-photo person's part is filled last, so it gets no one else
    assert sorted(len(members) for members in parts.values()) == [1, 6, 7]


def test_an_out_dir_holding_the_input_photos_is_refused_and_they_stay(tmp_path):
    """`--images data/images --out_dir data` replaced data/images with links to the deleted photos."""
    data = tmp_path / "data"
    photo(data / "images" / "alice" / "a.jpg", 1)
    with pytest.raises(openface_runs.LabelError, match=rf"--out_dir {data} and --images {data / 'images'} overlap"):
        run_label(data / "images", data)
    assert (data / "images" / "alice" / "a.jpg").is_file() and not (data / "images").is_symlink()
    with pytest.raises(openface_runs.LabelError, match="overlap"):
        run_label(data / "images", data / "images" / "labels")


def test_combine_into_one_of_its_inputs_is_refused(people, tmp_path):
    first, second = tmp_path / "lab1", tmp_path / "labf"
    run_label(people, first)
    run_label(people, second, subject_prefix="F")
    before = sorted(str(p.relative_to(first)) for p in first.rglob("*"))
    with pytest.raises(openface_runs.LabelError, match=rf"--out_dir {first} and --combine {first} overlap"):
        labeller.combine([str(first), str(second)], str(first))
    assert sorted(str(p.relative_to(first)) for p in first.rglob("*")) == before
    assert not (first / "images" / "S0001").is_symlink()


@pytest.mark.parametrize("command", ["label", "combine"])
def test_an_out_dir_with_a_layout_folder_it_did_not_write_is_never_emptied(people, tmp_path, command):
    user = tmp_path / "userdir"
    keep = user / "images" / "mine.jpg"
    keep.parent.mkdir(parents=True)
    keep.write_bytes(b"the user's photo")
    with pytest.raises(openface_runs.LabelError, match=rf"--out_dir {user}: holds images/, which `lacgan label` did not"):
        if command == "label":
            run_label(people, user)
        else:
            run_label(people, tmp_path / "lab1")
            labeller.combine([str(tmp_path / "lab1")], str(user))
    assert keep.read_bytes() == b"the user's photo" and sorted(p.name for p in user.rglob("*")) == ["images", "mine.jpg"]
