"""Tests for conversations.reservations: only a pending request can change, and only to an end."""

from __future__ import annotations

from datetime import date

import pytest

from conversations.model import Reservation
from conversations.reservations import STATES, TRANSITIONS, Lifecycle, MachineError, lifecycle
from tests.conversations.fakes import NOW

EVENTS = ["accept", "reject", "withdraw", "expire"]
ALLOWED = {
    ("pending", "accept"): "confirmed",
    ("pending", "reject"): "rejected",
    ("pending", "withdraw"): "withdrawn",
    ("pending", "expire"): "expired",
}
EVERY = [(status, event) for status in STATES for event in EVENTS]


def reservation(status: str) -> Reservation:
    return Reservation(
        id=7,
        property_id=1,
        guest_phone="+15550001111",
        check_in=date(2026, 12, 3),
        check_out=date(2026, 12, 7),
        message="Hi",
        status=status,
        created_at=NOW,
        updated_at=NOW,
    )


def test_the_statuses() -> None:
    assert STATES == ["pending", "confirmed", "rejected", "withdrawn", "expired"]
    assert len(TRANSITIONS) == 4


@pytest.mark.parametrize(("status", "event"), list(ALLOWED))
def test_allowed_transitions(status: str, event: str) -> None:
    booking = reservation(status)
    assert lifecycle.can(event, booking) is True
    assert lifecycle.next_status(event, booking) == ALLOWED[(status, event)]
    assert booking.status == status  # asking never changes the reservation itself


@pytest.mark.parametrize(("status", "event"), [e for e in EVERY if e not in ALLOWED])
def test_forbidden_transitions(status: str, event: str) -> None:
    booking = reservation(status)
    assert lifecycle.can(event, booking) is False
    with pytest.raises(MachineError):
        lifecycle.next_status(event, booking)
    assert booking.status == status


def test_every_pair_is_covered() -> None:
    assert len(EVERY) == 20
    assert len([e for e in EVERY if e not in ALLOWED]) == 16


@pytest.mark.parametrize("event", ["confirm", "cancel", "pending", "to_confirmed"])
def test_unknown_events_are_never_allowed(event: str) -> None:
    assert lifecycle.can(event, reservation("pending")) is False


def test_a_forbidden_move_does_not_spoil_the_next_answer() -> None:
    # The machine is shared: a refused move must leave it usable for the next reservation.
    machine = Lifecycle()
    with pytest.raises(MachineError):
        machine.next_status("accept", reservation("confirmed"))
    assert machine.next_status("reject", reservation("pending")) == "rejected"
    assert machine.next_status("expire", reservation("pending")) == "expired"
    with pytest.raises(MachineError):
        machine.next_status("withdraw", reservation("expired"))
    assert machine.can("withdraw", reservation("pending"))
