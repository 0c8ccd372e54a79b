"""The benchmark's own workload: what it sends must be what it claims to measure."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import parse_qs

import pytest

import bench.run
from bench.run import Workload, browse_lines, replayed_share, turn_counts_in
from bot.metrics import Metrics
from bot.turns import Answer
from storage.queries import OutboxBacklog


def sids(lines: list[str]) -> list[str]:
    return [parse_qs(line.split("\t")[2])["MessageSid"][0] for line in lines]


def test_each_step_sends_new_message_sids_and_every_bot_the_same_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sid from an earlier step is Twilio retrying: the bot answers it from memory without a
    turn. Each step counting its sids from one again made every round after the first mostly
    retries, and the benchmark measured those instead of turns."""
    monkeypatch.setattr(bench.run, "BROWSE_GUESTS", 40)
    monkeypatch.setattr(bench.run, "BROWSE_GROUP", 20)
    first, second = Workload("http://127.0.0.1:1"), Workload("http://127.0.0.1:2")
    steps = []
    for step in range(3):
        first.begin(step)
        second.begin(step)
        mine = sids(browse_lines(first, step))
        assert sids(browse_lines(second, step)) == mine  # the bots serve the same requests
        assert len(set(mine)) == len(mine)
        assert all(len(sid) == 34 and sid.startswith("SM") for sid in mine)
        steps.append(set(mine))
    assert not steps[0] & steps[1] and not steps[1] & steps[2] and not steps[0] & steps[2]


def test_the_booking_mix_counts_its_own_retries() -> None:
    workload = Workload("http://127.0.0.1:1")
    workload.begin(1)
    lines = workload.waves(0, 2, date(2026, 12, 6))
    repeated = len(lines) - len(set(sids(lines)))
    assert repeated == workload.retries > 0  # the MY turns Twilio retries, and only those


def test_retries_are_read_from_the_bots_own_metrics() -> None:
    metrics = Metrics("bench")
    for replayed in (False, False, False, True):
        metrics.turn(Answer("<Response/>", None, replayed=replayed), 0.01)
    before = {"answered": 1.0, "replayed": 0.0, "failed": 0.0}
    body, _ = metrics.exposition(
        "", backlog=OutboxBacklog(0, 0, None), in_flight=0, stopping=False, now=datetime.now(UTC)
    )
    after = turn_counts_in(body.decode())
    assert after == {"answered": 3.0, "replayed": 1.0, "failed": 0.0}
    assert replayed_share(before, after) == 1 / 3
