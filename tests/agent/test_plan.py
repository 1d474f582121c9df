"""schedule_plan → the conversation's preview (cached), schedule_refine edits it, and
the apply follows the active-schedule rules: idempotent, base_version, slot_conflict."""

import pytest
from django.core.cache import cache

from agent.services import plan_cache_key

pytestmark = pytest.mark.django_db(transaction=True)
BASE = "/api/v1/agent/"


def plan(auth_api):
    body = auth_api.post(BASE + "chat/", {"message": "帮我把这周的任务安排到空闲时间里"}, format="json").json()
    assert body["intent"] == "schedule_plan", body
    return body


def test_plan_places_open_tasks_into_free_slots_and_is_served_from_the_cache(auth_api, tasks):
    body = plan(auth_api)
    preview = body["actions"][0]["preview"]
    assert {c["task_id"] for c in preview["changes"]} == {t.pk for t in tasks}
    assert all(c["op"] == "create" and c["kind"] == "task" for c in preview["changes"])
    math = next(c for c in preview["changes"] if c["title"] == "数学作业")
    assert math["to"]["end_section"] - math["to"]["start_section"] == 1
    cid = body["conversation_id"]
    got = auth_api.get(f"{BASE}conversations/{cid}/schedule-preview/")
    assert got.status_code == 200 and got.json()["id"] == preview["id"]
    assert cache.get(plan_cache_key(cid))["id"] == preview["id"]


def test_refine_moves_a_block_to_the_named_day_and_period(auth_api, tasks):
    cid = plan(auth_api)["conversation_id"]
    body = auth_api.post(f"{BASE}conversations/{cid}/chat/", {"message": "把数学挪到周四晚上"}, format="json").json()
    assert body["intent"] == "schedule_refine"
    moved = next(c for c in body["actions"][0]["preview"]["changes"] if c["title"] == "数学作业")
    assert moved["to"]["day"] == 4 and moved["to"]["start_section"] >= 9 and "from" in moved
    # the cached preview was cleared on commit and now shows the edit
    assert (
        auth_api.get(f"{BASE}conversations/{cid}/schedule-preview/").json()["changes"]
        == body["actions"][0]["preview"]["changes"]
    )


def test_apply_writes_the_events_once_and_is_idempotent(auth_api, user, tasks):
    from scheduling.models import ScheduleEvent

    cid = plan(auth_api)["conversation_id"]
    url = f"{BASE}conversations/{cid}/schedule-preview/apply/"
    assert auth_api.post(url).status_code == 400  # Idempotency-Key required
    first = auth_api.post(url, HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 200, first.content
    assert len(first.json()["applied_event_ids"]) == 2
    assert ScheduleEvent.objects.filter(user=user, source="agent").count() == 2
    repeat = auth_api.post(url, HTTP_IDEMPOTENCY_KEY="k1")
    assert repeat.status_code == 200 and repeat.content == first.content
    other = auth_api.post(url, HTTP_IDEMPOTENCY_KEY="k2")
    assert other.status_code == 409 and other.json()["error"]["code"] == "already_applied"
    assert ScheduleEvent.objects.filter(user=user, source="agent").count() == 2


def test_apply_after_a_schedule_change_is_stale(auth_api, user, tasks):
    from scheduling.services.events import EventSpec, events_create

    body = plan(auth_api)
    cid = body["conversation_id"]
    # another write to the schedule (away from the planned slots) bumps the version
    events_create(user=user, events=[EventSpec(title="gym", week=30, day=7, start_section=12, end_section=12)])
    response = auth_api.post(f"{BASE}conversations/{cid}/schedule-preview/apply/", HTTP_IDEMPOTENCY_KEY="s1")
    assert response.status_code == 409 and response.json()["error"]["code"] == "stale_version"
    assert auth_api.get(f"{BASE}conversations/{cid}/schedule-preview/").status_code == 404


def test_apply_onto_a_slot_taken_behind_the_versions_back_is_a_slot_conflict(auth_api, user, tasks):
    from agent.models import PlanDraft
    from scheduling.models import ScheduleEvent, ScheduleVersion
    from scheduling.services.events import EventSpec, events_create

    cid = plan(auth_api)["conversation_id"]
    draft = PlanDraft.objects.get(conversation_id=cid)
    to = draft.candidate["changes"][0]["to"]
    events_create(user=user, events=[EventSpec(title="Clash", **to)])
    ScheduleVersion.objects.filter(user=user).update(version=draft.base_version)  # e.g. a racing apply
    response = auth_api.post(f"{BASE}conversations/{cid}/schedule-preview/apply/", HTTP_IDEMPOTENCY_KEY="c1")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "slot_conflict"
    assert response.json()["error"]["details"]["conflicts"][0]["title"] == "Clash"
    assert not ScheduleEvent.objects.filter(user=user, source="agent").exists()


def test_no_preview_is_404(auth_api):
    cid = auth_api.post(BASE + "conversations/", {}, format="json").json()["id"]
    assert auth_api.get(f"{BASE}conversations/{cid}/schedule-preview/").status_code == 404
    assert (
        auth_api.post(f"{BASE}conversations/{cid}/schedule-preview/apply/", HTTP_IDEMPOTENCY_KEY="x").status_code == 404
    )


def test_plan_places_class_items_with_the_study_planner_rules(auth_api, user, tasks):
    from scheduling.services.tasks import task_class_create, task_class_item_create

    task_class = task_class_create(
        user=user, name="线性代数", strategy="rapid", excluded_sections=list(range(1, 9)), daily_max_sections=2
    )
    items = [
        task_class_item_create(user=user, task_class=task_class, title=f"第{n}章", order=n, estimated_sections=2)
        for n in range(1, 4)
    ]
    changes = plan(auth_api)["actions"][0]["preview"]["changes"]
    blocks = [c for c in changes if c["kind"] == "task_item"]
    assert [c["task_item_id"] for c in blocks] == [i.pk for i in items]  # item order kept
    assert all(c["to"]["start_section"] >= 9 for c in blocks)  # excluded sections honoured
    assert len({(c["to"]["week"], c["to"]["day"]) for c in blocks}) == 3  # two sections a day at most
    taken = [
        (c["to"]["week"], c["to"]["day"], s)
        for c in changes
        for s in range(c["to"]["start_section"], c["to"]["end_section"] + 1)
    ]
    assert len(taken) == len(set(taken))  # tasks and items never share a section


def test_a_draft_whose_task_was_deleted_is_stale_not_a_generic_conflict(auth_api, user, tasks):
    from scheduling.models import ScheduleEvent
    from scheduling.services.tasks import task_delete

    cid = plan(auth_api)["conversation_id"]
    task_delete(user=user, task=tasks[0])  # no events yet: the schedule version does not move
    response = auth_api.post(f"{BASE}conversations/{cid}/schedule-preview/apply/", HTTP_IDEMPOTENCY_KEY="d1")
    assert response.status_code == 409 and response.json()["error"]["code"] == "stale_version"
    assert not ScheduleEvent.objects.filter(user=user).exists()
    assert auth_api.get(f"{BASE}conversations/{cid}/schedule-preview/").status_code == 404
