"""Applying a preview with edited `changes`, through the API on PostgreSQL: the placement rules
(422 invalid_changes with per-change reasons, nothing written, the preview still appliable), and
the apply rules kept as they were (stale_version first, expiry, idempotency, one winner)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduling.models import ScheduleEvent
from scheduling.models.active import ActiveSchedulePreview
from scheduling.selectors import clock_for
from scheduling.services import EventSpec, events_create
from scheduling.services.tasks import task_create
from tests.concurrency import run_concurrently
from tests.scheduling.test_active import PREVIEWS, ready_preview, run_worker

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("semester_from_last_month")]


def task(user, title, *, deadline_in=timedelta(days=3), threshold_in=timedelta(minutes=-1)):
    """An important task (2 sections) whose urgency threshold has passed: the scan proposes it."""
    now = timezone.now()
    return task_create(
        user=user,
        title=title,
        priority=2,
        estimated_sections=2,
        deadline_at=now + deadline_in,
        urgency_threshold_at=now + threshold_in,
    )


def apply(client, preview, changes, *, key="e1", candidate="c1"):
    return client.post(
        f"{PREVIEWS}{preview.pk}/apply/",
        {"candidate_id": candidate, "changes": changes},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def moved(preview, to, candidate=0):
    """The candidate's changes, the first one placed at `to`."""
    first, *rest = preview.candidates[candidate]["changes"]
    return [{**first, "to": to}, *rest]


def at(user, moment, start, length=2):
    _local, week, day = clock_for(user).locate(moment)
    return {"week": week, "day": day, "start_section": start, "end_section": start + length - 1}


def reasons(response):
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_changes"
    return [(c["index"], [r["code"] for r in c["reasons"]]) for c in error["details"]["changes"]]


def nothing_written(preview):
    assert not ScheduleEvent.objects.filter(source="active_schedule").exists()
    preview.refresh_from_db()
    assert (preview.status, preview.apply_status) == ("ready", "none")


@pytest.mark.django_db
def test_an_edited_candidate_writes_its_blocks_where_the_edit_put_them(user, api):
    preview = ready_preview(user)
    elsewhere = preview.candidates[-1]["changes"][0]["to"]  # free: another candidate's span
    assert elsewhere != preview.candidates[0]["changes"][0]["to"]
    response = apply(api, preview, moved(preview, elsewhere))
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["applied_candidate_id"]) == ("applied", "c1")
    (event,) = ScheduleEvent.objects.filter(user=user, source="active_schedule")
    assert body["applied_event_ids"] == [event.pk]
    assert (event.week, event.day, event.start_section, event.end_section) == tuple(
        elsewhere[k] for k in ("week", "day", "start_section", "end_section")
    )
    assert event.task_id == preview.candidates[0]["changes"][0]["task_id"]


@pytest.mark.django_db
def test_a_block_moved_onto_a_taken_section_is_refused_and_a_corrected_edit_then_applies(user, api):
    preview = ready_preview(user)
    taken = at(user, timezone.now() + timedelta(days=1), 5)
    events_create(user=user, events=[EventSpec(title="Lecture", **taken)])
    from scheduling.models import ScheduleVersion

    ScheduleVersion.objects.filter(user=user).update(version=preview.base_version)  # taken behind the version
    refused = apply(api, preview, moved(preview, taken))
    assert reasons(refused) == [(0, ["slot_taken"])]
    details = refused.json()["error"]["details"]["changes"][0]
    assert details["task_id"] == preview.candidates[0]["changes"][0]["task_id"] and details["kind"] == "task"
    nothing_written(preview)
    free = {**taken, "start_section": 7, "end_section": 8}
    assert apply(api, preview, moved(preview, free), key="e2").status_code == 200
    assert ScheduleEvent.objects.filter(source="active_schedule", start_section=7).count() == 1


@pytest.mark.django_db
def test_a_block_in_the_past_after_the_deadline_or_past_the_horizon_is_refused(user, api):
    soon_task = task(user, "Lab report")
    later_task = task(user, "Essay", deadline_in=timedelta(days=20))
    run_worker()
    soon = ActiveSchedulePreview.objects.get(trigger__target_id=soon_task.pk)
    later = ActiveSchedulePreview.objects.get(trigger__target_id=later_task.pk)
    now = timezone.now()
    assert reasons(apply(api, soon, moved(soon, at(user, now - timedelta(days=1), 1)))) == [(0, ["too_early"])]
    assert reasons(apply(api, soon, moved(soon, at(user, now + timedelta(days=4), 1)), key="e2")) == [
        (0, ["after_deadline"])
    ]
    assert reasons(apply(api, later, moved(later, at(user, now + timedelta(days=9), 1)), key="e3")) == [
        (0, ["beyond_horizon"])
    ]
    nothing_written(soon)
    nothing_written(later)


@pytest.mark.django_db
def test_an_edit_must_place_the_candidates_task_and_nothing_else(user, api):
    preview = ready_preview(user)
    (original,) = preview.candidates[0]["changes"]
    other = task(user, "Other", threshold_in=timedelta(days=1))
    swapped = [{**original, "task_id": other.pk}]
    assert reasons(apply(api, preview, swapped)) == [(0, ["not_in_candidate"]), (None, ["missing"])]
    twice = [original, {**original, "to": preview.candidates[-1]["changes"][0]["to"]}]
    assert reasons(apply(api, preview, twice, key="e2")) == [(1, ["duplicate"])]
    shorter = [{**original, "to": {**original["to"], "end_section": original["to"]["start_section"]}}]
    assert reasons(apply(api, preview, shorter, key="e3")) == [(0, ["length_changed"])]
    assert reasons(apply(api, preview, [], key="e4")) == [(None, ["missing"])]
    nothing_written(preview)


@pytest.mark.django_db
def test_a_malformed_edit_is_a_400_naming_the_field(user, api):
    preview = ready_preview(user)
    (original,) = preview.candidates[0]["changes"]
    for bad, field in (
        ([{**original, "to": {**original["to"], "week": 31}}], "changes.0.to.week"),
        ([{**original, "to": {**original["to"], "start_section": 5, "end_section": 4}}], "changes.0.to.end_section"),
        ([{**original, "colour": "red"}], "changes.0.colour"),
        ("not a list", "changes"),
    ):
        response = apply(api, preview, bad, key=f"bad-{field}")
        assert response.status_code == 400, response.content
        assert field in response.json()["error"]["fields"], response.json()
    nothing_written(preview)


@pytest.mark.django_db
def test_a_changed_schedule_is_stale_before_the_edit_is_judged(user, api):
    preview = ready_preview(user)
    clash = at(user, timezone.now() + timedelta(days=1), 5)
    events_create(user=user, events=[EventSpec(title="New", **clash)])  # bumps the version
    response = apply(api, preview, moved(preview, clash))
    assert response.status_code == 409 and response.json()["error"]["code"] == "stale_version"
    preview.refresh_from_db()
    assert (preview.status, preview.apply_error_code) == ("expired", "stale_version")
    assert not ScheduleEvent.objects.filter(source="active_schedule").exists()


@pytest.mark.django_db
def test_an_expired_preview_stays_expired_whatever_the_edit(user, api):
    preview = ready_preview(user)
    ActiveSchedulePreview.objects.filter(pk=preview.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = apply(api, preview, moved(preview, preview.candidates[-1]["changes"][0]["to"]))
    assert response.status_code == 409 and response.json()["error"]["code"] == "preview_expired"
    assert not ScheduleEvent.objects.filter(source="active_schedule").exists()


@pytest.mark.django_db
def test_a_repeat_replays_the_edited_apply_and_another_edit_under_the_key_is_refused(user, api):
    preview = ready_preview(user)
    edit = moved(preview, preview.candidates[-1]["changes"][0]["to"])
    first = apply(api, preview, edit, key="same")
    assert first.status_code == 200
    again = apply(api, preview, edit, key="same")
    assert again.status_code == 200 and again.content == first.content
    other = apply(api, preview, preview.candidates[0]["changes"], key="same")
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert ScheduleEvent.objects.filter(source="active_schedule").count() == 1


@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_edited_applies_exactly_one_writes(user, client_for):
    preview = ready_preview(user)
    places = [preview.candidates[0]["changes"][0]["to"], preview.candidates[-1]["changes"][0]["to"]]
    responses = run_concurrently(2, lambda i: apply(client_for(user), preview, moved(preview, places[i]), key=f"k{i}"))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409], [r.content for r in responses]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.json()["error"]["code"] == "already_applied"
    winner = next(i for i, r in enumerate(responses) if r.status_code == 200)
    (event,) = ScheduleEvent.objects.filter(user=user, source="active_schedule")
    assert event.start_section == places[winner]["start_section"] and event.day == places[winner]["day"]


@pytest.mark.django_db
def test_a_block_may_move_into_a_lecture_that_admits_it_but_not_across_its_edge(user, api):
    lecture = at(user, timezone.now() + timedelta(days=1), 5)
    body = {"name": "Academic English", "weeks": [lecture["week"]], "day": lecture["day"], "allow_tasks": True}
    course = api.post("/api/v1/courses/", {**body, "start_section": 5, "end_section": 6}, format="json")
    assert course.status_code == 201, course.content
    preview = ready_preview(user)
    across = {**lecture, "start_section": 6, "end_section": 7}
    assert reasons(apply(api, preview, moved(preview, across))) == [(0, ["spans_lecture"])]
    nothing_written(preview)
    inside = apply(api, preview, moved(preview, lecture), key="e2")
    assert inside.status_code == 200, inside.content
    event = ScheduleEvent.objects.get(source="active_schedule")
    assert event.embedded_in_id == course.json()["id"]
    assert (event.start_section, event.end_section) == (5, 6)
