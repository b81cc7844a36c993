"""`lacgan <command> --help` for every command, and the dispatcher's own usage and errors."""
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from lac_gan.cli import COMMANDS

KEY_FLAG = {"convert": "--bp4d_root", "train": "--[no]demo", "evaluate": "--detector", "edit": "--set",
            "export": "--out", "serve": "--port", "train-detector": "--eval_every", "convert-jaanet": "--pth_dir", "label": "--openface_bin"}


def lacgan(*args, env=None):
    return subprocess.run([sys.executable, "-m", "lac_gan", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120, env=env)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command):
    result = lacgan(command, "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"lacgan {command}" in result.stdout and KEY_FLAG[command] in result.stdout


def test_usage_lists_the_commands():
    result = lacgan("--help")
    assert result.returncode == 0
    assert all(command in result.stdout for command in COMMANDS)


def test_unknown_command_is_an_error_with_the_usage():
    result = lacgan("trian")
    assert result.returncode == 2 and "unknown command 'trian'" in result.stderr and "convert" in result.stderr


@pytest.mark.parametrize("entry, key_flag", [(["train.py"], "--[no]demo"), (["evaluate.py"], "--detector"),
                                             (["-m", "tfrecords_tools.convert"], "--bp4d_root")])
def test_paper_style_entry_points_have_help(entry, key_flag):
    result = subprocess.run([sys.executable, *entry, "--help"], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert key_flag in result.stdout


TENSORFLOW_LINE = re.compile(r"^[IWEF]\d{4} .*\.\w+:\d+\]|absl::InitializeLog", re.M)  # its C++ log's format


@pytest.mark.parametrize("level", [None, "1", "2", "3"])
def test_a_quiet_log_level_hides_tensorflows_start_up_lines(level):
    """Unset, or a TF_CPP_MIN_LOG_LEVEL that hides INFO lines: none of TensorFlow's start-up notices
    (the oneDNN notice, the CUDA stub, CPU features), which it writes before it reads any level."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["TF_ENABLE_ONEDNN_OPTS"] = "1"  # on any x86 CPU: its notice is one of the lines to hide
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    result = lacgan("edit", "--help", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not TENSORFLOW_LINE.search(result.stderr), result.stderr[-2000:]


def test_log_level_0_shows_tensorflows_start_up_lines():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0", "TF_ENABLE_ONEDNN_OPTS": "1"}
    result = lacgan("edit", "--help", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert TENSORFLOW_LINE.search(result.stderr), result.stderr[-2000:]


def test_an_edit_and_a_bad_convert_print_the_projects_lines_only(tmp_path, astronaut):
    """An edit: no TensorFlow Lite "INFO: Created ... XNNPACK delegate" line, no TensorFlow line;
    `python -m tfrecords_tools.convert` with a bad flag: its one error line, without TensorFlow's
    start-up banner and `failed call to cuInit` ERROR."""
    from PIL import Image
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    edit = lacgan("edit", "--editor", "warp", "--image", str(tmp_path / "a.png"), "--set", "AU12", "--out",
                  str(tmp_path / "b.png"), env=env)
    assert edit.returncode == 0, edit.stderr[-2000:]
    lines = edit.stderr.strip().splitlines()
    origins = [re.match(r"[IWEF]\d{4} [\d:.]+ +\d+ ([\w.]+):\d+\]", line) for line in lines]
    assert all(origins) and {o.group(1) for o in origins} <= {"edit.py", "progress.py"}, edit.stderr[-2000:]
    convert = subprocess.run([sys.executable, "-m", "tfrecords_tools.convert", "--bp4d_root", str(tmp_path / "no"),
                              "--labels_root", str(tmp_path), "--out_dir", str(tmp_path / "out")], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=120, env=env)
    assert convert.returncode == 2
    assert convert.stderr.strip().splitlines() == [
        f"lacgan convert: error: --bp4d_root {tmp_path / 'no'}: no such directory; expected "
        f"{tmp_path / 'no'}/<Subject>/<Task>/<frame>.jpg"], convert.stderr[-2000:]
