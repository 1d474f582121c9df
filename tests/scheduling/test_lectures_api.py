"""Lectures that admit study blocks over HTTP, on PostgreSQL (docs/DOMAIN.md, "Lectures that admit
study blocks"): `allow_tasks` on courses, `embedded_in` on events, plans and preview candidates,
the week view nesting blocks inside their lecture, the slot rules and what a course change does
to the blocks inside it. The semester starts this Monday; everything here lives in week 2."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from scheduling.models import Course, ScheduleEvent, ScheduleSlot, TaskClass, TaskClassItem
from scheduling.models.timetable import SlotLayer
from scheduling.selectors import clock_for
from scheduling.services import EventSpec, events_create, task_create
from scheduling.services.active import preview_build
from scheduling.services.placement import free_start
from scheduling.timetable import date_of
from smartmate.errors import Conflict
from tests.concurrency import run_concurrently
from tests.scheduling.conftest import event_body

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

COURSES = "/api/v1/courses/"
EVENTS = "/api/v1/schedule/events/"
WEEK = "/api/v1/schedule/week/?week=2"
PLAN = "/api/v1/task-classes/plan/"
PLANS = "/api/v1/task-classes/plans/"
TRIGGERS = "/api/v1/active-schedule/triggers/"
PREVIEWS = "/api/v1/active-schedule/previews/"


def post(api, url, body, status=201, **headers):
    response = api.post(url, body, format="json", **headers)
    assert response.status_code == status, response.content
    return response.json()


def course(api, name, start, end, *, allow_tasks=None, day=1, weeks=(2,)):
    body = {"name": name, "weeks": list(weeks), "day": day, "start_section": start, "end_section": end}
    if allow_tasks is not None:
        body["allow_tasks"] = allow_tasks
    return post(api, COURSES, body)


def conflict(response):
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "slot_conflict"
    return error["details"]["conflicts"]


def monday_lectures(api):
    """Week 2, Monday: a lecture that does not admit blocks (1-2), one that does (3-6), free 7-12."""
    return course(api, "Sport", 1, 2), course(api, "History", 3, 6, allow_tasks=True)


def week_day(api, day=1):
    return next(d for d in api.get(WEEK).json()["days"] if d["day"] == day)


# --- courses ------------------------------------------------------------------------------------


def test_allow_tasks_defaults_to_false_and_is_set_on_create_patch_and_import(api):
    assert course(api, "Sport", 1, 2)["allow_tasks"] is False
    history = course(api, "History", 3, 4, allow_tasks=True)
    assert history["allow_tasks"] is True
    patched = api.patch(f"{COURSES}{history['id']}/", {"allow_tasks": False}, format="json")
    assert patched.status_code == 200 and patched.json()["allow_tasks"] is False
    rows = [
        {"name": "Art", "weeks": [3], "day": 2, "start_section": 1, "end_section": 2, "allow_tasks": True},
        {"name": "Law", "weeks": [3], "day": 2, "start_section": 3, "end_section": 4},
    ]
    imported = post(api, f"{COURSES}import/", {"courses": rows})
    assert [(c["name"], c["allow_tasks"]) for c in imported] == [("Art", True), ("Law", False)]
    bad = api.patch(f"{COURSES}{history['id']}/", {"allow_tasks": "maybe"}, format="json")
    assert bad.status_code == 400 and "allow_tasks" in bad.json()["error"]["fields"]


# --- the slot rules -------------------------------------------------------------------------------


def test_a_block_inside_an_admitting_lecture_is_embedded_and_shows_inside_it_on_the_week_view(api):
    _sport, history = monday_lectures(api)
    block = post(api, EVENTS, event_body(title="Read", day=1, start_section=4, end_section=5))
    assert block["embedded_in"] == history["id"]
    assert set(ScheduleSlot.objects.filter(event_id=block["id"]).values_list("section", "layer")) == {
        (4, SlotLayer.EMBEDDED),
        (5, SlotLayer.EMBEDDED),
    }
    free = post(api, EVENTS, event_body(title="Gym", day=1, start_section=8, end_section=9))
    assert free["embedded_in"] is None

    monday = week_day(api)
    top = {e["title"]: e for e in monday["events"]}
    assert set(top) == {"Sport", "History", "Gym"}  # the block is not beside its lecture...
    assert [e["id"] for e in top["History"]["embedded"]] == [block["id"]]  # ...but inside it
    assert top["History"]["embedded"][0]["embedded_in"] == history["id"]
    assert top["Sport"]["embedded"] == [] and top["Gym"]["embedded"] == []
    listed = api.get(f"{EVENTS}?week=2&day=1").json()["results"]  # other reads stay flat
    assert {e["title"]: e["embedded_in"] for e in listed} == {
        "Sport": None,
        "History": None,
        "Read": history["id"],
        "Gym": None,
    }


def test_a_lecture_that_does_not_admit_blocks_is_still_a_conflict(api):
    sport, _history = monday_lectures(api)
    clashes = conflict(api.post(EVENTS, event_body(day=1, start_section=1, end_section=2), format="json"))
    assert [c["event_id"] for c in clashes] == [ScheduleEvent.objects.get(course_id=sport["id"]).pk]


def test_a_block_across_a_lecture_and_free_time_or_across_two_lectures_is_a_conflict(api):
    _sport, history = monday_lectures(api)
    course(api, "Latin", 7, 8, allow_tasks=True)
    across_free = api.post(EVENTS, event_body(day=1, start_section=6, end_section=7), format="json")
    assert [c["title"] for c in conflict(across_free)] == ["History", "Latin"]
    course(api, "Greek", 9, 9)
    edge = api.post(EVENTS, event_body(day=1, start_section=10, end_section=12), format="json")
    assert edge.status_code == 201 and edge.json()["embedded_in"] is None
    across_free_only = api.post(EVENTS, event_body(day=1, start_section=8, end_section=10), format="json")
    assert {c["title"] for c in conflict(across_free_only)} == {"Latin", "Greek", "Study"}
    assert not ScheduleEvent.objects.exclude(kind="course").exclude(title="Study").exists()
    assert ScheduleEvent.objects.get(course_id=history["id"]).embedded_in_id is None  # courses never embed


def test_blocks_inside_one_lecture_still_conflict_with_each_other(api):
    monday_lectures(api)
    first = post(api, EVENTS, event_body(title="A", day=1, start_section=3, end_section=4))
    clashes = conflict(api.post(EVENTS, event_body(title="B", day=1, start_section=4, end_section=5), format="json"))
    assert [c["event_id"] for c in clashes] == [first["id"]]  # the block, not the lecture
    assert post(api, EVENTS, event_body(title="C", day=1, start_section=5, end_section=6))["embedded_in"]
    # two blocks of one call that overlap inside the lecture are reported together, nothing written
    both = [
        EventSpec(title="D", week=3, day=1, start_section=3, end_section=4),
        EventSpec(title="E", week=3, day=1, start_section=4, end_section=4),
    ]
    course(api, "History 2", 3, 6, allow_tasks=True, weeks=(3,))
    user = ScheduleEvent.objects.get(pk=first["id"]).user
    with pytest.raises(Conflict):
        events_create(user=user, events=both)
    assert not ScheduleEvent.objects.filter(title__in=["D", "E"]).exists()


def test_moving_a_block_into_and_out_of_a_lecture_sets_and_clears_embedded_in(api):
    _sport, history = monday_lectures(api)
    block = post(api, EVENTS, event_body(title="Read", day=1, start_section=8, end_section=9))
    moved = api.patch(f"{EVENTS}{block['id']}/", {"start_section": 3, "end_section": 4}, format="json")
    assert moved.status_code == 200 and moved.json()["embedded_in"] == history["id"]
    assert set(ScheduleSlot.objects.filter(event_id=block["id"]).values_list("layer", flat=True)) == {1}
    out = api.patch(f"{EVENTS}{block['id']}/", {"day": 2}, format="json")
    assert out.status_code == 200 and out.json()["embedded_in"] is None
    assert set(ScheduleSlot.objects.filter(event_id=block["id"]).values_list("layer", flat=True)) == {0}
    half = api.patch(f"{EVENTS}{block['id']}/", {"day": 1, "start_section": 6, "end_section": 7}, format="json")
    assert [c["title"] for c in conflict(half)] == ["History"]
    assert ScheduleEvent.objects.get(pk=block["id"]).day == 2


# --- course changes and the blocks inside -------------------------------------------------------------


def test_renaming_or_widening_an_admitting_course_keeps_its_blocks_embedded(api):
    _sport, history = monday_lectures(api)
    block = post(api, EVENTS, event_body(title="Read", day=1, start_section=4, end_section=5))
    renamed = api.patch(f"{COURSES}{history['id']}/", {"name": "History II", "weeks": [2, 3]}, format="json")
    assert renamed.status_code == 200, renamed.content
    assert ScheduleEvent.objects.get(pk=block["id"]).embedded_in_id == history["id"]
    assert [e["title"] for e in next(e for e in week_day(api)["events"] if e["title"] == "History II")["embedded"]] == [
        "Read"
    ]


def test_turning_allow_tasks_off_under_a_block_is_a_conflict_naming_it_and_changes_nothing(api):
    _sport, history = monday_lectures(api)
    block = post(api, EVENTS, event_body(title="Read", day=1, start_section=4, end_section=5))
    response = api.patch(f"{COURSES}{history['id']}/", {"allow_tasks": False}, format="json")
    assert [c["event_id"] for c in conflict(response)] == [block["id"]]
    assert Course.objects.get(pk=history["id"]).allow_tasks is True
    assert ScheduleEvent.objects.get(pk=block["id"]).embedded_in_id == history["id"]
    # once the block is gone, the lecture may stop admitting blocks
    assert api.delete(f"{EVENTS}{block['id']}/").status_code == 204
    assert api.patch(f"{COURSES}{history['id']}/", {"allow_tasks": False}, format="json").status_code == 200


def test_moving_the_lecture_away_leaves_its_blocks_as_ordinary_events_where_they_were(api):
    _sport, history = monday_lectures(api)
    block = post(api, EVENTS, event_body(title="Read", day=1, start_section=4, end_section=5))
    moved = api.patch(f"{COURSES}{history['id']}/", {"day": 2}, format="json")
    assert moved.status_code == 200, moved.content
    event = ScheduleEvent.objects.get(pk=block["id"])
    assert (event.day, event.embedded_in_id) == (1, None)
    assert set(ScheduleSlot.objects.filter(event=event).values_list("layer", flat=True)) == {SlotLayer.TIMETABLE}


def test_deleting_the_course_keeps_its_blocks_as_ordinary_events(api):
    _sport, history = monday_lectures(api)
    block = post(api, EVENTS, event_body(title="Read", day=1, start_section=4, end_section=5))
    assert api.delete(f"{COURSES}{history['id']}/").status_code == 204
    event = ScheduleEvent.objects.get(pk=block["id"])
    assert event.embedded_in_id is None
    assert set(ScheduleSlot.objects.filter(event=event).values_list("layer", flat=True)) == {SlotLayer.TIMETABLE}
    assert [e["title"] for e in week_day(api)["events"]] == ["Sport", "Read"]


# --- plans and candidates ----------------------------------------------------------------------------


def test_a_study_plan_uses_free_time_first_then_the_lecture_and_applies_embedded(api, user):
    _sport, history = monday_lectures(api)
    course(api, "Lab", 7, 10)  # Monday week 2: free only 11-12
    semester = user.semester_start
    task_class = TaskClass.objects.create(
        user=user, name="Revision", start_date=date_of(semester, 2, 1), end_date=date_of(semester, 2, 1)
    )
    for order in range(2):
        TaskClassItem.objects.create(
            task_class=task_class, user=user, title=f"part {order + 1}", order=order, estimated_sections=2
        )
    body = post(api, PLAN, {"class_ids": [task_class.pk]})
    placed = [(p["start_section"], p["end_section"], p["embedded_in"]) for p in body["placements"]]
    assert placed == [(3, 4, history["id"]), (11, 12, None)]
    applied = post(api, f"{PLANS}{body['id']}/apply/", {}, 200, HTTP_IDEMPOTENCY_KEY="k1")
    events = ScheduleEvent.objects.filter(pk__in=applied["applied_event_ids"]).order_by("start_section")
    assert [(e.start_section, e.embedded_in_id) for e in events] == [(3, history["id"]), (11, None)]
    inside = next(e for e in week_day(api)["events"] if e["title"] == "History")["embedded"]
    assert [e["title"] for e in inside] == ["part 1"]

    # with the lecture full, the class does not fit: the 409 names the lecture sections too
    TaskClassItem.objects.filter(task_class=task_class).update(scheduled_event=None)
    response = api.post(PLAN, {"class_ids": [task_class.pk]}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"needed_sections": 4, "free_sections": 0, "embeddable_sections": 2}


def test_a_plan_that_fits_in_free_time_embeds_nothing(api, user):
    monday_lectures(api)
    semester = user.semester_start
    task_class = TaskClass.objects.create(
        user=user, name="Light", start_date=date_of(semester, 2, 1), end_date=date_of(semester, 2, 1)
    )
    TaskClassItem.objects.create(task_class=task_class, user=user, title="one", order=0, estimated_sections=2)
    body = post(api, PLAN, {"class_ids": [task_class.pk]})
    assert [(p["start_section"], p["embedded_in"]) for p in body["placements"]] == [(7, None)]


def test_preview_candidates_fall_back_to_the_lecture_and_apply_embedded(api, user):
    _sport, history = monday_lectures(api)
    course(api, "Lab", 7, 12)  # Monday week 2: no free section at all
    clock = clock_for(user)
    monday = date_of(user.semester_start, 2, 1)
    now = datetime.combine(monday, time(7, 0), tzinfo=clock.tz)
    task = task_create(
        user=user,
        title="Essay",
        priority=2,
        estimated_sections=2,
        deadline_at=datetime.combine(monday, time(23, 0), tzinfo=clock.tz),
        urgency_threshold_at=now,
    )
    trigger = post(
        api, TRIGGERS, {"trigger_type": "important_urgent_task", "target_type": "task_pool", "target_id": task.pk}
    )["trigger"]
    preview = preview_build(trigger_id=trigger["id"], now=now)
    changes = [c["changes"][0] for c in preview.candidates]
    assert [(c["to"]["start_section"], c.get("embedded_in")) for c in changes] == [
        (3, history["id"]),
        (5, history["id"]),
    ]
    shown = api.get(f"{PREVIEWS}{preview.pk}/").json()["candidates"][0]["changes"][0]
    assert shown["embedded_in"] == history["id"]
    applied = post(api, f"{PREVIEWS}{preview.pk}/apply/", {"candidate_id": "c1"}, 200, HTTP_IDEMPOTENCY_KEY="k1")
    event = ScheduleEvent.objects.get(pk=applied["applied_event_ids"][0])
    assert (event.task_id, event.start_section, event.embedded_in_id) == (task.pk, 3, history["id"])


# --- concurrency --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_blocks_into_the_same_lecture_sections_have_one_winner(api, user):
    monday_lectures(api)

    def claim(i):
        return events_create(
            user=user, events=[EventSpec(title=f"claim {i}", week=2, day=1, start_section=4, end_section=5)]
        )

    outcomes = run_concurrently(4, claim)
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1, outcomes
    assert all(isinstance(o, Conflict) for o in outcomes if isinstance(o, Exception))
    assert ScheduleEvent.objects.filter(title__startswith="claim", embedded_in__isnull=False).count() == 1
    assert ScheduleSlot.objects.filter(layer=SlotLayer.EMBEDDED).count() == 2


# --- the agent's draft and block move ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_agent_draft_falls_back_to_a_lecture_and_applies_embedded(api, user):
    clock = clock_for(user)
    now = timezone.now()
    _today, week, day = clock.locate(now)
    tomorrow, week2, day2 = clock.locate(now + timedelta(days=1))
    course(api, "All day", 1, 12, day=day, weeks=(week,))  # nothing free today
    lecture = course(api, "Big lecture", 1, 12, allow_tasks=True, day=day2, weeks=(week2,))
    task_create(
        user=user,
        title="数学作业",
        estimated_sections=2,
        deadline_at=datetime.combine(tomorrow, time(23, 0), tzinfo=clock.tz),
    )
    body = post(api, "/api/v1/agent/chat/", {"message": "帮我把这周的任务安排到空闲时间里"}, 200)
    assert body["intent"] == "schedule_plan", body
    change = body["actions"][0]["preview"]["changes"][0]
    assert (change["to"]["week"], change["to"]["day"], change["to"]["start_section"]) == (week2, day2, 1)
    assert change["embedded_in"] == lecture["id"]
    url = f"/api/v1/agent/conversations/{body['conversation_id']}/schedule-preview/apply/"
    applied = post(api, url, {}, 200, HTTP_IDEMPOTENCY_KEY="k1")
    assert ScheduleEvent.objects.get(pk=applied["applied_event_ids"][0]).embedded_in_id == lecture["id"]


def test_a_moved_block_goes_to_free_sections_of_the_day_part_first_then_inside_a_lecture(api, user):
    history = course(api, "History", 9, 10, allow_tasks=True, day=4)
    course(api, "Night", 11, 12, day=4)
    assert free_start(user=user, week=2, day=4, length=2, part="afternoon") == (5, None)
    assert free_start(user=user, week=2, day=4, length=2, part="evening") == (9, history["id"])
    others = [{"to": {"week": 2, "day": 4, "start_section": 9, "end_section": 10}, "embedded_in": history["id"]}]
    assert free_start(user=user, week=2, day=4, length=2, part="evening", others=others) is None
    assert free_start(user=user, week=2, day=4, length=3, part="evening") is None  # never across
