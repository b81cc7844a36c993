"""Bad input and faults (issue 11): each gives a one-line error or a counted skip, never a traceback,
a hang, a leaked process or a silent wrong result. Every bad input is built here, at run time."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from builders import face_crops, write_converted_dataset, write_images, write_untrained_checkpoint
from conftest import REPO_ROOT
from lac_gan.common.errors import DataError, UsageError, UserError
from lac_gan.common.json_files import write_json_atomic
from lac_gan.common.locks import DirectoryBusyError
from lac_gan.data import conversion, dataset, frame_pipeline
from lac_gan.data.au_table import AU_NAMES, NUM_AUS
from lac_gan.data.bp4d import JAANET_PARTS
from lac_gan.data.image_io import read_rgb
from lac_gan.evaluation import openface
from lac_gan.evaluation.detectors import PrecomputedDetector
from lac_gan.evaluation.protocol import EvaluationConfig, run_evaluation
from lac_gan.nets import config as config_lib, restore
from lac_gan.product.editing import photo_pairs
from lac_gan.product.export import check_export_dir
from lac_gan.training import checkpoints
from lac_gan.training.loop import TrainingOptions, run_training, training_files

SIZE = config_lib.tiny().image_size
FAKE_OPENFACE = REPO_ROOT / "tests" / "fake_openface" / "FeatureExtraction"


def lacgan(*args, **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "lac_gan", *map(str, args)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, env=env, **kwargs)


def assert_one_line_error(result: subprocess.CompletedProcess, code: int, *fragments: str) -> str:
    """Exit `code`, no traceback, and an `error:` line holding every fragment; returns that line."""
    assert result.returncode == code, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(lines) == 1, result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# ---- the reporting rule itself ------------------------------------------------------------------

RUNNER = textwrap.dedent("""
    import sys
    from lac_gan.cli import run_absl
    from lac_gan.common.errors import UsageError, UserError
    from absl import flags
    flags.DEFINE_integer("count", 1, "a number", lower_bound=1)

    def main(argv):
        kind = sys.argv[1]
        if kind == "user":
            raise UserError("data.bin: expected a shard")
        if kind == "usage":
            raise UsageError("--count: expected a positive number")
        if kind == "disk":
            raise OSError(28, "No space left on device", "out/results.json")
        raise KeyError("a bug of ours")

    run_absl(main, ["tool", *sys.argv[2:]], "tool")
""")


@pytest.mark.parametrize("kind, code, fragment", [
    ("user", 1, "tool: error: data.bin: expected a shard"),
    ("usage", 2, "tool: error: --count: expected a positive number"),
    ("disk", 1, "No space left on device: 'out/results.json'"),
])
def test_user_errors_are_one_line_with_their_exit_status(kind, code, fragment):
    result = subprocess.run([sys.executable, "-c", RUNNER, kind], capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=60)
    assert_one_line_error(result, code, fragment)


def test_bad_flag_value_is_usage_traceback_on_request_and_bugs_keep_theirs():
    def run(*args):
        return subprocess.run([sys.executable, "-c", RUNNER, *args], capture_output=True, text=True,
                              cwd=REPO_ROOT, timeout=60)
    assert_one_line_error(run("user", "--count=0"), 2, "--count", "(--help lists the flags)")
    verbose = run("user", "--verbosity=1")
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr and "data.bin" in verbose.stderr
    bug = run("bug")
    assert bug.returncode == 1 and "Traceback" in bug.stderr and "KeyError: 'a bug of ours'" in bug.stderr


def test_json_outputs_are_replaced_whole_or_not_at_all(tmp_path):
    path = write_json_atomic(tmp_path / "results.json", {"pairs": np.int64(3), "where": tmp_path})
    assert json.loads(path.read_text()) == {"pairs": 3, "where": str(tmp_path)}
    with pytest.raises(TypeError):
        write_json_atomic(path, {"pairs": object()})  # fails half way through serialising
    assert json.loads(path.read_text())["pairs"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary left behind


# ---- convert --------------------------------------------------------------------------------------

def small_tree(root: Path, astronaut: np.ndarray) -> tuple[Path, Path, Path]:
    """One labelled frame of F001/T1 and a folds file putting F001 in part `p`."""
    images, labels = root / "images", root / "labels"
    (images / "F001" / "T1").mkdir(parents=True)
    Image.fromarray(astronaut).save(images / "F001" / "T1" / "1.jpg")
    labels.mkdir()
    (labels / "F001_T1.csv").write_text("0,1,2,4,6,7,10,12,14,15,17,23,24\n1,0,1,0,1,0,1,0,1,0,1,0,1\n")
    folds = root / "folds.json"
    folds.write_text(json.dumps({"p": ["F001"]}))
    return images, labels, folds


def test_convert_out_dir_that_is_a_file(tmp_path, astronaut):
    images, labels, folds = small_tree(tmp_path, astronaut)
    (tmp_path / "taken").write_text("")
    with pytest.raises(UsageError, match="--out_dir .*taken: is a file; expected a folder"):
        conversion.convert(str(images), str(labels), str(tmp_path / "taken"), folds=str(folds))
    result = lacgan("convert", f"--bp4d_root={images}", f"--labels_root={labels}", f"--out_dir={tmp_path / 'taken'}",
                    f"--folds={folds}")
    assert_one_line_error(result, 2, "taken: is a file")


def test_convert_names_a_truncated_sidecar(tmp_path, astronaut):
    images, labels, folds = small_tree(tmp_path, astronaut)
    shard = tmp_path / "out" / "p" / "F001_T1.tfrecord"
    shard.parent.mkdir(parents=True)
    shard.write_bytes(b"")
    sidecar = conversion.sidecar_path(shard)
    sidecar.write_text('{"subject": "F001", "settings": {"image_si')
    with pytest.raises(conversion.ConversionFailed, match="F001_T1.stats.json: unreadable stats sidecar .*delete it"):
        conversion.convert(str(images), str(labels), str(tmp_path / "out"), folds=str(folds))


def test_a_second_converter_on_the_same_out_dir_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with conversion.lock_out_dir(out):
        with pytest.raises(DirectoryBusyError, match=f"another converter \\(pid {os.getpid()}\\)"):
            conversion.lock_out_dir(out)
    conversion.lock_out_dir(out).close()  # free again once the first run has ended


def test_converter_workers_die_with_their_parent(tmp_path):
    # parent -> worker (initialised as the pool does it); kill -9 the parent, the worker must end.
    worker = ("import os, sys, time; from lac_gan.data import conversion, frame_pipeline; "
              "conversion._init_worker(frame_pipeline.Settings(image_size=32), None, True, os.getppid()); "
              "print(os.getpid(), flush=True); time.sleep(120)")
    parent = (f"import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', {worker!r}]); "
              "time.sleep(120)")
    process = subprocess.Popen([sys.executable, "-c", parent], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
                               env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    try:
        worker_pid = int(process.stdout.readline())
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _alive(worker_pid):
        time.sleep(0.2)
    alive = _alive(worker_pid)
    if alive:
        os.kill(worker_pid, signal.SIGKILL)
    assert not alive, "the worker outlived its killed parent"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def test_16_bit_png_is_read_as_its_image_not_white(tmp_path, astronaut):
    grey8 = np.asarray(Image.fromarray(astronaut).convert("L"))
    Image.fromarray(grey8.astype(np.uint16) * 257).save(tmp_path / "face16.png")
    assert Image.open(tmp_path / "face16.png").mode.startswith("I")
    read = read_rgb(tmp_path / "face16.png")
    assert read.shape == astronaut.shape and read.dtype == np.uint8
    np.testing.assert_array_equal(read[..., 1], grey8)


# ---- data shards: train and evaluate --------------------------------------------------------------

def tiny_dataset(directory: Path, astronaut: np.ndarray, per_part: int = 4) -> Path:
    """A converted dataset (3 parts, real face crops) whose manifest has the per-part AU counts."""
    rng = np.random.default_rng(0)
    faces = face_crops(astronaut, SIZE, per_part)
    examples = {part: [{"image": face, "labels": rng.choice([0, 1], size=NUM_AUS), "subject": f"F00{p + 1}",
                        "task": "T1", "frame": frame} for frame, face in enumerate(faces)]
                for p, part in enumerate(JAANET_PARTS)}
    write_converted_dataset(directory, SIZE, examples)
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["au_positive_rate"] = {"per_part": {part: {au: {"positive": 1, "known": 2} for au in AU_NAMES}
                                                 for part in JAANET_PARTS}}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def train_options(data_dir: Path, logdir: Path, **changes) -> TrainingOptions:
    return TrainingOptions(**{"data_dir": str(data_dir), "logdir": str(logdir), "steps": 4, **changes})


@pytest.fixture
def data_dir(tmp_path, astronaut) -> Path:
    return tiny_dataset(tmp_path / "data", astronaut)


def test_truncated_shard_is_named_with_its_offset_or_skipped_and_counted(data_dir, tmp_path):
    shard = data_dir / "part1" / "shard-00000.tfrecord"
    good_bytes = sum(len(r) + 16 for r in tf.data.TFRecordDataset(str(shard)).take(2).as_numpy_iterator())
    shard.write_bytes(shard.read_bytes()[:good_bytes + 30])  # records 0, 1 whole, record 2 cut short
    with pytest.raises(DataError, match=f"{shard}: record 2 at byte {good_bytes}: damaged record.*--skip_bad_records"):
        run_training(config_lib.tiny(), train_options(data_dir, tmp_path / "run"))
    assert not (tmp_path / "run" / "checkpoint").exists()

    files = training_files(config_lib.tiny(), train_options(data_dir, tmp_path / "run", skip_bad_records=True))
    copy = next(f for f in files if "part1" in f)
    assert str(tmp_path / "run") in copy and sum(1 for _ in tf.data.TFRecordDataset(copy)) == 2
    skipped = json.loads((tmp_path / "run" / dataset.SKIPPED_RECORDS_NAME).read_text())
    assert skipped["records"] == 1 and skipped["shards"][0]["examples_kept"] == 2
    assert len(shard.read_bytes()) == good_bytes + 30  # the data itself is untouched


def test_foreign_records_are_named(data_dir, tmp_path):
    shard = data_dir / "part2" / "shard-00000.tfrecord"
    foreign = tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))})).SerializeToString()
    with tf.io.TFRecordWriter(str(shard)) as writer:
        writer.write(foreign)
    with pytest.raises(DataError, match=f"{shard}: record 0 at byte 0: not a LAC-GAN example"):
        training_files(config_lib.tiny(), train_options(data_dir, tmp_path / "run"))


@pytest.mark.parametrize("changes, message", [
    ({"fold": 4}, "--fold 4: expected one of \\[1, 2, 3\\]"),
    ({"steps": 0}, "--steps 0: expected a whole number of steps, at least 1"),
])
def test_training_flags_that_cannot_work(data_dir, tmp_path, changes, message):
    with pytest.raises(UsageError, match=message):
        run_training(config_lib.tiny(), train_options(data_dir, tmp_path / "run", **changes))


def test_batch_size_zero_or_negative_is_refused_not_replaced(data_dir, tmp_path):
    with pytest.raises(UsageError, match="--batch_size 0: expected at least 1"):
        run_training(config_lib.tiny().replace(batch_size=0), train_options(data_dir, tmp_path / "run"))
    result = lacgan("train", "--data_dir", data_dir, "--logdir", tmp_path / "run", "--identity_weights", "none",
                    "--preset", "tiny", "--batch_size", "-4")
    assert_one_line_error(result, 2, "--batch_size -4")


def save_trainer_like_checkpoints(logdir: Path, steps: list[int]) -> list[str]:
    """Checkpoints with the trainer's `step` variable and one weight, as CheckpointManager writes them."""
    step, weight = tf.Variable(0, dtype=tf.int64), tf.Variable(tf.zeros([64, 64]))
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step, weight=weight), str(logdir), 5,
                                         checkpoint_name=restore.CHECKPOINT_PREFIX)
    paths = []
    for value in steps:
        step.assign(value)
        paths.append(manager.save(checkpoint_number=value))
    return paths


def test_resume_without_checkpoint_or_below_it_is_refused(data_dir, tmp_path):
    with pytest.raises(UsageError, match="--resume: .* holds no checkpoint to resume from"):
        run_training(config_lib.tiny(), train_options(data_dir, tmp_path / "empty", resume=True))
    assert not (tmp_path / "empty").exists()  # a refused run leaves nothing behind
    save_trainer_like_checkpoints(tmp_path / "run", [6])
    with pytest.raises(UsageError, match="--steps 4: .*ckpt-6 is already at step 6"):
        run_training(config_lib.tiny(), train_options(data_dir, tmp_path / "run", resume=True, steps=4))
    with pytest.raises(UsageError, match="already holds checkpoints: pass --resume"):
        run_training(config_lib.tiny(), train_options(data_dir, tmp_path / "run", steps=10))


def test_a_truncated_latest_checkpoint_falls_back_to_the_previous_one(tmp_path, caplog):
    older, latest = save_trainer_like_checkpoints(tmp_path, [2, 4])
    data = next(Path(tmp_path).glob("ckpt-4.data-*"))
    data.write_bytes(data.read_bytes()[:100])
    assert restore.newest_readable_checkpoint(tmp_path) == older
    assert f"the newer {latest} is unreadable" in caplog.text
    assert restore.checkpoint_step(restore.resolve_checkpoint(tmp_path)) == 2
    with pytest.raises(DataError, match="ckpt-4: unreadable checkpoint"):
        restore.resolve_checkpoint(latest)
    next(Path(tmp_path).glob("ckpt-2.data-*")).write_bytes(b"")
    with pytest.raises(DataError, match="no readable checkpoint"):
        restore.newest_readable_checkpoint(tmp_path)


# ---- evaluate -------------------------------------------------------------------------------------

def never_called(*args):
    raise AssertionError("synthesised although the run cannot succeed")


def evaluation(data_dir: Path, out_dir: Path, **changes) -> EvaluationConfig:
    return EvaluationConfig(**{"data_dir": str(data_dir), "out_dir": str(out_dir), "detector": "none", **changes})


@pytest.mark.parametrize("changes, message", [
    ({"max_frames": -5}, "--max_frames -5: expected a whole number, at least 1"),
    ({"batch_size": 0}, "--batch_size 0: expected a whole number, at least 1"),
    ({"fold": 4}, "--fold 4"),
    ({"detector_timeout": 0}, "--detector_timeout 0"),
])
def test_evaluation_flags_that_cannot_work(data_dir, tmp_path, changes, message):
    with pytest.raises(UsageError, match=message):
        run_evaluation(evaluation(data_dir, tmp_path / "out", **changes), synthesizer=never_called, image_size=SIZE)


def test_evaluation_data_and_checkpoint_problems(data_dir, tmp_path):
    with pytest.raises(UsageError, match="nowhere: neither a directory with checkpoints"):
        run_evaluation(evaluation(data_dir, tmp_path / "out", checkpoint=str(tmp_path / "nowhere")))
    (data_dir / "part3" / "shard-00000.tfrecord").unlink()
    with pytest.raises(DataError, match="part3: no .tfrecord shards for part 'part3'"):
        run_evaluation(evaluation(data_dir, tmp_path / "out"), synthesizer=never_called, image_size=SIZE)
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="--out_dir .*file/out: is under .*file, which is a file"):
        run_evaluation(evaluation(data_dir, tmp_path / "file" / "out"), synthesizer=never_called, image_size=SIZE)


def test_evaluate_command_line_errors_are_one_line(data_dir, tmp_path):
    result = lacgan("evaluate", "--checkpoint", tmp_path / "nowhere", "--data_dir", data_dir, "--out_dir",
                    tmp_path / "out", "--max_frames", "-5")
    assert_one_line_error(result, 2, "--max_frames -5")
    result = lacgan("evaluate", "--checkpoint", tmp_path / "nowhere", "--data_dir", data_dir, "--out_dir",
                    tmp_path / "out", "--detector", "none")
    assert_one_line_error(result, 2, "nowhere")


def precomputed_csv(path: Path, header: list[str], rows: int = 3) -> Path:
    lines = [",".join(header)] + [",".join(["1"] * len(header)) for _ in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("header, message", [
    (["filename", "AU01", "AU02"], "no AU occurrence column; expected AU01_c, AU02_c.*found AU columns \\['AU01'"),
    (["filename", "AU1", "AU12"], "found AU columns \\['AU1', 'AU12'\\]"),
    (["name", "AU01_c", "AU12_c"], "cannot tell which image a row is for; expected a `filename` column"),
])
def test_precomputed_csvs_that_would_score_nothing(tmp_path, header, message):
    good = precomputed_csv(tmp_path / "good.csv", ["filename", "AU01_c"])
    bad = precomputed_csv(tmp_path / "bad.csv", header)
    with pytest.raises(DataError, match=message):
        PrecomputedDetector({"real": good, "synthetic": bad})


def test_garbage_detector_output_is_named(tmp_path):
    garbage = tmp_path / "000000.csv"
    garbage.write_text("frame, success, confidence, AU01_c\n1, 1, high, 1\n")
    with pytest.raises(DataError, match="000000.csv: column confidence holds 'high' in data row 1"):
        openface.read_per_image_csvs([garbage])
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe garbage")
    with pytest.raises(DataError, match="000000.csv: not a readable CSV"):
        openface.read_per_image_csvs([garbage])


def test_openface_crash_is_one_line_with_its_output_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_OPENFACE_MODE", "crash")
    with pytest.raises(openface.OpenFaceError) as error:
        openface.run_feature_extraction(str(FAKE_OPENFACE), write_images(tmp_path / "images", 2), tmp_path / "of")
    message = str(error.value)
    assert "\n" not in message and "exited with status 3" in message and "cv::Exception" in message
    log = tmp_path / "of" / openface.OUTPUT_LOG_NAME
    assert str(log) in message and "cv::Exception" in log.read_text()


def test_hanging_openface_is_killed_with_its_children(tmp_path):
    # A wrapper script whose child hangs: the timeout must end both, and name the command.
    child_pid = tmp_path / "child.pid"
    wrapper = tmp_path / "FeatureExtraction"
    wrapper.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {child_pid}\nwait\n")
    wrapper.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(openface.OpenFaceError, match=f"`{wrapper} -f .*` ran past 1.0 s \\(--detector_timeout\\)"):
        openface.run_feature_extraction(str(wrapper), write_images(tmp_path / "images", 2), tmp_path / "of", timeout_s=1.0)
    assert time.monotonic() - started < 10
    pid = int(child_pid.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "the detector's child process was left running"


# ---- edit and export ------------------------------------------------------------------------------

def test_edit_and_export_outputs_that_cannot_work(tmp_path, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "face.png")
    with pytest.raises(UsageError, match="--out .*face.xyz: expected a photo file name ending in one of .jpg"):
        photo_pairs(tmp_path / "face.png", tmp_path / "face.xyz")
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="--out .*file: is a file; expected a folder"):
        photo_pairs(tmp_path, tmp_path / "file")
    with pytest.raises(UsageError, match="--out .*file/saved: is under .*file, which is a file"):
        check_export_dir(tmp_path / "file" / "saved")
    result = lacgan("export", "--checkpoint", tmp_path / "nowhere", "--out", tmp_path / "file" / "saved")
    assert_one_line_error(result, 2, "is under")


def test_folder_edit_goes_on_past_a_photo_it_cannot_write(tmp_path, astronaut):
    photos, out = tmp_path / "photos", tmp_path / "edited"
    photos.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(astronaut).save(photos / name)
    (out / "a.png").mkdir(parents=True)  # where a.png's output should go: it cannot be written
    checkpoint = write_untrained_checkpoint(tmp_path / "run")
    result = lacgan("edit", "--checkpoint", checkpoint, "--image", photos, "--set", "AU12", "--out", out)
    assert_one_line_error(result, 1, "1 of 2 photos could not be edited")
    assert "a.png: not written" in result.stderr
    assert read_rgb(out / "b.png").shape == astronaut.shape
    assert not [p for p in out.iterdir() if "partial" in p.name]


def test_user_error_classes_keep_their_exit_status():
    assert UserError.exit_code == 1 and DataError.exit_code == 1 and UsageError.exit_code == 2
    assert issubclass(restore.CheckpointNotFoundError, UsageError)


# ---- issue 20: faults that still got through ---------------------------------------------------------

HOLD_LOGDIR = textwrap.dedent("""
    import os, sys, time
    from lac_gan.nets import config
    from lac_gan.training import checkpoints
    with checkpoints.prepare_logdir(config.tiny(), sys.argv[1], False, 4):
        print(os.getpid(), flush=True)
        time.sleep(120)
""")


def test_a_second_training_on_a_running_trainings_logdir_is_refused_with_its_pid(data_dir, tmp_path):
    logdir = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-c", HOLD_LOGDIR, str(logdir)], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                             text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    try:
        pid = int(first.stdout.readline())
        saved = (logdir / "config.json").read_bytes()
        second = lacgan("train", "--data_dir", data_dir, "--logdir", logdir, "--identity_weights", "none",
                        "--preset", "tiny", "--steps", "4", "--resume")
        assert_one_line_error(second, 1, f"--logdir {logdir}: another training (pid {pid}) is writing there")
        with pytest.raises(UserError, match=f"another training \\(pid {pid}\\)"):  # train-detector too
            with checkpoints.prepare_logdir(config_lib.tiny(), str(logdir), False, 4):
                pass
        assert (logdir / "config.json").read_bytes() == saved
        assert sorted(p.name for p in logdir.iterdir()) == [".train.lock", "config.json"]
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    with checkpoints.prepare_logdir(config_lib.tiny(), str(logdir), False, 4):  # freed by the kill -9
        pass


def test_in_one_process_the_logdir_is_held_only_while_training(data_dir, tmp_path):
    with checkpoints.prepare_logdir(config_lib.tiny(), str(tmp_path / "run"), False, 4):
        with pytest.raises(UserError, match=f"another training \\(pid {os.getpid()}\\)"):
            run_training(config_lib.tiny(), train_options(data_dir, tmp_path / "run"))
    with pytest.raises(UsageError, match="--seed -1"):  # released: the run gets as far as its own checks
        run_training(config_lib.tiny(), train_options(data_dir, tmp_path / "run", seed=-1))


def test_a_trainer_refuses_the_other_trainers_logdir_untouched(tmp_path):
    from lac_gan.jaanet import config as jaanet_config
    lacgan_logdir = write_untrained_checkpoint(tmp_path / "lacgan")
    before = sorted(p.name for p in lacgan_logdir.iterdir())
    with pytest.raises(UsageError, match="holds config.json: it is a `lacgan train` logdir, not a `lacgan "
                                         "train-detector` logdir"):
        with checkpoints.prepare_logdir(jaanet_config.tiny(), str(lacgan_logdir), True, 4):
            pass
    assert sorted(p.name for p in lacgan_logdir.iterdir()) == before
    jaanet_config.tiny().save(tmp_path / "detector")
    with pytest.raises(UsageError, match="holds jaanet_config.json"):
        with checkpoints.prepare_logdir(config_lib.tiny(), str(tmp_path / "detector"), False, 4):
            pass


OP_ERROR_RUNNER = textwrap.dedent("""
    import sys
    import tensorflow as tf
    from lac_gan.cli import run_absl

    def main(argv):
        raise tf.errors.ResourceExhaustedError(None, None, "{{function_node __wrapped__SaveV2_dtypes_2}} "
                                               "/runs/a/ckpt-2_temp/part-00000; No space left on device [Op:SaveV2]")

    run_absl(main, ["tool"], "tool")
""")


def test_tensorflow_file_errors_are_one_line_naming_the_path():
    result = subprocess.run([sys.executable, "-c", OP_ERROR_RUNNER], capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=120, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    line = assert_one_line_error(result, 1, "tool: error: /runs/a/ckpt-2_temp/part-00000; No space left on device")
    assert "function_node" not in line and "[Op:" not in line


def test_a_failed_checkpoint_save_leaves_nothing_in_the_way(tmp_path, monkeypatch):
    save_trainer_like_checkpoints(tmp_path, [2])
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=tf.Variable(4, dtype=tf.int64)), str(tmp_path), 5,
                                         checkpoint_name=restore.CHECKPOINT_PREFIX)

    def disk_full(self, checkpoint_number):  # what SaveV2 leaves when the disk fills up
        (tmp_path / f"ckpt-{checkpoint_number}_temp").mkdir()
        (tmp_path / f"ckpt-{checkpoint_number}_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x")
        raise tf.errors.ResourceExhaustedError(None, None, f"{tmp_path}/ckpt-4_temp/part-0; No space left on device")
    monkeypatch.setattr(tf.train.CheckpointManager, "save", disk_full)
    with pytest.raises(UserError, match=f"{tmp_path}/ckpt-4: checkpoint not written \\(.*No space left on device\\); "
                                        f"the last good checkpoint is kept \\({tmp_path}/ckpt-2\\): .* --resume"):
        checkpoints.save_checkpoint(manager, 4)
    assert not list(tmp_path.glob("ckpt-4*"))
    assert restore.newest_readable_checkpoint(tmp_path) == str(tmp_path / "ckpt-2")


def test_a_failed_export_leaves_no_half_saved_model(tmp_path, monkeypatch):
    from lac_gan.nets.synthesis import load_synthesizer
    from lac_gan.product.export import export_saved_model
    synthesizer = load_synthesizer(str(write_untrained_checkpoint(tmp_path / "run")))

    def read_only(module, export_dir, signatures):
        # Written beside --out, so that a kill half way leaves nothing at --out either.
        assert Path(export_dir).parent == tmp_path and Path(export_dir).name != "saved"
        Path(export_dir, "variables").mkdir(parents=True)
        raise tf.errors.PermissionDeniedError(None, None, f"{export_dir}/saved_model.pb; Read-only file system")
    monkeypatch.setattr(tf.saved_model, "save", read_only)
    with pytest.raises(UserError, match=f"--out {tmp_path / 'saved'}: SavedModel not written .*Read-only file system"):
        export_saved_model(synthesizer, tmp_path / "saved")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing to block the re-run


def test_writes_that_fail_name_their_file(tmp_path, monkeypatch):
    from lac_gan.data.image_io import write_rgb

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")  # as write() and close() raise it: no file name
    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(OSError, match=f"No space left on device: '{tmp_path / 'results.json'}'"):
        write_json_atomic(tmp_path / "results.json", {"pairs": 1})
    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(OSError, match=f"No space left on device: '{tmp_path / 'face.png'}'"):
        write_rgb(np.zeros((4, 4, 3), np.uint8), tmp_path / "face.png")
    assert not list(tmp_path.iterdir())


def test_convert_stops_in_one_line_when_out_dir_cannot_be_written(tmp_path, monkeypatch, astronaut):
    images, labels, folds = small_tree(tmp_path, astronaut)
    (tmp_path / "out" / "p").mkdir(parents=True)

    def disk_full(job, converter, on_frame):
        job.shard.with_name(job.shard.name + conversion.PARTIAL_SUFFIX).write_bytes(b"half")
        raise tf.errors.ResourceExhaustedError(None, None, f"{job.shard}.partial; No space left on device")
    monkeypatch.setattr(conversion, "convert_video", disk_full)
    monkeypatch.setattr(conversion, "FrameConverter", lambda settings: None)
    with pytest.raises(conversion.ConversionFailed, match="F001_T1.tfrecord.partial; No space left on device; finished"):
        conversion.convert(str(images), str(labels), str(tmp_path / "out"), folds=str(folds),
                        settings=frame_pipeline.Settings(image_size=32, landmarks=frame_pipeline.LANDMARKS_CANONICAL))
    assert not list((tmp_path / "out" / "p").iterdir()) and not (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.parametrize("change, message", [
    (lambda text: text[:40], "config.json: not readable JSON"),
    (lambda text: "[1, 2]", "config.json: expected a JSON object of LacGanConfig fields"),
    (lambda text: text.replace('"image_size": 32', '"image_size": "32"'), "image_size = '32': expected an integer"),
    (lambda text: text.replace('"lambda_tv": 0.001', '"lambda_tv": NaN'), "lambda_tv must be finite"),
    (lambda text: text.replace('"image_size": 32', '"image_size": 64'),
     "ckpt-1 does not fit .*config.json \\(.*shape"),
    (lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "encoder_channels"}),
     "ckpt-1 does not fit .*config.json"),
])
def test_a_config_that_does_not_fit_its_checkpoint_is_named(tmp_path, change, message):
    from lac_gan.nets.synthesis import load_synthesizer
    logdir = write_untrained_checkpoint(tmp_path / "run")
    (logdir / "config.json").write_text(change((logdir / "config.json").read_text()))
    with pytest.raises(DataError, match=message):
        load_synthesizer(str(logdir))


def test_export_on_a_corrupt_config_is_one_line(tmp_path):
    logdir = write_untrained_checkpoint(tmp_path / "run")
    (logdir / "config.json").write_text('{"image_size": 32, "z_dim"')
    result = lacgan("export", "--checkpoint", logdir, "--out", tmp_path / "saved")
    assert_one_line_error(result, 1, f"{logdir / 'config.json'}: not readable JSON")
    assert not (tmp_path / "saved").exists()


@pytest.mark.parametrize("override, message", [
    ("learning_rate=nan", "learning_rate must be a finite number above 0, got nan"),
    ("lambda_au_label=nan", "lambda_au_label must be finite and at least 0, got nan"),
    ("lambda_identity=-1", "lambda_identity must be finite and at least 0"),
    ("adam_beta_1=1", "adam_beta_1 must be in \\[0, 1\\)"),
    ("au_loss_weights=1:1:1:1:1:1:1:1:1:1:1:inf", "au_loss_weights must be finite"),
])
def test_absurd_configuration_values_are_refused_before_any_model(override, message):
    with pytest.raises(ValueError, match=message):
        config_lib.tiny().with_overrides(override)


def test_training_numbers_checked_against_the_data_before_any_model(data_dir, tmp_path):
    with pytest.raises(UsageError, match="--batch_size 9: the training parts of fold 1 hold 8 readable examples"):
        run_training(config_lib.tiny().replace(batch_size=9), train_options(data_dir, tmp_path / "run"))
    with pytest.raises(UsageError, match="--seed -1: expected a whole number from 0 to 2\\*\\*32 - 1"):
        run_training(config_lib.tiny(), train_options(data_dir, tmp_path / "run2", seed=-1))
    assert not (tmp_path / "run2").exists()


@pytest.mark.parametrize("changes, message", [
    ({"steps": 0}, "--steps 0"), ({"eval_every": -1}, "--eval_every -1"),
    ({"checkpoint_every": 0}, "--checkpoint_every 0"), ({"seed": -3}, "--seed -3"),
])
def test_detector_training_flags_that_cannot_work(tmp_path, changes, message):
    from lac_gan.jaanet import config as jaanet_config
    from lac_gan.jaanet.training import DetectorTrainingOptions, run_detector_training
    options = DetectorTrainingOptions(data_dir=str(tmp_path / "nowhere"), logdir=str(tmp_path / "run"), **changes)
    with pytest.raises(UsageError, match=message):
        run_detector_training(jaanet_config.tiny(), options)


def test_detector_configuration_flags_are_one_line():
    result = lacgan("train-detector", "--data_dir", "nowhere", "--logdir", "nowhere", "--lr_decay_steps", "-1")
    assert_one_line_error(result, 2, "--lr_decay_steps must be at least 1, got -1")
    from lac_gan.jaanet import config as jaanet_config
    with pytest.raises(ValueError, match="learning_rate must be a finite number above 0, got nan"):
        jaanet_config.tiny().replace(learning_rate=float("nan"))


def test_more_flags_that_cannot_work():
    with pytest.raises(frame_pipeline.ConvertError, match="--fill_coefficient > 0, got .* and nan"):
        frame_pipeline.Settings(fill_coefficient=float("nan")).check()
    with pytest.raises(UsageError, match="--seed -1"):
        evaluation("data", "out", seed=-1).check()
    with pytest.raises(UsageError, match="--detector_timeout inf"):
        evaluation("data", "out", detector_timeout=float("inf")).check()


def test_convert_jaanet_checks_flags_and_files_before_pytorch(tmp_path):
    from lac_gan.jaanet.official_weights import MODULE_FILES, convert_official_weights
    (tmp_path / "file").write_text("")
    (tmp_path / "pth").mkdir()
    for module in MODULE_FILES:
        (tmp_path / "pth" / f"{module}_3.pth").write_bytes(b"")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "anything").write_text("")
    for pth_dir, epoch, out_dir, message in [
        (tmp_path / "nowhere", 3, tmp_path / "out", "--pth_dir .*nowhere: not a directory"),
        (tmp_path / "file", 3, tmp_path / "out", "--pth_dir .*file: not a directory"),
        (tmp_path / "pth", -1, tmp_path / "out", "--epoch -1"),
        (tmp_path / "pth", 4, tmp_path / "out", "region_learning_4.pth: no such file"),
        (tmp_path / "pth", 3, tmp_path / "used", "--out_dir .*used: not empty"),
        (tmp_path / "pth", 3, tmp_path / "file" / "out", "--out_dir .*is under"),
    ]:
        with pytest.raises(UsageError, match=message):
            convert_official_weights(pth_dir, epoch, out_dir)
    assert not (tmp_path / "out").exists()


def test_landmark_files_are_named_with_what_is_wrong(tmp_path):
    from lac_gan.data.bp4d_layout import read_landmarks49
    path = tmp_path / "1.txt"
    path.write_text(" ".join(["nan"] + ["10"] * 97))
    with pytest.raises(DataError, match=f"{path}: 1 of its 98 numbers are not finite"):
        read_landmarks49(path)
    path.write_text(" ".join(["ten"] + ["10"] * 97))
    with pytest.raises(DataError, match=f"{path}: not a landmark file of 98 numbers"):
        read_landmarks49(path)
    path.write_bytes(b"\xff\xfe" + b" 10" * 98)
    with pytest.raises(DataError, match=f"{path}: not a landmark file"):
        read_landmarks49(path)


def test_frame_and_folder_names_that_are_not_plain_digits_or_utf8(tmp_path, astronaut):
    from lac_gan.data.bp4d_layout import discover
    images, labels, _ = small_tree(tmp_path, astronaut)
    video = images / "F001" / "T1"
    (video / "\u00b2.jpg").write_bytes((video / "1.jpg").read_bytes())  # isdigit(), but not int()
    (video / "\u0662.jpg").write_bytes((video / "1.jpg").read_bytes())  # Arabic-Indic 2: not a BP4D frame name
    undecodable = os.path.join(os.fsencode(images), b"F\xff02", b"T1")
    os.makedirs(undecodable)
    (Path(os.fsdecode(undecodable)) / "1.jpg").write_bytes((video / "1.jpg").read_bytes())
    (labels / os.fsdecode(b"F\xff02_T1.csv")).write_text((labels / "F001_T1.csv").read_text())
    videos, problems = discover(images, labels)
    assert [(v.name, [f for f, _, _ in v.frames]) for v in videos] == [("F001_T1", [1])]
    assert problems.counts == {"name_not_utf8": 1}
    written = write_json_atomic(tmp_path / "manifest.json", problems.to_dict()).read_bytes()
    written.decode("utf-8")  # strict UTF-8, and no lone surrogate escaped in the JSON either
    assert b"\\udc" not in written.replace(b"\\\\udc", b"") and b"F\\\\udcff02_T1.csv" in written
