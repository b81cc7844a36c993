"""TensorFlow's native log lines, which are not the project's: how loud the user asked TensorFlow
to be, and a way to keep what its C++ (and TensorFlow Lite's) code writes to file descriptor 2 out of
a normal run's output (README, "a run prints the project's own lines only")."""
from __future__ import annotations

import contextlib
import os
import re
import sys


def tensorflow_log_level(value: str | None) -> int | None:
    """TF_CPP_MIN_LOG_LEVEL as TensorFlow's C++ reads it: its leading integer, 0 (show everything)
    when there is none (`""`, `"info"`); None when the variable is unset."""
    if value is None:
        return None
    number = re.match(r"\s*[+-]?\d+", value)
    return int(number.group()) if number else 0


def wants_everything() -> bool:
    """TF_CPP_MIN_LOG_LEVEL set to 0 or below: the user asked to see all of TensorFlow's lines."""
    level = tensorflow_log_level(os.environ.get("TF_CPP_MIN_LOG_LEVEL"))
    return level is not None and level <= 0


@contextlib.contextmanager
def native_stderr_silenced():
    """File descriptor 2 pointed at /dev/null for the block (Python's sys.stderr is flushed first):
    what native code writes there meanwhile is dropped; Python exceptions still propagate."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
