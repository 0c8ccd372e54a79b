"""The in-memory world refuses to perform a decision made on a stale view."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.world import StaleDecision, World
from conversations.flow import Decision
from conversations.model import Property, Reservation
from storage.queries import Snapshot

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def world_with_request(status: str) -> World:
    world = World(
        Snapshot(
            last_ids={
                t: 0 for t in ("people", "properties", "reservations", "conversations", "outbox")
            }
        ),
        timedelta(hours=4),
    )
    home = Property(0, "+15550100001", "Beach House", "Malibu", "On the sand.", 250)
    world.add_home("+15550100001", "Maria", home, NOW)
    reservation = Reservation(
        1, home.id, "+15550001111", date(2026, 12, 3), date(2026, 12, 7), "hi", status, NOW, NOW
    )
    world._add_reservation(reservation, NOW, [])
    return world


@pytest.mark.parametrize("status", ["confirmed", "rejected", "withdrawn", "expired"])
def test_a_change_to_a_decided_request_is_refused_whole(status: str) -> None:
    world = world_with_request(status)
    decision = Decision(state="", data={}, changes=[(1, "expired")])
    with pytest.raises(StaleDecision):
        world.perform_expiry(decision, "+15550009999", NOW)
    assert world.reservations[1].status == status  # nothing was performed


def test_a_change_to_a_pending_request_is_performed() -> None:
    world = world_with_request("pending")
    writes = world.perform_expiry(
        Decision(state="", data={}, changes=[(1, "expired")]), "+15550009999", NOW
    )
    assert world.reservations[1].status == "expired"
    assert any("UPDATE reservations" in w.sql for w in writes)
