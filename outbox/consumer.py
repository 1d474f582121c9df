"""The consumer side: apply one event in one transaction, and the Kafka group loop.

For each message (DOMAIN §1): in ONE transaction, skip if the service's inbox already
holds the event id, run the handler, record the id, mark the row consumed. The Kafka
offset is committed after that transaction. A handler error returns the row to pending
with backoff (the relay sends it again); a message that cannot be parsed, or whose type
the owning service has no handler for, is dead at once. Only the group of the row's
service settles it; other groups skip. Nothing here raises into the loop except a
database outage, after which the message is read again.
"""

import json
import logging
import time
import uuid
from datetime import datetime
from enum import StrEnum

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Q

from outbox import metrics
from outbox.models import OutboxEvent
from outbox.registry import Envelope, handler_for, topics_for
from outbox.services import LIVE, defer, inbox_record, mark_consumed, mark_dead, mark_failed

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # already consumed/dead, or already in the inbox
    SKIPPED = "skipped"  # another service's event, or no such row
    FAILED = "failed"  # handler raised: the row retries with backoff
    DEFERRED = "deferred"  # an older event of the same key is not consumed yet: sent again after it
    DEAD = "dead"  # poison message or no handler


class _HandlerError(Exception):
    def __init__(self, original: BaseException):
        super().__init__(str(original))
        self.original = original


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


def apply_envelope(*, service: str, payload) -> Outcome:
    """Apply one event for `service` (both transports end here)."""
    try:
        envelope = parse_envelope(payload)
    except PoisonMessage as exc:
        event_id = payload.get("event_id") if isinstance(payload, dict) else None
        return _poison(service=service, event_id=event_id, reason=f"unparsable event: {exc}")

    row = (
        OutboxEvent.objects.filter(id=envelope.event_id)
        .values("service_name", "status", "message_key", "created_at")
        .order_by()
        .first()
    )
    if row is None:
        logger.info("outbox[%s]: event %s has no outbox row (purged or foreign): skipped", service, envelope.event_id)
        return Outcome.SKIPPED
    owner, status = row["service_name"], row["status"]
    if owner != service:
        return Outcome.SKIPPED
    if status not in LIVE:
        return Outcome.DUPLICATE
    registered = handler_for(envelope.biz_type)
    if registered is None or registered[0] != service:
        reason = f"service {service!r} has no handler for {envelope.biz_type!r}"
        if mark_dead([envelope.event_id], reason=reason):
            metrics.DEAD.inc()
        logger.error("outbox[%s]: %s (event %s dead)", service, reason, envelope.event_id)
        return Outcome.DEAD
    handler = registered[1]
    if (older := _older_unconsumed(envelope.event_id, row)) is not None:
        # Per-key order end to end: the older event failed (back to pending) or travels on another
        # topic. Send this one again after it; a deferral does not spend the retry budget. While the
        # older row is pending the relay holds this one back anyway; while it is published (its
        # message still on the way) wait longer so the relay does not re-send this one every second.
        older_id, older_status = older
        defer(
            envelope.event_id,
            reason=f"deferred: older event {older_id} of the same key is {older_status}, not consumed yet",
            seconds=1.0 if older_status == OutboxEvent.Status.PENDING else 5.0,
        )
        return Outcome.DEFERRED

    try:
        with transaction.atomic():
            locked = (
                OutboxEvent.objects.select_for_update()
                .filter(id=envelope.event_id)
                .order_by()
                .values_list("status", flat=True)
                .first()
            )
            if locked not in LIVE:
                return Outcome.DUPLICATE
            if not inbox_record(service_name=service, event_id=envelope.event_id):
                mark_consumed(envelope.event_id)
                return Outcome.DUPLICATE
            try:
                handler(envelope)
            except Exception as exc:
                raise _HandlerError(exc)
            mark_consumed(envelope.event_id)
    except _HandlerError as failure:
        exc = failure.original
        new_status = mark_failed(envelope.event_id, error=f"handler {type(exc).__name__}: {exc}")
        logger.warning(
            "outbox[%s]: handler for %s failed on %s (now %s): %s",
            service,
            envelope.biz_type,
            envelope.event_id,
            new_status,
            exc,
            exc_info=exc,
        )
        (metrics.DEAD if new_status == OutboxEvent.Status.DEAD else metrics.FAILED).inc()
        return Outcome.DEAD if new_status == OutboxEvent.Status.DEAD else Outcome.FAILED
    metrics.CONSUMED.labels(service).inc()
    return Outcome.APPLIED


def _older_unconsumed(event_id, row):
    """(id, status) of an older live row of the same key and service, if any.

    Order is kept per service: another service's slow consumer must not hold this one up.
    """
    return (
        OutboxEvent.objects.filter(status__in=LIVE, message_key=row["message_key"], service_name=row["service_name"])
        .filter(Q(created_at__lt=row["created_at"]) | Q(created_at=row["created_at"], id__lt=event_id))
        .order_by("created_at")  # not .first(): ORDER BY id would walk the primary key
        .values_list("id", "status")[:1]
    ).first()


def _poison(*, service: str, event_id, reason: str) -> Outcome:
    try:
        event_id = str(uuid.UUID(str(event_id))) if event_id else None
    except ValueError:
        event_id = None
    if event_id and OutboxEvent.objects.filter(id=event_id, service_name=service).exists():
        if mark_dead([event_id], reason=reason):
            metrics.DEAD.inc()
        logger.error("outbox[%s]: %s (event %s dead)", service, reason, event_id)
        return Outcome.DEAD
    logger.error("outbox[%s]: %s (no row of this service to settle; skipped)", service, reason)
    return Outcome.SKIPPED


def handle_message(*, service: str, value: bytes | None, headers) -> Outcome:
    """A raw Kafka message: route by the service header, parse, apply."""
    header = {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v) for k, v in (headers or [])}
    if header.get("service") and header["service"] != service:
        return Outcome.SKIPPED
    try:
        payload = json.loads(value) if value is not None else None
    except (ValueError, UnicodeDecodeError) as exc:
        return _poison(service=service, event_id=header.get("event_id"), reason=f"unparsable message: {exc}")
    if isinstance(payload, dict) and header.get("event_id") and "event_id" not in payload:
        payload = {**payload, "event_id": header["event_id"]}
    return apply_envelope(service=service, payload=payload)


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
        """Poll, apply each message, commit offsets after the database work. Returns messages handled."""
        from kafka.structs import OffsetAndMetadata

        batches = self.consumer.poll(timeout_ms=timeout_ms)
        if batches and not connection.in_atomic_block:
            close_old_connections()  # a long-lived loop drops connections past CONN_MAX_AGE or broken
        handled = 0
        offsets = {}
        for tp, messages in batches.items():
            for message in messages:
                try:
                    outcome = handle_message(service=self.service, value=message.value, headers=message.headers)
                except Exception:
                    # The database is unreachable (handler errors never get here): read it again later.
                    logger.exception("outbox[%s]: cannot apply %s@%s; will retry", self.service, tp, message.offset)
                    self.consumer.seek(tp, message.offset)
                    time.sleep(1)
                    break
                self.counts[outcome.value] += 1
                offsets[tp] = OffsetAndMetadata(message.offset + 1, "", -1)
                handled += 1
        if offsets:
            try:
                self.consumer.commit(offsets)
            except Exception as exc:  # a rebalance: the next owner re-reads, the inbox dedupes
                logger.warning("outbox[%s]: offset commit failed: %s", self.service, exc)
        return handled

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
            while not stop:
                self.poll_once()
                if once and (self.caught_up() or time.monotonic() > deadline):
                    break
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
