"""Where a slow turn's time went: the bot served with a timeline of every request, commit,
checkpoint, garbage collection and long event-loop pass, and a report on the slowest turns.

    python -m bench.trace serve OUT.json -- --config bench.toml   # run.py, recording
    python -m bench.trace report OUT.json                         # what the slowest 1% met
    python -m bench.run --mix browse --durability both --trace    # both, inside the benchmark

Recording wraps a few functions from outside (nothing in the product knows of it) and costs a
few microseconds a turn. The timeline is written when the server stops. Times are
`time.perf_counter()` seconds; each span is (start, end, ...):

- request: the bytes arriving (the protocol's data_received), the handler starting, its end
  (the response written to the transport): arrival to end is what the sender waits, less the
  kernel's part;
- commit: a turn's writes handed to the group commit, and committed;
- apply: the writer thread running one group commit (turns in it, and the thread's CPU time);
- catch_up: the writer copying what a checkpoint missed, so the WAL starts over (with the
  group commit that follows it);
- checkpoint: a WAL checkpoint (frames in the WAL, frames copied), and its thread's CPU time;
- gc: a collection by the cyclic garbage collector (generation, objects collected);
- pass: an event-loop pass (one `_run_once`) longer than 2 ms, with how many callbacks it ran.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import bisect
import gc
import json
import runpy
import statistics
import sys
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

clock = time.perf_counter
LONG_PASS = 0.002


WIDTHS = {
    "request": 3,
    "commit": 2,
    "apply": 4,
    "catch_up": 2,
    "checkpoint": 6,
    "gc": 4,
    "pass": 3,
}


class Timeline:
    """Spans of each kind in flat arrays of floats: recording must not feed the garbage
    collector it measures (a tuple a span did: it made most of the young generation)."""

    def __init__(self) -> None:
        self.spans = {kind: array("d") for kind in WIDTHS}

    def add(self, kind: str, *span: float) -> None:
        self.spans[kind].extend(span)  # one bytecode-level call: safe from the writer's thread

    def save(self, path: Path) -> None:
        spans = {}
        for kind, flat in self.spans.items():
            width = WIDTHS[kind]
            spans[kind] = [flat[i : i + width].tolist() for i in range(0, len(flat), width)]
        path.write_text(json.dumps({"spans": spans}))


def record(timeline: Timeline) -> None:
    """Wrap what the timeline needs, before the app is built."""
    from aiohttp import http_writer, web_protocol

    from storage import db

    handler = web_protocol.RequestHandler
    received, handle = handler.data_received, handler._handle_request

    # By connection (the protocol has __slots__): when the first bytes of its next request
    # came. Senders here wait for each answer before the next request (wrk, Twilio).
    arrivals: dict[Any, float] = {}

    def data_received(self: Any, data: bytes) -> None:
        if data:  # (the handler's reading of the body calls it with nothing)
            arrivals.setdefault(self, clock())
        received(self, data)

    # And when the last bytes of its answer went to the socket: the handler's task resumes
    # after that only when the loop gets round to it, a pass later, which the sender never
    # waits for.
    written: dict[Any, float] = {}

    async def handle_request(self: Any, request: Any, *args: Any) -> Any:
        arrived = arrivals.pop(self, None) or clock()
        started = clock()
        try:
            return await handle(self, request, *args)
        finally:
            timeline.add("request", arrived, started, written.pop(self, None) or clock())

    handler.data_received = data_received  # type: ignore[method-assign]
    handler._handle_request = handle_request  # type: ignore[method-assign]
    for name in ("_write", "_writelines"):
        write = getattr(http_writer.StreamWriter, name)

        def stamped(self: Any, chunk: Any, write: Callable[..., None] = write) -> None:
            write(self, chunk)
            written[self._protocol] = clock()

        setattr(http_writer.StreamWriter, name, stamped)

    commit, apply, checkpoint = db.Database.commit, db._apply, db.Database.checkpoint

    async def traced_commit(self: Any, writes: Any) -> None:
        started = clock()
        try:
            await commit(self, writes)
        finally:
            timeline.add("commit", started, clock())

    def traced_apply(conn: Any, batch: Any) -> Any:
        started, cpu = clock(), time.thread_time()
        try:
            return apply(conn, batch)
        finally:
            timeline.add("apply", started, clock(), len(batch.turns), time.thread_time() - cpu)

    async def traced_checkpoint(self: Any) -> Any:
        started = clock()
        cpu: list[float] = []
        connection = self._checkpointer
        thread_cpu = connection._execute  # the checkpointer's own thread: its CPU time too

        async def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            def run() -> Any:
                before = time.thread_time()
                try:
                    return fn(*args, **kwargs)
                finally:
                    cpu.append(time.thread_time() - before)

            return await thread_cpu(run)

        connection._execute = timed
        try:
            result = await checkpoint(self)
        finally:
            del connection._execute
        timeline.add("checkpoint", started, clock(), *result, sum(cpu))
        return result

    # (Absent before 0395e7e: the recorder also traces older commits, for before-and-after.)
    catch_up = getattr(db, "_catch_up_then_apply", None)

    def traced_catch_up(conn: Any, batch: Any) -> Any:
        started = clock()
        try:
            return catch_up(conn, batch)  # type: ignore[misc]
        finally:
            timeline.add("catch_up", started, clock())

    db.Database.commit = traced_commit  # type: ignore[method-assign]
    db._apply = traced_apply
    if catch_up is not None:
        db._catch_up_then_apply = traced_catch_up
    db.Database.checkpoint = traced_checkpoint  # type: ignore[method-assign]

    collecting: dict[str, float] = {}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        # Whichever thread collects holds the GIL throughout: the loop stops with it.
        if phase == "start":
            collecting["at"] = clock()
        elif "at" in collecting:
            timeline.add("gc", collecting.pop("at"), clock(), info["generation"], info["collected"])

    gc.callbacks.append(on_gc)

    run_once = asyncio.BaseEventLoop._run_once  # type: ignore[attr-defined]
    waited = [0.0]  # in the pass's select(), which is not work

    def traced_run_once(self: Any) -> None:
        selector = self._selector
        if "select" not in getattr(selector, "__dict__", {"select": 0}):
            select = selector.select

            def timed_select(timeout: float | None = None) -> Any:
                before = clock()
                try:
                    return select(timeout)
                finally:
                    waited[0] += clock() - before

            selector.select = timed_select
        waited[0] = 0.0
        started = clock()
        run_once(self)
        ended = clock()
        if ended - started - waited[0] > LONG_PASS:
            timeline.add("pass", started + waited[0], ended, len(self._ready))

    asyncio.BaseEventLoop._run_once = traced_run_once  # type: ignore[attr-defined]


def serve(out: Path, argv: list[str]) -> None:
    timeline = Timeline()
    record(timeline)
    atexit.register(timeline.save, out)
    sys.argv = ["run.py", *argv]
    runpy.run_path(str(Path(__file__).resolve().parents[1] / "run.py"), run_name="__main__")


# -- the report --------------------------------------------------------------------------------


class Spans:
    """Spans of one kind sorted by start, with what overlaps a window."""

    def __init__(self, spans: list[list[Any]]) -> None:
        self.spans = sorted(spans)
        self.starts = [s[0] for s in self.spans]
        self.longest = max((s[1] - s[0] for s in self.spans), default=0.0)

    def overlapping(self, start: float, end: float) -> list[list[Any]]:
        first = bisect.bisect_left(self.starts, start - self.longest)
        last = bisect.bisect_right(self.starts, end)
        return [s for s in self.spans[first:last] if s[1] > start]

    def time_within(self, start: float, end: float) -> float:
        return sum(min(s[1], end) - max(s[0], start) for s in self.overlapping(start, end))


def report(
    path: Path, windows: list[tuple[float, float]] | None = None, share: float = 0.01
) -> dict[str, Any]:
    """What the slowest `share` of requests met, of those that arrived in `windows` (the
    benchmark's wrk runs; all when None)."""
    spans = json.loads(path.read_text())["spans"]
    requests = sorted(
        (r for r in spans["request"] if windows is None or any(s <= r[0] <= e for s, e in windows)),
        key=lambda r: r[2] - r[0],
    )
    if not requests:
        return {"requests": 0}
    waits = [r[2] - r[0] for r in requests]
    slow = requests[int(len(requests) * (1 - share)) :]
    kinds = {
        kind: Spans(spans.get(kind, []))
        for kind in ("commit", "apply", "catch_up", "checkpoint", "gc", "pass")
    }
    commits = kinds["commit"]

    def met(request: list[float]) -> dict[str, float]:
        arrived, started, ended = request
        own = [c for c in commits.overlapping(started, ended) if c[0] >= started and c[1] <= ended]
        commit = max((c[1] - c[0] for c in own), default=0.0)
        return {
            "wait_ms": (ended - arrived) * 1000,
            "before_handler_ms": (started - arrived) * 1000,
            "commit_ms": commit * 1000,
            "handler_rest_ms": (ended - started - commit) * 1000,
            "gc_ms": kinds["gc"].time_within(arrived, ended) * 1000,
            "checkpoint_ms": kinds["checkpoint"].time_within(arrived, ended) * 1000,
            "catch_up_ms": kinds["catch_up"].time_within(arrived, ended) * 1000,
            "long_pass_ms": kinds["pass"].time_within(arrived, ended) * 1000,
        }

    def summary(group: list[list[float]]) -> dict[str, float]:
        rows = [met(r) for r in group]
        return {k: round(statistics.fmean(row[k] for row in rows), 2) for k in rows[0]} | {
            "with_gc": round(sum(row["gc_ms"] > 0 for row in rows) / len(rows), 3),
            "with_checkpoint": round(sum(row["checkpoint_ms"] > 0 for row in rows) / len(rows), 3),
            "with_catch_up": round(sum(row["catch_up_ms"] > 0 for row in rows) / len(rows), 3),
        }

    sample = requests[:: max(1, len(requests) // 5000)]

    def quantiles(values: list[float]) -> dict[str, float]:
        values = sorted(values)
        if not values:
            return {}
        return {
            "n": len(values),
            "p50_ms": round(values[len(values) // 2] * 1000, 2),
            "p99_ms": round(values[int(len(values) * 0.99)] * 1000, 2),
            "max_ms": round(values[-1] * 1000, 2),
        }

    applies = kinds["apply"].spans
    return {
        "requests": quantiles(waits),
        "slowest": {"share": share, **summary(slow)},
        "all": summary(sample),
        "commit_wait": quantiles([c[1] - c[0] for c in commits.spans]),
        "apply_wall": quantiles([a[1] - a[0] for a in applies]),
        "apply_cpu": quantiles([a[3] for a in applies]),
        "turns_a_commit": round(statistics.fmean(a[2] for a in applies), 1) if applies else 0,
        "catch_up_wall": quantiles([c[1] - c[0] for c in kinds["catch_up"].spans]),
        "checkpoint_wall": quantiles([c[1] - c[0] for c in kinds["checkpoint"].spans]),
        # The WAL's size at its largest (frames of 4 KB): whether it starts over under load.
        "wal_frames_max": max((c[3] for c in kinds["checkpoint"].spans), default=0),
        "gc": {
            str(g): quantiles([s[1] - s[0] for s in kinds["gc"].spans if s[2] == g])
            for g in (0, 1, 2)
        },
        "long_passes": quantiles([p[1] - p[0] for p in kinds["pass"].spans]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run.py with the timeline recorded into OUT")
    run.add_argument("out", type=Path)
    run.add_argument("argv", nargs=argparse.REMAINDER, help="run.py's arguments, after --")
    show = commands.add_parser("report", help="what the slowest turns of a timeline met")
    show.add_argument("timeline", type=Path)
    show.add_argument("--share", type=float, default=0.01, help="the slowest share (0.01: 1%%)")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.out, [a for a in args.argv if a != "--"])
    else:
        print(json.dumps(report(args.timeline, None, args.share), indent=2))


if __name__ == "__main__":
    main()
