"""The BP4D converter end to end on a tiny flawed tree (tests/bp4d_tree.py), at image size 64."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bp4d_tree import build_bp4d_tree

from lac_gan.data import alignment, attention, conversion, frame_pipeline, record_schema
from lac_gan.data.au_table import AU_NAMES
from lac_gan.data.dataset import fold_files, make_dataset, part_files, read_manifest

SIZE = 64
SETTINGS = frame_pipeline.Settings(image_size=SIZE, landmarks=frame_pipeline.LANDMARKS_CANONICAL)  # fitted: test_landmarks.py
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="module")
def tree(tmp_path_factory, astronaut):
    return build_bp4d_tree(tmp_path_factory.mktemp("bp4d"), astronaut, SHARED if SHARED.is_dir() else None)


@pytest.fixture(scope="module")
def baseline(tree, tmp_path_factory):
    """One uninterrupted conversion: (out_dir, manifest)."""
    out = tmp_path_factory.mktemp("out")
    return out, conversion.convert(str(tree.images), str(tree.labels), str(out), settings=SETTINGS)


def _records(out_dir: Path, parts=("part1", "part2", "part3")) -> dict[tuple[str, str, int], dict]:
    dataset = make_dataset(part_files(out_dir, list(parts)), SIZE, batch_size=1, shuffle=False, repeat=False,
                           drop_remainder=False)
    records = {}
    for batch in dataset:
        example = {k: v[0].numpy() for k, v in batch.items()}
        records[(example["subject"].decode(), example["task"].decode(), int(example["frame"]))] = example
    return records


def _shard_bytes(out_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out_dir)): p.read_bytes() for p in sorted(out_dir.glob("*/*.tfrecord"))}


def _assert_same_records(ours: dict, reference: dict, atol: float) -> None:
    assert ours.keys() == reference.keys()
    for key, record in ours.items():
        for name, value in record.items():
            if np.asarray(value).dtype.kind == "f":
                np.testing.assert_allclose(value, reference[key][name], atol=atol, err_msg=f"{key} {name}")
            else:
                np.testing.assert_array_equal(value, reference[key][name], err_msg=f"{key} {name}")


def _converted(tree) -> dict:
    return {k: v for k, v in tree.expected_labels.items() if k[0] != "F099"}


def test_counts_and_reasons_in_the_manifest(tree, baseline):
    out, manifest = baseline
    assert read_manifest(out) == json.loads(json.dumps(manifest, default=str))
    assert manifest["schema_version"] == record_schema.SCHEMA_VERSION and manifest["image_size"] == SIZE
    assert manifest["frames"]["skipped"]["counts"] == tree.frame_skips
    assert manifest["videos"]["skipped"]["counts"] == tree.video_skips
    assert manifest["frames"]["written"] == len(_converted(tree)) - len(tree.unwritable)
    assert manifest["unlabelled_images"] == {"total": 1, "per_video": {"F001_T1": 1}}
    assert manifest["subjects_not_in_any_part"] == {"F099": ["F099_T1"]}
    assert "F001" not in manifest["part_subjects_without_data"]["part1"]
    assert "M007" in manifest["part_subjects_without_data"]["part1"]
    assert manifest["parts"] == ["part1", "part2", "part3"] and "F001" in manifest["part_subjects"]["part1"]
    examples = manifest["frames"]["skipped"]["examples"]
    assert examples["unreadable_image"][0].startswith(str(tree.images / "F001" / "T1" / "2446.jpg"))
    assert examples["no_face"] == [str(tree.images / "F001" / "T1" / "2447.jpg")]
    assert set(manifest["versions"]) >= {"python", "tensorflow", "mtcnn", "numpy"}
    assert manifest["attention_maps"]["spatial_ratio"] == attention.SPATIAL_RATIO
    assert manifest["frames"]["onet_refinements"] > 0  # detection reuse ran
    assert [Path(f).name for f in fold_files(out, 1, "test")] == ["F007_T3.tfrecord"]
    assert len(fold_files(out, 1, "train")) == 2


def test_au_rates_per_part_and_fold_count_only_known_labels(tree, baseline):
    _, manifest = baseline
    written = {k: v for k, v in _converted(tree).items() if k not in tree.unwritable}
    part1 = np.array([v for k, v in written.items() if k[0] == "F001"])
    rates = manifest["au_positive_rate"]["per_part"]["part1"]
    assert [rates[au]["known"] for au in AU_NAMES] == (part1 != 9).sum(axis=0).tolist()
    assert [rates[au]["positive"] for au in AU_NAMES] == (part1 == 1).sum(axis=0).tolist()
    fold1 = manifest["au_positive_rate"]["per_jaanet_fold"]["fold1"]  # tests on part3 = F007
    f007 = np.array([v for k, v in written.items() if k[0] == "F007"])
    assert [fold1["test"][au]["known"] for au in AU_NAMES] == (f007 != 9).sum(axis=0).tolist()


def test_records_round_trip_labels_masks_and_alignment(tree, baseline):
    out, _ = baseline
    records = _records(out)
    written = {k: v for k, v in _converted(tree).items() if k not in tree.unwritable}
    assert set(records) == set(written)
    template = alignment.canonical_five_points(SIZE)
    canonical_maps = attention.au_attention_maps(attention.au_centres(alignment.canonical_landmarks49(SIZE)), SIZE)
    for key, record in records.items():
        np.testing.assert_array_equal(record["labels"], written[key])
        np.testing.assert_array_equal(record["known_mask"], np.array(written[key]) != 9)
        assert record["image"].shape == (SIZE, SIZE, 3) and not record["has_landmarks49"]
        direct = attention.au_attention_maps(record["au_centres"], SIZE)
        assert np.abs(record["attention_maps"] - direct).max() <= 1 / 255 + 1e-6
        assert np.abs(record["attention_maps"] - canonical_maps).max() <= 1 / 255 + 1e-6
        eye_error = np.linalg.norm(record["landmarks5"][:2] - template[:2], axis=1).max()
        assert eye_error < 2.0, (key, eye_error)  # px of a 64 crop (~6 px of 200)
    grey = records[("F001", "T1", 2444)]["image"]
    assert np.abs(grey[..., 0] - grey[..., 1]).max() < 0.1  # greyscale source, RGB record
    assert records[("F001", "T1", 2445)]["image"].std() > 0.2  # RGBA source converted


def test_resume_after_a_failure_completes_the_same_set_without_redoing(tree, baseline, tmp_path, monkeypatch,
                                                                       capfd):
    out = tmp_path / "out"
    calls = {"n": 0}
    original = frame_pipeline.FrameConverter.example

    def failing_after_ten(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 10:  # F001_T1 (8 frames) is done, M011_T2 is half-way
            raise RuntimeError("simulated crash")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(frame_pipeline.FrameConverter, "example", failing_after_ten)
    with pytest.raises(conversion.ConversionFailed, match="1 video\\(s\\) failed"):
        conversion.convert(str(tree.images), str(tree.labels), str(out), settings=SETTINGS)
    assert not (out / "part2" / "M011_T2.tfrecord").exists()
    assert not list(out.glob("*/*.partial"))
    assert read_manifest(out)["videos"]["skipped"]["counts"]["conversion_error"] == 1
    finished = {p: p.stat().st_mtime_ns for p in out.glob("*/*.tfrecord")}
    assert len(finished) == 2

    monkeypatch.setattr(frame_pipeline.FrameConverter, "example", original)
    (out / "part2" / "M011_T2.tfrecord.partial").write_bytes(b"left by a killed run")
    manifest = conversion.convert(str(tree.images), str(tree.labels), str(out), settings=SETTINGS)
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # finished shards were not redone
    assert _shard_bytes(out) == _shard_bytes(baseline[0])
    timing = "worker_seconds"
    assert {k: v for k, v in manifest["frames"].items() if k != timing} == \
        {k: v for k, v in baseline[1]["frames"].items() if k != timing}
    assert "conversion_error" not in manifest["videos"]["skipped"]["counts"]
    assert "frames/s, ETA" in capfd.readouterr().err


def test_a_resumed_run_refuses_other_settings(tree, baseline):
    out, _ = baseline
    with pytest.raises(frame_pipeline.ConvertError, match="other settings"):
        conversion.convert(str(tree.images), str(tree.labels), str(out), settings=frame_pipeline.Settings(image_size=32))


def test_json_folds_choose_the_parts(tree, tmp_path):
    folds = tmp_path / "folds.json"
    folds.write_text(json.dumps({"seen": ["F001", "M011"], "unseen": ["F007"]}))
    out = tmp_path / "out"
    manifest = conversion.convert(str(tree.images), str(tree.labels), str(out), folds=str(folds), settings=SETTINGS)
    assert manifest["parts"] == ["seen", "unseen"]
    assert sorted(p.name for p in (out / "seen").glob("*.tfrecord")) == ["F001_T1.tfrecord", "M011_T2.tfrecord"]
    assert "per_jaanet_fold" not in manifest["au_positive_rate"]
    assert manifest["subjects_not_in_any_part"] == {"F099": ["F099_T1"]}


@pytest.mark.parametrize("content, message", [
    ({"a": ["F001"], "b": ["F001"]}, "subject F001 is in both"),
    (["F001"], "expected a JSON object"),
    ({"../x": ["F001"]}, "cannot be a folder name"),
    ("{not json", "expected 'jaanet' or a JSON file"),
])
def test_bad_folds_are_fatal(tree, tmp_path, content, message):
    folds = tmp_path / "folds.json"
    folds.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(frame_pipeline.ConvertError, match=message):
        conversion.convert(str(tree.images), str(tree.labels), str(tmp_path / "out"), folds=str(folds),
                        settings=SETTINGS)


def test_given_landmarks_use_the_jaanet_rule_and_own_centres(tree, tmp_path):
    """49 points for F007/T3 frame 5 (the canonical face placed where MTCNN finds the face), none for 6."""
    from lac_gan.data.face_detection import FaceDetector
    from PIL import Image
    image = np.asarray(Image.open(tree.images / "F007" / "T3" / "5.jpg").convert("RGB"))
    face = FaceDetector().detect(image)
    to_frame = alignment.invert_transform(alignment.similarity_transform(face.points5,
                                                                         alignment.canonical_five_points(200)))
    points = alignment.transform_points(to_frame, alignment.canonical_landmarks49(200))
    landmarks = tmp_path / "landmarks" / "F007" / "T3"
    landmarks.mkdir(parents=True)
    (landmarks / "5.txt").write_text(" ".join(f"{v:.3f}" for v in (points + 1).ravel()))  # 1-based
    folds = tmp_path / "folds.json"
    folds.write_text(json.dumps({"p": ["F007"]}))
    out = tmp_path / "out"
    manifest = conversion.convert(str(tree.images), str(tree.labels), str(out), folds=str(folds),
                               settings=frame_pipeline.Settings(image_size=SIZE), landmarks_root=str(tmp_path / "landmarks"))
    assert manifest["frames"]["landmarks"] == "files"
    assert manifest["frames"]["landmark_fallbacks_to_canonical"]["counts"] == {"landmarks_missing": 1}
    records = _records(out, ["p"])
    given, fallback = records[("F007", "T3", 5)], records[("F007", "T3", 6)]
    assert given["has_landmarks49"] and not fallback["has_landmarks49"]
    assert np.abs(given["landmarks49"] - alignment.canonical_landmarks49(SIZE)).max() < 1.0
    np.testing.assert_allclose(given["au_centres"], attention.au_centres(given["landmarks49"]), atol=1e-4)
    direct = attention.au_attention_maps(given["au_centres"], SIZE)
    assert np.abs(given["attention_maps"] - direct).max() <= 1 / 255 + 1e-6
    with pytest.raises(frame_pipeline.ConvertError, match="--landmarks_root .*: no such directory"):
        conversion.convert(str(tree.images), str(tree.labels), str(out), landmarks_root=str(tmp_path / "none"))


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "tfrecords_tools.convert", *args], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=300)


def test_cli_with_two_worker_processes_matches_the_in_process_run(tree, baseline, tmp_path):
    out = tmp_path / "out"
    result = _cli(f"--bp4d_root={tree.images}", f"--labels_root={tree.labels}", f"--out_dir={out}",
                  "--workers=2", f"--image_size={SIZE}", "--landmarks=mtcnn_canonical")
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = read_manifest(out)
    assert manifest["frames"]["written"] == baseline[1]["frames"]["written"]
    assert "--workers=2" in manifest["command"]
    # One TF thread per worker may round differently: the same records up to a fraction of a pixel.
    ours, reference = _records(out), _records(baseline[0])
    for record in (*ours.values(), *reference.values()):
        record.pop("image")
    _assert_same_records(ours, reference, atol=0.25)


def test_cli_misconfiguration_is_a_message_not_a_traceback(tmp_path):
    result = _cli(f"--bp4d_root={tmp_path / 'missing'}", f"--labels_root={tmp_path}", f"--out_dir={tmp_path / 'o'}")
    assert result.returncode == 2
    assert "expected" in result.stderr and "<Subject>/<Task>/<frame>.jpg" in result.stderr
    assert "Traceback" not in result.stderr


def test_killed_cli_run_resumes_to_the_same_shards(tree, baseline, tmp_path):
    """SIGKILL the converter as soon as its first shard is finished, run again, compare."""
    import signal
    import time
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    process = subprocess.Popen([sys.executable, "-m", "tfrecords_tools.convert", f"--bp4d_root={tree.images}",
                                f"--labels_root={tree.labels}", f"--out_dir={out}", "--workers=1",
                                f"--image_size={SIZE}", "--landmarks=mtcnn_canonical"], env=env, cwd=REPO, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(out.glob("*/*.tfrecord")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(list(out.glob("*/*.tfrecord"))) == 1 and not (out / "manifest.json").exists()
    conversion.convert(str(tree.images), str(tree.labels), str(out), settings=SETTINGS)
    # Content, not bytes: protobuf may serialise the feature map in another order in another process.
    _assert_same_records(_records(out), _records(baseline[0]), atol=1e-4)
