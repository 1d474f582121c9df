"""Scheduling reads. Cached reads store raw rows (scheduling.cache); whatever depends on
the clock — effective priority, start/end times, current/next — is derived here after
the cache, on every read."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.timezones import user_zone
from scheduling import cache
from scheduling.filters import EventFilter, PreviewFilter, TaskFilter, apply
from scheduling.models import (
    ActiveSchedulePreview,
    Course,
    ScheduleEvent,
    ScheduleVersion,
    Task,
    TaskClass,
    TaskClassItem,
)
from scheduling.models.tasks import Status, effective_priority, effective_priority_expression
from scheduling.models.timetable import EventKind
from scheduling.timetable import DAYS, Clock, date_of, in_semester, monday_of, parse_sections, week_start

DEFAULT_PAGE_SIZE = 20


def _columns(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


def _rows(queryset) -> list[dict]:
    return list(queryset.values(*_columns(queryset.model)))


def instance(model, row: dict):
    """A model instance from a cached raw row (no query)."""
    return model(**row)


# --- timetable --------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _sections(pairs: tuple) -> tuple:
    return parse_sections(pairs)


def clock_for(user) -> Clock:
    tz = user_zone(user)
    start = user.semester_start
    if start is None:  # registration always sets it; never fail a read without one
        start = monday_of(timezone.localdate(timezone=tz))
    return Clock(start, tz, _sections(tuple(tuple(p) for p in settings.SCHEDULING_SECTION_TIMES)))


def schedule_version_get(user) -> int:
    """The user's schedule version (0 before any schedule write); previews compare it."""
    return ScheduleVersion.objects.filter(user=user).values_list("version", flat=True).first() or 0


# --- tasks ---------------------------------------------------------------------------------


def task_queryset(*, user):
    return Task.objects.filter(user=user).annotate(effective_priority=effective_priority_expression())


def task_list(*, user, filters=None):
    return apply(TaskFilter, filters or {}, task_queryset(user=user))


def task_get(*, user, task_id) -> Task | None:
    return task_queryset(user=user).filter(pk=task_id).first()


def task_statuses(*, user, ids: list[int]) -> list[dict]:
    """`{id, status, completed_at}` of the user's tasks among `ids`, in the order asked (each id
    once); ids of other users' or missing tasks are left out. One query."""
    found = {
        row["id"]: row for row in Task.objects.filter(user=user, id__in=set(ids)).values("id", "status", "completed_at")
    }
    return [found[task_id] for task_id in dict.fromkeys(ids) if task_id in found]


def task_first_page(*, user, now: datetime | None = None) -> tuple[int, list[Task]]:
    """(count, tasks) of the default list's first page, from the cache when possible."""

    def compute():
        queryset = Task.objects.filter(user=user).order_by(*Task._meta.ordering)
        return {"count": queryset.count(), "rows": _rows(queryset[:DEFAULT_PAGE_SIZE])}

    cached = cache.read_stamped(cache.TASKS, user.pk, cache.tasks_key(user.pk), compute)
    now = now or timezone.now()
    tasks = []
    for row in cached["rows"]:
        task = instance(Task, row)
        task.effective_priority = effective_priority(task.priority, task.urgency_threshold_at, now)
        tasks.append(task)
    return cached["count"], tasks


# --- task classes --------------------------------------------------------------------------


def task_class_queryset(*, user):
    return TaskClass.objects.filter(user=user)


def task_class_item_queryset(*, user):
    return TaskClassItem.objects.filter(user=user)


def task_class_items(*, user, task_class_id):
    return task_class_item_queryset(user=user).filter(task_class_id=task_class_id)


def task_class_first_page(*, user) -> tuple[int, list[TaskClass]]:
    """(count, classes with `.item_list`) of the default first page, from the cache when possible."""

    def compute():
        queryset = task_class_queryset(user=user).order_by(*TaskClass._meta.ordering)
        classes = _rows(queryset[:DEFAULT_PAGE_SIZE])
        items = _rows(TaskClassItem.objects.filter(task_class_id__in=[c["id"] for c in classes]))
        return {"count": queryset.count(), "rows": classes, "items": items}

    cached = cache.read_stamped(cache.TASK_CLASSES, user.pk, cache.task_classes_key(user.pk), compute)
    by_class: dict[int, list] = {}
    for row in cached["items"]:
        by_class.setdefault(row["task_class_id"], []).append(instance(TaskClassItem, row))
    classes = []
    for row in cached["rows"]:
        task_class = instance(TaskClass, row)
        task_class.item_list = by_class.get(task_class.pk, [])
        classes.append(task_class)
    return cached["count"], classes


# --- courses -----------------------------------------------------------------------------


def course_queryset(*, user):
    return Course.objects.filter(user=user)


# --- schedule events --------------------------------------------------------------------


def event_queryset(*, user):
    return ScheduleEvent.objects.filter(user=user)


def event_list(*, user, filters=None):
    return apply(EventFilter, filters or {}, event_queryset(user=user))


def _schedule_key(user, make_key):
    ver = cache.family_version(cache.SCHEDULE, user.pk)
    return None if ver is None else make_key(ver)


def week_rows(*, user, week: int) -> list[dict]:
    key = _schedule_key(user, lambda ver: cache.week_key(user.pk, ver, week))
    return cache.read_through(key, lambda: _rows(event_queryset(user=user).filter(week=week)))


@dataclass
class WeekView:
    week: int
    start_date: date
    days: list[dict]  # [{"day", "date", "events": [raw rows]}]


def week_view(*, user, week: int) -> WeekView:
    clock = clock_for(user)
    rows = week_rows(user=user, week=week)
    days = [
        {"day": day, "date": date_of(clock.semester_start, week, day), "events": [r for r in rows if r["day"] == day]}
        for day in range(1, DAYS + 1)
    ]
    return WeekView(week=week, start_date=week_start(clock.semester_start, week), days=days)


def current_week(*, user, now: datetime | None = None) -> int | None:
    _date, week, _day = clock_for(user).locate(now or timezone.now())
    return week if in_semester(week) else None


def today_view(*, user, now: datetime | None = None) -> dict:
    clock = clock_for(user)
    on, week, day = clock.locate(now or timezone.now())
    if not in_semester(week):
        return {"date": on, "week": None, "day": day, "events": []}
    key = _schedule_key(user, lambda ver: cache.today_key(user.pk, ver, on))
    rows = cache.read_through(key, lambda: _rows(event_queryset(user=user).filter(week=week, day=day)))
    return {"date": on, "week": week, "day": day, "events": rows}


def _seconds_to_boundary(clock: Clock, now: datetime) -> int:
    return int((clock.next_boundary(now) - now).total_seconds()) + 1


def ongoing(*, user, now: datetime | None = None) -> dict:
    """{"current": row or None, "next": row or None}; the cached candidates are re-judged at `now`."""
    clock = clock_for(user)
    now = now or timezone.now()
    on, week, day = clock.locate(now)

    def compute():
        today = _rows(event_queryset(user=user).filter(week=week, day=day))
        later = event_queryset(user=user).filter(Q(week__gt=week) | Q(week=week, day__gt=day))
        return {"date": on, "rows": today + _rows(later.order_by("week", "day", "start_section", "id")[:1])}

    key = _schedule_key(user, lambda ver: cache.ongoing_key(user.pk, ver))
    cached = cache.read_through(key, compute, timeout=_seconds_to_boundary(clock, now))
    if cached["date"] != on:
        cached = compute()
    current = upcoming = None
    for row in cached["rows"]:
        start, end = clock.span(row["week"], row["day"], row["start_section"], row["end_section"])
        if start <= now < end and current is None:
            current = row
        elif now < start and upcoming is None:
            upcoming = row
    return {"current": current, "next": upcoming}


def recent_completed(*, user, limit: int = 10, now: datetime | None = None) -> list[dict]:
    """Tasks marked done and task / task-item events whose end has passed, newest first."""
    clock = clock_for(user)
    now = now or timezone.now()
    on, week, day = clock.locate(now)
    most = settings.SCHEDULING_RECENT_LIMIT_MAX

    def compute():
        tasks = list(
            Task.objects.filter(user=user, status=Status.DONE)
            .order_by("-completed_at", "-id")
            .values("id", "title", "completed_at")[:most]
        )
        events = (
            event_queryset(user=user)
            .filter(kind__in=[EventKind.TASK, EventKind.TASK_ITEM])
            .filter(Q(week__lt=week) | Q(week=week, day__lte=day))
            .order_by("-week", "-day", "-end_section", "-id")
            .values("id", "title", "week", "day", "start_section", "end_section")
        )
        # Today holds at most one event per section: `most` + sections rows always hold `most` ended ones.
        return {"date": on, "tasks": tasks, "events": list(events[: most + len(clock.sections)])}

    cached = cache.read_stamped(
        cache.SCHEDULE, user.pk, cache.recent_key(user.pk), compute, timeout=_seconds_to_boundary(clock, now)
    )
    if cached["date"] != on:
        cached = compute()
    results = [{"kind": "task", **row} for row in cached["tasks"]]
    for row in cached["events"]:
        end = clock.span(row["week"], row["day"], row["start_section"], row["end_section"])[1]
        if end <= now:
            results.append({"kind": "event", "id": row["id"], "title": row["title"], "completed_at": end})
    results.sort(key=lambda r: r["completed_at"], reverse=True)
    return results[:limit]


def free_slots(*, user, week: int) -> list[dict]:
    rows = week_rows(user=user, week=week)
    sections = len(clock_for(user).sections)
    taken = {(r["day"], s) for r in rows for s in range(r["start_section"], r["end_section"] + 1)}
    return [
        {"day": day, "sections": [s for s in range(1, sections + 1) if (day, s) not in taken]}
        for day in range(1, DAYS + 1)
    ]


def calendar_events(*, user):
    return event_queryset(user=user).order_by("week", "day", "start_section", "id")


# --- active scheduling ---------------------------------------------------------------------


def preview_queryset(*, user):
    return ActiveSchedulePreview.objects.filter(user=user).select_related("trigger")


def preview_list(*, user, filters=None):
    return apply(PreviewFilter, filters, preview_queryset(user=user))
