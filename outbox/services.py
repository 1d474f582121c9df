"""Writes on the outbox: enqueue (called by every app inside its own transaction), the
consumers' inbox, the staff operations and housekeeping, the single-flight lock.

A row's states and the retry rule are `outbox.states` (re-exported here, so
`from outbox.services import settle` keeps working).
"""

import json
import logging
import math
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from outbox.models import InboxRecord, OutboxEvent, OutboxLock, new_event_id
from outbox.registry import owner_of
from outbox.states import (
    LIVE,
    Claimed,
    Settlement,
    Status,
    after_consume,
    after_deferral,
    after_failure,
    after_publish,
    as_dead,
    backoff_seconds,
    settle,
)

logger = logging.getLogger(__name__)


class OutboxPayloadError(ValueError):
    """The event data cannot be stored as JSON; raised inside the caller's transaction."""


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
