"""Course writes: a course and its schedule events (one per listed week) in one transaction."""

from __future__ import annotations

from django.db import transaction

from scheduling.models import Course, ScheduleEvent
from scheduling.models.timetable import EventKind, EventSource
from scheduling.services.events import EventSpec, events_create, events_delete, validate_position
from scheduling.services.fields import assign, writable

COURSE_FIELDS = ("name", "location", "teacher", "weeks", "day", "start_section", "end_section")


def _specs(course: Course) -> list[EventSpec]:
    return [
        EventSpec(
            title=course.name,
            week=week,
            day=course.day,
            start_section=course.start_section,
            end_section=course.end_section,
            kind=EventKind.COURSE,
            location=course.location,
            course_id=course.pk,
        )
        for week in sorted(set(course.weeks))
    ]


def _check(course: Course) -> None:
    for week in course.weeks or [1]:
        validate_position(week=week, day=course.day, start_section=course.start_section, end_section=course.end_section)


@transaction.atomic
def courses_create(*, user, courses: list[dict]) -> list[Course]:
    """Create courses and all their events, all or none; clashes are reported together."""
    created = []
    for data in courses:
        course = Course(user=user, **writable(data, COURSE_FIELDS))
        _check(course)
        course.save()
        created.append(course)
    events_create(user=user, events=[spec for course in created for spec in _specs(course)], source=EventSource.COURSE)
    return created


def course_create(*, user, **data) -> Course:
    return courses_create(user=user, courses=[data])[0]


@transaction.atomic
def course_update(*, user, course: Course, **data) -> Course:
    """Change a course and rewrite its events (a clash rolls the whole change back)."""
    course = assign(Course.objects.select_for_update().get(pk=course.pk, user=user), data, COURSE_FIELDS)
    _check(course)
    course.save()
    events_delete(user=user, events=ScheduleEvent.objects.filter(course=course), reason="course_updated")
    events_create(user=user, events=_specs(course), source=EventSource.COURSE)
    return course


@transaction.atomic
def course_delete(*, user, course: Course) -> None:
    events_delete(user=user, events=ScheduleEvent.objects.filter(course=course), reason="course_deleted")
    Course.objects.filter(pk=course.pk, user=user).delete()
