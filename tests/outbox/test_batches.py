"""Batches on PostgreSQL and the Tansu broker: a poll applied as one transaction, a failing
event undone alone, a consumer killed between its commit and its offset commit, relays
woken on commit, and the statements a batch costs."""

import io
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from outbox.consumer import Incoming, Outcome, apply_batch
from outbox.models import PENDING_CHANNEL, OutboxEvent
from outbox.relay import StopFlag, drain, relay_loop, relay_once
from outbox.services import enqueue, purge
from outbox.transports import close_transports, get_transport
from outbox.wakeup import PendingListener
from tests.concurrency import errors_of, run_concurrently
from tests.outbox.conftest import effects
from tests.outbox.handlers_for_tests import (
    ALWAYS_FAIL,
    BATCH_CALLS,
    KILL_AFTER_COMMIT,
    SERVICE,
    WRITE_THEN_FAIL,
)

pytestmark = pytest.mark.postgres
Status = OutboxEvent.Status
ROOT = Path(__file__).resolve().parents[2]


def emit(topic, key, *, biz_type="test.effect", message_key=None):
    return enqueue(biz_type=biz_type, topic=topic, message_key=message_key or f"effect:{key}", data={"key": key})


def status_of(event):
    return OutboxEvent.objects.get(id=event.id).status


def make_due():
    OutboxEvent.objects.filter(status=Status.PENDING).update(next_retry_at=timezone.now())


def test_a_failing_event_in_the_middle_of_a_batch_is_undone_alone_and_goes_dead_without_holding_its_key(
    pipeline, settings
):
    settings.OUTBOX_MAX_RETRY = 2
    first = emit(pipeline.topic, "first")
    failing = emit(pipeline.topic, WRITE_THEN_FAIL, message_key="shared")
    behind = emit(pipeline.topic, "behind", message_key="shared")  # same key, after the failing one
    last = emit(pipeline.topic, "last")
    for _ in range(3):
        pipeline.relay()
    pipeline.consume()

    # The failing handler's own write is rolled back; its neighbours' effects are kept.
    assert sorted(key for key, _ in effects()) == ["first", "last"]
    row = OutboxEvent.objects.get(id=failing.id)
    assert (row.status, row.retry_count) == (Status.PENDING, 1) and "failed after writing" in row.last_error
    assert {status_of(first), status_of(last)} == {Status.CONSUMED}
    assert status_of(behind) != Status.CONSUMED  # held back behind the failing event of its key

    for _ in range(6):  # the second attempt fails too: dead at max_retry, and the key moves on
        make_due()
        pipeline.relay()
        pipeline.consume()
        if status_of(behind) == Status.CONSUMED:
            break
    assert OutboxEvent.objects.get(id=failing.id).status == Status.DEAD
    assert status_of(behind) == Status.CONSUMED
    assert [key for key, _ in effects()][-1] == "behind"


def test_a_batch_form_handler_gets_the_events_together_and_a_failure_is_retried_event_by_event(effect_table, settings):
    settings.OUTBOX_TRANSPORT = "local"  # the relay applies its whole batch in-process: one call
    a, bad, c = (emit("t", key, biz_type="test.effects") for key in ("a", ALWAYS_FAIL, "c"))
    relay_once()
    assert BATCH_CALLS == [3, 1, 1, 1]  # together; then, since that raised, one by one
    assert sorted(key for key, _ in effects()) == ["a", "c"]
    assert (status_of(a), status_of(c)) == (Status.CONSUMED, Status.CONSUMED)
    row = OutboxEvent.objects.get(id=bad.id)
    assert (row.status, row.retry_count) == (Status.PENDING, 1)


@pytest.mark.kafka
@pytest.mark.django_db(transaction=True)  # the child process must see the rows
def test_a_consumer_killed_between_its_commit_and_its_offset_commit_applies_nothing_twice(kafka_settings):
    events = [emit(kafka_settings.topic, key) for key in ("before", KILL_AFTER_COMMIT, "after")]
    call_command("outbox_relay", "--once", stdout=io.StringIO())
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap,
        "OUTBOX_TRANSPORT": "kafka",
        "OUTBOX_CONSUMER_GROUP_PREFIX": kafka_settings.group_prefix,
        "OUTBOX_TEST_KILL_AFTER_COMMIT": "1",
    }
    command = ["tests/outbox/consume_child.py", "--once", "--service", SERVICE, "--topic", kafka_settings.topic]
    child = subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    try:
        assert child.returncode == -9, child.stderr.decode()[-2000:]  # killed itself right after the commit
        # The batch's effects and settlements were committed: nothing is lost.
        assert {status_of(e) for e in events} == {Status.CONSUMED}
        assert sorted(key for key, _ in effects()) == sorted(["before", KILL_AFTER_COMMIT, "after"])

        # Its offsets were not: the group's next member reads the batch again and applies nothing twice.
        counts = kafka_settings.consume()
        assert counts["applied"] == 0 and counts["duplicate"] >= 1
        assert sorted(key for key, _ in effects()) == sorted(["before", KILL_AFTER_COMMIT, "after"])
    finally:
        OutboxEvent.objects.all().delete()


def _listening_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE query = %s", [f"LISTEN {PENDING_CHANNEL}"])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)  # the relay thread must see the commits
def test_a_notify_that_arrives_before_its_row_is_visible_costs_one_empty_claim_and_the_commit_wakes_the_relay(
    effect_table, settings
):
    settings.OUTBOX_TRANSPORT = "local"
    settings.OUTBOX_RELAY_FALLBACK_SECONDS = 60  # anything relayed sooner was woken by a notification
    settings.OUTBOX_RELAY_IDLE_SECONDS = 60
    listener = PendingListener.for_default_database()
    stop = StopFlag()
    relay = threading.Thread(target=lambda: (relay_loop(stop=stop, listener=listener), connection.close()))
    relay.start()
    try:
        deadline = time.monotonic() + 10
        while listener.wakeups == 0 and time.monotonic() < deadline:  # the fresh LISTEN counts as one
            time.sleep(0.05)
        woken = listener.wakeups
        with transaction.atomic():
            event = emit("t", "notified-early")
            # Another session notifies before this transaction commits: the relay wakes, claims,
            # finds nothing it can see, and waits again.
            with psycopg.connect(**listener._conninfo, autocommit=True) as other:
                other.execute(f"NOTIFY {PENDING_CHANNEL}")
            deadline = time.monotonic() + 10
            while listener.wakeups == woken and time.monotonic() < deadline:
                time.sleep(0.05)
            assert listener.wakeups == woken + 1
            time.sleep(0.3)
            assert status_of(event) == Status.PENDING
        # The commit notifies in its turn (the table's trigger): relayed well before the fallback poll.
        deadline = time.monotonic() + 10
        while status_of(event) != Status.CONSUMED and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status_of(event) == Status.CONSUMED
        assert listener.wakeups == woken + 2
        assert effects()[0][0] == "notified-early"
    finally:
        stop.event.set()
        relay.join(10)
        OutboxEvent.objects.all().delete()
    assert not relay.is_alive()


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_enqueue_wakes_no_relay(db):
    listener = PendingListener.for_default_database()
    try:
        assert listener.wait(timeout=0)  # a fresh LISTEN returns at once: commits before it were not heard
        with pytest.raises(RuntimeError), transaction.atomic():
            emit("t", "rolled-back")
            raise RuntimeError("business write failed")
        assert not listener.wait(timeout=0.5)
        emit("t", "committed")
        assert listener.wait(timeout=5)
    finally:
        listener.close()
        OutboxEvent.objects.all().delete()


@pytest.mark.kafka
def test_the_relay_claims_and_settles_a_batch_with_one_statement_each(kafka_settings):
    for i in range(20):
        emit(kafka_settings.topic, f"s{i}")
    with CaptureQueriesContext(connection) as queries:
        result = relay_once()
    assert result.published == 20
    statements = [q["sql"] for q in queries if "outbox_outboxevent" in q["sql"]]
    assert len(statements) == 2, statements
    assert "FOR UPDATE SKIP LOCKED" in statements[0] and "unnest" in statements[1]


def test_a_batch_of_events_costs_the_consumer_the_same_statements_as_one(effect_table):
    def published(n):
        rows = [emit("t", f"n{i}", biz_type="test.noop") for i in range(n)]
        OutboxEvent.objects.filter(id__in=[r.id for r in rows]).update(status=Status.PUBLISHED)
        return [Incoming.from_payload(r.payload) for r in rows]

    counted = []
    for n in (1, 50):
        incoming = published(n)
        with CaptureQueriesContext(connection) as queries:
            outcomes = apply_batch(service=SERVICE, incoming=incoming)
        assert outcomes == [Outcome.APPLIED] * n
        counted.append(len(queries))
    # lock the rows, record the inbox, settle: no statement per event (and no savepoint for a
    # handler that never queries)
    assert counted[0] == counted[1] <= 5, counted
    assert OutboxEvent.objects.filter(status=Status.CONSUMED).count() == 51


@pytest.mark.kafka
@pytest.mark.django_db(transaction=True)
def test_two_draining_relays_send_each_row_once_and_keep_per_key_order(settings, kafka_bootstrap):
    from kafka import KafkaConsumer

    settings.OUTBOX_TRANSPORT = "kafka"
    settings.KAFKA_BOOTSTRAP_SERVERS = kafka_bootstrap
    settings.OUTBOX_BATCH_SIZE = 40
    topic = f"smartmate.test.{uuid.uuid4().hex[:10]}"
    events = [enqueue(biz_type="test.effect", topic=topic, message_key=f"k{i % 30}", data={"i": i}) for i in range(600)]

    def relay(i):
        while drain(transport=get_transport()).claimed:
            pass

    outcomes = run_concurrently(2, relay, timeout=120)
    close_transports()
    assert not errors_of(outcomes), errors_of(outcomes)
    assert OutboxEvent.objects.filter(status=Status.PUBLISHED).count() == len(events)
    consumer = KafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=3000, group_id=None
    )
    seen: dict[bytes, list[int]] = {}
    for message in consumer:
        seen.setdefault(message.key, []).append(json.loads(message.value)["data"]["i"])
    consumer.close()
    assert sum(len(v) for v in seen.values()) == len(events)  # each row once
    assert all(v == sorted(v) for v in seen.values())  # and each key's in enqueue order
    OutboxEvent.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_purge_skips_rows_another_transaction_holds_instead_of_waiting_for_them(db):
    old = timezone.now() - timedelta(days=8)
    rows = [emit("t", f"old{i}") for i in range(5)]
    OutboxEvent.objects.filter(id__in=[r.id for r in rows]).update(status=Status.CONSUMED, consumed_at=old)
    held = rows[0]
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                OutboxEvent.objects.select_for_update().get(id=held.id)
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        assert purge(older_than=timedelta(days=7), batch_size=2) == 4
        assert time.monotonic() - started < 5  # it did not wait on the held row
        assert list(OutboxEvent.objects.values_list("id", flat=True)) == [held.id]
    finally:
        release.set()
        holder.join(10)
    assert purge(older_than=timedelta(days=7)) == 1


def test_the_embedded_default_relays_and_consumes_on_sqlite_by_polling(tmp_path):
    from tests.conftest import production_env

    env = production_env(SQLITE_PATH=str(tmp_path / "embedded.sqlite3"), LOG_LEVEL="ERROR")
    script = (
        "from outbox.services import enqueue\n"
        "from outbox.relay import relay_until_idle\n"
        "from outbox.models import OutboxEvent\n"
        "sent = enqueue(biz_type='schedule.changed', topic='smartmate.scheduling', message_key='k', data={})\n"
        "bad = enqueue(biz_type='notification.requested', topic='smartmate.notifications', message_key='k2',"
        " data={'not': 'a notification'})\n"
        "result = relay_until_idle()\n"
        "rows = {r.id: r for r in OutboxEvent.objects.all()}\n"
        "print(result.published, rows[sent.id].status, rows[bad.id].status, rows[bad.id].retry_count)\n"
    )
    for args in (["migrate", "--noinput", "-v", "0"], ["shell", "-c", script]):
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, timeout=180, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
    # published both; the publish-only one is done, the malformed one is back in backoff
    assert done.stdout.splitlines()[-1].split() == ["2", "consumed", "pending", "1"]


@pytest.mark.django_db(transaction=True)
def test_a_relay_settling_a_batch_that_a_fast_consumer_is_applying_waits_instead_of_deadlocking(effect_table):
    from outbox.relay import _settle_sent, claim_batch

    size = 400
    try:
        for round_ in range(8):
            rows = [emit("t", f"r{round_}-{i}", biz_type="test.noop") for i in range(size)]
            # The relay's rows against the consumer's id order: the two meet in the middle.
            claimed = sorted(claim_batch(batch_size=size), key=lambda row: row.id, reverse=True)
            incoming = [Incoming.from_payload(r.payload) for r in rows]

            def work(i, claimed=claimed, incoming=incoming):
                if i == 0:  # the relay: the broker acknowledged, settle the batch
                    return _settle_sent(claimed, {}, get_transport()).published
                return apply_batch(service=SERVICE, incoming=incoming)  # the consumer got them first

            outcomes = run_concurrently(2, work)
            assert not errors_of(outcomes), errors_of(outcomes)
            assert OutboxEvent.objects.filter(status=Status.CONSUMED).count() == size * (round_ + 1)
    finally:
        OutboxEvent.objects.all().delete()
