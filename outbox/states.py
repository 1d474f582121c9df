"""The outbox row's state machine (docs/DOMAIN.md §1): pending → published → consumed, dead,
and the one retry rule.

A row's next state is decided in Python (`after_publish`, `after_failure`, `after_consume`,
`after_deferral`, `as_dead`) and written by `settle`, a compare-and-set UPDATE guarded by
the status it expects, so a relay, a consumer and a staff action racing on one row cannot
overwrite each other. The relay and the consumers settle through here and nowhere else.
"""

import json
import random
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from django.conf import settings
from django.db import connection
from django.utils import timezone

from outbox.models import LAST_ERROR_MAX, OutboxEvent
from outbox.registry import is_publish_only

Status = OutboxEvent.Status
# Rows a consumer or the relay may still move; consumed and dead are final (until a staff requeue).
LIVE = (Status.PENDING, Status.PUBLISHED)


def truncate_error(reason: str) -> str:
    return reason if len(reason) <= LAST_ERROR_MAX else reason[: LAST_ERROR_MAX - 1] + "…"


def backoff_seconds(retry_count: int) -> float:
    """1, 2, 4, 8, 16, 32 s for retries 1..6, capped, plus up to 20 % jitter."""
    cap = settings.OUTBOX_BACKOFF_CAP_SECONDS
    base = min(2 ** max(retry_count - 1, 0), cap)
    return base * (1 + random.random() * 0.2)


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
