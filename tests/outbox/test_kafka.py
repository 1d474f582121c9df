"""Kafka-only behaviour: broker outages, poison messages, consumer groups, concurrent relays."""

import json
import uuid
from datetime import timedelta

import pytest
from kafka import KafkaProducer

from outbox.consumer import ConsumerLoop
from outbox.models import OutboxEvent
from outbox.relay import StopFlag, claim_batch, relay_once, relay_until_idle, send_and_settle
from outbox.services import enqueue, requeue
from outbox.transports import close_transports, get_transport
from tests.concurrency import errors_of, run_concurrently
from tests.conftest import TansuBroker
from tests.outbox.conftest import effects
from tests.outbox.handlers_for_tests import SERVICE

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]
Status = OutboxEvent.Status


def emit(topic, key, **kwargs):
    return enqueue(biz_type="test.effect", topic=topic, message_key=f"effect:{key}", data={"key": key}, **kwargs)


def make_due():
    """Stand-in for waiting out the backoff: the rows' retry time moves to now."""
    from django.utils import timezone

    OutboxEvent.objects.filter(status=Status.PENDING).update(next_retry_at=timezone.now())


@pytest.fixture
def own_broker(settings, effect_table):
    broker = TansuBroker()
    settings.OUTBOX_TRANSPORT = "kafka"
    settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap
    settings.OUTBOX_KAFKA_SEND_TIMEOUT_MS = 2000
    yield broker
    close_transports()
    broker.stop()


def test_idempotent_producer_is_granted_by_the_broker(kafka_settings):
    transport = get_transport()
    producer = transport.producer()
    assert producer.config["enable_idempotence"] is True
    assert producer.config["acks"] == -1


def test_broker_down_rows_retry_with_growing_backoff_and_publish_when_it_returns(own_broker, settings):
    topic = f"smartmate.test.{uuid.uuid4().hex[:10]}"
    settings.OUTBOX_CONSUMER_GROUP_PREFIX = f"smartmate.t{uuid.uuid4().hex[:8]}."
    events = [emit(topic, f"down-{i}") for i in range(3)]  # the broker has not started yet
    gaps = []
    for attempt in (1, 2, 3):
        result = relay_once()
        assert (result.claimed, result.published, result.retrying) == (3, 0, 3)
        rows = list(OutboxEvent.objects.filter(id__in=[e.id for e in events]))
        assert {r.retry_count for r in rows} == {attempt}
        assert all("kafka" in r.last_error for r in rows)
        gaps.append(min((r.next_retry_at - r.updated_at).total_seconds() for r in rows))
        assert relay_once().claimed == 0  # not due before the backoff ends
        make_due()
    assert 0.95 <= gaps[0] <= 1.25 and 1.95 <= gaps[1] <= 2.45 and 3.95 <= gaps[2] <= 4.85, gaps

    own_broker.start()
    assert relay_until_idle().published == 3
    loop = ConsumerLoop(service=SERVICE, topics=[topic], bootstrap_servers=own_broker.bootstrap)
    assert loop.run(stop=StopFlag(), once=True)["applied"] == 3
    assert sorted(k for k, _ in effects()) == ["down-0", "down-1", "down-2"]


def test_rows_go_dead_at_max_retry_while_the_broker_is_down_and_requeue_sends_them(own_broker, settings):
    settings.OUTBOX_MAX_RETRY = 3
    event = emit("smartmate.test.dead", "dead")
    for _ in range(3):
        relay_once()
        make_due()
    row = OutboxEvent.objects.get(id=event.id)
    assert (row.status, row.retry_count, row.next_retry_at) == (Status.DEAD, 3, None)
    assert relay_once().claimed == 0

    own_broker.start()
    assert requeue([event.id]) == 1
    assert relay_once().published == 1
    assert OutboxEvent.objects.get(id=event.id).status == Status.PUBLISHED


def test_poison_messages_go_dead_or_are_skipped_without_blocking_later_messages(kafka_settings):
    topic = kafka_settings.topic
    victim = emit(topic, "victim")  # its message will be replaced by garbage
    producer = KafkaProducer(bootstrap_servers=kafka_settings.bootstrap)
    headers = [("event_id", str(victim.id).encode()), ("service", SERVICE.encode())]
    producer.send(topic, key=b"effect:victim", value=b"\x00\xffnot json", headers=headers)
    producer.send(topic, key=b"x", value=b'{"no": "envelope"}')  # no headers: no row to settle
    producer.send(topic, key=b"x", value=json.dumps({"event_id": str(uuid.uuid4()), "biz_type": 1}).encode())
    producer.flush()
    producer.close()
    OutboxEvent.objects.filter(id=victim.id).update(status=Status.PUBLISHED)
    later = emit(topic, "later")
    relay_until_idle()

    counts = kafka_settings.consume()
    row = OutboxEvent.objects.get(id=victim.id)
    assert row.status == Status.DEAD and "unparsable message" in row.last_error
    assert OutboxEvent.objects.get(id=later.id).status == Status.CONSUMED
    assert counts["dead"] == 1 and counts["skipped"] == 2 and counts["applied"] == 1
    # The offsets were committed past the poison: a new member of the group reads nothing more.
    assert kafka_settings.consume()["applied"] == 0


def test_only_the_owning_services_group_settles_a_row(kafka_settings):
    event = emit(kafka_settings.topic, "owned")
    relay_until_idle()
    other = kafka_settings.consume(service="someone_else")
    assert other["skipped"] == 1 and other["applied"] == 0
    assert OutboxEvent.objects.get(id=event.id).status == Status.PUBLISHED
    assert kafka_settings.consume()["applied"] == 1
    assert OutboxEvent.objects.get(id=event.id).status == Status.CONSUMED


@pytest.mark.django_db(transaction=True)
def test_two_relays_at_once_never_publish_a_row_twice(settings, kafka_bootstrap):
    settings.OUTBOX_TRANSPORT = "kafka"
    settings.KAFKA_BOOTSTRAP_SERVERS = kafka_bootstrap
    settings.OUTBOX_CONSUMER_GROUP_PREFIX = f"smartmate.t{uuid.uuid4().hex[:8]}."
    topic = f"smartmate.test.{uuid.uuid4().hex[:10]}"
    ids = {emit(topic, f"race-{i}").id for i in range(600)}
    settings.OUTBOX_BATCH_SIZE = 50
    sent: dict[int, list] = {0: [], 1: []}

    def relay(name):
        transport = get_transport()
        while rows := claim_batch():
            sent[name].extend(r.id for r in rows)
            send_and_settle(rows, transport)

    outcomes = run_concurrently(2, relay, timeout=120)
    close_transports()
    assert not errors_of(outcomes), errors_of(outcomes)
    assert sent[0] and sent[1], "both relays took part"
    assert not set(sent[0]) & set(sent[1])
    assert len(sent[0]) + len(sent[1]) == len(ids) and set(sent[0]) | set(sent[1]) == ids
    assert OutboxEvent.objects.filter(status=Status.PUBLISHED).count() == len(ids)

    # The topic holds each event exactly once.
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=3000, group_id=None
    )
    seen = [dict(m.headers)["event_id"].decode() for m in consumer]
    consumer.close()
    assert len(seen) == len(ids) and {uuid.UUID(s) for s in seen} == ids
    OutboxEvent.objects.all().delete()


def test_a_lease_keeps_other_relays_off_until_it_expires(kafka_settings):
    from django.utils import timezone

    emit(kafka_settings.topic, "leased")
    first = claim_batch(lease_seconds=30)
    assert len(first) == 1 and claim_batch() == []
    OutboxEvent.objects.filter(id=first[0].id).update(locked_until=timezone.now() - timedelta(seconds=1))
    second = claim_batch()
    assert [r.id for r in second] == [first[0].id] and second[0].lease_id != first[0].lease_id
    # The first relay's late settle loses: the row belongs to the second claim now.
    send_and_settle(first, get_transport())
    assert OutboxEvent.objects.get(id=first[0].id).status == Status.PENDING
    assert send_and_settle(second, get_transport()).published == 1
    assert OutboxEvent.objects.get(id=first[0].id).status == Status.PUBLISHED


def test_a_member_stopped_during_its_join_does_not_stall_its_group(kafka_settings):
    stopped = StopFlag()
    stopped.event.set()
    early = ConsumerLoop(service=SERVICE, topics=[kafka_settings.topic], bootstrap_servers=kafka_settings.bootstrap)
    early.consumer.poll(timeout_ms=100)  # the join has begun
    early.run(stop=stopped)  # SIGTERM now: it finishes joining, then leaves
    event = emit(kafka_settings.topic, "after-early-stop")
    relay_until_idle()
    assert kafka_settings.consume(max_seconds=30)["applied"] == 1
    assert OutboxEvent.objects.get(id=event.id).status == Status.CONSUMED
