"""Who owns the embedded database file: an OS lock beside it, held by the serving process for
its whole life, so a second process on the same file is refused instead of corrupting it.

    lock = FileLock.acquire(Path("airtng.db"), Holder.me("http://127.0.0.1:8080"))
    ...                                    # FileLock.acquire raises InUse for anyone else now
    lock.release()

The lock is flock(2) on `<database>.lock`. The kernel drops it when the process ends, however
it ends (a SIGKILL too), so no stale lock outlives a crash; and flock locks belong to an open
file, so a second open in the same process is refused as well. The file also says who holds
it (pid, host, command, since when, where it serves), for the message the next one prints and
for operator commands that go through the holder's admin API. The file is never deleted: a
process that unlinked it would let the next two lock two different files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import socket
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

# A holder writes who it is just after it gets the lock: a reader that comes in between finds
# the file empty (or a dead holder's words) and looks again, this long at most.
READ_ATTEMPTS = 10
READ_PAUSE_SECONDS = 0.02


@dataclass(frozen=True, slots=True)
class Holder:
    """The process holding the lock, as it described itself."""

    pid: int
    host: str
    command: str
    since: str  # ISO 8601, UTC
    url: str | None = None  # where it serves its admin API; None: an operator command

    @classmethod
    def me(cls, url: str | None = None) -> Holder:
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            command=shlex.join(sys.orig_argv)[:300],
            since=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            url=url,
        )

    def describe(self) -> str:
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        serving = f", serving {self.url}" if self.url else ""
        return f"pid {self.pid}{where} ({self.command}){serving} since {self.since}"


class InUse(RuntimeError):
    """Another process holds the database file."""

    def __init__(self, database: Path, holder: Holder | None) -> None:
        self.database = database
        self.holder = holder
        who = holder.describe() if holder else "a process that did not say who it is"
        super().__init__(f"{database} is in use by another process: {who}")


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class FileLock:
    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def acquire(cls, database: Path, holder: Holder) -> FileLock:
        """Take the lock at once or raise InUse naming the process that has it."""
        path = lock_path(database)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InUse(database, _read_holder(path)) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(holder)).encode() + b"\n", 0)
        return cls(fd, path)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # a reader between this and the next holder finds no one
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(path: Path) -> Holder | None:
    for attempt in range(READ_ATTEMPTS):
        if attempt:
            time.sleep(READ_PAUSE_SECONDS)
        try:
            holder = Holder(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue  # empty, half written, or not ours
        if holder.host != socket.gethostname() or _alive(holder.pid):
            return holder
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True
