"""One writing process per output folder: the converter's --out_dir and a trainer's --logdir are
locked for the run (`fcntl.flock` on a lock file in the folder, holding the owner's pid). The kernel
frees the lock when the process ends, however it ends (kill -9 too), so a stale lock file is harmless.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TextIO

from lac_gan.common.errors import UserError


class DirectoryBusyError(UserError):
    """Another process is writing to the folder: exit status 1, naming its pid."""


def lock_directory(directory: Path, lock_name: str, flag: str, holder: str, advice: str) -> TextIO:
    """An exclusive lock on the existing `directory` until the returned file is closed (it is a
    context manager). Raises DirectoryBusyError `<flag> <directory>: another <holder> (pid N) is
    writing there; <advice>` while another process (or another open of this one) holds it."""
    lock = (Path(directory) / lock_name).open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as error:
        lock.seek(0)
        pid = lock.read().strip() or "unknown"
        lock.close()
        raise DirectoryBusyError(f"{flag} {directory}: another {holder} (pid {pid}) is writing there; "
                                 f"{advice}") from error
    lock.truncate(0)
    lock.write(str(os.getpid()))
    lock.flush()
    return lock
