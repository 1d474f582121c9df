"""Behaviour of the outbox end to end, on each transport (local in-process, Kafka on Tansu)."""

import time
import uuid
from datetime import datetime

import pytest
from django.db import connection, transaction
from django.utils import timezone

from outbox.consumer import Outcome
from outbox.models import InboxRecord, OutboxEvent
from outbox.relay import claim_batch
from outbox.services import OutboxPayloadError, enqueue, requeue
from tests.outbox.conftest import effects
from tests.outbox.handlers_for_tests import ALWAYS_FAIL, FLAKY, SERVICE

pytestmark = pytest.mark.postgres
Status = OutboxEvent.Status


def emit(pipeline, key, *, biz_type="test.effect", message_key=None, **extra):
    return enqueue(
        biz_type=biz_type,
        topic=pipeline.topic,
        message_key=message_key or f"effect:{key}",
        data={"key": key, **extra},
        **({"service_name": SERVICE} if biz_type != "test.effect" else {}),
    )


def status_of(event):
    return OutboxEvent.objects.get(id=event.id).status


def test_event_is_applied_once_and_its_row_consumed(pipeline):
    event = emit(pipeline, "a")
    assert pipeline.relay().published == 1
    pipeline.consume()
    row = OutboxEvent.objects.get(id=event.id)
    assert row.status == Status.CONSUMED
    assert row.consumed_at and row.published_at and row.retry_count == 0
    assert effects() == [("a", str(event.id))]
    assert InboxRecord.objects.filter(service_name=SERVICE, event_id=event.id).count() == 1


def test_enqueue_in_a_rolled_back_transaction_sends_nothing(pipeline):
    with pytest.raises(RuntimeError), transaction.atomic():
        emit(pipeline, "never")
        raise RuntimeError("business write failed")
    assert not OutboxEvent.objects.exists()
    assert pipeline.relay().claimed == 0
    emit(pipeline, "after")  # a marker: the consumer reads the topic up to it
    pipeline.relay()
    counts = pipeline.consume()
    assert [key for key, _ in effects()] == ["after"]
    if pipeline.name == "kafka":
        assert counts["applied"] == 1 and sum(counts.values()) == 1


def test_non_json_payload_is_refused_and_the_callers_transaction_rolls_back(pipeline):
    with pytest.raises(OutboxPayloadError, match=r"data\.when is a datetime"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO outbox_test_effect (key, event_id) VALUES ('business', 'x')")
        emit(pipeline, "bad", when=datetime(2026, 1, 1))
    assert effects() == []
    assert not OutboxEvent.objects.exists()
    with pytest.raises(OutboxPayloadError):
        emit(pipeline, "bad", amount=float("nan"))


def test_relay_killed_between_send_and_settle_redelivers_and_the_effect_applies_once(pipeline):
    event = emit(pipeline, "once")
    # A relay claims and sends, then dies before settling: its lease (0 s here) runs out.
    rows = claim_batch(lease_seconds=0)
    assert [r.id for r in rows] == [event.id]
    assert pipeline.transport.send(rows) == {}
    assert status_of(event) == Status.PENDING

    assert pipeline.relay().published == 1  # another relay claims it again and sends it again
    counts = pipeline.consume()
    if pipeline.name == "kafka":
        assert counts["applied"] == 1 and counts["duplicate"] == 1  # two copies on the topic
    assert effects() == [("once", str(event.id))]
    assert status_of(event) == Status.CONSUMED


def test_a_handler_error_retries_with_backoff_then_applies(pipeline):
    FLAKY["flaky"] = 1
    event = emit(pipeline, "flaky")
    pipeline.relay()
    pipeline.consume()
    row = OutboxEvent.objects.get(id=event.id)
    assert row.status == Status.PENDING and row.retry_count == 1
    assert "flaky handler" in row.last_error
    assert 0.9 <= (row.next_retry_at - row.updated_at).total_seconds() <= 1.3
    assert pipeline.relay().claimed == 0  # not due yet
    time.sleep(1.3)
    assert pipeline.relay().published == 1
    pipeline.consume()
    assert status_of(event) == Status.CONSUMED
    assert [key for key, _ in effects()] == ["flaky"]


def test_handler_failing_max_retry_times_goes_dead_and_requeue_revives_it(pipeline, settings):
    settings.OUTBOX_MAX_RETRY = 2
    settings.OUTBOX_BACKOFF_CAP_SECONDS = 0  # no waiting between attempts in this test
    event = emit(pipeline, ALWAYS_FAIL)
    for _ in range(2):
        pipeline.relay()
        pipeline.consume()
    row = OutboxEvent.objects.get(id=event.id)
    assert row.status == Status.DEAD and row.retry_count == 2
    assert "always fails" in row.last_error
    assert pipeline.relay().claimed == 0  # dead rows are never sent again

    assert requeue([event.id]) == 1
    row.refresh_from_db()
    assert (row.status, row.retry_count) == (Status.PENDING, 0)
    assert pipeline.relay().published >= 1  # sent again with a fresh retry budget


def test_per_key_order_holds_under_retries(pipeline):
    FLAKY["k-1"] = 1  # the first event of the key fails once
    first, second, third = (emit(pipeline, f"k-{i}", message_key="order:k") for i in (1, 2, 3))
    other = emit(pipeline, "other", message_key="order:other")
    pipeline.relay()
    pipeline.consume()
    # The failed event holds its key back; another key is not held up.
    assert status_of(first) == Status.PENDING
    assert status_of(second) != Status.CONSUMED and status_of(third) != Status.CONSUMED
    assert status_of(other) == Status.CONSUMED
    time.sleep(1.3)
    for _ in range(6):
        pipeline.relay()
        pipeline.consume()
        if all(status_of(e) == Status.CONSUMED for e in (first, second, third)):
            break
        time.sleep(1.1)  # a deferred event waits a second before it is sent again
    assert [key for key, _ in effects()] == ["other", "k-1", "k-2", "k-3"]


def test_publish_only_event_is_consumed_when_published(pipeline):
    event = emit(pipeline, "broadcast", biz_type="test.broadcast")
    assert pipeline.relay().published == 1
    row = OutboxEvent.objects.get(id=event.id)
    assert row.status == Status.CONSUMED and row.published_at and row.consumed_at
    pipeline.consume()
    assert effects() == []


def test_event_type_without_handler_in_its_service_goes_dead_with_the_reason(pipeline):
    event = emit(pipeline, "nobody", biz_type="test.unhandled")
    after = emit(pipeline, "after-unhandled")
    pipeline.relay()
    pipeline.consume()
    row = OutboxEvent.objects.get(id=event.id)
    assert row.status == Status.DEAD
    assert "no handler for 'test.unhandled'" in row.last_error
    assert status_of(after) == Status.CONSUMED


def test_published_rows_never_consumed_are_sent_again(pipeline, settings):
    from outbox.services import recover_leases

    event = emit(pipeline, "slow")
    if pipeline.name == "local":
        # The local transport applies in-process; simulate a row stuck in published.
        OutboxEvent.objects.filter(id=event.id).update(status=Status.PUBLISHED, published_at=timezone.now())
    else:
        pipeline.relay()  # published, but no consumer runs
        assert status_of(event) == Status.PUBLISHED
    settings.OUTBOX_REDELIVER_AFTER_SECONDS = 0
    assert recover_leases()["redelivered"] == 1
    assert status_of(event) == Status.PENDING
    pipeline.relay()
    pipeline.consume()
    assert status_of(event) == Status.CONSUMED
    assert [key for key, _ in effects()] == ["slow"]


def test_enqueue_needs_a_service_for_types_nobody_declared():
    with pytest.raises(ValueError, match="pass service_name"):
        enqueue(biz_type="test.undeclared", topic="t", message_key="k", data={})


def test_publish_only_types_default_to_the_app_that_declared_them(db):
    event = enqueue(biz_type="test.broadcast", topic="t", message_key="k", data={})
    assert event.service_name == "tests"  # tests/outbox/handlers_for_tests.py declared it


def test_enqueue_works_in_autocommit_and_fills_the_envelope(db):
    event = enqueue(biz_type="test.effect", topic="smartmate.test.x", message_key="k", data={"key": "v"})
    row = OutboxEvent.objects.get(id=event.id)
    assert row.service_name == SERVICE and row.status == Status.PENDING and row.max_retry == 20
    assert row.payload["event_id"] == str(row.id) and row.payload["biz_type"] == "test.effect"
    assert row.payload["data"] == {"key": "v"}
    assert datetime.fromisoformat(row.payload["occurred_at"])
    assert uuid.UUID(row.payload["event_id"])
    assert Outcome.APPLIED == "applied"


def _published(key, *, service=SERVICE, message_key="order:shared"):
    event = enqueue(
        biz_type="test.effect",
        topic="smartmate.test.order",
        message_key=message_key,
        data={"key": key},
        service_name=service,
    )
    OutboxEvent.objects.filter(id=event.id).update(status=Status.PUBLISHED, published_at=timezone.now())
    return OutboxEvent.objects.get(id=event.id)


def test_consumer_defers_an_event_whose_older_same_key_event_is_not_consumed(effect_table):
    from outbox.consumer import apply_envelope

    older, newer = _published("older"), _published("newer")
    assert apply_envelope(service=SERVICE, payload=newer.payload) == Outcome.DEFERRED
    row = OutboxEvent.objects.get(id=newer.id)
    assert row.status == Status.PENDING and row.retry_count == 0 and str(older.id) in row.last_error
    assert apply_envelope(service=SERVICE, payload=older.payload) == Outcome.APPLIED
    assert apply_envelope(service=SERVICE, payload=newer.payload) == Outcome.APPLIED
    assert [key for key, _ in effects()] == ["older", "newer"]


def test_another_services_unconsumed_event_does_not_hold_up_the_key(effect_table):
    from outbox.consumer import apply_envelope

    _published("theirs", service="someone_else")
    mine = _published("mine")
    assert apply_envelope(service=SERVICE, payload=mine.payload) == Outcome.APPLIED
    assert apply_envelope(service=SERVICE, payload=mine.payload) == Outcome.DUPLICATE


def test_enqueue_refuses_keys_longer_than_the_column(db):
    with pytest.raises(ValueError, match="message_key is required and at most 128"):
        enqueue(biz_type="test.effect", topic="t", message_key="k" * 129, data={})
