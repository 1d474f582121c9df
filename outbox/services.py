"""Writes on the outbox: enqueue (called by every app inside its own transaction),
the state changes shared by the relay and the consumers, and the staff operations.

Every state change is a compare-and-set UPDATE guarded by the status it expects, so
a relay, a consumer and a staff action racing on one row cannot overwrite each other.
"""

import json
import logging
import math
import random
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from outbox.models import LAST_ERROR_MAX, InboxRecord, OutboxEvent, OutboxLock, new_event_id
from outbox.registry import is_publish_only, owner_of

logger = logging.getLogger(__name__)

Status = OutboxEvent.Status
# Rows a consumer or the relay may still move; consumed and dead are final (until a staff requeue).
LIVE = (Status.PENDING, Status.PUBLISHED)


class OutboxPayloadError(ValueError):
    """The event data cannot be stored as JSON; raised inside the caller's transaction."""


def truncate_error(reason: str) -> str:
    return reason if len(reason) <= LAST_ERROR_MAX else reason[: LAST_ERROR_MAX - 1] + "…"


def backoff_seconds(retry_count: int) -> float:
    """1, 2, 4, 8, 16, 32 s for retries 1..6, capped, plus up to 20 % jitter."""
    cap = settings.OUTBOX_BACKOFF_CAP_SECONDS
    base = min(2 ** max(retry_count - 1, 0), cap)
    return base * (1 + random.random() * 0.2)


def _check_json(data, path="data"):
    # json.dumps alone names the type but not where it sits; the path makes the error actionable.
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(key, str):
                raise OutboxPayloadError(f"{path}: key {key!r} is a {type(key).__name__}, JSON keys must be str")
            _check_json(value, f"{path}.{key}")
    elif isinstance(data, list | tuple):
        for i, value in enumerate(data):
            _check_json(value, f"{path}[{i}]")
    elif isinstance(data, float):
        if not math.isfinite(data):
            raise OutboxPayloadError(f"{path}: {data} is not valid JSON")
    elif not (data is None or isinstance(data, str | int | bool)):
        raise OutboxPayloadError(
            f"{path} is a {type(data).__name__}, which JSON cannot carry: convert it "
            "(str(uuid), dt.isoformat(), str(decimal)) before enqueueing"
        )


def enqueue(*, biz_type: str, topic: str, message_key: str, data: dict, service_name: str | None = None) -> OutboxEvent:
    """Write one event in the caller's transaction; the relay publishes it after commit.

    `service_name` defaults to the service that handles `biz_type` (for publish-only types,
    the app that declared them). Data that JSON cannot carry raises OutboxPayloadError.
    """
    if not isinstance(data, dict):
        raise OutboxPayloadError(f"data must be a dict, got {type(data).__name__}")
    _check_json(data)
    if service_name is None:
        service_name = owner_of(biz_type)
        if service_name is None:
            raise ValueError(
                f"{biz_type!r} has no @handles handler and is not declared publish_only(): pass service_name="
            )
    for name, value, limit in (
        ("biz_type", biz_type, 64),
        ("service_name", service_name, 64),
        ("topic", topic, 128),
        ("message_key", message_key, 128),
    ):
        if not value or len(value) > limit:
            raise ValueError(f"{name} is required and at most {limit} characters, got {value!r}")
    event_id = new_event_id()
    now = timezone.now()
    payload = {"event_id": str(event_id), "biz_type": biz_type, "occurred_at": now.isoformat(), "data": data}
    json.dumps(payload, allow_nan=False)  # belt and braces: the check above should have caught everything
    return OutboxEvent.objects.create(
        id=event_id,
        biz_type=biz_type,
        service_name=service_name,
        topic=topic,
        message_key=message_key,
        payload=payload,
        status=Status.PENDING,
        next_retry_at=now,
        created_at=now,
    )


# --- what the relay hands on --------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """What the relay needs of a claimed row (no ORM instance crosses the produce step).

    `payload_json` is the stored envelope as text, sent as it is: parsing it only to dump it
    again would cost the relay as much as a claim.
    """

    id: uuid.UUID
    biz_type: str
    service_name: str
    topic: str
    message_key: str
    payload_json: str
    retry_count: int
    max_retry: int
    lease_id: uuid.UUID
    # Another pending row of the same key waits behind this one: the relay claims again
    # right after settling instead of waiting for the next commit.
    followed: bool = False

    @cached_property
    def payload(self) -> dict:
        return json.loads(self.payload_json)


# --- a row's next state --------------------------------------------------------------------


@dataclass(frozen=True)
class Settlement:
    """A row's next state, decided in Python by the rules below and written by `settle`."""

    id: uuid.UUID
    status: str
    last_error: str = ""
    next_retry_at: datetime | None = None
    retry_count: int | None = None  # None: unchanged
    published: bool = False  # published_at := now
    consumed: bool = False  # consumed_at := now


def after_publish(row: Claimed) -> Settlement:
    """The broker acknowledged: publish-only types are done, the rest await their consumer."""
    done = is_publish_only(row.biz_type)
    return Settlement(row.id, Status.CONSUMED if done else Status.PUBLISHED, published=True, consumed=done)


def after_failure(row_id, *, retry_count: int, max_retry: int, error: str, now: datetime) -> Settlement:
    """The one retry rule (docs/DOMAIN.md §1), for a send the broker refused and a handler that
    raised alike: one more attempt spent; dead once `max_retry` are spent, else pending again
    after the backoff."""
    spent = retry_count + 1
    if spent >= max_retry:
        return Settlement(row_id, Status.DEAD, truncate_error(error), None, spent)
    return Settlement(
        row_id, Status.PENDING, truncate_error(error), now + timedelta(seconds=backoff_seconds(spent)), spent
    )


def after_consume(row_id) -> Settlement:
    return Settlement(row_id, Status.CONSUMED, consumed=True)


def after_deferral(row_id, *, reason: str, seconds: float, now: datetime) -> Settlement:
    """Back to pending without spending an attempt: an older event of the key must go first."""
    return Settlement(row_id, Status.PENDING, truncate_error(reason), now + timedelta(seconds=seconds))


def as_dead(row_id, *, reason: str) -> Settlement:
    """Unrecoverable (poison message, no handler, staff decision): dead at once, attempts unchanged."""
    return Settlement(row_id, Status.DEAD, truncate_error(reason))


# The rows are locked in id order first (the InitPlan reads the whole CTE before the update
# runs), the order the consumer locks its batch in: a relay settling a batch that a fast
# consumer is already applying waits for it instead of deadlocking with it, whatever join
# order the planner picks for the update itself.
_SETTLE_SQL = """
WITH locked AS (SELECT id FROM {table} WHERE id = ANY(%(ids)s::uuid[]) ORDER BY id FOR UPDATE)
UPDATE {table} AS o SET
    status = s.status,
    retry_count = COALESCE(s.retry_count, o.retry_count),
    next_retry_at = s.next_retry_at,
    last_error = s.last_error,
    published_at = CASE WHEN s.published THEN %(now)s ELSE o.published_at END,
    consumed_at = CASE WHEN s.consumed THEN %(now)s ELSE o.consumed_at END,
    locked_until = NULL,
    lease_id = NULL,
    updated_at = %(now)s
FROM unnest(%(ids)s::uuid[], %(statuses)s::varchar[], %(retries)s::int[], %(next)s::timestamptz[],
            %(errors)s::text[], %(published)s::bool[], %(consumed)s::bool[])
     AS s(id, status, retry_count, next_retry_at, last_error, published, consumed){lazy_flush}
WHERE o.id = s.id AND o.status = ANY(%(expect)s::varchar[]) {lease_guard}
  AND (SELECT count(*) FROM locked) > 0
"""


def settle(
    settlements: list[Settlement],
    *,
    expect: Iterable[str],
    lease_id: uuid.UUID | None = None,
    now=None,
    durable: bool = True,
) -> int:
    """Write each row's next state; returns the rows written.

    Compare-and-set: a row is written only while its status is one of `expect` (and, for a
    relay, while `lease_id` is still its lease), so whoever settled it first wins. On
    PostgreSQL one statement writes the whole batch (arrays joined with `unnest`); other
    databases get one UPDATE per distinct next state. `durable=False` (the relay's settle,
    whose loss in a crash means the rows are sent again) lets the commit skip the WAL flush.
    """
    if not settlements:
        return 0
    now = now or timezone.now()
    expect = [str(s) for s in expect]
    settlements = sorted(settlements, key=lambda s: s.id)  # and the portable path locks in id order
    if connection.vendor == "postgresql":
        sql = _SETTLE_SQL.format(
            table=OutboxEvent._meta.db_table,
            lease_guard="AND o.lease_id = %(lease)s" if lease_id else "",
            lazy_flush="" if durable else ", (SELECT set_config('synchronous_commit', 'off', true)) AS lazy_flush",
        )
        params = {
            "now": now,
            "ids": [s.id for s in settlements],
            "statuses": [str(s.status) for s in settlements],
            "retries": [s.retry_count for s in settlements],
            "next": [s.next_retry_at for s in settlements],
            "errors": [s.last_error for s in settlements],
            "published": [s.published for s in settlements],
            "consumed": [s.consumed for s in settlements],
            "expect": expect,
            "lease": lease_id,
        }
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount
    groups: dict[tuple, list] = defaultdict(list)
    for s in settlements:
        groups[(s.status, s.last_error, s.next_retry_at, s.retry_count, s.published, s.consumed)].append(s.id)
    written = 0
    for (status, error, next_retry_at, retry_count, published, consumed), ids in groups.items():
        fields = {
            "status": status,
            "last_error": error,
            "next_retry_at": next_retry_at,
            "locked_until": None,
            "lease_id": None,
            "updated_at": now,
        }
        if retry_count is not None:
            fields["retry_count"] = retry_count
        if published:
            fields["published_at"] = now
        if consumed:
            fields["consumed_at"] = now
        rows = OutboxEvent.objects.filter(id__in=ids, status__in=expect)
        if lease_id:
            rows = rows.filter(lease_id=lease_id)
        written += rows.update(**fields)
    return written


def mark_dead(ids: Iterable, *, reason: str) -> int:
    """Staff decision: live rows dead at once. Consumed rows stay consumed."""
    return settle([as_dead(row_id, reason=reason) for row_id in ids], expect=LIVE)


# --- the consumers' inbox ------------------------------------------------------------------


def inbox_add(*, service_name: str, event_ids: list) -> set[uuid.UUID]:
    """Record that `service_name` applies these events, in the caller's transaction; returns
    the ids that were new (the others it had applied before).

    One INSERT … ON CONFLICT DO NOTHING RETURNING (PostgreSQL and SQLite): a concurrent
    duplicate waits on the first writer's unique-index entry, then is not returned.
    """
    if not event_ids:
        return set()
    table = InboxRecord._meta.db_table
    prep_id = InboxRecord._meta.get_field("event_id").get_db_prep_value
    processed_at = InboxRecord._meta.get_field("processed_at").get_db_prep_value(timezone.now(), connection)
    params = []
    for event_id in event_ids:
        params += [service_name, prep_id(uuid.UUID(str(event_id)), connection), processed_at]
    values = ", ".join(["(%s, %s, %s)"] * len(event_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (service_name, event_id, processed_at) VALUES {values} "  # noqa: S608
            "ON CONFLICT (service_name, event_id) DO NOTHING RETURNING event_id",
            params,
        )
        return {uuid.UUID(str(value)) for (value,) in cursor.fetchall()}


def inbox_remove(*, service_name: str, event_ids: list) -> None:
    """Take back ids recorded in this transaction for events that did not apply after all."""
    if event_ids:
        recorded = InboxRecord.objects.filter(service_name=service_name, event_id__in=event_ids)
        recorded._raw_delete(recorded.db)


# --- staff and housekeeping -------------------------------------------------------------


def requeue(ids: Iterable) -> int:
    """Dead rows back to pending with a fresh retry budget (admin action, `outbox_requeue`)."""
    now = timezone.now()
    return OutboxEvent.objects.filter(id__in=list(ids), status=Status.DEAD).update(
        status=Status.PENDING, retry_count=0, next_retry_at=now, locked_until=None, lease_id=None, updated_at=now
    )


def recover_leases(*, now: datetime | None = None) -> dict[str, int]:
    """Clear expired leases (their relay died) and send again rows published but never consumed.

    The claim query already ignores expired leases; clearing them keeps the table honest
    for operators. Redelivery does not spend the retry budget: the event did nothing wrong.
    """
    now = now or timezone.now()
    expired = OutboxEvent.objects.filter(status=Status.PENDING, locked_until__lt=now).update(
        locked_until=None, lease_id=None, updated_at=now
    )
    stale_before = now - timedelta(seconds=settings.OUTBOX_REDELIVER_AFTER_SECONDS)
    redelivered = OutboxEvent.objects.filter(status=Status.PUBLISHED, published_at__lt=stale_before).update(
        status=Status.PENDING,
        next_retry_at=now,
        locked_until=None,
        lease_id=None,
        last_error=f"redelivered: not consumed within {settings.OUTBOX_REDELIVER_AFTER_SECONDS} s",
        updated_at=now,
    )
    if expired or redelivered:
        logger.info("outbox: cleared %d expired leases, redelivering %d unconsumed rows", expired, redelivered)
    return {"expired_leases": expired, "redelivered": redelivered}


def purge(*, older_than: timedelta, batch_size: int = 5000) -> int:
    """Delete consumed rows, and inbox records, older than `older_than`; returns the rows deleted.

    Each batch is its own short transaction that locks only the rows it deletes and skips
    any row another transaction holds (SKIP LOCKED), so a purge of millions of rows never
    holds a lock for longer than one batch, nor waits on a relay or a consumer (called
    inside a transaction, the batches become savepoints and the locks last until its end).
    """
    cutoff = timezone.now() - older_than
    consumed = OutboxEvent.objects.filter(status=Status.CONSUMED, consumed_at__lt=cutoff)
    total = _delete_in_batches(consumed, batch_size=batch_size)
    _delete_in_batches(InboxRecord.objects.filter(processed_at__lt=cutoff), batch_size=batch_size)
    return total


def _delete_in_batches(rows, *, batch_size: int) -> int:
    total = 0
    while True:
        with transaction.atomic():
            ids = list(rows.order_by().select_for_update(skip_locked=True).values_list("pk", flat=True)[:batch_size])
            if not ids:
                return total
            # Nothing references these rows: one DELETE, no collector queries.
            total += rows.model.objects.filter(pk__in=ids)._raw_delete(rows.db)


def stats() -> dict:
    by_status = dict(OutboxEvent.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    by_topic = list(OutboxEvent.objects.values("topic", "status").annotate(n=Count("id")).order_by("topic", "status"))
    oldest = OutboxEvent.objects.filter(status=Status.PENDING).aggregate(oldest=Min("created_at"))["oldest"]
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return {"by_status": by_status, "by_topic": by_topic, "oldest_pending_age_seconds": age}


def oldest_pending_age_seconds() -> float:
    oldest = (
        OutboxEvent.objects.filter(status=Status.PENDING).order_by("created_at").values_list("created_at", flat=True)
    ).first()
    return (timezone.now() - oldest).total_seconds() if oldest else 0.0


# --- single-flight lock -------------------------------------------------------------------


def lock_acquire(name: str, *, holder: str, seconds: float) -> bool:
    """Take the named lease if free or expired (compare-and-set); False when someone else holds it."""
    now = timezone.now()
    expires = now + timedelta(seconds=seconds)
    taken = OutboxLock.objects.filter(Q(expires_at__lt=now) | Q(holder=holder), name=name).update(
        holder=holder, expires_at=expires
    )
    if taken:
        return True
    try:
        with transaction.atomic():
            OutboxLock.objects.create(name=name, holder=holder, expires_at=expires)
    except IntegrityError:
        return False
    return True


def lock_release(name: str, *, holder: str) -> None:
    OutboxLock.objects.filter(name=name, holder=holder).update(expires_at=timezone.now() - timedelta(seconds=1))


def counts_by_status() -> dict[str, int]:
    """Backlog by status, skipping consumed (the big terminal pile: counting it on each scrape is a full scan)."""
    rows = (
        OutboxEvent.objects.filter(status__in=[Status.PENDING, Status.PUBLISHED, Status.DEAD])
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    counts = dict.fromkeys((Status.PENDING, Status.PUBLISHED, Status.DEAD), 0)
    counts.update(dict(rows))
    return counts


__all__ = [
    "Claimed",
    "OutboxPayloadError",
    "Settlement",
    "after_consume",
    "after_deferral",
    "after_failure",
    "after_publish",
    "as_dead",
    "backoff_seconds",
    "enqueue",
    "inbox_add",
    "inbox_remove",
    "lock_acquire",
    "lock_release",
    "mark_dead",
    "purge",
    "recover_leases",
    "requeue",
    "settle",
    "stats",
]
