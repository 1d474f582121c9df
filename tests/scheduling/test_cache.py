"""Cached reads on real Redis: every committed write is visible on the next read, a rolled-back
write clears nothing, and a dead Redis degrades to database reads."""

from datetime import timedelta

import pytest
from django.core.cache import cache as django_cache
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from accounts.services import user_update
from scheduling import cache, selectors, services
from scheduling.models import ScheduleEvent, Task, TaskClass
from scheduling.services import EventSpec
from scheduling.timetable import monday_of
from tests.scheduling.conftest import event_body

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

WEEK = "/api/v1/schedule/week/?week=2"
TODAY = "/api/v1/schedule/today/"
ONGOING = "/api/v1/schedule/ongoing/"
RECENT = "/api/v1/schedule/recent-completed/"
TASKS = "/api/v1/tasks/"
CLASSES = "/api/v1/task-classes/"


def sched_ver(user):
    return django_cache.get(cache.version_key(cache.SCHEDULE, user.pk))


def week_cached(user, week=2):
    return django_cache.get(cache.week_key(user.pk, sched_ver(user), week)) is not None


def titles(week_json):
    return sorted(e["title"] for d in week_json["days"] for e in d["events"])


def read_week(api):
    response = api.get(WEEK)
    assert response.status_code == 200
    return response.json()


# --- the week view, fed by events, courses, task-class items, tasks and the user --------------


def test_week_view_is_served_from_the_cache(api, user):
    services.events_create(user=user, events=[EventSpec(title="A", week=2, day=1, start_section=1, end_section=1)])
    first = read_week(api)
    assert week_cached(user)
    # A row changed behind the ORM's back (no signal, no service) stays invisible: the cache answers.
    ScheduleEvent.objects.filter(user=user).update(title="changed behind the cache")
    assert read_week(api) == first


def test_event_create_move_update_and_delete_show_on_the_next_read(api, user):
    read_week(api)
    event = api.post("/api/v1/schedule/events/", event_body(title="Gym", week=2), format="json").json()
    assert titles(read_week(api)) == ["Gym"]
    api.patch(f"/api/v1/schedule/events/{event['id']}/", {"title": "Swim"}, format="json")
    assert titles(read_week(api)) == ["Swim"]
    week3 = api.get("/api/v1/schedule/week/?week=3").json()
    assert titles(week3) == []
    api.patch(f"/api/v1/schedule/events/{event['id']}/", {"week": 3}, format="json")
    assert titles(read_week(api)) == []  # the old week is not left stale
    assert titles(api.get("/api/v1/schedule/week/?week=3").json()) == ["Swim"]
    api.delete(f"/api/v1/schedule/events/{event['id']}/")
    assert titles(api.get("/api/v1/schedule/week/?week=3").json()) == []


def test_course_writes_show_on_the_next_read(api):
    read_week(api)
    body = {"name": "Calc", "weeks": [1, 2], "day": 1, "start_section": 1, "end_section": 2}
    course = api.post("/api/v1/courses/", body, format="json").json()
    assert titles(read_week(api)) == ["Calc"]
    api.patch(f"/api/v1/courses/{course['id']}/", {"name": "Calculus II", "weeks": [2]}, format="json")
    assert titles(read_week(api)) == ["Calculus II"]
    api.delete(f"/api/v1/courses/{course['id']}/")
    assert titles(read_week(api)) == []
    api.post("/api/v1/courses/import/", [body], format="json")
    assert titles(read_week(api)) == ["Calc"]


def test_direct_model_saves_are_seen_through_the_signals(api, user):
    (event,) = services.events_create(
        user=user, events=[EventSpec(title="A", week=2, day=1, start_section=1, end_section=1)]
    )
    read_week(api)
    event.title = "Renamed in the admin"
    event.save()
    assert titles(read_week(api)) == ["Renamed in the admin"]
    event.delete()
    assert titles(read_week(api)) == []


def test_task_class_item_delete_removes_its_event_from_the_week(api, user):
    task_class = services.task_class_create(user=user, name="Plan")
    item = services.task_class_item_create(user=user, task_class=task_class, title="Ch 1")
    services.events_create(
        user=user,
        events=[
            EventSpec(
                title="Ch 1", week=2, day=2, start_section=1, end_section=1, kind="task_item", task_item_id=item.pk
            )
        ],
    )
    assert titles(read_week(api)) == ["Ch 1"]
    api.delete(f"{CLASSES}{task_class.pk}/items/{item.pk}/")
    assert titles(read_week(api)) == []


def test_task_writes_and_the_users_timetable_fields_refresh_the_schedule_family(api, user):
    read_week(api)
    before = sched_ver(user)
    api.post(TASKS, {"title": "x"}, format="json")
    assert sched_ver(user) != before and not week_cached(user)

    services.events_create(user=user, events=[EventSpec(title="A", week=2, day=1, start_section=1, end_section=1)])
    first = read_week(api)
    user_update(user=user, semester_start=user.semester_start - timedelta(weeks=1))
    moved = read_week(api)
    assert moved["start_date"] != first["start_date"]
    assert moved["days"][0]["events"][0]["start_at"] != first["days"][0]["events"][0]["start_at"]
    user_update(user=user, timezone="Europe/Berlin")
    assert read_week(api)["days"][0]["events"][0]["start_at"].endswith("+01:00")


# --- today, ongoing, recent ------------------------------------------------------------------


def test_today_and_ongoing_show_writes_on_the_next_read(api, user):
    _date, week, day = selectors.clock_for(user).locate(timezone.now())
    assert api.get(TODAY).json()["events"] == []
    assert api.get(ONGOING).json()["next"] is None
    later_week = week + 1
    event = api.post("/api/v1/schedule/events/", event_body(title="Later", week=later_week, day=1), format="json")
    today_event = api.post("/api/v1/schedule/events/", event_body(title="Today", week=week, day=day), format="json")
    assert [e["title"] for e in api.get(TODAY).json()["events"]] == ["Today"]
    # "Later" is next week, so whatever the hour, something is now current or next.
    ongoing = api.get(ONGOING).json()
    assert ongoing["next"] is not None
    api.delete(f"/api/v1/schedule/events/{today_event.json()['id']}/")
    api.delete(f"/api/v1/schedule/events/{event.json()['id']}/")
    assert api.get(TODAY).json()["events"] == []
    assert api.get(ONGOING).json() == {"current": None, "next": None}


def test_recent_completed_shows_task_and_event_writes(api, user):
    user_update(user=user, semester_start=monday_of(timezone.localdate()) - timedelta(weeks=2))
    assert api.get(RECENT).json()["results"] == []
    assert django_cache.get(cache.recent_key(user.pk)) is not None
    task = api.post(TASKS, {"title": "Essay"}, format="json").json()
    api.post(f"{TASKS}{task['id']}/complete/")
    assert [r["title"] for r in api.get(RECENT).json()["results"]] == ["Essay"]
    api.post("/api/v1/schedule/events/", event_body(title="Block", kind="task", week=1), format="json")
    assert [r["title"] for r in api.get(RECENT).json()["results"]] == ["Essay", "Block"]
    api.post(f"{TASKS}{task['id']}/reopen/")
    assert [r["title"] for r in api.get(RECENT).json()["results"]] == ["Block"]


# --- task and task-class lists --------------------------------------------------------------


def task_titles(api):
    return [t["title"] for t in api.get(TASKS).json()["results"]]


def test_task_list_shows_every_task_write(api, user):
    assert task_titles(api) == []
    assert django_cache.get(cache.tasks_key(user.pk)) is not None
    task = api.post(TASKS, {"title": "A", "priority": 2}, format="json").json()
    assert task_titles(api) == ["A"]
    api.patch(f"{TASKS}{task['id']}/", {"title": "B"}, format="json")
    assert task_titles(api) == ["B"]
    api.post(f"{TASKS}{task['id']}/complete/")
    assert api.get(TASKS).json()["results"][0]["status"] == "done"
    row = Task.objects.get(pk=task["id"])
    row.title = "C"
    row.save()  # a direct save goes through the signal
    assert task_titles(api) == ["C"]
    api.delete(f"{TASKS}{task['id']}/")
    assert task_titles(api) == []


def test_cached_task_rows_still_get_the_urgency_promotion_on_read(api, user):
    soon = timezone.now() + timedelta(seconds=2)
    api.post(TASKS, {"title": "A", "priority": 2, "urgency_threshold_at": soon.isoformat()}, format="json")
    assert api.get(TASKS).json()["results"][0]["priority"] == 2
    stored = django_cache.get(cache.tasks_key(user.pk))
    assert stored is not None
    selectors_now = soon + timedelta(seconds=1)
    _count, tasks = selectors.task_first_page(user=user, now=selectors_now)
    assert tasks[0].effective_priority == 1
    assert django_cache.get(cache.tasks_key(user.pk)) == stored  # served from the same cached rows


def test_deleting_a_class_refreshes_its_tasks_in_the_task_list(api, user):
    task_class = services.task_class_create(user=user, name="Plan")
    services.task_create(user=user, title="A", task_class_id=task_class.pk)
    assert api.get(TASKS).json()["results"][0]["task_class_id"] == task_class.pk
    api.delete(f"{CLASSES}{task_class.pk}/")
    assert api.get(TASKS).json()["results"][0]["task_class_id"] is None


def class_list(api):
    return api.get(CLASSES).json()["results"]


def test_task_class_list_shows_class_and_item_writes(api, user):
    assert class_list(api) == []
    assert django_cache.get(cache.task_classes_key(user.pk)) is not None
    task_class = api.post(CLASSES, {"name": "Plan"}, format="json").json()
    assert [c["name"] for c in class_list(api)] == ["Plan"]
    api.patch(f"{CLASSES}{task_class['id']}/", {"color": "#000000"}, format="json")
    assert class_list(api)[0]["color"] == "#000000"
    items = f"{CLASSES}{task_class['id']}/items/"
    item = api.post(items, {"title": "Ch 1"}, format="json").json()
    assert [i["title"] for i in class_list(api)[0]["items"]] == ["Ch 1"]
    api.patch(f"{items}{item['id']}/", {"status": "done"}, format="json")
    assert class_list(api)[0]["items"][0]["status"] == "done"

    event = api.post("/api/v1/schedule/events/", event_body(kind="task_item", task_item_id=item["id"]), format="json")
    assert class_list(api)[0]["items"][0]["scheduled_event_id"] == event.json()["id"]
    api.delete(f"/api/v1/schedule/events/{event.json()['id']}/")  # SET_NULL on the item: no item signal
    assert class_list(api)[0]["items"][0]["scheduled_event_id"] is None
    api.post("/api/v1/schedule/events/", event_body(kind="task_item", task_item_id=item["id"]), format="json")
    assert class_list(api)[0]["items"][0]["scheduled_event_id"] is not None
    api.post(f"{items}{item['id']}/unschedule/")
    assert class_list(api)[0]["items"][0]["scheduled_event_id"] is None

    api.delete(f"{items}{item['id']}/")
    assert class_list(api)[0]["items"] == []
    api.delete(f"{CLASSES}{task_class['id']}/")
    assert class_list(api) == []


# --- transactions -----------------------------------------------------------------------------


def test_a_rolled_back_write_leaves_the_cache_untouched(api, user):
    read_week(api)
    api.get(TASKS)
    api.get(CLASSES)
    api.get(RECENT)
    versions = {
        f: django_cache.get(cache.version_key(f, user.pk)) for f in (cache.SCHEDULE, cache.TASKS, cache.TASK_CLASSES)
    }
    cached = {
        k: django_cache.get(k)
        for k in (cache.tasks_key(user.pk), cache.task_classes_key(user.pk), cache.recent_key(user.pk))
    }
    assert all(v is not None for v in cached.values())

    with pytest.raises(RuntimeError), transaction.atomic():
        services.events_create(user=user, events=[EventSpec(title="A", week=2, day=1, start_section=1, end_section=1)])
        services.task_create(user=user, title="T")
        services.task_class_create(user=user, name="C")
        Task.objects.filter(user=user).update(title="x")
        raise RuntimeError("boom")

    assert {f: django_cache.get(cache.version_key(f, user.pk)) for f in versions} == versions
    assert {k: django_cache.get(k) for k in cached} == cached
    assert week_cached(user)
    assert titles(read_week(api)) == [] and task_titles(api) == []
    assert not TaskClass.objects.exists()


@pytest.mark.django_db  # inside the test's transaction, so the queued callbacks can be inspected
def test_a_committed_transaction_clears_each_family_once(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        services.courses_create(
            user=user,
            courses=[
                {"name": f"C{i}", "weeks": list(range(1, 17)), "day": i, "start_section": 1, "end_section": 2}
                for i in range(1, 6)
            ],
        )
        ScheduleEvent.objects.filter(user=user).first().save()
    assert len(callbacks) == 1
    assert callbacks[0].families == {cache.SCHEDULE}


# --- Redis down ---------------------------------------------------------------------------------

DEAD_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
            "IGNORE_EXCEPTIONS": False,
        },
    }
}


def test_reads_and_writes_work_with_redis_down(api, user):
    with override_settings(CACHES=DEAD_REDIS):
        with pytest.raises(Exception):  # noqa: B017 - the cache really is unreachable
            django_cache.get("probe")
        event = api.post("/api/v1/schedule/events/", event_body(title="Gym"), format="json")
        assert event.status_code == 201
        assert titles(read_week(api)) == ["Gym"]
        assert api.get(TODAY).status_code == 200
        assert api.get(ONGOING).status_code == 200
        assert api.get(RECENT).status_code == 200
        assert api.get("/api/v1/schedule/free-slots/?week=2").status_code == 200
        task = api.post(TASKS, {"title": "A"}, format="json")
        assert task.status_code == 201
        assert task_titles(api) == ["A"]
        assert api.post(f"{TASKS}{task.json()['id']}/complete/").status_code == 200
        assert api.post(CLASSES, {"name": "Plan"}, format="json").status_code == 201
        assert [c["name"] for c in class_list(api)] == ["Plan"]
        assert api.patch(f"/api/v1/schedule/events/{event.json()['id']}/", {"day": 5}, format="json").status_code == 200
        assert api.delete(f"/api/v1/schedule/events/{event.json()['id']}/").status_code == 204
        assert titles(read_week(api)) == []


def test_an_expired_version_never_serves_the_values_stamped_with_it(api, user):
    services.events_create(user=user, events=[EventSpec(title="A", week=2, day=1, start_section=1, end_section=1)])
    read_week(api)
    api.get(RECENT)
    ScheduleEvent.objects.filter(user=user).update(title="B", kind="task")  # behind the cache's back
    django_cache.delete(cache.version_key(cache.SCHEDULE, user.pk))  # as if it expired
    assert titles(read_week(api)) == ["B"]
