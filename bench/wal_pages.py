"""What a SQLite database's group commits write, by table and index, read from its WAL.

    python -m bench.wal_pages /tmp/airtng-bench-.../bot/bench.db    # a running bot's, say

Every commit writes each page it changed to the WAL whole (4 KB). The frames in the WAL since
it last started over name their page; `dbstat` names the b-tree each page belongs to. So this
prints, for the commits in the WAL now, how many pages a commit each table and index cost: a
b-tree written at random keys (a page per row) stands out from one written at its end. A page
is named by the b-tree that holds it now (one freed and reused since counts for its new owner),
and SQLite must have `dbstat` compiled in (Debian's and python.org's builds do). Read it
while the bot is under load (`bench.run --keep` keeps the folder); the WAL starts over from
time to time, so an early look may find only a few commits.
"""

from __future__ import annotations

import argparse
import sqlite3
import struct
import sys
from collections import Counter
from pathlib import Path
from typing import BinaryIO, NamedTuple

HEADER = struct.Struct(">IIIIII")  # magic, version, page size, checkpoint seq, salt-1, salt-2
FRAME = struct.Struct(">IIII")  # page number, size after commit (commits only), salt-1, salt-2
FRAME_HEADER_SIZE = 24
WAL_HEADER_SIZE = 32
WAL_MAGIC = {0x377F0682, 0x377F0683}  # (checksums little- or big-endian)


class WalHeader(NamedTuple):
    page_size: int
    restarts: int  # the checkpoint sequence number: one more each time the WAL starts over
    salts: tuple[int, int]  # carried by every frame written since it last started over


class WalPages(NamedTuple):
    commits: int
    by_btree: Counter[str]  # frames written to each table's or index's pages

    @property
    def frames(self) -> int:
        return sum(self.by_btree.values())


def read_header(file: BinaryIO) -> WalHeader | None:
    """The WAL's header, from the start of its file (None while it has none yet)."""
    header = file.read(WAL_HEADER_SIZE)
    if len(header) < WAL_HEADER_SIZE:
        return None
    magic, _, page_size, restarts, salt1, salt2 = HEADER.unpack_from(header)
    if magic not in WAL_MAGIC:
        raise ValueError(f"{getattr(file, 'name', 'this file')}: not a SQLite WAL")
    return WalHeader(page_size, restarts, (salt1, salt2))


def wal_restarts(wal: Path) -> int:
    """How many times this WAL has started over from its beginning."""
    with wal.open("rb") as file:
        header = read_header(file)
    return header.restarts if header else 0


def frames_since_restart(wal: Path) -> list[tuple[int, bool]]:
    """[(page number, is a commit's last frame)] for the WAL's committed frames: those carrying
    the header's salts (older ones, past them, are from before it started over), up to the last
    commit's (after it: a commit being written, or one rolled back)."""
    frames = []
    with wal.open("rb") as file:
        header = read_header(file)
        while header:
            frame = file.read(FRAME_HEADER_SIZE)
            if len(frame) < FRAME_HEADER_SIZE:
                break
            page, size_after, *salts = FRAME.unpack_from(frame)
            if tuple(salts) != header.salts:
                break
            frames.append((page, size_after != 0))
            file.seek(header.page_size, 1)
    while frames and not frames[-1][1]:
        frames.pop()
    return frames


def wal_pages(database: Path) -> WalPages:
    frames = frames_since_restart(Path(f"{database}-wal"))
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        names = dict(conn.execute("SELECT pageno, name FROM dbstat"))
    finally:
        conn.close()
    by_btree = Counter(names.get(page, "(free or new)") for page, _ in frames)
    return WalPages(sum(last for _, last in frames), by_btree)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database", type=Path, help="the SQLite file (its -wal beside it)")
    args = parser.parse_args(argv)
    if not Path(f"{args.database}-wal").exists():
        print(f"{args.database}-wal: no WAL (the database is closed, or not in WAL mode)")
        return 1
    seen = wal_pages(args.database)
    if not seen.commits:
        print("no commits in the WAL since it last started over")
        return 1
    print(f"{seen.commits} commits, {seen.frames / seen.commits:.1f} pages a commit")
    for name, count in seen.by_btree.most_common():
        print(f"{count / seen.commits:8.2f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
