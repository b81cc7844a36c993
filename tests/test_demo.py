"""`python train.py --demo` on a fresh folder: the whole path, at a reduced step count."""
import os
import re
import subprocess
import sys

from conftest import REPO_ROOT
from lac_gan.data.dataset import read_manifest


def test_demo_runs_the_whole_path(tmp_path):
    logdir = tmp_path / "demo"
    # As a new user runs it: no TF_CPP_MIN_LOG_LEVEL, oneDNN as TensorFlow decides.
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    result = subprocess.run([sys.executable, str(REPO_ROOT / "train.py"), "--demo", "--steps", "20",
                             "--logdir", str(logdir)], capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    # A working run prints no ERROR line, and none of TensorFlow's C++ log lines (`--verbosity=1` has them).
    assert not re.search(r"^E\d{4} ", result.stderr, re.M), result.stderr[-3000:]
    assert not re.search(r"^[IWEF]\d{4} .*\.cc:\d+\]", result.stderr, re.M), result.stderr[-3000:]
    assert "Demo finished" in result.stdout and "proves the machinery" in result.stdout
    manifest = read_manifest(logdir / "tfrecords")
    assert manifest["frames"]["written"] >= 40
    assert (logdir / "run" / "checkpoint").is_file()
    assert list((logdir / "run" / "train").glob("events.out.tfevents.*"))
    for figure in ("fig3_single_aus.png", "fig5_combinations.png"):
        assert (logdir / "figures" / figure).stat().st_size > 1000
