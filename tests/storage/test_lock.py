"""The lock beside the embedded database file (storage/lock.py), with real flock(2) locks held by
this process and by child processes. The serving process's refusal is in tests/e2e/test_fleet.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from storage.lock import FileLock, Holder, InUse, lock_path

HOLD = """
import sys, time
from pathlib import Path
from storage.lock import FileLock, Holder
lock = FileLock.acquire(Path(sys.argv[1]), Holder.me("http://127.0.0.1:9"))
print("held", flush=True)
time.sleep(60)
"""


def holding_child(database: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(database)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "held\n"
    return child


def test_a_second_holder_is_refused_with_the_first_ones_words(tmp_path: Path) -> None:
    database = tmp_path / "airtng.db"
    with FileLock.acquire(database, Holder.me("http://127.0.0.1:8080")):
        # flock belongs to the open file: a second open in this same process is refused too.
        with pytest.raises(InUse) as refused:
            FileLock.acquire(database, Holder.me())
        holder = refused.value.holder
        assert holder is not None
        assert (holder.pid, holder.url) == (os.getpid(), "http://127.0.0.1:8080")
        message = str(refused.value)
        assert message.startswith(f"{database} is in use by another process: pid {os.getpid()} (")
        assert ", serving http://127.0.0.1:8080 since " in message and "\n" not in message
    # Released: the next one gets it, and the file (never deleted) names no one in between.
    assert lock_path(database).read_text() == ""
    with FileLock.acquire(database, Holder.me()) as again:
        assert json.loads(again.path.read_text())["pid"] == os.getpid()


def test_another_process_holds_it_until_it_dies_however_it_dies(tmp_path: Path) -> None:
    database = tmp_path / "airtng.db"
    child = holding_child(database)
    try:
        with pytest.raises(InUse) as refused:
            FileLock.acquire(database, Holder.me())
        assert refused.value.holder is not None and refused.value.holder.pid == child.pid
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    # The kernel let go of the lock with the process: no stale lock after a crash, though the
    # dead holder's words are still in the file.
    assert json.loads(lock_path(database).read_text())["pid"] == child.pid
    with FileLock.acquire(database, Holder.me()):
        pass


def test_a_holder_that_never_said_who_it_is_is_still_refused(tmp_path: Path) -> None:
    database = tmp_path / "airtng.db"
    child = holding_child(database)
    try:
        lock_path(database).write_text("")  # as if it had not written its words yet
        with pytest.raises(InUse) as refused:
            FileLock.acquire(database, Holder.me())
        assert refused.value.holder is None
        assert str(refused.value) == (
            f"{database} is in use by another process: a process that did not say who it is"
        )
    finally:
        child.kill()
        child.wait()


def test_a_holder_on_another_machine_is_named_with_its_host(tmp_path: Path) -> None:
    holder = Holder(4242, "web-9", "python run.py", "2026-12-01 10:00:00 UTC", "http://x:1")
    assert holder.describe() == (
        "pid 4242 on web-9 (python run.py), serving http://x:1 since 2026-12-01 10:00:00 UTC"
    )
