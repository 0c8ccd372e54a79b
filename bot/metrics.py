"""What GET /metrics tells a Prometheus scraper about this instance, through prometheus-client.

    metrics = Metrics("web-1:8080")
    metrics.turn(answer, seconds)          # the webhook, once a turn: one Counter.inc, one observe
    metrics.delivery("refused", 21211)     # the outbox worker, once a REST outcome

Every series carries the `instance` label ([metrics] instance). Children are bound once, here:
a turn pays a Counter.inc and a Histogram.observe (1.4-2.2 us together under timeit; each
takes one uncontended mutex inside prometheus-client), never a label lookup. The outbox's
depth and the age of its oldest row are read from the store when scraped
(`storage.queries.outbox_backlog`): the worker only knows the rows it looked at, and on a shared
database every instance sees the same outbox.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import choose_encoder

from bot.turns import Answer
from storage.queries import OutboxBacklog

# A turn is a few milliseconds under load; Twilio gives up after 15 s.
TURN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0)
TURN_OUTCOMES = ("answered", "replayed", "failed")

# No `_created` series beside each counter and histogram: they double a scrape's size, and
# Prometheus learns a restart from the counters going back to zero anyway.
disable_created_metrics()


class Metrics:
    def __init__(self, instance: str) -> None:
        self.instance = instance
        registry = self.registry = CollectorRegistry()
        turns = Counter(
            "airtng_turns",
            "Inbound SMS webhooks run as turns, by outcome: answered (a new turn committed),"
            " replayed (a MessageSid seen before, answered from the log), failed (the turn"
            " could not be decided or committed; the apology was sent)",
            ["instance", "outcome"],
            registry=registry,
        )
        self._turns = {outcome: turns.labels(instance, outcome) for outcome in TURN_OUTCOMES}
        self._answered = self._turns["answered"]
        self._turn_seconds = Histogram(
            "airtng_turn_seconds",
            "Time from a webhook's arrival to its answer (form, signature, turn, commit)",
            ["instance"],
            buckets=TURN_BUCKETS,
            registry=registry,
        ).labels(instance)
        self._refused = Counter(
            "airtng_webhooks_refused",
            "Webhooks refused before any turn, by HTTP status (403: bad signature)",
            ["instance", "status"],
            registry=registry,
        )
        self._refused_by_status: dict[int, Counter] = {}
        self._deliveries = Counter(
            "airtng_outbox_deliveries",
            "Outbox outcomes by Twilio error code (empty: none). From the REST API: sent,"
            " reconciled (an earlier attempt was found at Twilio), retried (429, 5xx, network),"
            " refused (a permanent 4xx), gave_up, cancelled (the recipient opted out). From"
            " status callbacks: delivered, undelivered, failed",
            ["instance", "outcome", "code"],
            registry=registry,
        )
        self._delivery_children: dict[tuple[str, int | None], Counter] = {}
        depth = Gauge(
            "airtng_outbox_depth",
            "Outbox rows not sent yet, by status (read from the store when scraped)",
            ["instance", "status"],
            registry=registry,
        )
        self._queued = depth.labels(instance, "queued")
        self._sending = depth.labels(instance, "sending")
        self._oldest = Gauge(
            "airtng_outbox_oldest_age_seconds",
            "How long the oldest outbox row not sent yet has waited (0: none waits)",
            ["instance"],
            registry=registry,
        ).labels(instance)
        self._in_flight = Gauge(
            "airtng_outbox_in_flight",
            "REST requests to Twilio this instance has in flight",
            ["instance"],
            registry=registry,
        ).labels(instance)
        self._stopping = Gauge(
            "airtng_stopping",
            "1 once this instance was told to stop (SIGTERM): it is draining",
            ["instance"],
            registry=registry,
        ).labels(instance)
        ProcessCollector(registry=registry)  # CPU seconds, memory, open files

    def turn(self, answer: Answer, seconds: float) -> None:
        if answer.replayed:
            self._turns["replayed"].inc()
        elif answer.failed:
            self._turns["failed"].inc()
        else:
            self._answered.inc()
        self._turn_seconds.observe(seconds)

    def refused(self, status: int) -> None:
        child = self._refused_by_status.get(status)
        if child is None:
            child = self._refused_by_status[status] = self._refused.labels(
                self.instance, str(status)
            )
        child.inc()

    def delivery(self, outcome: str, code: int | None = None) -> None:
        key = (outcome, code)
        child = self._delivery_children.get(key)
        if child is None:
            label = "" if code is None else str(code)
            child = self._delivery_children[key] = self._deliveries.labels(
                self.instance, outcome, label
            )
        child.inc()

    def exposition(
        self,
        accept: str,
        *,
        backlog: OutboxBacklog,
        in_flight: int,
        stopping: bool,
        now: datetime,
    ) -> tuple[bytes, str]:
        """The scrape's body and content type (text format, or OpenMetrics if asked for)."""
        self._queued.set(backlog.queued)
        self._sending.set(backlog.sending)
        age = (
            (now - datetime.fromisoformat(backlog.oldest)).total_seconds() if backlog.oldest else 0
        )
        self._oldest.set(max(age, 0.0))
        self._in_flight.set(in_flight)
        self._stopping.set(1 if stopping else 0)
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type
