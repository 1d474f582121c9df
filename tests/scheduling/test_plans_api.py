"""Study plans over HTTP (docs/DOMAIN.md §2, "Study plans"): plan → apply with the preview rules, the bad inputs, and
the timetable import with odd/even weeks. The semester starts this Monday, and the classes
plan into weeks 2-4, so "today" never clips them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduling.models import Course, ScheduleEvent, StudyPlan, TaskClass, TaskClassItem
from scheduling.selectors import clock_for
from scheduling.services import EventSpec, events_create
from scheduling.timetable import date_of
from tests.scheduling.conftest import set_semester

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

CLASSES = "/api/v1/task-classes/"
PLAN = "/api/v1/task-classes/plan/"
PLANS = "/api/v1/task-classes/plans/"
COURSES = "/api/v1/courses/"


def make_class(user, name, *, start=(2, 1), end=(2, 7), items=(1, 2, 1), **fields):
    """A class dated (week, day) start..end of the user's semester, with items of these lengths."""
    semester = user.semester_start
    task_class = TaskClass.objects.create(
        user=user,
        name=name,
        start_date=date_of(semester, *start) if start else None,
        end_date=date_of(semester, *end) if end else None,
        **fields,
    )
    for order, length in enumerate(items):
        TaskClassItem.objects.create(
            task_class=task_class, user=user, title=f"{name} {order + 1}", order=order, estimated_sections=length
        )
    return task_class


def plan(api, *classes, status=201):
    response = api.post(PLAN, {"class_ids": [c.pk for c in classes]}, format="json")
    assert response.status_code == status, response.content
    return response.json()


def apply(api, plan_id, key="k1"):
    return api.post(f"{PLANS}{plan_id}/apply/", format="json", HTTP_IDEMPOTENCY_KEY=key)


def error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["code"] == code, body
    return body


# --- plan and apply ------------------------------------------------------------------------------


def test_plan_then_apply_puts_every_item_on_the_week_view(api, user):
    events_create(user=user, events=[EventSpec(title="Lab", week=2, day=1, start_section=1, end_section=4)])
    math = make_class(user, "Math", items=(2, 1, 2), strategy="rapid", excluded_days=[3], daily_max_sections=3)
    physics = make_class(user, "Physics", items=(1, 1), excluded_sections=[1, 2])
    body = plan(api, math, physics)

    assert set(body) >= {"id", "class_ids", "placements", "base_version", "expires_at"}
    assert body["class_ids"] == [math.pk, physics.pk]
    placements = body["placements"]
    items = {i.pk: i for i in TaskClassItem.objects.all()}
    assert {p["item_id"] for p in placements} == set(items)
    assert set(placements[0]) == {"item_id", "title", "week", "day", "start_section", "end_section"}
    assert not ScheduleEvent.objects.filter(kind="task_item").exists()  # nothing written before apply

    taken = {(2, 1, s) for s in range(1, 5)}
    per_class_day: dict[tuple[int, int], int] = {}
    for p in placements:
        item = items[p["item_id"]]
        assert p["week"] == 2 and p["end_section"] - p["start_section"] + 1 == item.estimated_sections
        slots = {(p["week"], p["day"], s) for s in range(p["start_section"], p["end_section"] + 1)}
        assert not slots & taken, p  # never over an event or another placement
        taken |= slots
        key = (item.task_class_id, p["day"])
        per_class_day[key] = per_class_day.get(key, 0) + item.estimated_sections
        if item.task_class_id == math.pk:
            assert p["day"] != 3
        else:
            assert p["start_section"] > 2
    assert all(total <= (3 if cls == math.pk else 4) for (cls, _day), total in per_class_day.items())
    for task_class in (math, physics):  # item order kept
        ordered = [p for i in task_class.items.order_by("order") for p in placements if p["item_id"] == i.pk]
        positions = [(p["week"], p["day"], p["start_section"]) for p in ordered]
        assert positions == sorted(positions)

    response = apply(api, body["id"])
    assert response.status_code == 200, response.content
    applied = response.json()
    assert applied["status"] == "applied" and len(applied["applied_event_ids"]) == 5
    events = ScheduleEvent.objects.filter(kind="task_item")
    assert {(e.source, e.task_item_id) for e in events} == {("manual", pk) for pk in items}
    for item in TaskClassItem.objects.all():
        assert item.scheduled_event_id in applied["applied_event_ids"]
    week = api.get("/api/v1/schedule/week/?week=2").json()
    shown = {e["task_item_id"] for day in week["days"] for e in day["events"] if e["kind"] == "task_item"}
    assert shown == set(items)


def test_planning_never_places_before_now(api, user):
    set_semester(user, user.semester_start - timedelta(weeks=1))  # this week is week 2
    task_class = make_class(user, "Now", start=(2, 1), end=(3, 7), items=(1,) * 6, strategy="rapid")
    now = timezone.now()
    clock = clock_for(user)
    for p in plan(api, task_class)["placements"]:
        assert clock.span(p["week"], p["day"], p["start_section"], p["end_section"])[0] > now


def test_applying_twice_with_one_key_replays_and_another_key_is_already_applied(api, user):
    body = plan(api, make_class(user, "Math"))
    first = apply(api, body["id"], "same")
    assert first.status_code == 200
    again = apply(api, body["id"], "same")
    assert again.status_code == 200 and again.content == first.content
    error(apply(api, body["id"], "other"), 409, "already_applied")
    assert ScheduleEvent.objects.filter(kind="task_item").count() == 3


def test_apply_needs_an_idempotency_key(api, user):
    body = plan(api, make_class(user, "Math"))
    error(api.post(f"{PLANS}{body['id']}/apply/", format="json"), 400, "validation_error")
    assert not ScheduleEvent.objects.exists()


def test_a_course_added_between_plan_and_apply_makes_it_stale_and_writes_nothing(api, user):
    body = plan(api, make_class(user, "Math"))
    course = {"name": "Art", "weeks": [10], "day": 5, "start_section": 11, "end_section": 12}
    assert api.post(COURSES, course, format="json").status_code == 201
    error(apply(api, body["id"]), 409, "stale_version")
    assert not ScheduleEvent.objects.filter(kind="task_item").exists()
    assert not TaskClassItem.objects.filter(scheduled_event__isnull=False).exists()
    stored = StudyPlan.objects.get(pk=body["id"])
    assert (stored.status, stored.apply_status, stored.apply_error_code) == ("expired", "rejected", "stale_version")
    error(apply(api, body["id"], "k2"), 409, "preview_expired")  # it can never apply again


def test_a_slot_taken_since_the_plan_is_a_slot_conflict(api, user):
    body = plan(api, make_class(user, "Math", items=(2,)))
    p = body["placements"][0]
    events_create(
        user=user,
        events=[
            EventSpec(
                title="Gym",
                **{k: p[k] for k in ("week", "day")},
                start_section=p["start_section"],
                end_section=p["start_section"],
            )
        ],
    )
    body_error = error(apply(api, body["id"]), 409, "slot_conflict")
    assert body_error["details"]["conflicts"][0]["title"] == "Gym"
    assert not ScheduleEvent.objects.filter(kind="task_item").exists()


def test_an_expired_plan_is_409_and_writes_nothing(api, user):
    body = plan(api, make_class(user, "Math"))
    StudyPlan.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    error(apply(api, body["id"]), 409, "preview_expired")
    assert not ScheduleEvent.objects.exists()
    assert StudyPlan.objects.get(pk=body["id"]).apply_status == "expired"


def test_an_item_done_since_the_plan_makes_it_stale(api, user):
    task_class = make_class(user, "Math")
    body = plan(api, task_class)
    TaskClassItem.objects.filter(task_class=task_class, order=0).update(status="done")
    error(apply(api, body["id"]), 409, "stale_version")
    assert not ScheduleEvent.objects.exists()


def test_not_enough_time_names_the_needed_and_free_sections(api, user):
    events_create(user=user, events=[EventSpec(title="Lab", week=2, day=1, start_section=1, end_section=2)])
    one_day = make_class(user, "Cram", start=(2, 1), end=(2, 1), items=(4, 4, 4))
    body = error(api.post(PLAN, {"class_ids": [one_day.pk]}, format="json"), 409, "not_enough_time")
    assert body["details"] == {"needed_sections": 12, "free_sections": 10}
    assert not StudyPlan.objects.exists() and not ScheduleEvent.objects.filter(kind="task_item").exists()


def test_scheduled_and_done_items_are_left_out(api, user):
    task_class = make_class(user, "Math")
    first, second, third = task_class.items.order_by("order")
    TaskClassItem.objects.filter(pk=first.pk).update(status="done")
    events_create(
        user=user,
        events=[
            EventSpec(
                title="x", kind="task_item", task_item_id=second.pk, week=5, day=1, start_section=1, end_section=2
            )
        ],
    )
    assert [p["item_id"] for p in plan(api, task_class)["placements"]] == [third.pk]


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{"class_ids": []}, {}, {"class_ids": "1"}, {"class_ids": [0]}])
def test_a_bad_body_is_400(api, body):
    error(api.post(PLAN, body, format="json"), 400, "validation_error")
    assert not StudyPlan.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"start": None}, "start_date"),
        ({"end": None}, "end_date"),
        ({"start": (0, 7)}, "start_date"),  # the Sunday before week 1
        ({"end": (31, 1)}, "end_date"),
    ],
)
def test_a_class_that_cannot_be_planned_is_400_naming_the_field(api, user, fields, field):
    task_class = make_class(user, "Math", **fields)
    body = error(api.post(PLAN, {"class_ids": [task_class.pk]}, format="json"), 400, "validation_error")
    assert field in body["fields"]
    assert not StudyPlan.objects.exists()


@pytest.mark.parametrize(
    ("name", "value"), [("excluded_days", [8]), ("excluded_sections", [0]), ("excluded_sections", [13])]
)
def test_out_of_range_exclusions_are_400_on_plan_and_on_class_writes(api, user, name, value):
    task_class = make_class(user, "Math")
    TaskClass.objects.filter(pk=task_class.pk).update(**{name: value})  # written around the API
    body = error(api.post(PLAN, {"class_ids": [task_class.pk]}, format="json"), 400, "validation_error")
    assert name in body["fields"]
    error(api.post(CLASSES, {"name": "New", name: value}, format="json"), 400, "validation_error")
    error(api.patch(f"{CLASSES}{task_class.pk}/", {name: value}, format="json"), 400, "validation_error")


def test_class_writes_refuse_an_end_date_before_the_start_date(api, user):
    body = {"name": "Math", "start_date": "2030-03-10", "end_date": "2030-03-01"}
    assert "end_date" in error(api.post(CLASSES, body, format="json"), 400, "validation_error")["fields"]


def test_another_users_class_or_plan_is_404(api, user, other, other_api):
    mine = make_class(user, "Math")
    error(other_api.post(PLAN, {"class_ids": [mine.pk]}, format="json"), 404, "not_found")
    theirs = make_class(other, "Theirs")
    error(api.post(PLAN, {"class_ids": [mine.pk, theirs.pk]}, format="json"), 404, "not_found")
    body = plan(api, mine)
    error(apply(other_api, body["id"]), 404, "not_found")
    assert not ScheduleEvent.objects.exists()
    assert StudyPlan.objects.get(pk=body["id"]).status == "ready"


# --- courses: odd/even weeks and the import --------------------------------------------------


def test_odd_and_even_weeks_expand_and_share_a_slot(api, user):
    base = {"day": 2, "start_section": 3, "end_section": 4}
    odd = api.post(COURSES, {"name": "Odd", "start_week": 1, "end_week": 8, "week_type": "odd", **base}, format="json")
    even = api.post(
        COURSES, {"name": "Even", "start_week": 1, "end_week": 8, "week_type": "even", **base}, format="json"
    )
    assert odd.status_code == 201 and even.status_code == 201, (odd.content, even.content)
    assert odd.json()["weeks"] == [1, 3, 5, 7] and even.json()["weeks"] == [2, 4, 6, 8]
    weeks = dict(ScheduleEvent.objects.filter(kind="course").values_list("week", "title"))
    assert weeks == {1: "Odd", 2: "Even", 3: "Odd", 4: "Even", 5: "Odd", 6: "Even", 7: "Odd", 8: "Even"}
    every = api.post(COURSES, {"name": "All", "start_week": 7, "end_week": 9, **base}, format="json")
    assert error(every, 409, "slot_conflict")["details"]["conflicts"][0]["week"] == 7


def test_importing_20_courses_with_one_clash_is_409_listing_it_and_writes_nothing(api, user):
    events_create(user=user, events=[EventSpec(title="Dentist", week=3, day=5, start_section=9, end_section=9)])
    courses = [
        {
            "name": f"Course {n}",
            "start_week": 1,
            "end_week": 16,
            "day": n % 5 + 1,
            "start_section": 2 * (n // 5) + 1,
            "end_section": 2 * (n // 5) + 2,
        }
        for n in range(20)
    ]
    courses[19]["week_type"] = "odd"  # day 5, sections 7-8: no clash
    courses[18] = {"name": "Evening", "weeks": [3, 4], "day": 5, "start_section": 9, "end_section": 10}
    response = api.post(f"{COURSES}import/", courses, format="json")
    body = error(response, 409, "slot_conflict")
    (conflict,) = body["details"]["conflicts"]
    assert (conflict["title"], conflict["week"], conflict["day"]) == ("Dentist", 3, 5)
    assert (conflict["start_section"], conflict["end_section"]) == (9, 9)
    assert not Course.objects.exists() and ScheduleEvent.objects.count() == 1

    courses[18]["weeks"] = [4]
    response = api.post(f"{COURSES}import/", courses, format="json")
    assert response.status_code == 201, response.content
    assert len(response.json()) == 20 and Course.objects.count() == 20


@pytest.mark.django_db(transaction=True)
def test_of_concurrent_applies_exactly_one_writes_events(user):
    from scheduling.services.planning import study_plan_apply, study_plan_create
    from smartmate.errors import Conflict
    from tests.concurrency import run_concurrently

    study_plan = study_plan_create(user=user, class_ids=[make_class(user, "Math").pk])
    outcomes = run_concurrently(
        6, lambda i: study_plan_apply(user=user, plan_id=study_plan.pk, idempotency_key=f"k{i}")
    )
    winners = [o for o in outcomes if isinstance(o, StudyPlan)]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, Conflict) and o.error_code == "already_applied" for o in outcomes if o not in winners)
    assert ScheduleEvent.objects.filter(kind="task_item").count() == 3


def test_an_item_deleted_since_the_plan_makes_it_stale(api, user):
    task_class = make_class(user, "Math")
    body = plan(api, task_class)
    TaskClassItem.objects.filter(task_class=task_class, order=1).delete()
    error(apply(api, body["id"]), 409, "stale_version")
    assert not ScheduleEvent.objects.exists()
