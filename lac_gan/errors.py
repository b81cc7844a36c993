"""How every command reports bad input and faults outside the program (lac_gan/cli.py prints them).

A `UserError` is shown as one line, `<command>: error: <message>`, naming the file or flag and what
was expected, and ends the command with its `exit_code`: 2 for a flag or argument that cannot work
(`UsageError`, raised before any heavy work), 1 for a problem found while running (bad data, a
failing external tool). Any other exception is a bug of ours and keeps its traceback.
"""
from __future__ import annotations

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
    path that exists, is a file (found before any work, not when the first output is written)."""
    path = Path(path)
    existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        where = "is a file" if existing == path else f"is under {existing}, which is a file"
        raise UsageError(f"{flag} {path}: {where}; expected a folder")
    return path
