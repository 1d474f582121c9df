"""The consumer side: apply a poll's events in one transaction, and the Kafka group loop.

A batch of one service's events (docs/DOMAIN.md §1), in ONE transaction:

1. lock the service's rows of the batch (FOR UPDATE), each read with the oldest older
   live row of its key that is not in the batch;
2. record the ids to apply in the service's inbox with one INSERT; an id already
   there is a duplicate (its row is marked consumed, its handler not run);
3. run the handlers in commit order, each under a savepoint of its own opened just
   before its first query: a failing handler is undone alone, and a handler that never
   queries costs no round trip;
4. write every row's next state with one statement (consumed; retry or dead by the one
   retry rule, `services.after_failure`; deferred) and take back the inbox ids of the
   events that did not apply;

then commit; the Kafka offsets are committed after that, so a crash in between reads the
batch again and the inbox skips what was applied. Per-key order: an event whose key has
an older live event (outside the batch, or earlier in it and not applied) is deferred
without spending an attempt. A message that cannot be parsed, or whose type the owning
service has no handler for, is dead at once. Only the group of the row's service settles
it; other groups skip. Nothing here raises into the loop except a database error outside
the handlers, after which the whole poll is read again.
"""

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from outbox import metrics
from outbox.models import OutboxEvent
from outbox.registry import Envelope, handler_for, takes_batches, topics_for
from outbox.services import inbox_add, inbox_remove
from outbox.states import LIVE, after_consume, after_deferral, after_failure, as_dead, settle
from smartmate.loops import run_passes

logger = logging.getLogger(__name__)
Status = OutboxEvent.Status


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # already consumed/dead, or already in the inbox
    SKIPPED = "skipped"  # another service's event, or no such row
    FAILED = "failed"  # handler raised: the row retries with backoff
    DEFERRED = "deferred"  # an older event of the same key is not consumed yet: sent again after it
    DEAD = "dead"  # poison message, no handler, or the last attempt failed


class PoisonMessage(ValueError):
    pass


def parse_envelope(payload) -> Envelope:
    if not isinstance(payload, dict):
        raise PoisonMessage(f"envelope is a {type(payload).__name__}, not an object")
    missing = {"event_id", "biz_type", "occurred_at", "data"} - payload.keys()
    if missing:
        raise PoisonMessage(f"envelope lacks {sorted(missing)}")
    try:
        event_id = str(uuid.UUID(str(payload["event_id"])))
        occurred_at = datetime.fromisoformat(payload["occurred_at"])
    except (ValueError, TypeError) as exc:
        raise PoisonMessage(f"bad envelope field: {exc}")
    if not isinstance(payload["biz_type"], str) or not isinstance(payload["data"], dict):
        raise PoisonMessage("biz_type must be a string and data an object")
    return Envelope(event_id=event_id, biz_type=payload["biz_type"], occurred_at=occurred_at, data=payload["data"])


def _uuid_or_none(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Incoming:
    """One message of a batch: an envelope, or the reason it is not one (and the event id
    its header named, if any, so the row can be settled dead)."""

    envelope: Envelope | None = None
    poison_id: uuid.UUID | None = None
    problem: str = ""

    @classmethod
    def from_payload(cls, payload) -> "Incoming":
        try:
            return cls(envelope=parse_envelope(payload))
        except PoisonMessage as exc:
            event_id = payload.get("event_id") if isinstance(payload, dict) else None
            return cls(poison_id=_uuid_or_none(event_id), problem=f"unparsable event: {exc}")

    @classmethod
    def from_message(cls, *, value: bytes | None, headers: dict) -> "Incoming":
        try:
            payload = json.loads(value) if value is not None else None
        except (ValueError, UnicodeDecodeError) as exc:
            return cls(poison_id=_uuid_or_none(headers.get("event_id")), problem=f"unparsable message: {exc}")
        if isinstance(payload, dict) and headers.get("event_id") and "event_id" not in payload:
            payload = {**payload, "event_id": headers["event_id"]}
        return cls.from_payload(payload)

    @property
    def id(self) -> uuid.UUID | None:
        return uuid.UUID(self.envelope.event_id) if self.envelope else self.poison_id


class _Row(NamedTuple):
    id: uuid.UUID
    status: str
    message_key: str
    created_at: datetime
    retry_count: int
    max_retry: int
    older_id: uuid.UUID | None  # oldest older live row of the key outside the batch
    older_status: str | None


def _lock_rows(service: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, _Row]:
    """The service's rows among `ids`, locked in id order (two batches never wait on each other in a cycle).

    Order is kept per service: another service's slow consumer must not hold this one up.
    """
    older = (
        OutboxEvent.objects.filter(status__in=LIVE, service_name=service, message_key=OuterRef("message_key"))
        .filter(Q(created_at__lt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), id__lt=OuterRef("id")))
        .exclude(id__in=ids)
        .order_by("created_at")  # the live-key index's order; ORDER BY id would walk the primary key
    )
    rows = (
        OutboxEvent.objects.filter(id__in=ids, service_name=service)
        .annotate(older_id=Subquery(older.values("id")[:1]), older_status=Subquery(older.values("status")[:1]))
        .select_for_update(of=("self",))
        .order_by("id")
        .values_list(*_Row._fields)
    )
    return {row[0]: _Row(*row) for row in rows}


@dataclass
class _Entry:
    index: int  # position in the batch, for the outcome
    envelope: Envelope
    row: _Row
    handler: object
    many: bool
    waits_for: tuple | None = None  # (older id, its status) outside the batch


class _SavepointOnFirstQuery:
    """An execute wrapper that opens a savepoint just before the running handler's first query.

    A savepoint costs two round trips (SAVEPOINT, RELEASE); a handler that does not touch
    the database has nothing to undo and pays neither."""

    def __init__(self):
        self.armed = False
        self.sid = None

    def __call__(self, execute, sql, params, many, context):
        if self.armed:
            self.armed = False
            self.sid = transaction.savepoint()
        return execute(sql, params, many, context)


@dataclass
class _Batch:
    service: str
    incoming: list[Incoming]
    outcomes: list[Outcome] = field(default_factory=list)
    settlements: list = field(default_factory=list)
    not_applied: list = field(default_factory=list)  # ids recorded in the inbox that did not apply

    def run(self) -> list[Outcome]:
        self.outcomes = [Outcome.SKIPPED] * len(self.incoming)
        ids = list(dict.fromkeys(item.id for item in self.incoming if item.id is not None))
        with transaction.atomic():
            self.now = timezone.now()
            rows = _lock_rows(self.service, ids) if ids else {}
            todo = self._triage(rows)
            fresh = inbox_add(service_name=self.service, event_ids=[e.row.id for e in todo if not e.waits_for])
            ready = []
            for entry in todo:
                if entry.waits_for or entry.row.id in fresh:
                    ready.append(entry)
                else:  # the inbox had it: applied before, its row left unsettled
                    self._consumed(entry, Outcome.DUPLICATE)
            self._apply(ready)
            settle(self.settlements, expect=LIVE)  # consumed_at: now, after the handlers
            inbox_remove(service_name=self.service, event_ids=self.not_applied)
        self._count()
        return self.outcomes

    def _triage(self, rows: dict[uuid.UUID, _Row]) -> list[_Entry]:
        """Outcomes decided without a handler; the rest, in commit order, with what they wait for."""
        seen = set()
        todo = []
        for index, item in enumerate(self.incoming):
            row = rows.get(item.id) if item.id else None
            if item.envelope is None:
                if row is None:
                    logger.error("outbox[%s]: %s (no row of ours to settle; skipped)", self.service, item.problem)
                    continue
                self._dead(index, row.id, item.problem)
            elif row is None:
                logger.debug("outbox[%s]: event %s has no row of this service: skipped", self.service, item.id)
            elif row.id in seen or row.status not in LIVE:
                self.outcomes[index] = Outcome.DUPLICATE
            elif (registered := handler_for(item.envelope.biz_type)) is None or registered[0] != self.service:
                self._dead(index, row.id, f"service {self.service!r} has no handler for {item.envelope.biz_type!r}")
            else:
                todo.append(_Entry(index, item.envelope, row, registered[1], takes_batches(item.envelope.biz_type)))
            if row is not None:
                seen.add(row.id)
        todo.sort(key=lambda e: (e.row.created_at, e.row.id))
        waiting = {}  # key -> what holds it back, from outside the batch
        for entry in todo:
            key = entry.row.message_key
            if entry.row.older_id is not None:
                waiting.setdefault(key, (entry.row.older_id, entry.row.older_status))
            entry.waits_for = waiting.get(key)
        return todo

    def _apply(self, ready: list[_Entry]) -> None:
        blocked: dict[str, tuple] = {}  # key -> (id, status) of an older event that did not apply
        # Consecutive batch-form events of one handler, one per key (so that a failed call, run
        # again event by event, still holds each key's later events back in order).
        run: list[_Entry] = []
        run_keys: set[str] = set()
        self.guard = _SavepointOnFirstQuery()
        with connection.execute_wrapper(self.guard):
            for entry in ready:
                key = entry.row.message_key
                if run and not (entry.many and entry.handler is run[0].handler and key not in run_keys):
                    self._run_batch_form(run, blocked)
                    run, run_keys = [], set()
                if entry.waits_for or key in blocked:
                    older_id, older_status = entry.waits_for or blocked[key]
                    self._defer(entry, older_id, older_status)
                    blocked.setdefault(key, (entry.row.id, Status.PENDING))
                elif entry.many:
                    run.append(entry)
                    run_keys.add(key)
                else:
                    self._run_one(entry, entry.handler, entry.envelope, blocked)
            if run:
                self._run_batch_form(run, blocked)

    def _run_batch_form(self, run: list[_Entry], blocked: dict) -> None:
        if len(run) > 1 and self._call(run[0].handler, [e.envelope for e in run]) is None:
            for entry in run:
                self._consumed(entry, Outcome.APPLIED)
            return
        for entry in run:  # alone, so that only the failing events retry
            if entry.row.message_key in blocked:
                self._defer(entry, *blocked[entry.row.message_key])
            else:
                self._run_one(entry, entry.handler, [entry.envelope], blocked)

    def _run_one(self, entry: _Entry, handler, argument, blocked: dict) -> None:
        error = self._call(handler, argument)
        if error is None:
            self._consumed(entry, Outcome.APPLIED)
            return
        row = entry.row
        settlement = after_failure(
            row.id,
            retry_count=row.retry_count,
            max_retry=row.max_retry,
            error=f"handler {type(error).__name__}: {error}",
            now=self.now,
        )
        self.settlements.append(settlement)
        self.not_applied.append(row.id)
        self.outcomes[entry.index] = Outcome.DEAD if settlement.status == Status.DEAD else Outcome.FAILED
        if settlement.status == Status.PENDING:  # a dead event no longer holds its key back
            blocked[row.message_key] = (row.id, Status.PENDING)
        logger.warning(
            "outbox[%s]: handler for %s failed on %s (now %s): %s",
            self.service,
            entry.envelope.biz_type,
            row.id,
            settlement.status,
            error,
            exc_info=error,
        )

    def _call(self, handler, argument) -> Exception | None:
        """Run a handler; on an exception undo its queries and the on-commit callbacks it registered."""
        guard = self.guard
        callbacks = len(connection.run_on_commit)
        guard.armed, guard.sid = True, None
        try:
            handler(argument)
        except Exception as exc:
            guard.armed = False
            if guard.sid is not None:
                transaction.savepoint_rollback(guard.sid)
                transaction.set_rollback(False)  # an inner atomic(savepoint=False) may have asked for it
            # Django drops a rolled-back savepoint's callbacks only for its own atomic blocks.
            del connection.run_on_commit[callbacks:]
            return exc
        guard.armed = False
        if guard.sid is not None:
            transaction.savepoint_commit(guard.sid)
        return None

    def _consumed(self, entry: _Entry, outcome: Outcome) -> None:
        self.settlements.append(after_consume(entry.row.id))
        self.outcomes[entry.index] = outcome

    def _defer(self, entry: _Entry, older_id, older_status) -> None:
        # While the older row is pending the relay holds this one back anyway; while it is
        # published (its message still on the way) wait longer so the relay does not re-send
        # this one every second.
        self.settlements.append(
            after_deferral(
                entry.row.id,
                reason=f"deferred: older event {older_id} of the same key is {older_status}, not consumed yet",
                seconds=1.0 if older_status == Status.PENDING else 5.0,
                now=self.now,
            )
        )
        if not entry.waits_for:
            self.not_applied.append(entry.row.id)
        self.outcomes[entry.index] = Outcome.DEFERRED

    def _dead(self, index: int, row_id, reason: str) -> None:
        self.settlements.append(as_dead(row_id, reason=reason))
        self.outcomes[index] = Outcome.DEAD
        logger.error("outbox[%s]: %s (event %s dead)", self.service, reason, row_id)

    def _count(self) -> None:
        applied = sum(1 for o in self.outcomes if o == Outcome.APPLIED)
        if applied:
            metrics.CONSUMED.labels(self.service).inc(applied)
        failed = sum(1 for o in self.outcomes if o == Outcome.FAILED)
        if failed:
            metrics.FAILED.inc(failed)
        dead = sum(1 for o in self.outcomes if o == Outcome.DEAD)
        if dead:
            metrics.DEAD.inc(dead)


def apply_batch(*, service: str, incoming: list[Incoming]) -> list[Outcome]:
    """Apply a batch of events for `service` in one transaction (both transports end here);
    returns each message's outcome, in the batch's order."""
    if not incoming:
        return []
    return _Batch(service, incoming).run()


def apply_envelope(*, service: str, payload) -> Outcome:
    """Apply one event for `service`: a batch of one."""
    return apply_batch(service=service, incoming=[Incoming.from_payload(payload)])[0]


def decode_headers(headers) -> dict[str, str]:
    return {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v) for k, v in (headers or [])}


# --- the Kafka loop ------------------------------------------------------------------------


def group_id_for(service: str) -> str:
    return f"{settings.OUTBOX_CONSUMER_GROUP_PREFIX}{service}"


def make_consumer(*, service: str, topics, bootstrap_servers: str | None = None):
    from kafka import KafkaConsumer

    poll_interval = settings.OUTBOX_CONSUMER_MAX_POLL_INTERVAL_MS
    session = settings.OUTBOX_CONSUMER_SESSION_TIMEOUT_MS
    consumer = KafkaConsumer(
        bootstrap_servers=(bootstrap_servers or settings.KAFKA_BOOTSTRAP_SERVERS).split(","),
        group_id=group_id_for(service),
        client_id=f"smartmate-outbox-{service}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # Tansu's group joins wait for these: keep them to a few seconds.
        max_poll_interval_ms=poll_interval,
        session_timeout_ms=session,
        heartbeat_interval_ms=max(session // 4, 500),
        max_poll_records=settings.OUTBOX_CONSUMER_MAX_POLL_RECORDS,
        # How long the broker may hold a fetch that finds nothing new: the consumer's share of
        # the commit-to-handler latency when events trickle in (docs/BENCHMARKS.md).
        fetch_max_wait_ms=settings.OUTBOX_CONSUMER_FETCH_MAX_WAIT_MS,
        # A topic created after the consumer started (first event of its kind, a rebuilt
        # cluster) is picked up within seconds, not the default five minutes.
        metadata_max_age_ms=10_000,
    )
    consumer.subscribe(sorted(topics))
    return consumer


class ConsumerLoop:
    """One service's consumer group member."""

    def __init__(self, *, service: str, topics=None, bootstrap_servers: str | None = None):
        self.service = service
        self.topics = set(topics or topics_for(service))
        self.bootstrap_servers = bootstrap_servers
        self.counts: dict[str, int] = dict.fromkeys([o.value for o in Outcome], 0)
        self._consumer = None

    @property
    def consumer(self):
        if self._consumer is None:
            self._consumer = make_consumer(
                service=self.service, topics=self.topics, bootstrap_servers=self.bootstrap_servers
            )
        return self._consumer

    def poll_once(self, timeout_ms: int = 500) -> int:
        """Poll, apply the poll as one batch, commit offsets after its transaction. Returns messages read."""
        from kafka.structs import OffsetAndMetadata

        batches = self.consumer.poll(timeout_ms=timeout_ms)
        if not batches:
            return 0
        incoming, first, offsets, read = [], {}, {}, 0
        for tp, messages in batches.items():
            first[tp] = messages[0].offset
            offsets[tp] = OffsetAndMetadata(messages[-1].offset + 1, "", -1)
            read += len(messages)
            for message in messages:
                headers = decode_headers(message.headers)
                if headers.get("service") and headers["service"] != self.service:
                    self.counts[Outcome.SKIPPED] += 1
                    continue
                incoming.append(Incoming.from_message(value=message.value, headers=headers))
        try:
            outcomes = apply_batch(service=self.service, incoming=incoming)
        except Exception:
            # The database failed outside the handlers (unreachable, a deadlock): nothing of the
            # batch was kept. Read it again; the offsets stay where they were. The loop skeleton
            # reports the failure once and retries after a second.
            for tp, offset in first.items():
                self.consumer.seek(tp, offset)
            raise
        for outcome in outcomes:
            self.counts[outcome] += 1
        try:
            self.consumer.commit(offsets)
        except Exception as exc:  # a rebalance: the next owner re-reads, the inbox dedupes
            logger.warning("outbox[%s]: offset commit failed: %s", self.service, exc)
        return read

    def caught_up(self) -> bool:
        assignment = self.consumer.assignment()
        if not assignment:
            return False
        ends = self.consumer.end_offsets(list(assignment))
        return all(self.consumer.position(tp) >= ends.get(tp, 0) for tp in assignment)

    def run(self, *, stop, once: bool = False, max_seconds: float = 60.0) -> dict:
        """`once`: until every assigned partition is read to its end (or `max_seconds`); else until `stop`."""
        deadline = time.monotonic() + max_seconds
        try:
            run_passes(
                self.poll_once,  # the poll itself waits for records: no idle wait of its own
                stop=stop,
                idle=0,
                retry_seconds=1.0,
                name=f"outbox[{self.service}]",
                what="applying a batch",
                done=(lambda: self.caught_up() or time.monotonic() > deadline) if once else None,
            )
            self._finish_join()
        finally:
            self.close()
        return self.counts

    def _finish_join(self, max_seconds: float = 10.0) -> None:
        """Leave the group only once joined: on Tansu, a member leaving mid-join stalls the group
        for every later member (docs/BENCHMARKS.md). Messages read meanwhile are applied as usual."""
        if self._consumer is None:
            return
        deadline = time.monotonic() + max_seconds
        while not self._consumer.assignment() and time.monotonic() < deadline:
            self.poll_once(timeout_ms=200)

    def close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close(autocommit=False)
            except Exception:
                logger.debug("outbox[%s]: consumer close raised", self.service, exc_info=True)
            self._consumer = None
