"""One running bot per database: an exclusive lock on a file next to the SQLite file.

Two bots on one database would both send every broadcast and both poll Telegram. The lock is an
`flock` on `<DB_PATH>.lock`, held for the process's life: the kernel releases it when the
process ends, even by SIGKILL, so a file left behind after a crash never blocks a restart (the
file's existence means nothing; it only names the holder's pid for the error message).
POSIX only, like the systemd service it protects.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_SUFFIX = ".lock"


class InstanceError(RuntimeError):
    """The instance cannot start on this database (locked by another, or not writable)."""


def lock_path(db_path: Path) -> Path:
    """The lock file of a database: `<DB_PATH>.lock`."""
    return db_path.with_name(db_path.name + LOCK_SUFFIX)


@contextmanager
def instance_lock(db_path: Path) -> Iterator[Path]:
    """Hold the database's lock for the block; release it on leaving.

    Raises:
        InstanceError: If another process holds it, or the lock file cannot be created.
    """
    path = lock_path(db_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        reason = ("a parent is a file, not a folder" if isinstance(exc, FileExistsError)
                  else exc.strerror or str(exc))
        raise InstanceError(f"DB_PATH: cannot create {path} ({reason}); "
                            "choose a writable location") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise InstanceError(f"another instance (pid {holder}) is running on {db_path}; "
                                "stop it first") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
