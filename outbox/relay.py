"""The relay: claim due rows, hand them to the transport outside any transaction, settle.

    claim   one statement on PostgreSQL: due rows whose key has no older pending row,
            FOR UPDATE SKIP LOCKED, leased to this claim and returned (UPDATE … RETURNING);
            on SQLite (no row locks) a guarded UPDATE decides who wins.
    send    the whole batch asynchronously, one flush (no transaction open).
    settle  one statement for the whole batch (`services.settle`): published/consumed,
            retry or dead, guarded by status and this claim's lease id.

A relay that dies between send and settle leaves rows whose lease expires: they are
claimed and sent again (at-least-once; consumers dedupe on the event id).

`relay_loop` (a dedicated process) claims batch after batch while claims come back full,
then waits: on PostgreSQL for a commit of new rows (LISTEN, `outbox.wakeup`), the next
retry falling due, or the fallback poll; elsewhere for the idle poll.
"""

import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from outbox import metrics
from outbox.models import OutboxEvent
from outbox.services import recover_leases
from outbox.states import Claimed, after_failure, after_publish, settle
from outbox.transports import Transport, get_transport
from outbox.wakeup import PendingListener
from smartmate.loops import FailureLog, Stop, run_passes

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
    followed: bool = False  # a claimed row's key has a younger pending row

    def add(self, other: "RelayResult") -> None:
        for field in ("claimed", "published", "retrying", "dead", "seconds"):
            setattr(self, field, getattr(self, field) + getattr(other, field))


# synchronous_commit off for this statement's transaction (set_config(…, true)): a claim or a
# relay's settle lost in a server crash only means the rows are claimed and sent again, which
# the at-least-once rule already covers; waiting for the WAL flush cost more than the claim.
_CLAIM_SQL = """
WITH lazy_flush AS (SELECT set_config('synchronous_commit', 'off', true)),
due AS (
    SELECT o.id FROM {table} o
    WHERE o.status = 'pending' AND o.next_retry_at <= %(now)s
      AND (o.locked_until IS NULL OR o.locked_until <= %(now)s)
      AND NOT EXISTS (
          SELECT 1 FROM {table} p
          WHERE p.status = 'pending' AND p.message_key = o.message_key
            AND (p.created_at < o.created_at OR (p.created_at = o.created_at AND p.id < o.id)))
    ORDER BY o.next_retry_at, o.created_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE {table} e SET locked_until = %(until)s, lease_id = %(lease)s, updated_at = %(now)s
FROM due, lazy_flush WHERE e.id = due.id
RETURNING e.id, e.biz_type, e.service_name, e.topic, e.message_key, e.payload::text, e.retry_count,
    e.max_retry, e.created_at,
    EXISTS (SELECT 1 FROM {table} n
            WHERE n.status = 'pending' AND n.message_key = e.message_key
              AND (n.created_at > e.created_at OR (n.created_at = e.created_at AND n.id > e.id)))
"""


def claim_batch(*, batch_size: int | None = None, lease_seconds: float | None = None) -> list[Claimed]:
    """Lease up to `batch_size` due rows to this caller; other relays skip them until the lease ends.

    Per-key order: a row is not due while an older row of its key is pending (in backoff,
    or leased to another relay), so a key's events reach the broker in commit order.
    """
    batch_size = batch_size or settings.OUTBOX_BATCH_SIZE
    lease_seconds = settings.OUTBOX_LEASE_SECONDS if lease_seconds is None else lease_seconds
    now = timezone.now()
    lease_id = uuid.uuid4()
    until = now + timedelta(seconds=lease_seconds)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _CLAIM_SQL.format(table=OutboxEvent._meta.db_table),
                {"now": now, "limit": batch_size, "until": until, "lease": lease_id},
            )
            rows = sorted(cursor.fetchall(), key=lambda row: row[8])
        return [
            Claimed(
                id=row[0],
                biz_type=row[1],
                service_name=row[2],
                topic=row[3],
                message_key=row[4],
                payload_json=row[5],
                retry_count=row[6],
                max_retry=row[7],
                lease_id=lease_id,
                followed=row[9],
            )
            for row in rows
        ]
    return _claim_portable(now=now, until=until, lease_id=lease_id, batch_size=batch_size)


def _claim_portable(*, now, until, lease_id, batch_size) -> list[Claimed]:
    older_pending = OutboxEvent.objects.filter(status=Status.PENDING, message_key=OuterRef("message_key")).filter(
        Q(created_at__lt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), id__lt=OuterRef("id"))
    )
    free = Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    with transaction.atomic():
        candidates = (
            OutboxEvent.objects.filter(free, status=Status.PENDING, next_retry_at__lte=now)
            .exclude(Exists(older_pending))
            .order_by("next_retry_at", "created_at")
        )
        ids = list(candidates.values_list("id", flat=True)[:batch_size])
        if not ids:
            return []
        # The guard repeats the claim condition: without row locks this compare-and-set is the claim.
        OutboxEvent.objects.filter(free, id__in=ids, status=Status.PENDING).update(
            locked_until=until, lease_id=lease_id, updated_at=now
        )
    rows = OutboxEvent.objects.filter(id__in=ids, lease_id=lease_id).order_by("created_at").values(*CLAIM_FIELDS)
    return [
        Claimed(lease_id=lease_id, payload_json=_compact_json(row.pop("payload")), **row)  # type: ignore[arg-type]
        for row in rows
    ]


def _compact_json(payload) -> str:
    import json

    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def send_and_settle(rows: list[Claimed], transport: Transport) -> RelayResult:
    """Send a claimed batch and settle it (one pass of `relay_once`)."""
    return _settle_sent(rows, transport.send(rows), transport)


def _settle_sent(rows: list[Claimed], errors: dict, transport: Transport) -> RelayResult:
    result = RelayResult(claimed=len(rows), followed=any(row.followed for row in rows))
    if not rows:
        return result
    now = timezone.now()
    settlements = [
        after_failure(row.id, retry_count=row.retry_count, max_retry=row.max_retry, error=errors[row.id], now=now)
        if row.id in errors
        else after_publish(row)
        for row in rows
    ]
    written = settle(settlements, expect=[Status.PENDING], lease_id=rows[0].lease_id, now=now, durable=False)
    if written != len(rows):
        logger.info("outbox: %d of %d claimed rows were settled by someone else first", len(rows) - written, len(rows))
    sent = [row for row in rows if row.id not in errors]
    result.published = len(sent)
    result.dead = sum(1 for s in settlements if s.status == Status.DEAD)
    result.retrying = len(errors) - result.dead
    for row in sent:
        metrics.PUBLISHED.labels(row.topic).inc()
    if errors:
        metrics.FAILED.inc(result.retrying)
        metrics.DEAD.inc(result.dead)
        logger.warning(
            "outbox: %d of %d events not sent (%d dead): %s",
            len(errors),
            len(rows),
            result.dead,
            next(iter(errors.values())),
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


class _ClaimAhead:
    """Claims the next batch on a connection of its own (PostgreSQL) while this thread hands the
    current batch to the producer: the database's work and the relay's own CPU time (encoding,
    the producer's bookkeeping) overlap instead of taking turns. Elsewhere the claim runs inline."""

    def __init__(self):
        self._pool = None

    def start(self, batch_size: int):
        if connection.vendor != "postgresql":
            return _Done(claim_batch(batch_size=batch_size))
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="outbox-claim")
        return self._pool.submit(claim_batch, batch_size=batch_size)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.submit(lambda: connection.close()).result()  # the worker thread's connection
            self._pool.shutdown()


@dataclass
class _Done:
    rows: list

    def result(self):
        return self.rows


def drain(
    *,
    transport: Transport | None = None,
    batch_size: int | None = None,
    go_on=lambda: True,
) -> RelayResult:
    """Passes back to back while claims come back full (or a claimed key has more rows behind),
    and while `go_on()`; returns after the first short claim.

    While a full batch is handed to the producer and travels to the broker, the next batch is
    claimed: the database and the relay work at the same time instead of in turn. The next
    batch never holds a row of a key in flight (those are still pending, so their successors
    wait), and once a batch fails as a whole (broker down) nothing more is claimed.
    """
    transport = transport or get_transport()
    batch_size = batch_size or settings.OUTBOX_BATCH_SIZE
    total = RelayResult()
    claimer = _ClaimAhead()
    try:
        rows = claim_batch(batch_size=batch_size)
        broker_ok = True
        while rows:
            started = time.perf_counter()
            full = len(rows) >= batch_size
            ahead = claimer.start(batch_size) if full and broker_ok and go_on() else _Done([])
            errors = transport.finish(transport.start(rows))
            next_rows = ahead.result()
            result = _settle_sent(rows, errors, transport)
            result.seconds = time.perf_counter() - started
            metrics.RELAY_BATCH_SECONDS.observe(result.seconds)
            total.add(result)
            broker_ok = result.published > 0
            if next_rows:
                rows = next_rows
            elif broker_ok and (full or result.followed) and go_on():
                rows = claim_batch(batch_size=batch_size)
            else:
                rows = []
    finally:
        claimer.close()
    return total


def relay_until_idle(*, transport: Transport | None = None, max_seconds: float | None = None) -> RelayResult:
    """Passes until no due row is left (or `max_seconds`): what `--once` and the beat task do.

    A pass that fails as a whole (broker down) ends the run: the backoff decides when to try again.
    """
    deadline = time.monotonic() + max_seconds if max_seconds else None
    total = RelayResult()
    while True:
        result = drain(transport=transport, go_on=lambda: deadline is None or time.monotonic() < deadline)
        total.add(result)
        if result.claimed == 0 or result.published == 0 or (deadline and time.monotonic() > deadline):
            return total


# The relay's and consumer's stop is the loop skeleton's (docs/ARCHITECTURE.md §5); the old
# name stays importable.
StopFlag = Stop


def seconds_until_next_retry(*, limit: float) -> float:
    """Until the earliest pending row in backoff falls due, at most `limit` (the due-row index, one entry)."""
    now = timezone.now()
    next_at = (
        OutboxEvent.objects.filter(status=Status.PENDING, next_retry_at__gt=now)
        .order_by("next_retry_at")
        .values_list("next_retry_at", flat=True)
        .first()
    )
    return limit if next_at is None else min(limit, max((next_at - now).total_seconds(), 0.0))


def relay_loop(
    *, stop: Stop, transport: Transport | None = None, listener: PendingListener | None = None
) -> RelayResult:
    """A dedicated relay process: `drain` (batches back to back while claims come back full),
    then one wait for whichever comes first: a commit of new rows, the next retry falling
    due, the fallback poll. `listener` defaults to one on the default database (PostgreSQL,
    OUTBOX_RELAY_LISTEN); it is opened before the first claim, so no commit goes unheard."""
    total = RelayResult()
    if listener is None and settings.OUTBOX_RELAY_LISTEN:
        listener = PendingListener.for_default_database()
    next_recovery = 0.0
    recovery_failures = FailureLog("outbox relay", None, "lease recovery")

    def one_pass() -> bool:
        nonlocal next_recovery
        if time.monotonic() >= next_recovery:
            next_recovery = time.monotonic() + 30
            try:
                recover_leases()
            except Exception as exc:  # the database is down: the relay pass below waits for it too
                recovery_failures.failed(exc)
                connection.close()
            else:
                recovery_failures.succeeded()
        result = drain(transport=transport, go_on=lambda: not stop)
        total.add(result)
        if result.claimed:
            logger.debug("outbox: relayed %d (%d published)", result.claimed, result.published)
        return False  # drain went on while claims came back full: now wait for work

    try:
        run_passes(
            one_pass,
            stop=stop,
            idle=lambda: _wait_for_work(listener, stop),
            retry_seconds=2.0,
            name="outbox relay",
            what="relay pass",
        )
    finally:
        if listener is not None:
            listener.close()
    return total


def _wait_for_work(listener: PendingListener | None, stop: Stop) -> None:
    if listener is None or not listener.ready():
        stop.event.wait(settings.OUTBOX_RELAY_IDLE_SECONDS)
        return
    try:
        timeout = seconds_until_next_retry(limit=settings.OUTBOX_RELAY_FALLBACK_SECONDS)
    except Exception:  # the database is down: the next pass reports it
        logger.debug("outbox: next retry time unavailable", exc_info=True)
        timeout = settings.OUTBOX_RELAY_IDLE_SECONDS
    listener.wait(timeout=timeout, stop=stop.event)
