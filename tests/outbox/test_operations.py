"""Commands, beat tasks, admin and metrics: what operators touch."""

import io
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from outbox import tasks
from outbox.metrics import collector
from outbox.models import InboxRecord, OutboxEvent
from outbox.services import backoff_seconds, enqueue, lock_acquire, lock_release

pytestmark = pytest.mark.postgres
Status = OutboxEvent.Status


def emit(key, **fields):
    event = enqueue(biz_type="test.effect", topic="smartmate.test.ops", message_key=f"ops:{key}", data={"key": key})
    if fields:
        OutboxEvent.objects.filter(id=event.id).update(**fields)
    return event


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.parametrize(("retry", "base"), [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 32), (7, 32), (20, 32)])
def test_backoff_doubles_from_one_second_caps_at_32_and_adds_up_to_20_percent_jitter(retry, base):
    samples = [backoff_seconds(retry) for _ in range(200)]
    assert min(samples) >= base and max(samples) <= base * 1.2


def test_outbox_relay_once_applies_due_events_on_the_local_transport(effect_table, settings):
    settings.OUTBOX_TRANSPORT = "local"
    events = [emit(f"cmd-{i}") for i in range(3)]
    assert "published=3" in run("outbox_relay", "--once")
    assert set(OutboxEvent.objects.filter(id__in=[e.id for e in events]).values_list("status", flat=True)) == {
        Status.CONSUMED
    }


def test_outbox_stats_counts_by_status_and_topic_and_reports_the_oldest_pending_age(db):
    emit("a", created_at=timezone.now() - timedelta(minutes=5))
    emit("b", status=Status.DEAD)
    out = run("outbox_stats")
    assert "pending    1" in out and "dead       1" in out
    assert "smartmate.test.ops" in out
    age = float(out.rsplit("oldest pending age:", 1)[1].split()[0])
    assert 299 <= age <= 330


def test_outbox_requeue_dead_and_by_id(db):
    dead = [emit(f"d{i}", status=Status.DEAD, retry_count=20) for i in range(3)]
    consumed = emit("c", status=Status.CONSUMED)
    assert "requeued 1 of 1" in run("outbox_requeue", "--id", str(dead[0].id))
    assert "requeued 2" in run("outbox_requeue", "--dead")
    rows = OutboxEvent.objects.filter(id__in=[e.id for e in dead])
    assert {(r.status, r.retry_count) for r in rows} == {(Status.PENDING, 0)}
    assert OutboxEvent.objects.get(id=consumed.id).status == Status.CONSUMED
    with pytest.raises(Exception, match="--dead or --id"):
        run("outbox_requeue")


def test_outbox_purge_deletes_only_consumed_rows_older_than_the_cutoff(db):
    old = timezone.now() - timedelta(days=8)
    gone = [emit(f"old{i}", status=Status.CONSUMED, consumed_at=old) for i in range(5)]
    recent = emit("recent", status=Status.CONSUMED, consumed_at=timezone.now())
    old_dead = emit("old-dead", status=Status.DEAD, created_at=old)
    old_pending = emit("old-pending", created_at=old)
    InboxRecord.objects.create(service_name="s", event_id=uuid.uuid4(), processed_at=old)
    assert "purged 5" in run("outbox_purge", "--older-than", "7d", "--batch-size", "2")
    assert not OutboxEvent.objects.filter(id__in=[e.id for e in gone]).exists()
    assert OutboxEvent.objects.filter(id__in=[recent.id, old_dead.id, old_pending.id]).count() == 3
    assert not InboxRecord.objects.exists()
    with pytest.raises(Exception, match="number and a unit"):
        run("outbox_purge", "--older-than", "7 days")


def test_outbox_recover_leases_clears_expired_leases_and_resends_stale_published_rows(db, settings):
    now = timezone.now()
    leased = emit("leased", locked_until=now - timedelta(seconds=1), lease_id=uuid.uuid4())
    live = emit("live", locked_until=now + timedelta(seconds=30), lease_id=uuid.uuid4())
    stale = emit("stale", status=Status.PUBLISHED, published_at=now - timedelta(minutes=6), next_retry_at=None)
    fresh = emit("fresh", status=Status.PUBLISHED, published_at=now - timedelta(minutes=1), next_retry_at=None)
    assert run("outbox_recover_leases").split() == ["expired_leases=1", "redelivered=1"]
    assert OutboxEvent.objects.get(id=leased.id).locked_until is None
    assert OutboxEvent.objects.get(id=live.id).locked_until is not None
    row = OutboxEvent.objects.get(id=stale.id)
    assert row.status == Status.PENDING and row.retry_count == 0 and "redelivered" in row.last_error
    assert OutboxEvent.objects.get(id=fresh.id).status == Status.PUBLISHED


def test_relay_task_is_single_flight(effect_table, settings):
    settings.OUTBOX_TRANSPORT = "local"
    emit("task")
    assert lock_acquire(tasks.RELAY_LOCK, holder="another-worker", seconds=60)
    assert tasks.relay() == {"skipped": "another relay run holds the lock"}
    assert OutboxEvent.objects.get().status == Status.PENDING
    lock_release(tasks.RELAY_LOCK, holder="another-worker")
    assert tasks.relay()["published"] == 1
    assert OutboxEvent.objects.get().status == Status.CONSUMED
    assert lock_acquire(tasks.RELAY_LOCK, holder="next", seconds=1)  # released after the run


def test_an_expired_lock_can_be_taken_over(db):
    assert lock_acquire("x", holder="dead-worker", seconds=-1)
    assert lock_acquire("x", holder="me", seconds=60)
    assert not lock_acquire("x", holder="dead-worker", seconds=60)


def test_beat_schedules_the_relay_every_second_with_a_one_second_expiry(settings):
    relay = settings.CELERY_BEAT_SCHEDULE["outbox-relay"]
    assert relay["schedule"] == 1.0 and relay["options"]["expires"] == 1
    assert settings.CELERY_BEAT_SCHEDULE["outbox-recover-leases"]["schedule"] == 30.0
    assert "outbox-purge" in settings.CELERY_BEAT_SCHEDULE


def test_scrape_gauges_report_rows_by_status_and_oldest_pending_age(db):
    emit("p1", created_at=timezone.now() - timedelta(seconds=90))
    emit("p2")
    emit("d", status=Status.DEAD)
    families = {f.name: f for f in collector.collect()}
    rows = {s.labels["status"]: s.value for s in families["smartmate_outbox_rows"].samples}
    assert rows == {"pending": 2, "published": 0, "dead": 1}
    (age,) = families["smartmate_outbox_oldest_pending_age_seconds"].samples
    assert 89 <= age.value <= 120


def test_metrics_endpoint_exposes_the_outbox_gauges(db, client):
    emit("m")
    body = client.get("/metrics").content.decode()
    assert 'smartmate_outbox_rows{status="pending"} 1.0' in body
    assert "smartmate_outbox_relay_batch_seconds" in body


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser(username="root", password="pw-Long-enough-1")
    client.force_login(admin)
    return client


def test_admin_lists_filters_and_shows_the_payload_without_counting_the_table(staff_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    event = emit("admin")
    url = reverse("admin:outbox_outboxevent_changelist")
    for params in ({}, {"status__exact": "pending", "q": "ops:admin"}):
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get(url, params)
        assert response.status_code == 200 and str(event.id) in response.content.decode()
        counts = [q["sql"] for q in queries if "COUNT(" in q["sql"] and "outbox_outboxevent" in q["sql"]]
        assert all("LIMIT" in sql for sql in counts), counts  # never an unbounded COUNT(*)
    detail = staff_client.get(reverse("admin:outbox_outboxevent_change", args=[event.id]))
    assert detail.status_code == 200 and "&quot;key&quot;: &quot;admin&quot;" in detail.content.decode()


def test_admin_actions_mark_dead_and_requeue(staff_client):
    event = emit("act")
    url = reverse("admin:outbox_outboxevent_changelist")
    staff_client.post(url, {"action": "mark_rows_dead", "_selected_action": [str(event.id)]})
    row = OutboxEvent.objects.get(id=event.id)
    assert row.status == Status.DEAD and "marked dead by staff root" in row.last_error
    staff_client.post(url, {"action": "requeue_rows", "_selected_action": [str(event.id)]})
    assert OutboxEvent.objects.get(id=event.id).status == Status.PENDING


def test_idle_relay_ticks_log_at_debug_and_a_run_that_relayed_something_at_info(caplog):
    from celery.app import trace
    from celery.worker import strategy

    def succeeded(returned, name="outbox.tasks.relay"):
        trace.info(trace.LOG_SUCCESS, {"name": name, "id": "t1", "runtime": 0.01, "return_value": returned})

    with caplog.at_level("INFO"):
        context = {"name": "outbox.tasks.relay", "id": "t1"}
        strategy.logger.info(trace.LOG_RECEIVED, context, extra={"data": context})  # as the worker logs it
        succeeded("{'claimed': 0, 'published': 0, 'dead': 0}")
        succeeded("{'skipped': 'another relay run holds the lock'}")
        assert caplog.records == []
        succeeded("{'claimed': 3, 'published': 3, 'dead': 0}")
        succeeded("{'claimed': 0}", name="notifications.deliver")  # other tasks are left alone
    assert [(r.levelname, r.getMessage().split(": ", 1)[1]) for r in caplog.records] == [
        ("INFO", "{'claimed': 3, 'published': 3, 'dead': 0}"),
        ("INFO", "{'claimed': 0}"),
    ]
    caplog.clear()
    with caplog.at_level("DEBUG"):
        succeeded("{'claimed': 0, 'published': 0, 'dead': 0}")
    assert [r.levelname for r in caplog.records] == ["DEBUG"]
