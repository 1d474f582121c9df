"""The relay: claim due rows, hand them to the transport outside any transaction, settle.

    claim   short transaction: SELECT … FOR UPDATE SKIP LOCKED (PostgreSQL) of due rows
            whose key has no older pending row, then a guarded UPDATE setting the lease;
            on SQLite (no row locks) the guarded UPDATE alone decides who wins.
    send    the whole batch asynchronously, one flush (no transaction open).
    settle  one compare-and-set UPDATE per outcome (published/consumed, retry/dead),
            guarded by status and this claim's lease id.

A relay that dies between send and settle leaves rows whose lease expires: they are
claimed and sent again (at-least-once; consumers dedupe on the event id).
"""

import logging
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from outbox import metrics
from outbox.models import OutboxEvent
from outbox.services import Claimed, recover_leases, settle_failed, settle_published
from outbox.transports import Transport, get_transport

logger = logging.getLogger(__name__)
Status = OutboxEvent.Status
CLAIM_FIELDS = ("id", "biz_type", "service_name", "topic", "message_key", "payload", "retry_count", "max_retry")


@dataclass
class RelayResult:
    claimed: int = 0
    published: int = 0
    retrying: int = 0
    dead: int = 0
    seconds: float = 0.0


def _due(now):
    older_pending = OutboxEvent.objects.filter(status=Status.PENDING, message_key=OuterRef("message_key")).filter(
        Q(created_at__lt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), id__lt=OuterRef("id"))
    )
    return (
        OutboxEvent.objects.filter(status=Status.PENDING, next_retry_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .exclude(Exists(older_pending))
    )


def claim_batch(*, batch_size: int | None = None, lease_seconds: float | None = None) -> list[Claimed]:
    """Lease up to `batch_size` due rows to this caller; other relays skip them until the lease ends."""
    batch_size = batch_size or settings.OUTBOX_BATCH_SIZE
    lease_seconds = settings.OUTBOX_LEASE_SECONDS if lease_seconds is None else lease_seconds
    now = timezone.now()
    lease_id = uuid.uuid4()
    with transaction.atomic():
        candidates = _due(now).order_by("next_retry_at", "created_at")
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.values_list("id", flat=True)[:batch_size])
        if not ids:
            return []
        # The guard repeats the claim condition: on SQLite this compare-and-set is the claim.
        OutboxEvent.objects.filter(id__in=ids, status=Status.PENDING).filter(
            Q(locked_until__isnull=True) | Q(locked_until__lte=now)
        ).update(locked_until=now + timedelta(seconds=lease_seconds), lease_id=lease_id, updated_at=now)
    rows = OutboxEvent.objects.filter(id__in=ids, lease_id=lease_id).order_by("created_at").values(*CLAIM_FIELDS)
    return [Claimed(lease_id=lease_id, **row) for row in rows]


def send_and_settle(rows: list[Claimed], transport: Transport) -> RelayResult:
    result = RelayResult(claimed=len(rows))
    if not rows:
        return result
    errors = transport.send(rows)
    sent = [row for row in rows if row.id not in errors]
    failed = [(row, errors[row.id]) for row in rows if row.id in errors]
    settle_published(sent)
    result.retrying, result.dead = settle_failed(failed)
    result.published = len(sent)
    for row in sent:
        metrics.PUBLISHED.labels(row.topic).inc()
    if failed:
        metrics.FAILED.inc(result.retrying)
        metrics.DEAD.inc(result.dead)
        logger.warning(
            "outbox: %d of %d events not sent (%d dead): %s", len(failed), len(rows), result.dead, failed[0][1]
        )
    transport.after_settle(sent)
    return result


def relay_once(*, transport: Transport | None = None, batch_size: int | None = None) -> RelayResult:
    """One pass: claim a batch, send it, settle it."""
    started = time.perf_counter()
    rows = claim_batch(batch_size=batch_size)
    if not rows:
        return RelayResult()
    result = send_and_settle(rows, transport or get_transport())
    result.seconds = time.perf_counter() - started
    metrics.RELAY_BATCH_SECONDS.observe(result.seconds)
    return result


def relay_until_idle(*, transport: Transport | None = None, max_seconds: float | None = None) -> RelayResult:
    """Passes until no due row is left (or `max_seconds`): what `--once` and the beat task do."""
    total = RelayResult()
    deadline = time.monotonic() + max_seconds if max_seconds else None
    while True:
        result = relay_once(transport=transport)
        for field in ("claimed", "published", "retrying", "dead", "seconds"):
            setattr(total, field, getattr(total, field) + getattr(result, field))
        if result.claimed == 0 or (deadline and time.monotonic() > deadline):
            return total
        if result.published == 0:  # everything failed (broker down): leave the rest to the backoff
            return total


class StopFlag:
    """Set by SIGTERM/SIGINT: the current batch finishes, then the loop returns."""

    def __init__(self):
        self.event = threading.Event()

    def install(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        logger.info("outbox: signal %s, stopping after the current batch", signum)
        self.event.set()

    def __bool__(self):
        return self.event.is_set()


def relay_loop(*, stop: StopFlag, transport: Transport | None = None) -> RelayResult:
    """A dedicated relay process: passes back to back while there is work, a short sleep when idle."""
    total = RelayResult()
    next_recovery = 0.0
    while not stop:
        if time.monotonic() >= next_recovery:
            next_recovery = time.monotonic() + 30
            try:
                recover_leases()
            except Exception:  # the database is down: the relay pass below waits for it too
                logger.exception("outbox: lease recovery failed")
                connection.close()
        try:
            result = relay_once(transport=transport)
        except Exception:
            logger.exception("outbox: relay pass failed")
            connection.close()  # a dropped database connection must not poison the next pass
            stop.event.wait(2)
            continue
        total.claimed += result.claimed
        total.published += result.published
        total.retrying += result.retrying
        total.dead += result.dead
        if result.claimed < (settings.OUTBOX_BATCH_SIZE or 1) or result.published == 0:
            stop.event.wait(settings.OUTBOX_RELAY_IDLE_SECONDS)
    return total
