"""Schedule events, courses, task classes, the timetable reads and the calendar feed, over HTTP."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar

from accounts.services import calendar_token_rotate
from scheduling import selectors
from scheduling.models import Course, ScheduleEvent, ScheduleSlot, TaskClass, TaskClassItem
from scheduling.services import EventSpec, events_create
from scheduling.timetable import monday_of
from tests.scheduling.conftest import event_body, set_semester

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

EVENTS = "/api/v1/schedule/events/"
COURSES = "/api/v1/courses/"
CLASSES = "/api/v1/task-classes/"


def post(api, url, body, status=201):
    response = api.post(url, body, format="json")
    assert response.status_code == status, response.content
    return response.json()


# --- events -----------------------------------------------------------------------------------


def test_event_crud_with_computed_times(api, this_monday):
    event = post(api, EVENTS, event_body(title="Gym", week=1, day=2, start_section=5, end_section=6, note="legs"))
    day = (this_monday + timedelta(days=1)).isoformat()
    assert event["start_at"] == f"{day}T14:00:00+08:00" and event["end_at"] == f"{day}T15:40:00+08:00"
    assert event["kind"] == "custom" and event["source"] == "manual" and event["done"] is False
    moved = api.patch(f"{EVENTS}{event['id']}/", {"day": 4, "done": True}, format="json").json()
    assert moved["day"] == 4 and moved["done"] is True
    assert set(ScheduleSlot.objects.values_list("day", "section")) == {(4, 5), (4, 6)}
    assert api.get(f"{EVENTS}?week=1&day=4").json()["count"] == 1
    assert api.get(f"{EVENTS}?kind=course").json()["count"] == 0
    assert api.delete(f"{EVENTS}{event['id']}/").status_code == 204
    assert not ScheduleSlot.objects.exists()


def test_overlap_is_a_409_listing_every_clashing_event_and_writes_nothing(api):
    post(api, EVENTS, event_body(title="A", start_section=1, end_section=2))
    post(api, EVENTS, event_body(title="B", start_section=4, end_section=4))
    response = api.post(EVENTS, event_body(title="C", start_section=2, end_section=5), format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "slot_conflict"
    assert [
        (c["title"], c["week"], c["day"], c["start_section"], c["end_section"]) for c in error["details"]["conflicts"]
    ] == [
        ("A", 2, 3, 1, 2),
        ("B", 2, 3, 4, 4),
    ]
    assert ScheduleEvent.objects.count() == 2 and ScheduleSlot.objects.count() == 3


def test_moving_onto_a_taken_slot_is_a_409_and_the_event_stays(api):
    first = post(api, EVENTS, event_body(title="A", day=1))
    second = post(api, EVENTS, event_body(title="B", day=2))
    response = api.patch(f"{EVENTS}{second['id']}/", {"day": 1}, format="json")
    assert response.status_code == 409 and response.json()["error"]["details"]["conflicts"][0]["title"] == "A"
    assert ScheduleEvent.objects.get(pk=second["id"]).day == 2
    assert ScheduleSlot.objects.filter(event_id=second["id"], day=2).count() == 2
    # moving within its own slots is fine
    assert api.patch(f"{EVENTS}{first['id']}/", {"end_section": 3}, format="json").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (event_body(start_section=0), "start_section"),
        (event_body(end_section=13), "end_section"),
        (event_body(start_section=5, end_section=4), "end_section"),
        (event_body(week=31), "week"),
        (event_body(week=0), "week"),
        (event_body(day=8), "day"),
        (event_body(title="x" * 201), "title"),
        (event_body(kind="course"), "kind"),
        (event_body(kind="meeting"), "kind"),
        (event_body(colour="red"), "colour"),
        (event_body(task_id=424242), "task_id"),
    ],
)
def test_bad_event_input_is_a_400_naming_the_field(api, body, field):
    response = api.post(EVENTS, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not ScheduleEvent.objects.exists()


def test_events_create_reports_clashes_between_its_own_specs(user):
    from smartmate.errors import Conflict

    with pytest.raises(Conflict) as caught:
        events_create(
            user=user,
            events=[
                EventSpec(title="A", week=1, day=1, start_section=1, end_section=2),
                EventSpec(title="B", week=1, day=1, start_section=2, end_section=3),
            ],
        )
    assert caught.value.error_code == "slot_conflict"
    assert not ScheduleEvent.objects.exists()


def test_another_users_event_is_a_404(api, other_api):
    event = post(api, EVENTS, event_body())
    for method in ("get", "patch", "delete"):
        assert getattr(other_api, method)(f"{EVENTS}{event['id']}/", {"day": 1}, format="json").status_code == 404
    assert other_api.get(EVENTS).json()["count"] == 0
    # the same slot is free for another user
    post(other_api, EVENTS, event_body())


# --- courses ---------------------------------------------------------------------------------


def test_a_course_writes_an_event_for_every_listed_week(api):
    course = post(
        api,
        COURSES,
        {
            "name": "Calculus",
            "location": "A101",
            "teacher": "Ng",
            "start_week": 1,
            "end_week": 16,
            "week_type": "odd",
            "day": 1,
            "start_section": 1,
            "end_section": 2,
        },
    )
    assert course["weeks"] == [1, 3, 5, 7, 9, 11, 13, 15]
    events = ScheduleEvent.objects.filter(course_id=course["id"])
    assert sorted(events.values_list("week", flat=True)) == course["weeks"]
    assert set(events.values_list("kind", "source", "location")) == {("course", "course", "A101")}


def test_changing_a_course_rewrites_its_events(api):
    course = post(api, COURSES, {"name": "Physics", "weeks": [1, 2], "day": 2, "start_section": 3, "end_section": 4})
    response = api.patch(
        f"{COURSES}{course['id']}/", {"weeks": [2, 3], "start_section": 5, "end_section": 6}, format="json"
    )
    assert response.status_code == 200, response.content
    rows = set(ScheduleEvent.objects.values_list("week", "start_section", "end_section"))
    assert rows == {(2, 5, 6), (3, 5, 6)}
    assert api.delete(f"{COURSES}{course['id']}/").status_code == 204
    assert not ScheduleEvent.objects.exists() and not ScheduleSlot.objects.exists()


def test_a_course_clashing_in_one_week_writes_nothing(api):
    clash = post(api, EVENTS, event_body(title="Dentist", week=3, day=1, start_section=2, end_section=2))
    response = api.post(
        COURSES,
        {"name": "Chem", "start_week": 1, "end_week": 5, "day": 1, "start_section": 1, "end_section": 2},
        format="json",
    )
    assert response.status_code == 409
    conflicts = response.json()["error"]["details"]["conflicts"]
    assert conflicts == [
        {"event_id": clash["id"], "week": 3, "day": 1, "start_section": 2, "end_section": 2, "title": "Dentist"}
    ]
    assert not Course.objects.exists() and ScheduleEvent.objects.count() == 1


def test_import_writes_all_or_none(api):
    good = [
        {"name": "A", "weeks": [1, 2], "day": 1, "start_section": 1, "end_section": 2},
        {
            "name": "B",
            "start_week": 1,
            "end_week": 4,
            "week_type": "even",
            "day": 2,
            "start_section": 3,
            "end_section": 4,
        },
    ]
    created = post(api, f"{COURSES}import/", good)
    assert [c["name"] for c in created] == ["A", "B"] and ScheduleEvent.objects.count() == 4
    clashing = [
        {"name": "C", "weeks": [5], "day": 5, "start_section": 1, "end_section": 1},
        {"name": "D", "weeks": [1], "day": 1, "start_section": 2, "end_section": 3},
    ]
    response = api.post(f"{COURSES}import/", {"courses": clashing}, format="json")
    assert response.status_code == 409 and response.json()["error"]["details"]["conflicts"][0]["title"] == "A"
    assert Course.objects.count() == 2 and ScheduleEvent.objects.count() == 4
    bad = [
        {"name": "E", "weeks": [1], "day": 6, "start_section": 1, "end_section": 1},
        {"name": "F", "weeks": [31], "day": 6, "start_section": 2, "end_section": 2},
    ]
    response = api.post(f"{COURSES}import/", bad, format="json")
    assert response.status_code == 400
    assert any(name.startswith("courses") and "1" in name for name in response.json()["error"]["fields"])
    assert Course.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "weeks": [31], "day": 1, "start_section": 1, "end_section": 1}, "weeks.0"),
        ({"name": "X", "weeks": [1], "day": 1, "start_section": 3, "end_section": 2}, "end_section"),
        ({"name": "X", "weeks": [1], "day": 1, "start_section": 1, "end_section": 13}, "end_section"),
        ({"name": "X", "day": 1, "start_section": 1, "end_section": 1}, "weeks"),
        ({"name": "X", "start_week": 1, "end_week": 40, "day": 1, "start_section": 1, "end_section": 1}, "end_week"),
        (
            {
                "name": "X",
                "start_week": 1,
                "end_week": 2,
                "week_type": "prime",
                "day": 1,
                "start_section": 1,
                "end_section": 1,
            },
            "week_type",
        ),
    ],
)
def test_bad_course_input_is_a_400(api, body, field):
    response = api.post(COURSES, body, format="json")
    assert response.status_code == 400 and field in response.json()["error"]["fields"], response.content
    assert not Course.objects.exists()


@pytest.mark.parametrize(
    ("start", "end", "kind", "field"),
    [
        (0, 5, "all", "start_week"),
        (1, 31, "all", "end_week"),
        (6, 5, "all", "end_week"),
        (2, 2, "odd", "week_type"),
        (1, 5, "weekly", "week_type"),
        (True, 5, "all", "start_week"),
    ],
)
def test_a_course_week_span_outside_the_semester_reversed_or_empty_is_a_400_naming_the_field(
    api, start, end, kind, field
):
    body = {"name": "X", "start_week": start, "end_week": end, "week_type": kind}
    response = api.post(COURSES, {**body, "day": 1, "start_section": 1, "end_section": 1}, format="json")
    assert response.status_code == 400 and field in response.json()["error"]["fields"], response.content
    assert not Course.objects.exists()


def test_another_users_course_is_a_404(api, other_api):
    course = post(api, COURSES, {"name": "A", "weeks": [1], "day": 1, "start_section": 1, "end_section": 1})
    for method in ("get", "patch", "put", "delete"):
        assert getattr(other_api, method)(f"{COURSES}{course['id']}/", {}, format="json").status_code == 404


# --- task classes --------------------------------------------------------------------------


def test_task_class_with_items_and_planning_fields(api):
    task_class = post(
        api,
        CLASSES,
        {
            "name": "Linear algebra",
            "color": "#aabbcc",
            "start_date": "2026-12-01",
            "end_date": "2026-12-20",
            "strategy": "rapid",
            "excluded_days": [7, 6, 7],
            "excluded_sections": [12],
            "daily_max_sections": 3,
        },
    )
    assert task_class["excluded_days"] == [6, 7] and task_class["daily_max_sections"] == 3
    items_url = f"{CLASSES}{task_class['id']}/items/"
    one = post(api, items_url, {"title": "Ch 1", "estimated_sections": 2})
    two = post(api, items_url, {"title": "Ch 2"})
    assert (one["order"], two["order"]) == (1, 2) and one["scheduled_event_id"] is None
    assert api.patch(f"{items_url}{two['id']}/", {"status": "done"}, format="json").json()["status"] == "done"
    assert api.get(items_url).json()["count"] == 2
    assert [i["title"] for i in api.get(f"{CLASSES}{task_class['id']}/").json()["items"]] == ["Ch 1", "Ch 2"]
    assert api.delete(f"{items_url}{two['id']}/").status_code == 204
    assert api.get(items_url).json()["count"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "A", "color": "red"}, "color"),
        ({"name": "A", "strategy": "lazy"}, "strategy"),
        ({"name": "A", "excluded_days": [8]}, "excluded_days"),
        ({"name": "A", "excluded_sections": [0]}, "excluded_sections"),
        ({"name": "A", "start_date": "2026-12-02", "end_date": "2026-12-01"}, "end_date"),
    ],
)
def test_bad_task_class_input_is_a_400(api, body, field):
    response = api.post(CLASSES, body, format="json")
    assert response.status_code == 400
    assert any(name.startswith(field) for name in response.json()["error"]["fields"]), response.content


def test_class_names_are_unique_per_user(api, other_api):
    post(api, CLASSES, {"name": "Review"})
    response = api.post(CLASSES, {"name": "Review"}, format="json")
    assert response.status_code == 400 and "name" in response.json()["error"]["fields"]
    post(other_api, CLASSES, {"name": "Review"})


def test_another_users_class_and_items_are_404(api, other_api):
    task_class = post(api, CLASSES, {"name": "Mine"})
    item = post(api, f"{CLASSES}{task_class['id']}/items/", {"title": "x"})
    assert other_api.get(f"{CLASSES}{task_class['id']}/").status_code == 404
    assert other_api.get(f"{CLASSES}{task_class['id']}/items/").status_code == 404
    assert other_api.post(f"{CLASSES}{task_class['id']}/items/", {"title": "y"}, format="json").status_code == 404
    assert other_api.get(f"{CLASSES}{task_class['id']}/items/{item['id']}/").status_code == 404
    # an item id under the wrong class is a 404 too
    mine = post(other_api, CLASSES, {"name": "Theirs"})
    assert other_api.get(f"{CLASSES}{mine['id']}/items/{item['id']}/").status_code == 404
    assert TaskClassItem.objects.count() == 1


def test_unschedule_and_class_delete_remove_item_events_together(api, user):
    task_class = post(api, CLASSES, {"name": "Plan"})
    items_url = f"{CLASSES}{task_class['id']}/items/"
    a = post(api, items_url, {"title": "A"})
    b = post(api, items_url, {"title": "B"})
    post(api, EVENTS, event_body(kind="task_item", task_item_id=a["id"], title="A", day=1))
    post(api, EVENTS, event_body(kind="task_item", task_item_id=b["id"], title="B", day=2))
    items = {i["id"]: i for i in api.get(items_url).json()["results"]}
    assert items[a["id"]]["scheduled_event_id"] is not None

    unscheduled = api.post(f"{items_url}{a['id']}/unschedule/").json()
    assert unscheduled["scheduled_event_id"] is None
    assert not ScheduleEvent.objects.filter(task_item_id=a["id"]).exists()

    assert api.delete(f"{CLASSES}{task_class['id']}/").status_code == 204
    assert not TaskClass.objects.exists() and not TaskClassItem.objects.exists()
    assert not ScheduleEvent.objects.exists() and not ScheduleSlot.objects.exists()


# --- timetable reads --------------------------------------------------------------------------


def test_week_view_defaults_to_this_week_and_lists_seven_days(api, this_monday):
    post(api, EVENTS, event_body(week=1, day=7, start_section=9, end_section=9, title="Sunday"))
    week = api.get("/api/v1/schedule/week/").json()
    assert week["week"] == 1 and week["start_date"] == this_monday.isoformat()
    assert [d["day"] for d in week["days"]] == list(range(1, 8))
    assert week["days"][6]["date"] == (this_monday + timedelta(days=6)).isoformat()
    assert [e["title"] for e in week["days"][6]["events"]] == ["Sunday"]
    assert week["days"][6]["events"][0]["start_at"].endswith("T19:00:00+08:00")


def test_week_numbering_follows_semester_start(api, user, semester_from_last_month):
    assert api.get("/api/v1/schedule/week/").json()["week"] == 5
    assert api.get("/api/v1/schedule/today/").json()["week"] == 5
    assert (
        api.get("/api/v1/schedule/week/?week=2").json()["start_date"]
        == (semester_from_last_month + timedelta(weeks=1)).isoformat()
    )


@pytest.mark.parametrize("query", ["?week=0", "?week=31", "?week=x", "?weeks=2"])
def test_week_outside_1_30_is_a_400(api, query):
    response = api.get("/api/v1/schedule/week/" + query)
    assert response.status_code == 400 and response.json()["error"]["fields"]
    assert api.get("/api/v1/schedule/free-slots/" + query).status_code == 400


def test_today_outside_the_semester_has_week_null(api, user):
    set_semester(user, monday_of(timezone.localdate()) + timedelta(weeks=2))
    today = api.get("/api/v1/schedule/today/").json()
    assert today["week"] is None and today["events"] == []
    set_semester(user, monday_of(timezone.localdate()) - timedelta(weeks=40))
    assert api.get("/api/v1/schedule/today/").json()["week"] is None


def test_today_lists_todays_events(api, user):
    _date, week, day = selectors.clock_for(user).locate(timezone.now())
    post(api, EVENTS, event_body(week=week, day=day, title="Now-ish"))
    today = api.get("/api/v1/schedule/today/").json()
    assert today["day"] == day and [e["title"] for e in today["events"]] == ["Now-ish"]


def test_ongoing_finds_current_and_next(user):
    clock = selectors.clock_for(user)
    events_create(
        user=user,
        events=[
            EventSpec(title="Morning", week=1, day=2, start_section=1, end_section=2),
            EventSpec(title="Noon", week=1, day=2, start_section=5, end_section=5),
            EventSpec(title="Friday", week=1, day=5, start_section=3, end_section=3),
        ],
    )
    at = datetime.combine(clock.semester_start + timedelta(days=1), datetime.min.time(), tzinfo=clock.tz)
    during = selectors.ongoing(user=user, now=at.replace(hour=9))
    assert (during["current"]["title"], during["next"]["title"]) == ("Morning", "Noon")
    between = selectors.ongoing(user=user, now=at.replace(hour=12))
    assert between["current"] is None and between["next"]["title"] == "Noon"
    evening = selectors.ongoing(user=user, now=at.replace(hour=20))
    assert evening["current"] is None and evening["next"]["title"] == "Friday"


def test_ongoing_endpoint_shape(api):
    body = api.get("/api/v1/schedule/ongoing/").json()
    assert body == {"current": None, "next": None}


def test_recent_completed_lists_done_tasks_and_past_task_events(api, user, semester_from_last_month):
    task = post(api, "/api/v1/tasks/", {"title": "Essay"})
    api.post(f"/api/v1/tasks/{task['id']}/complete/")
    post(api, EVENTS, event_body(kind="task", task_id=task["id"], title="Essay block", week=4, day=1))
    post(api, EVENTS, event_body(title="Custom", week=4, day=2))  # custom events are not listed
    post(api, EVENTS, event_body(kind="task", title="Future", week=6, day=1))
    body = api.get("/api/v1/schedule/recent-completed/").json()
    assert [(r["kind"], r["title"]) for r in body["results"]] == [("task", "Essay"), ("event", "Essay block")]
    assert body["results"][1]["completed_at"].endswith("T09:40:00+08:00")
    assert len(api.get("/api/v1/schedule/recent-completed/?limit=1").json()["results"]) == 1
    for bad in ("0", "51", "x"):
        response = api.get(f"/api/v1/schedule/recent-completed/?limit={bad}")
        assert response.status_code == 400 and "limit" in response.json()["error"]["fields"]


def test_free_slots(api):
    post(api, EVENTS, event_body(week=3, day=2, start_section=3, end_section=5))
    body = api.get("/api/v1/schedule/free-slots/?week=3").json()
    assert body["week"] == 3 and len(body["free"]) == 7
    assert body["free"][1] == {"day": 2, "sections": [1, 2, 6, 7, 8, 9, 10, 11, 12]}
    assert body["free"][0]["sections"] == list(range(1, 13))


# --- calendar feed ------------------------------------------------------------------------------


def test_calendar_feed_parses_back_with_one_vevent_per_event(api, api_client, user, other_api):
    post(api, EVENTS, event_body(title="Lab", week=1, day=1, start_section=3, end_section=4, note="bring goggles"))
    post(
        api,
        COURSES,
        {"name": "Calc", "location": "A1", "weeks": [1, 2, 3], "day": 3, "start_section": 1, "end_section": 2},
    )
    post(other_api, EVENTS, event_body(title="Not mine"))
    secret = calendar_token_rotate(user=user)
    response = api_client.get(f"/api/v1/calendar/{secret}.ics", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    vevents = calendar.walk("VEVENT")
    assert len(vevents) == ScheduleEvent.objects.filter(user=user).count() == 4
    uids = [str(v["UID"]) for v in vevents]
    assert len(set(uids)) == 4
    lab = next(v for v in vevents if str(v["SUMMARY"]) == "Lab")
    assert lab.decoded("DTSTART").isoformat() == f"{user.semester_start.isoformat()}T10:15:00+08:00"
    assert str(lab["DESCRIPTION"]) == "bring goggles"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    again = Calendar.from_ical(api_client.get(f"/api/v1/calendar/{secret}.ics").content)
    assert [str(v["UID"]) for v in again.walk("VEVENT")] == uids  # stable


def test_calendar_feed_with_an_unknown_secret_is_a_json_404(api_client):
    response = api_client.get("/api/v1/calendar/nope.ics")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_a_course_change_that_clashes_rolls_back_to_the_old_events(api):
    course = post(api, COURSES, {"name": "Bio", "weeks": [1, 2], "day": 1, "start_section": 1, "end_section": 2})
    post(api, EVENTS, event_body(title="Busy", week=2, day=3, start_section=1, end_section=1))
    response = api.put(
        f"{COURSES}{course['id']}/",
        {"name": "Bio", "weeks": [1, 2], "day": 3, "start_section": 1, "end_section": 2},
        format="json",
    )
    assert response.status_code == 409 and response.json()["error"]["details"]["conflicts"][0]["title"] == "Busy"
    assert set(ScheduleEvent.objects.filter(course_id=course["id"]).values_list("week", "day")) == {(1, 1), (2, 1)}
    assert Course.objects.get(pk=course["id"]).day == 1


def test_schedule_reads_show_only_the_users_own_events(api, other_api):
    post(other_api, EVENTS, event_body(title="Theirs", week=1, day=1))
    post(other_api, COURSES, {"name": "Their course", "weeks": [1], "day": 2, "start_section": 1, "end_section": 1})
    week = api.get("/api/v1/schedule/week/?week=1").json()
    assert all(day["events"] == [] for day in week["days"])
    assert api.get("/api/v1/schedule/free-slots/?week=1").json()["free"][0]["sections"] == list(range(1, 13))
    assert api.get("/api/v1/schedule/ongoing/").json() == {"current": None, "next": None}
    assert api.get(EVENTS).json()["count"] == 0 and api.get(COURSES).json()["count"] == 0


@pytest.mark.parametrize("query", ["?week=31", "?day=0", "?kind=meeting"])
def test_bad_event_filters_are_400s(api, query):
    response = api.get(EVENTS + query)
    assert response.status_code == 400 and query[1:].split("=")[0] in response.json()["error"]["fields"]
