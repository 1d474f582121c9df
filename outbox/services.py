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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, CharField, Count, DateTimeField, IntegerField, Min, Q, Value, When
from django.db.models.functions import Cast
from django.utils import timezone

from outbox.models import LAST_ERROR_MAX, InboxRecord, OutboxEvent, OutboxLock
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
    event_id = uuid.uuid4()
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
        max_retry=settings.OUTBOX_MAX_RETRY,
        next_retry_at=now,
        created_at=now,
    )


# --- relay settlement -----------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """What the relay needs of a claimed row (no ORM instance crosses the produce step)."""

    id: uuid.UUID
    biz_type: str
    service_name: str
    topic: str
    message_key: str
    payload: dict
    retry_count: int
    max_retry: int
    lease_id: uuid.UUID


def settle_published(rows: list[Claimed], *, now: datetime | None = None) -> int:
    """Rows the broker acknowledged: publish-only types are done (consumed), the rest await their consumer.

    One UPDATE, guarded by status and the relay's own lease: a consumer that settled
    the row first (fast consumer) or a later claim wins over this one.
    """
    if not rows:
        return 0
    now = now or timezone.now()
    done_ids = [r.id for r in rows if is_publish_only(r.biz_type)]
    return OutboxEvent.objects.filter(
        id__in=[r.id for r in rows], status=Status.PENDING, lease_id__in={r.lease_id for r in rows}
    ).update(
        status=Case(
            When(id__in=done_ids, then=Value(Status.CONSUMED)),
            default=Value(Status.PUBLISHED),
            output_field=CharField(),
        ),
        consumed_at=Cast(
            Case(When(id__in=done_ids, then=Value(now)), default=None, output_field=DateTimeField()), DateTimeField()
        ),
        published_at=now,
        next_retry_at=None,
        locked_until=None,
        lease_id=None,
        last_error="",
        updated_at=now,
    )


def settle_failed(failures: list[tuple[Claimed, str]], *, now: datetime | None = None) -> tuple[int, int]:
    """Rows the broker refused: retry_count+1 and back off, or dead at max_retry. One UPDATE.

    Returns (retrying, dead).
    """
    if not failures:
        return 0, 0
    now = now or timezone.now()
    retry_whens, next_whens, status_whens, error_whens = [], [], [], []
    dead = 0
    for row, error in failures:
        n = row.retry_count + 1
        is_dead = n >= row.max_retry
        dead += is_dead
        retry_whens.append(When(id=row.id, then=Value(n)))
        status_whens.append(When(id=row.id, then=Value(Status.DEAD if is_dead else Status.PENDING)))
        next_at = None if is_dead else now + timedelta(seconds=backoff_seconds(n))
        next_whens.append(When(id=row.id, then=Value(next_at, output_field=DateTimeField())))
        error_whens.append(When(id=row.id, then=Value(truncate_error(error))))
    updated = OutboxEvent.objects.filter(
        id__in=[r.id for r, _e in failures], status=Status.PENDING, lease_id__in={r.lease_id for r, _e in failures}
    ).update(
        retry_count=Case(*retry_whens, output_field=IntegerField()),
        status=Case(*status_whens, output_field=CharField()),
        # Cast: a CASE whose branches are all NULL (every row dead) is typed text by PostgreSQL.
        next_retry_at=Cast(Case(*next_whens, output_field=DateTimeField()), DateTimeField()),
        last_error=Case(*error_whens, output_field=CharField()),
        locked_until=None,
        lease_id=None,
        updated_at=now,
    )
    if updated != len(failures):
        logger.info(
            "outbox: %d of %d failed rows were settled by someone else first", len(failures) - updated, len(failures)
        )
    return len(failures) - dead, dead


# --- consumer settlement --------------------------------------------------------------


def mark_consumed(event_id, *, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return bool(
        OutboxEvent.objects.filter(id=event_id, status__in=LIVE).update(
            status=Status.CONSUMED,
            consumed_at=now,
            next_retry_at=None,
            locked_until=None,
            lease_id=None,
            last_error="",
            updated_at=now,
        )
    )


def mark_failed(event_id, *, error: str) -> str | None:
    """A handler failed: back to pending with backoff (the relay re-sends), or dead at max_retry.

    Locks the row (as the seed does) so concurrent failures count once each. Returns the new status.
    """
    with transaction.atomic():
        row = (
            OutboxEvent.objects.select_for_update()
            .filter(id=event_id, status__in=LIVE)
            .values("retry_count", "max_retry")
            .first()
        )
        if row is None:
            return None
        now = timezone.now()
        n = row["retry_count"] + 1
        status = Status.DEAD if n >= row["max_retry"] else Status.PENDING
        OutboxEvent.objects.filter(id=event_id, status__in=LIVE).update(
            status=status,
            retry_count=n,
            next_retry_at=None if status == Status.DEAD else now + timedelta(seconds=backoff_seconds(n)),
            last_error=truncate_error(error),
            locked_until=None,
            lease_id=None,
            updated_at=now,
        )
        return status


def defer(event_id, *, reason: str, seconds: float = 1.0) -> bool:
    """Back to pending without spending a retry (the consumer keeps per-key order this way)."""
    now = timezone.now()
    return bool(
        OutboxEvent.objects.filter(id=event_id, status__in=LIVE).update(
            status=Status.PENDING,
            next_retry_at=now + timedelta(seconds=seconds),
            locked_until=None,
            lease_id=None,
            last_error=truncate_error(reason),
            updated_at=now,
        )
    )


def mark_dead(ids: Iterable, *, reason: str) -> int:
    """Unrecoverable (poison message, no handler, staff decision): dead at once. Consumed rows stay consumed."""
    now = timezone.now()
    return OutboxEvent.objects.filter(id__in=list(ids), status__in=LIVE).update(
        status=Status.DEAD,
        next_retry_at=None,
        locked_until=None,
        lease_id=None,
        last_error=truncate_error(reason),
        updated_at=now,
    )


def inbox_record(*, service_name: str, event_id) -> bool:
    """Record that `service_name` applied `event_id`; False if it already had. Call inside the handler's transaction.

    INSERT … ON CONFLICT DO NOTHING (PostgreSQL and SQLite): no savepoint round trips, and a
    concurrent duplicate waits on the first writer's unique-index entry, then reports 0 rows.
    """
    from django.db import connection

    table = InboxRecord._meta.db_table
    field = InboxRecord._meta.get_field("event_id")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (service_name, event_id, processed_at) VALUES (%s, %s, %s) "  # noqa: S608
            "ON CONFLICT (service_name, event_id) DO NOTHING",
            [
                service_name,
                field.get_db_prep_value(uuid.UUID(str(event_id)), connection),
                InboxRecord._meta.get_field("processed_at").get_db_prep_value(timezone.now(), connection),
            ],
        )
        return cursor.rowcount == 1


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
    """Delete consumed rows (and inbox records) older than `older_than`, a batch per statement."""
    cutoff = timezone.now() - older_than
    total = 0
    while True:
        ids = list(
            OutboxEvent.objects.filter(status=Status.CONSUMED, consumed_at__lt=cutoff)
            .order_by()
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            break
        # Nothing references an outbox row: Django deletes it with one DELETE, no collector queries.
        total += OutboxEvent.objects.filter(id__in=ids, status=Status.CONSUMED).delete()[0]
    while True:
        ids = list(InboxRecord.objects.filter(processed_at__lt=cutoff).values_list("id", flat=True)[:batch_size])
        if not ids:
            break
        InboxRecord.objects.filter(id__in=ids).delete()
    return total


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
    "backoff_seconds",
    "enqueue",
    "inbox_record",
    "lock_acquire",
    "lock_release",
    "mark_consumed",
    "mark_dead",
    "mark_failed",
    "purge",
    "recover_leases",
    "requeue",
    "settle_failed",
    "settle_published",
    "stats",
]
