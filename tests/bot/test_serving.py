"""bot/serving.py's refusals, in this process: a start that cannot serve says so in one line
and lets go of the database file. The stop by signal is tested on the real process
(tests/reliability/test_shutdown.py), the second process on one file in tests/e2e/test_fleet.py.
"""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from bot import serving
from bot.config import Config, ServerConfig, StorageConfig
from storage.lock import FileLock, Holder
from storage.schema import MIGRATIONS


def dev_config(tmp_path: Path, port: int) -> Config:
    return Config(
        server=ServerConfig(host="127.0.0.1", port=port),
        storage=StorageConfig(path=str(tmp_path / "airtng.db")),
        base_dir=tmp_path,
        dev_mode=True,
    )


def test_a_taken_port_is_one_line_and_the_file_is_let_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serving.serve(dev_config(tmp_path, port), printer=lambda line: None) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"run.py: cannot serve on 127.0.0.1:{port}: ") and err.count("\n") == 1
    with FileLock.acquire(tmp_path / "airtng.db", Holder.me()):
        pass  # the failed start closed the database and released its lock


def test_a_start_that_fails_before_serving_lets_go_of_the_file(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "airtng.db")
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")  # newer code migrated it
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this code"):
        serving.serve(dev_config(tmp_path, 0), printer=lambda line: None)
    with FileLock.acquire(tmp_path / "airtng.db", Holder.me()):
        pass
