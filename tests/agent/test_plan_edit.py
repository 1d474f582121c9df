"""PATCH conversations/{id}/schedule-preview/: the user moves the draft's blocks before applying
it. The planner's placement rules (422 invalid_changes, the draft unchanged), the apply rules
kept (stale_version, already_applied), and a race with the apply on PostgreSQL threads."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduling.models import ScheduleEvent
from scheduling.selectors import clock_for
from scheduling.services.events import EventSpec, events_create
from tests.agent.test_plan import plan
from tests.concurrency import run_concurrently

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
BASE = "/api/v1/agent/"


def draft(api):
    body = plan(api)
    return body["conversation_id"], body["actions"][0]["preview"]


def url(cid):
    return f"{BASE}conversations/{cid}/schedule-preview/"


def at(user, days, start, length):
    _local, week, day = clock_for(user).locate(timezone.now() + timedelta(days=days))
    return {"week": week, "day": day, "start_section": start, "end_section": start + length - 1}


def move(changes, task_id, to):
    return [{**c, "to": to} if c.get("task_id") == task_id else c for c in changes]


def reasons(response):
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_changes"
    return [(c["index"], [r["code"] for r in c["reasons"]]) for c in error["details"]["changes"]]


def test_a_moved_block_is_kept_shown_and_applied_where_the_user_put_it(auth_api, user, tasks):
    cid, preview = draft(auth_api)
    math = tasks[0]
    to = at(user, 2, 9, 2)
    response = auth_api.patch(url(cid), {"changes": move(preview["changes"], math.pk, to)}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == preview["id"] and body["status"] == "draft"
    assert next(c for c in body["changes"] if c["task_id"] == math.pk)["to"] == to
    assert auth_api.get(url(cid)).json()["changes"] == body["changes"]  # the cached draft was cleared
    applied = auth_api.post(url(cid) + "apply/", HTTP_IDEMPOTENCY_KEY="a1")
    assert applied.status_code == 200, applied.content
    event = ScheduleEvent.objects.get(user=user, task=math)
    assert (event.week, event.day, event.start_section, event.end_section) == tuple(
        to[k] for k in ("week", "day", "start_section", "end_section")
    )
    assert ScheduleEvent.objects.filter(user=user, source="agent").count() == 2


def test_a_refused_edit_leaves_the_draft_as_it_was(auth_api, user, tasks):
    from scheduling.models import ScheduleVersion

    cid, preview = draft(auth_api)
    before = auth_api.get(url(cid)).json()
    math, reading = tasks
    taken = at(user, 2, 9, 2)
    events_create(user=user, events=[EventSpec(title="Club", **taken)])
    ScheduleVersion.objects.filter(user=user).update(version=before["base_version"])  # behind the version's back
    on_taken = move(preview["changes"], math.pk, taken)
    assert reasons(auth_api.patch(url(cid), {"changes": on_taken}, format="json")) == [(0, ["slot_taken"])]
    on_each_other = move(on_taken, math.pk, at(user, 3, 1, 2))
    on_each_other = move(on_each_other, reading.pk, at(user, 3, 2, 1))
    assert reasons(auth_api.patch(url(cid), {"changes": on_each_other}, format="json")) == [(1, ["overlaps_change"])]
    late = move(preview["changes"], math.pk, at(user, 7, 1, 2))
    assert reasons(auth_api.patch(url(cid), {"changes": late}, format="json")) == [(0, ["after_deadline"])]
    assert reasons(auth_api.patch(url(cid), {"changes": preview["changes"][:1]}, format="json")) == [
        (None, ["missing"])
    ]
    assert auth_api.get(url(cid)).json() == before
    assert not ScheduleEvent.objects.filter(user=user, source="agent").exists()


def test_an_item_stays_inside_its_study_plans_dates(auth_api, user, tasks):
    from scheduling.services.tasks import task_class_create, task_class_item_create

    today = timezone.localdate(timezone=clock_for(user).tz)
    task_class = task_class_create(user=user, name="线代", start_date=today, end_date=today + timedelta(days=2))
    item = task_class_item_create(user=user, task_class=task_class, title="第1章", order=1, estimated_sections=1)
    cid, preview = draft(auth_api)
    (block,) = [c for c in preview["changes"] if c.get("task_item_id") == item.pk]
    late = [{**c, "to": at(user, 4, 12, 1)} if c is block else c for c in preview["changes"]]
    assert reasons(auth_api.patch(url(cid), {"changes": late}, format="json")) == [
        (preview["changes"].index(block), ["after_deadline"])
    ]
    inside = [{**c, "to": at(user, 1, 12, 1)} if c is block else c for c in preview["changes"]]
    assert auth_api.patch(url(cid), {"changes": inside}, format="json").status_code == 200


def test_an_edit_after_a_schedule_change_is_stale_and_after_apply_already_applied(auth_api, user, tasks):
    cid, preview = draft(auth_api)
    events_create(user=user, events=[EventSpec(title="gym", week=30, day=7, start_section=12, end_section=12)])
    stale = auth_api.patch(url(cid), {"changes": preview["changes"]}, format="json")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_version"
    assert auth_api.get(url(cid)).status_code == 404  # stale for good, as after a stale apply

    cid, preview = draft(auth_api)
    assert auth_api.post(url(cid) + "apply/", HTTP_IDEMPOTENCY_KEY="a2").status_code == 200
    again = auth_api.patch(url(cid), {"changes": preview["changes"]}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_applied"


def test_no_draft_and_another_users_conversation_are_404(auth_api, user, tasks, make_user, client_for):
    empty = auth_api.post(BASE + "conversations/", {}, format="json").json()["id"]
    assert auth_api.patch(url(empty), {"changes": []}, format="json").status_code == 404
    cid, preview = draft(auth_api)
    stranger = client_for(make_user("mallory"))
    assert stranger.patch(url(cid), {"changes": preview["changes"]}, format="json").status_code == 404
    assert auth_api.patch(url(cid), {}, format="json").status_code == 400  # changes is required


def test_an_edit_racing_the_apply_is_either_applied_or_refused_never_half(auth_api, user, tasks, client_for):
    cid, preview = draft(auth_api)
    math = tasks[0]
    to = at(user, 2, 9, 2)
    edit = {"changes": move(preview["changes"], math.pk, to)}

    def work(i):
        client = client_for(user)
        if i == 0:
            return client.patch(url(cid), edit, format="json")
        return client.post(url(cid) + "apply/", HTTP_IDEMPOTENCY_KEY="race")

    patched, applied = run_concurrently(2, work)
    assert applied.status_code == 200, applied.content
    event = ScheduleEvent.objects.get(user=user, task=math)
    if patched.status_code == 200:  # the edit went first: the apply wrote it
        assert (event.day, event.start_section) == (to["day"], to["start_section"])
    else:  # the apply went first: the edit is refused, the proposal's place was written
        assert patched.json()["error"]["code"] == "already_applied"
        original = next(c for c in preview["changes"] if c["task_id"] == math.pk)["to"]
        assert (event.day, event.start_section) == (original["day"], original["start_section"])
    assert ScheduleEvent.objects.filter(user=user, source="agent").count() == 2
