"""The OpenFace CSV parser on every real fixture, and the FeatureExtraction subprocess path with a
stand-in executable (tests/fake_openface/FeatureExtraction)."""
from pathlib import Path

import numpy as np
import pytest

from builders import write_images
from lac_gan.au_table import AU_NAMES
from lac_gan.evaluation import openface
from lac_gan.evaluation.detectors import OpenFaceDetector, PrecomputedDetector

FAKE_BINARY = Path(__file__).resolve().parent / "fake_openface" / "FeatureExtraction"
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
