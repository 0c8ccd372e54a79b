"""The reservation lifecycle: pending -> confirmed | rejected | withdrawn | expired, nothing else.

lifecycle.can("accept", reservation)   -> True while it is pending
lifecycle.next_status("accept", reservation) -> "confirmed"
"""

from __future__ import annotations

from transitions import Machine, MachineError

from conversations.model import Reservation

STATES = ["pending", "confirmed", "rejected", "withdrawn", "expired"]
TRANSITIONS = [
    {"trigger": "accept", "source": "pending", "dest": "confirmed"},
    {"trigger": "reject", "source": "pending", "dest": "rejected"},
    {"trigger": "withdraw", "source": "pending", "dest": "withdrawn"},
    {"trigger": "expire", "source": "pending", "dest": "expired"},
]


class _Cursor:
    """The one model the shared machine drives: set to a reservation's status, then fired.

    Building a machine or adding a model per reservation costs 100+ us; moving one cursor
    costs a few. Deciding is synchronous, so one cursor is never used by two turns at once.
    """

    state: str


class Lifecycle:
    def __init__(self) -> None:
        self._cursor = _Cursor()
        self._machine = Machine(
            model=self._cursor,
            states=STATES,
            transitions=TRANSITIONS,
            initial="pending",
            auto_transitions=False,
        )

    def can(self, event: str, reservation: Reservation) -> bool:
        # An empty trigger would match every transition in transitions' look-up.
        return bool(event) and bool(
            self._machine.get_transitions(trigger=event, source=reservation.status)
        )

    def next_status(self, event: str, reservation: Reservation) -> str:
        """The status `event` moves the reservation to; raises MachineError if it can't."""
        self._machine.set_state(reservation.status, model=self._cursor)
        self._cursor.trigger(event)  # type: ignore[attr-defined]
        return self._cursor.state


lifecycle = Lifecycle()

__all__ = ["STATES", "Lifecycle", "MachineError", "lifecycle"]
