"""One writer at a time per output folder: a converter's or labeller's --out_dir."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from lac_gan.errors import UserError


class FolderBusy(UserError):
    """Another process holds the folder's lock (exit status 1)."""


def lock_folder(folder: Path, flag: str, writer: str, lock_name: str) -> IO[str]:
    """An exclusive lock on `folder` (the file `lock_name` in it, holding this process's pid) for as
    long as the returned file is open; the kernel releases it when this process ends, however it
    ends (kill -9 too). A FolderBusy naming the flag and the holder's pid when another has it."""
    lock = (Path(folder) / lock_name).open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as error:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise FolderBusy(f"{flag} {folder}: another {writer} (pid {holder}) is writing there; wait for it to "
                         "finish, then run this command again to complete the set") from error
    lock.truncate(0)
    lock.write(str(os.getpid()))
    lock.flush()
    return lock
