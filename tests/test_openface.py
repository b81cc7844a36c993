"""The OpenFace CSV parser on every real fixture, and the FeatureExtraction subprocess path with a
stand-in executable (tests/fake_openface/FeatureExtraction) and, for face sizes, the real OpenFace
2.0.6 of ../shared/tools/openface."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from builders import face_variants, write_images
from conftest import SHARED
from lac_gan.data.au_table import AU_NAMES
from lac_gan.evaluation import openface
from lac_gan.evaluation.detectors import OpenFaceDetector, PrecomputedDetector

FAKE_BINARY = Path(__file__).resolve().parent / "fake_openface" / "FeatureExtraction"
REAL_BINARY = SHARED / "tools" / "openface" / "FeatureExtraction"
# FaceLandmarkImg: one row per face; FeatureExtraction: one row per frame.
FIXTURE_ROWS = {"0-f1-su-ph.csv": 1, "0-f15-hao-ph.csv": 1, "15-f13-anc-ph.csv": 1, "45-m7-di-ph.csv": 1,
                "single_face.csv": 1, "multi_face.csv": 5, "sequence_featureextraction.csv": 30,
                "featureextraction_full_columns.csv": 100}
ALL_BUT_AU24 = [name != "AU24" for name in AU_NAMES]


def fixture_paths(shared_dir):
    return sorted((shared_dir / "fixtures" / "openface").glob("*.csv"))


def test_every_fixture_is_known(shared_dir):
    assert {p.name for p in fixture_paths(shared_dir)} == set(FIXTURE_ROWS)


@pytest.mark.parametrize("name", sorted(FIXTURE_ROWS))
def test_parser_reads_every_real_layout(shared_dir, name):
    table = openface.read_csv(shared_dir / "fixtures" / "openface" / name)
    assert len(table) == FIXTURE_ROWS[name]
    assert "confidence" in table.columns and "AU01_c" in table.columns  # padding stripped
    assert openface.covered_aus(table).tolist() == ALL_BUT_AU24  # OpenFace has no AU24
    rows = np.arange(len(table))
    occurrence, failed = openface.detections(table, rows, len(table), min_confidence=0.0)
    assert not failed.any()
    assert set(np.unique(occurrence[:, ALL_BUT_AU24])) <= {0.0, 1.0}
    assert np.isnan(occurrence[:, AU_NAMES.index("AU24")]).all()


def test_low_confidence_fit_is_a_failure_not_absence(shared_dir):
    # The 45-degree face was fitted with confidence 0.017 (openface.md).
    table = openface.read_csv(shared_dir / "fixtures" / "openface" / "45-m7-di-ph.csv")
    occurrence, failed = openface.detections(table, np.array([0]), 1)
    assert failed.tolist() == [True] and np.isnan(occurrence).all()
    _, failed = openface.detections(table, np.array([0]), 1, min_confidence=0.01)
    assert failed.tolist() == [False]


def test_several_faces_of_one_image_keep_the_most_confident(shared_dir):
    # All five faces of multi_face.csv were fitted at 0.983; tie -> the first row. Lower the
    # confidence of face 0 and face 1 wins.
    table = openface.read_csv(shared_dir / "fixtures" / "openface" / "multi_face.csv")
    assert (table["confidence"] >= openface.DEFAULT_MIN_CONFIDENCE).all()
    same_image = np.zeros(len(table), dtype=int)
    occurrence, _ = openface.detections(table, same_image, 1)
    assert occurrence[0, 0] == table["AU01_c"][0]
    table.loc[0, "confidence"] = 0.5
    occurrence, failed = openface.detections(table, same_image, 1)
    assert not failed[0] and occurrence[0, AU_NAMES.index("AU14")] == table["AU14_c"][1] != table["AU14_c"][0]


def test_feature_extraction_rows_map_to_images_by_frame(shared_dir):
    table = openface.read_csv(shared_dir / "fixtures" / "openface" / "sequence_featureextraction.csv")
    paths = [Path(f"{i:03d}.jpg") for i in range(1, 31)]
    assert openface.image_index(table, paths).tolist() == list(range(30))
    with pytest.raises(ValueError, match="30 images"):
        openface.image_index(table.assign(frame=table["frame"] + 1), paths)
    assert openface.row_ok(table).all()


def test_rows_map_to_images_by_filename_column():
    import pandas as pd
    table = pd.DataFrame({"filename": ["b.png", "a"], "AU01_c": [1, 0]})
    assert openface.image_index(table, [Path("x/a.png"), Path("x/b.png")]).tolist() == [1, 0]
    with pytest.raises(ValueError, match="not in this set"):
        openface.image_index(table, [Path("x/a.png")])
    with pytest.raises(ValueError, match="frame"):
        openface.image_index(pd.DataFrame({"face": [0]}), [Path("a.png")])


def test_detector_runs_feature_extraction_per_image_and_counts_failures(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_OPENFACE_FAILURES", "1")
    monkeypatch.setattr(openface, "IMAGES_PER_CALL", 6)  # two calls of 6, then one of 1
    paths = write_images(tmp_path / "images", 13)
    detector = OpenFaceDetector(str(FAKE_BINARY), tmp_path / "work", extra_args="-mloc 'model/main clnf.txt'")
    found = detector.predict(paths, "real")
    arguments = (tmp_path / "work" / "real" / "arguments.txt").read_text().split("\n")
    assert arguments[1:] == ["-f", str(paths[12]), "-out_dir", str(tmp_path / "work" / "real"), "-aus",
                             "-au_static", "-mloc", "model/main clnf.txt"]
    # In each call of 6: the 2nd has success 0, the 3rd confidence 0.2, the last no CSV; the 4th
    # has two faces and the more confident one counts. The last call has a single image, fine.
    assert found.failed.tolist() == [False, True, True, False, False, True] * 2 + [True]
    assert found.num_failed == 7 and np.isnan(found.occurrence[found.failed]).all()
    assert found.covered.tolist() == ALL_BUT_AU24 == detector.covered_aus.tolist()
    assert set(np.unique(found.occurrence[~found.failed][:, ALL_BUT_AU24])) <= {0.0, 1.0}
    assert "-au_static" in found.provenance and "13 images, one -f each" in found.provenance
    table = openface.read_csv(tmp_path / "work" / "real" / "000003.csv")
    assert found.occurrence[3, 0] == table["AU01_c"][0]

    # The folder of CSVs read back as precomputed detections gives the same answer.
    again = PrecomputedDetector({"real": tmp_path / "work" / "real"}).predict(paths, "real")
    np.testing.assert_array_equal(again.occurrence, found.occurrence)
    np.testing.assert_array_equal(again.failed, found.failed)


def test_crashing_binary_is_a_clear_error(tmp_path, monkeypatch):
    paths = write_images(tmp_path / "images", 2)
    detector = OpenFaceDetector(str(FAKE_BINARY), tmp_path / "work")
    detector.predict(paths, "real")  # leaves CSVs that the failing runs below must not read
    monkeypatch.setenv("FAKE_OPENFACE_MODE", "crash")
    with pytest.raises(openface.OpenFaceError, match=r"(?s)FeatureExtraction -f .*status 3.*cv::Exception"):
        detector.predict(paths, "real")
    monkeypatch.setenv("FAKE_OPENFACE_MODE", "silent")
    with pytest.raises(openface.OpenFaceError, match="wrote no CSV"):
        detector.predict(paths, "real")
    monkeypatch.setenv("FAKE_OPENFACE_MODE", "hang")
    with pytest.raises(openface.OpenFaceError, match="ran past 0.5 s"):
        OpenFaceDetector(str(FAKE_BINARY), tmp_path / "work", timeout_s=0.5).predict(paths, "real")


def test_missing_binary_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENFACE_BIN", raising=False)
    with pytest.raises(openface.OpenFaceError, match="--openface_bin"):
        OpenFaceDetector(None, tmp_path)
    with pytest.raises(openface.OpenFaceError, match="not an executable"):
        OpenFaceDetector(str(tmp_path / "FeatureExtraction"), tmp_path)
    monkeypatch.setenv("OPENFACE_BIN", str(FAKE_BINARY))
    assert OpenFaceDetector(None, tmp_path).binary == str(FAKE_BINARY)


@pytest.fixture(params=["fake", "real"])
def feature_extraction(request) -> str:
    """The stand-in, then the real OpenFace 2.0.6 (skipped when ../shared does not have it): the size
    tests run on both, so the stand-in refuses what the real one refuses."""
    if request.param == "fake":
        return str(FAKE_BINARY)
    if not REAL_BINARY.is_file():
        pytest.skip(f"{REAL_BINARY} is absent: the real OpenFace lives in ../shared/tools")
    return str(REAL_BINARY)


def write_faces(folder: Path, size: int, astronaut) -> list[Path]:
    """3 real faces (the astronaut's, shifted and mirrored) as size x size PNGs, as evaluation writes its sets."""
    folder.mkdir(parents=True)
    paths = [folder / f"{i:06d}.png" for i in range(3)]
    for face, path in zip(face_variants(astronaut, size, len(paths), np.random.default_rng(0)), paths):
        Image.fromarray(face).save(path)
    return paths


def test_openface_aborts_under_43_px_and_finds_no_face_under_60(feature_extraction, tmp_path, astronaut):
    # The tiny preset's 32 px faces: OpenFace 2.0.6 aborts on the whole call.
    with pytest.raises(openface.OpenFaceError, match=r"killed by signal 6.*(std::length_error|max_size)"):
        openface.run_feature_extraction(feature_extraction, write_faces(tmp_path / "32", 32, astronaut),
                                        tmp_path / "of32")
    csvs = openface.run_feature_extraction(feature_extraction, write_faces(tmp_path / "48", 48, astronaut),
                                           tmp_path / "of48")
    table, index = openface.read_per_image_csvs(csvs)
    assert openface.detections(table, index, 3)[1].all()  # a row each, but no face found


def test_detector_enlarges_small_faces_so_openface_reads_them(feature_extraction, tmp_path, astronaut):
    paths = write_faces(tmp_path / "faces", 32, astronaut)
    found = OpenFaceDetector(feature_extraction, tmp_path / "work").predict(paths, "real")
    assert found.num_failed == 0
    assert "32x32 -> 112x112" in found.provenance and f"-f {tmp_path / 'work' / 'enlarged' / 'real'}" in found.provenance
    with Image.open(tmp_path / "work" / "enlarged" / "real" / paths[0].name) as enlarged:
        assert enlarged.size == (openface.MIN_FACE_SIZE, openface.MIN_FACE_SIZE)
    with Image.open(paths[0]) as original:
        assert original.size == (32, 32)  # the set itself is left as written
