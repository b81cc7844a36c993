"""`lacgan <command> --help` for every command, and the dispatcher's own usage and errors."""
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from lac_gan.cli import COMMANDS

KEY_FLAG = {"convert": "--bp4d_root", "train": "--[no]demo", "evaluate": "--detector", "edit": "--set",
            "export": "--out", "train-detector": "--eval_every", "convert-jaanet": "--pth_dir", "label": "--openface_bin"}


def lacgan(*args):
    return subprocess.run([sys.executable, "-m", "lac_gan", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)


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
