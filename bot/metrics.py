"""What the bot counts, for ``/metrics`` (Prometheus text). Any layer may increment these;
nothing here imports the rest of the bot.

One registry of the bot's own (not prometheus-client's global one), so that several services in
one process (tests) add up in one place and nothing else is exported by accident.
"""

from __future__ import annotations

from functools import lru_cache

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)

TURNS = Counter("bot_turns", "Events handled, by channel and outcome "
                "(applied, duplicate, failed)", ["channel", "outcome"], registry=REGISTRY)
TURN_SECONDS = Histogram(
    "bot_turn_seconds", "Time from an event reaching the service to its replies, committed",
    ["channel"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
BATCH_SIZE = Histogram("bot_batch_size", "Turns committed together in one transaction",
                       registry=REGISTRY, buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
RETRIES = Counter("bot_retries", "Turns retried after a conflict with another writer, by reason",
                  ["reason"], registry=REGISTRY)
QUEUE_DEPTH = Gauge("bot_queue_depth", "Events accepted by the service and not yet answered",
                    registry=REGISTRY)
SENDS = Counter("bot_sends", "Messages sent to merchants unprompted or in reply, by channel "
                "and result (sent, failed)", ["channel", "result"], registry=REGISTRY)


@lru_cache(maxsize=256)  # channels × outcomes: a handful
def labelled(metric: Counter | Histogram, *values: str) -> Counter | Histogram:
    """``metric.labels(*values)``, looked up once: prometheus-client checks the values and
    takes a lock on every ``labels`` call, and every turn counts itself twice."""
    return metric.labels(*values)


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
