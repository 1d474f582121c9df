"""Outbox metrics: counters and the relay latency live in the process (or multiprocess)
registry; the backlog gauges are read from the database at scrape time."""

import logging

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

PUBLISHED = Counter("smartmate_outbox_published_total", "Events the relay handed to the transport", ["topic"])
FAILED = Counter("smartmate_outbox_failed_total", "Relay sends and consumer handlers that failed and will retry")
DEAD = Counter("smartmate_outbox_dead_total", "Events moved to dead (max retries or unrecoverable)")
CONSUMED = Counter("smartmate_outbox_consumed_total", "Events applied by a consumer", ["service"])
RELAY_BATCH_SECONDS = Histogram(
    "smartmate_outbox_relay_batch_seconds",
    "Relay pass latency: claim, send, settle",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


class OutboxBacklogCollector:
    """Rows by status and the oldest pending age, read when Prometheus scrapes."""

    def collect(self):
        from outbox.services import counts_by_status, oldest_pending_age_seconds

        rows = GaugeMetricFamily(
            "smartmate_outbox_rows", "Outbox rows by status (consumed not counted)", labels=["status"]
        )
        age = GaugeMetricFamily("smartmate_outbox_oldest_pending_age_seconds", "Age of the oldest pending row")
        try:
            for status, n in counts_by_status().items():
                rows.add_metric([status], n)
            age.add_metric([], oldest_pending_age_seconds())
        except Exception:  # a scrape must not fail because the database is down; /healthz reports that
            logger.warning("outbox: backlog gauges unavailable", exc_info=True)
            return
        yield rows
        yield age

    def describe(self):
        return []


collector = OutboxBacklogCollector()
