"""How every command reports bad input and faults outside the program (lac_gan/cli.py prints them).

A `UserError` is shown as one line, `<command>: error: <message>`, naming the file or flag and what
was expected, and ends the command with its `exit_code`: 2 for a flag or argument that cannot work
(`UsageError`, raised before any heavy work), 1 for a problem found while running (bad data, a
failing external tool). An OSError or a TensorFlow `errors.OpError` (a full disk, a read-only
folder) is a fault outside the program too, shown by `fault_message` with exit status 1. Any other
exception is a bug of ours and keeps its traceback.
"""
from __future__ import annotations

import contextlib
import re
from pathlib import Path


class UserError(Exception):
    """Bad input or a fault outside the program, found while running: exit status 1."""
    exit_code = 1


class UsageError(UserError):
    """A flag or argument that cannot work: exit status 2."""
    exit_code = 2


class DataError(UserError, ValueError):
    """Input data (a shard, a manifest, a detector's CSV) that is not what it should be; the message
    names the file."""


def check_output_dir(flag: str, path: str | Path) -> Path:
    """A folder a command will create or write into: a UsageError when it, or the nearest part of its
    path that exists, is a file (found before any work, not when the first output is written), or an
    empty path (which Path reads as the working directory)."""
    if not str(path).strip():
        raise UsageError(f"{flag}: an empty path; expected a folder")
    path = Path(path)
    existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        where = "is a file" if existing == path else f"is under {existing}, which is a file"
        raise UsageError(f"{flag} {path}: {where}; expected a folder")
    return path


def check_seed(seed: int) -> None:
    """--seed as NumPy and Keras take it (a negative one is a ValueError deep inside them)."""
    if not 0 <= seed < 2 ** 32:
        raise UsageError(f"--seed {seed}: expected a whole number from 0 to 2**32 - 1")


def fault_message(error: BaseException) -> str:
    """One line for an OSError or a TensorFlow OpError: TensorFlow's text (`{{function_node ...}}
    /logdir/ckpt-2_temp/part-0...; No space left on device [Op:SaveV2]`) without its op decorations."""
    text = getattr(error, "message", None) or str(error)
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", text).strip()
    text = text.splitlines()[0] if text else type(error).__name__
    return re.sub(r"\s*\[Op:\w+\]$", "", text)


@contextlib.contextmanager
def naming_path(path: str | Path):
    """Around a write to `path`: an OSError that names no file (a full disk is found when data is
    written or the file closed, not when it is opened: `[Errno 28] No space left on device`) is
    raised again naming `path`."""
    try:
        yield
    except OSError as error:
        if error.filename is not None or error.errno is None:
            raise
        raise OSError(error.errno, error.strerror, str(path)) from error
