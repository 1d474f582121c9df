"""Active scheduling end to end, with the worker code really running: the due-job scan
command, the outbox relay (local transport: the handlers run in-process) and the API."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from outbox.models import OutboxEvent
from scheduling.models import ScheduleEvent
from scheduling.models.active import (
    ActiveScheduleJob,
    ActiveSchedulePreview,
    ActiveScheduleTrigger,
    JobStatus,
    PreviewStatus,
    TriggerStatus,
)
from scheduling.selectors import clock_for
from scheduling.services import EventSpec, events_create, task_complete, task_create
from scheduling.services.active import previews_expire
from tests.concurrency import run_concurrently

PREVIEWS = "/api/v1/active-schedule/previews/"
TRIGGERS = "/api/v1/active-schedule/triggers/"
FEEDBACK = "/api/v1/active-schedule/feedback/"


def urgent_task(user, *, threshold_in=timedelta(minutes=-1), deadline_in=timedelta(days=3), **extra):
    now = timezone.now()
    fields = {"priority": 2, "estimated_sections": 2, "deadline_at": now + deadline_in}
    fields["urgency_threshold_at"] = now + threshold_in
    fields.update(extra)
    return task_create(user=user, title=extra.pop("title", "Math homework"), **fields)


def run_worker():
    call_command("scan_due_jobs", "--once")
    for _ in range(3):  # trigger.created → preview → notification.requested → delivery record
        call_command("outbox_relay", "--once")


def ready_preview(user):
    urgent_task(user)
    run_worker()
    return ActiveSchedulePreview.objects.get(user=user)


def apply(client, preview, candidate="c1", key="k1"):
    return client.post(
        f"{PREVIEWS}{preview.pk}/apply/", {"candidate_id": candidate}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_due_task_becomes_a_ready_preview_and_a_notification_request(user, api):
    task = urgent_task(user)
    assert ActiveScheduleJob.objects.get(task=task).status == JobStatus.PENDING
    run_worker()

    job = ActiveScheduleJob.objects.get(task=task)
    assert job.status == JobStatus.TRIGGERED
    trigger = ActiveScheduleTrigger.objects.get(user=user)
    assert (trigger.source, trigger.status) == ("worker_due_job", TriggerStatus.PREVIEW_GENERATED)
    task.refresh_from_db()
    assert task.priority == 1  # the scan persisted the urgency promotion

    body = api.get(PREVIEWS).json()
    assert body["count"] == 1
    preview = body["results"][0]
    assert preview["status"] == "ready" and preview["apply_status"] == "none"
    assert preview["trigger"]["target_id"] == task.pk
    assert 1 <= len(preview["candidates"]) <= 3
    clock = clock_for(user)
    taken = set()
    for candidate in preview["candidates"]:
        (change,) = candidate["changes"]
        to = change["to"]
        assert change["op"] == "create" and change["task_id"] == task.pk
        assert to["end_section"] - to["start_section"] + 1 == 2
        start, end = clock.span(to["week"], to["day"], to["start_section"], to["end_section"])
        assert timezone.now() < start and end <= task.deadline_at
        slots = {(to["week"], to["day"], s) for s in range(to["start_section"], to["end_section"] + 1)}
        assert not slots & taken  # candidates never overlap each other
        taken |= slots
        assert candidate["score"] == 100 - to["start_section"]

    requested = OutboxEvent.objects.get(biz_type="notification.requested")
    assert requested.payload["data"]["preview_id"] == preview["id"]
    assert requested.payload["data"]["kind"] == "preview_ready"
    from notifications.models import NotificationRecord

    assert NotificationRecord.objects.filter(user=user, preview_id=preview["id"]).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db
def test_applying_writes_the_candidate_events_and_a_repeat_replays(user, api):
    preview = ready_preview(user)
    first = apply(api, preview)
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["status"] == "applied" and body["apply_status"] == "applied"
    assert body["applied_candidate_id"] == "c1"
    events = ScheduleEvent.objects.filter(user=user, source="active_schedule")
    assert list(events.values_list("pk", flat=True)) == body["applied_event_ids"]
    week = events[0].week
    shown = api.get(f"/api/v1/schedule/week/?week={week}").json()
    assert any(e["id"] == events[0].pk for day in shown["days"] for e in day["events"])
    again = apply(api, preview)
    assert again.content == first.content
    other_key = apply(api, preview, key="k2")
    assert other_key.status_code == 409
    assert other_key.json()["error"]["code"] == "already_applied"
    assert events.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_twenty_concurrent_applies_exactly_one_writes_events(user, client_for):
    preview = ready_preview(user)
    statuses = run_concurrently(20, lambda i: apply(client_for(user), preview, key=f"key-{i}").status_code)
    assert statuses.count(200) == 1
    assert set(statuses) == {200, 409}
    assert ScheduleEvent.objects.filter(user=user, source="active_schedule").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_schedule_change_after_the_preview_makes_it_stale_and_nothing_is_written(user, api):
    preview = ready_preview(user)
    events_create(user=user, events=[EventSpec(title="Gym", week=30, day=7, start_section=12, end_section=12)])
    response = apply(api, preview)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "stale_version"
    assert not ScheduleEvent.objects.filter(source="active_schedule").exists()
    preview.refresh_from_db()
    assert (preview.status, preview.apply_status, preview.apply_error_code) == ("expired", "rejected", "stale_version")
    assert apply(api, preview, key="k9").json()["error"]["code"] == "preview_expired"


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_slot_taken_since_the_preview_is_a_slot_conflict_and_nothing_is_written(user, api):
    preview = ready_preview(user)
    to = preview.candidates[0]["changes"][0]["to"]
    # Taken by a write that the version did not see (e.g. another preview's apply racing).
    events_create(user=user, events=[EventSpec(title="Clash", **to)])
    from scheduling.models import ScheduleVersion

    ScheduleVersion.objects.filter(user=user).update(version=preview.base_version)
    response = apply(api, preview)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "slot_conflict"
    assert error["details"]["conflicts"][0]["title"] == "Clash"
    assert not ScheduleEvent.objects.filter(source="active_schedule").exists()


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_expired_preview_reads_expired_and_cannot_be_applied(user, api):
    preview = ready_preview(user)
    ActiveSchedulePreview.objects.filter(pk=preview.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.get(f"{PREVIEWS}{preview.pk}/").json()["status"] == "expired"
    assert api.get(f"{PREVIEWS}?status=expired").json()["count"] == 1
    response = apply(api, preview)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "preview_expired"
    assert not ScheduleEvent.objects.filter(source="active_schedule").exists()
    preview.refresh_from_db()
    assert preview.apply_status == "expired"
    assert previews_expire() == 0  # the rejection already persisted it


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_expiry_job_persists_expired_previews(user):
    preview = ready_preview(user)
    ActiveSchedulePreview.objects.filter(pk=preview.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    call_command("expire_previews")
    preview.refresh_from_db()
    assert preview.status == PreviewStatus.EXPIRED


@pytest.mark.postgres
@pytest.mark.django_db
def test_ignore_then_apply_is_already_ignored(user, api):
    preview = ready_preview(user)
    response = api.post(f"{PREVIEWS}{preview.pk}/ignore/")
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert api.post(f"{PREVIEWS}{preview.pk}/ignore/").status_code == 200
    assert apply(api, preview).json()["error"]["code"] == "already_ignored"


@pytest.mark.postgres
@pytest.mark.django_db
def test_completing_the_task_before_its_threshold_cancels_the_job(user):
    task = urgent_task(user, threshold_in=timedelta(hours=1))
    task_complete(user=user, task=task)
    assert ActiveScheduleJob.objects.get(task=task).status == JobStatus.CANCELED
    call_command("scan_due_jobs", "--once")
    assert not ActiveScheduleTrigger.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db
def test_moving_the_threshold_moves_the_job_and_reopening_rearms_it(user, api):
    task = urgent_task(user, threshold_in=timedelta(hours=1))
    later = timezone.now() + timedelta(hours=5)
    api.patch(f"/api/v1/tasks/{task.pk}/", {"urgency_threshold_at": later.isoformat()}, format="json")
    job = ActiveScheduleJob.objects.get(task=task)
    assert abs(job.trigger_at - later) < timedelta(seconds=1)
    api.post(f"/api/v1/tasks/{task.pk}/complete/")
    assert ActiveScheduleJob.objects.get(task=task).status == JobStatus.CANCELED
    api.post(f"/api/v1/tasks/{task.pk}/reopen/")
    assert ActiveScheduleJob.objects.get(task=task).status == JobStatus.PENDING


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_task_completed_after_its_job_fell_due_is_canceled_by_the_scan(user):
    task = urgent_task(user)
    from scheduling.models import Task

    Task.objects.filter(pk=task.pk).update(status="done", completed_at=timezone.now())  # behind the services' back
    call_command("scan_due_jobs", "--once")
    assert ActiveScheduleJob.objects.get(task=task).status == JobStatus.CANCELED


@pytest.mark.postgres
@pytest.mark.django_db
def test_api_triggers_are_deduplicated_inside_the_window(user, api):
    task = urgent_task(user, threshold_in=timedelta(hours=1))
    body = {"trigger_type": "important_urgent_task", "target_type": "task_pool", "target_id": task.pk}
    first = api.post(TRIGGERS, body, format="json")
    assert first.status_code == 201
    assert first.json()["preview"] is None and first.json()["trigger"]["dedupe_hit"] is False
    second = api.post(TRIGGERS, body, format="json")
    assert second.status_code == 200
    assert second.json()["trigger"]["dedupe_hit"] is True
    assert second.json()["trigger"]["id"] == first.json()["trigger"]["id"]
    assert ActiveScheduleTrigger.objects.count() == 1
    run_worker()
    detail = api.get(f"{TRIGGERS}{first.json()['trigger']['id']}/").json()
    assert detail["status"] == "preview_generated" and detail["preview_id"]


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_dry_run_builds_synchronously_and_writes_and_sends_nothing(user, api):
    task = urgent_task(user, threshold_in=timedelta(hours=1))
    events_before = ScheduleEvent.objects.count()
    outbox_before = OutboxEvent.objects.count()
    simulated = timezone.now() + timedelta(days=1)
    body = {
        "trigger_type": "important_urgent_task",
        "target_type": "task_pool",
        "target_id": task.pk,
        "dry_run": True,
        "now": simulated.isoformat(),
    }
    response = api.post(TRIGGERS, body, format="json")
    assert response.status_code == 201, response.content
    preview = response.json()["preview"]
    assert preview["status"] == "ready" and preview["dry_run"] is True
    clock = clock_for(user)
    for candidate in preview["candidates"]:
        to = candidate["changes"][0]["to"]
        assert clock.span(to["week"], to["day"], to["start_section"], to["end_section"])[0] > simulated
    assert api.post(TRIGGERS, body, format="json").json()["trigger"]["dedupe_hit"] is False  # never deduped
    assert OutboxEvent.objects.count() == outbox_before
    assert ScheduleEvent.objects.count() == events_before
    assert api.get(PREVIEWS).json()["count"] == 0
    assert api.get(f"{PREVIEWS}?dry_run=true").json()["count"] == 2
    rejected = api.post(
        f"{PREVIEWS}{preview['id']}/apply/", {"candidate_id": "c1"}, format="json", HTTP_IDEMPOTENCY_KEY="d"
    )
    assert rejected.status_code == 409 and rejected.json()["error"]["code"] == "preview_not_ready"


@pytest.mark.postgres
@pytest.mark.django_db
def test_unfinished_feedback_proposes_a_make_up_block_and_keeps_the_original(user, api, semester_from_last_month):
    task = urgent_task(user, threshold_in=timedelta(days=1), deadline_in=timedelta(days=5))
    clock = clock_for(user)
    _local, week, day = clock.locate(timezone.now() - timedelta(days=1))
    (original,) = events_create(
        user=user,
        events=[
            EventSpec(
                title="Math homework",
                kind="task",
                task_id=task.pk,
                week=week,
                day=day,
                start_section=3,
                end_section=4,
                done=True,
            )
        ],
    )
    response = api.post(
        FEEDBACK, {"event_id": original.pk, "kind": "unfinished", "note": "ran out of time"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["preview"] is None
    run_worker()
    original.refresh_from_db()
    assert original.done is False
    preview = ActiveSchedulePreview.objects.get(user=user)
    for candidate in preview.candidates:
        (change,) = candidate["changes"]
        assert change["op"] == "create" and change["task_id"] == task.pk
        to = change["to"]
        assert to["end_section"] - to["start_section"] == 1
        start, end = clock.span(to["week"], to["day"], to["start_section"], to["end_section"])
        assert start > timezone.now() and end <= task.deadline_at
    assert apply(api, preview).status_code == 200
    assert ScheduleEvent.objects.filter(task=task).count() == 2  # the original stays


@pytest.mark.postgres
@pytest.mark.django_db
def test_no_free_slot_closes_the_trigger_and_still_notifies(user, api):
    task = urgent_task(user, deadline_in=timedelta(minutes=30), threshold_in=timedelta(minutes=-1))
    run_worker()
    trigger = ActiveScheduleTrigger.objects.get(user=user)
    assert (trigger.status, trigger.error_code) == (TriggerStatus.CLOSED, "no_free_slot")
    requested = OutboxEvent.objects.get(biz_type="notification.requested")
    assert requested.payload["data"]["kind"] == "no_free_slot"
    assert requested.payload["data"]["target_id"] == task.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"trigger_type": "nope", "target_type": "task_pool", "target_id": 1}, 400, "trigger_type"),
        ({"trigger_type": "important_urgent_task", "target_type": "nope", "target_id": 1}, 400, "target_type"),
        (
            {"trigger_type": "important_urgent_task", "target_type": "schedule_event", "target_id": 1},
            400,
            "target_type",
        ),
        ({"trigger_type": "unfinished_feedback", "target_type": "task_pool", "target_id": 1}, 400, "target_type"),
        ({"trigger_type": "important_urgent_task", "target_type": "task_pool", "target_id": "x"}, 400, "target_id"),
    ],
)
def test_bad_trigger_input_is_a_400_naming_the_field(api, body, status, field):
    response = api.post(TRIGGERS, body, format="json")
    assert response.status_code == status
    assert field in response.json()["error"]["fields"]
    assert not ActiveScheduleTrigger.objects.exists()


@pytest.mark.django_db
def test_now_without_dry_run_is_refused(user, api):
    task = urgent_task(user, threshold_in=timedelta(hours=1))
    body = {"trigger_type": "important_urgent_task", "target_type": "task_pool", "target_id": task.pk}
    response = api.post(TRIGGERS, {**body, "now": timezone.now().isoformat()}, format="json")
    assert response.status_code == 400 and "now" in response.json()["error"]["fields"]
    assert not ActiveScheduleTrigger.objects.exists()


@pytest.mark.django_db
def test_another_users_target_and_preview_are_404(user, api, other, other_api):
    task = urgent_task(other, threshold_in=timedelta(hours=1))
    body = {"trigger_type": "important_urgent_task", "target_type": "task_pool", "target_id": task.pk}
    assert api.post(TRIGGERS, body, format="json").status_code == 404
    assert api.post(FEEDBACK, {"event_id": 999999, "kind": "unfinished"}, format="json").status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db
def test_apply_needs_an_idempotency_key_and_a_known_candidate(user, api, other_api):
    preview = ready_preview(user)
    missing = api.post(f"{PREVIEWS}{preview.pk}/apply/", {"candidate_id": "c1"}, format="json")
    assert missing.status_code == 400 and "Idempotency-Key" in missing.json()["error"]["fields"]
    unknown = apply(api, preview, candidate="c9")
    assert unknown.status_code == 400 and "candidate_id" in unknown.json()["error"]["fields"]
    assert other_api.get(f"{PREVIEWS}{preview.pk}/").status_code == 404
    assert apply(other_api, preview, key="x").status_code == 404
    assert not ScheduleEvent.objects.filter(source="active_schedule").exists()


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_preview_whose_task_was_deleted_is_stale_and_nothing_is_written(user, api):
    from scheduling.services.tasks import task_delete

    preview = ready_preview(user)
    from scheduling.models import Task

    task_delete(user=user, task=Task.objects.get(pk=ActiveScheduleTrigger.objects.get(user=user).target_id))
    response = apply(api, preview)
    assert response.status_code == 409 and response.json()["error"]["code"] == "stale_version"
    assert not ScheduleEvent.objects.filter(user=user).exists()
    preview.refresh_from_db()
    assert (preview.status, preview.apply_error_code) == ("expired", "stale_version")
