"""Discovery of BP4D trees and parsing of AU occurrence CSVs as real copies have them."""
import numpy as np
import pytest

from lac_gan.data.au_table import AU_NUMBERS
from bp4d_tree import build_bp4d_tree
from lac_gan.data.bp4d_layout import CsvError, LayoutError, discover, find_frame_images, read_au_csv, read_landmarks49

HEADER = "0,1,2,4,5,6,7,10,12,14,15,17,23,24,40"


def _row(frame, values):
    return ",".join([str(frame), *map(str, values)])


def test_csv_with_crlf_spaces_bom_extra_columns_and_nines(tmp_path):
    values = [1, 0, 9, 1, 0, 1, 0, 9, 1, 0, 1, 1, 0, 9]  # AU 1 2 4 5 6 7 10 12 14 15 17 23 24 40
    text = "\ufeff" + " 0 , 1.0,2 ,4,5,6,7,10,12,14,15,17,23,24,40\r\n" + \
        " 7 , " + " , ".join(map(str, values)) + "\r\n\r\n" + _row(8, [0] * 14) + "\r\n"
    path = tmp_path / "F001_T1.csv"
    path.write_bytes(text.encode())
    labels, problems = read_au_csv(path)
    assert problems.counts == {}
    by_au = dict(zip((1, 2, 4, 5, 6, 7, 10, 12, 14, 15, 17, 23, 24), values))
    assert labels == {7: tuple(by_au[au] for au in AU_NUMBERS), 8: (0,) * 12}


def test_bad_and_duplicate_rows_are_counted_not_fatal(tmp_path):
    path = tmp_path / "F001_T1.csv"
    rows = [HEADER, _row(1, [0] * 14), _row(2, ["x"] + [0] * 13), _row(3, [0] * 5), _row(4, [2] + [0] * 13),
            _row(1, [1] * 14), _row("1.5", [0] * 14)]
    path.write_text("\n".join(rows) + "\n")
    labels, problems = read_au_csv(path)
    assert list(labels) == [1] and labels[1] == (0,) * 12
    assert problems.counts == {"bad_csv_row": 4, "duplicate_csv_row": 1}
    assert problems.examples["bad_csv_row"][0].startswith(f"{path}:3:")


def test_unusable_csvs_raise_with_a_reason(tmp_path):
    missing = tmp_path / "a.csv"
    missing.write_text("0,1,2,4\n1,0,0,0\n")
    with pytest.raises(CsvError, match="no column for AU 6, 7") as error:
        read_au_csv(missing)
    assert error.value.reason == "csv_missing_au_columns"
    empty = tmp_path / "b.csv"
    empty.write_text("\n \n")
    with pytest.raises(CsvError) as error:
        read_au_csv(empty)
    assert error.value.reason == "unreadable_csv"
    binary = tmp_path / "c.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage\x9c")
    with pytest.raises(CsvError):
        read_au_csv(binary)


def test_frame_images_are_numbered_files_in_subject_task_folders(tmp_path):
    video = tmp_path / "F001" / "T1"
    video.mkdir(parents=True)
    for name in ("2440.jpg", "2441.PNG", "2442.png", "2442.jpg", "notes.txt", "thumb.jpg", "12.bmp"):
        (video / name).write_bytes(b"")
    (tmp_path / ".cache" / "T1").mkdir(parents=True)
    (tmp_path / ".cache" / "T1" / "1.jpg").write_bytes(b"")
    found = find_frame_images(tmp_path)
    assert list(found) == [("F001", "T1")]
    assert {f: p.rsplit("/", 1)[1] for f, p in found[("F001", "T1")].items()} == {
        2440: "2440.jpg", 2441: "2441.PNG", 2442: "2442.jpg"}


def test_discover_counts_every_flaw_of_the_tree(tmp_path, astronaut):
    tree = build_bp4d_tree(tmp_path, astronaut)
    videos, problems = discover(tree.images, tree.labels)
    assert {v.name for v in videos} == {"F001_T1", "M011_T2", "F007_T3", "F099_T1"}
    assert problems.counts == {"images_without_csv": 1, "csv_without_images": 1, "csv_missing_au_columns": 1}
    f001 = next(v for v in videos if v.name == "F001_T1")
    assert [f for f, _, _ in f001.frames] == list(range(2440, 2448))
    assert f001.problems.counts == {"missing_image": 1, "bad_csv_row": 1}
    assert f001.unlabelled_images == 1
    for video in videos:
        for frame, _, labels in video.frames:
            assert labels == tree.expected_labels[(video.subject, video.task, frame)]


@pytest.mark.parametrize("case, message", [
    ("no_images_root", "--bp4d_root .*: no such directory; expected .*/<Subject>/<Task>/<frame>.jpg"),
    ("no_labels_root", "--labels_root .*: no such directory; expected .*/<Subject>_<Task>.csv"),
    ("flat_images", "expected .*/<Subject>/<Task>/<frame>.jpg \\(or .png\\), found no frame image under"),
    ("root_too_high", "found no frame image under .*; did you mean --bp4d_root .*/images\\?"),
    ("no_csv", "expected .*/<Subject>_<Task>.csv, found no such CSV"),
    ("no_overlap", "no video has both images and labels"),
    ("no_matching_rows", "no CSV row matches a frame image"),
])
def test_misconfigurations_say_what_was_expected_where(tmp_path, case, message):
    images, labels = tmp_path / "images", tmp_path / "labels"
    (images / "F001" / "T1").mkdir(parents=True)
    labels.mkdir()
    (images / "F001" / "T1" / "5.jpg").write_bytes(b"")
    (labels / "F001_T1.csv").write_text(HEADER + "\n" + _row(6, [0] * 14) + "\n")
    if case == "no_images_root":
        images = tmp_path / "nowhere"
    elif case == "no_labels_root":
        labels = tmp_path / "nowhere"
    elif case == "flat_images":
        images = images / "F001" / "T1"
    elif case == "root_too_high":
        images = tmp_path
    elif case == "no_csv":
        (labels / "F001_T1.csv").unlink()
    elif case == "no_overlap":
        (labels / "F001_T1.csv").rename(labels / "F002_T1.csv")
    with pytest.raises(LayoutError, match=message):
        discover(images, labels)


def test_landmark_files_are_one_based(tmp_path):
    points = np.arange(98, dtype=float).reshape(49, 2) + 10
    path = tmp_path / "1.txt"
    path.write_text(" ".join(f"{v:.2f}" for v in points.ravel()) + "\n")
    np.testing.assert_allclose(read_landmarks49(path), points - 1)
    path.write_text("1 2 3")
    with pytest.raises(ValueError, match="expected 98 numbers"):
        read_landmarks49(path)
    path.write_text(" ".join(["5"] * 98))
    with pytest.raises(ValueError, match="on a line"):
        read_landmarks49(path)
