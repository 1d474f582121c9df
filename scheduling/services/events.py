"""Schedule event writes. Every schedule write goes through `_schedule_written`, which bumps
the user's schedule version and publishes `schedule.changed`, in the write's transaction.

Slots: each event owns one ScheduleSlot row per section it covers; the unique
(user, week, day, section) constraint decides races, so of two concurrent writes that
want one section exactly one commits and the other gets 409 `slot_conflict`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Q

from outbox import topics
from outbox.services import enqueue
from scheduling import cache
from scheduling.models import ScheduleEvent, ScheduleSlot, ScheduleVersion, TaskClassItem
from scheduling.models.timetable import EventKind, EventSource
from scheduling.timetable import DAYS, MAX_WEEKS, SECTIONS
from smartmate.errors import ApiError, Conflict

logger = logging.getLogger("scheduling.events")


@dataclass(frozen=True)
class EventSpec:
    """What to write: one block of consecutive sections on one day of one week."""

    title: str
    week: int
    day: int
    start_section: int
    end_section: int
    kind: str = EventKind.CUSTOM
    location: str = ""
    note: str = ""
    task_id: int | None = None
    task_item_id: int | None = None
    course_id: int | None = None
    done: bool = False

    def slots(self) -> list[tuple[int, int, int]]:
        return [(self.week, self.day, s) for s in range(self.start_section, self.end_section + 1)]


def validate_position(*, week, day, start_section, end_section, prefix: str = "") -> None:
    """400 naming the field when a position is outside the timetable."""
    errors = {}
    if not (isinstance(week, int) and 1 <= week <= MAX_WEEKS):
        errors["week"] = [f"Must be between 1 and {MAX_WEEKS}."]
    if not (isinstance(day, int) and 1 <= day <= DAYS):
        errors["day"] = ["Must be between 1 and 7."]
    for name, value in (("start_section", start_section), ("end_section", end_section)):
        if not (isinstance(value, int) and 1 <= value <= SECTIONS):
            errors[name] = [f"Must be between 1 and {SECTIONS}."]
    if not errors and start_section > end_section:
        errors["end_section"] = ["Must not be before start_section."]
    if errors:
        raise ApiError(
            "Invalid input: " + ", ".join(sorted(prefix + k for k in errors)) + ".",
            code="validation_error",
            fields={prefix + k: v for k, v in errors.items()},
        )


def schedule_version_bump(*, user) -> int:
    """Bump and return the user's schedule version. The row lock it takes serialises the
    user's schedule writes until commit, so conflict checks below see committed slots."""
    for _ in range(2):
        rows = ScheduleVersion.objects.filter(user=user).update(version=F("version") + 1)
        if rows:
            return ScheduleVersion.objects.values_list("version", flat=True).get(user=user)
        ScheduleVersion.objects.bulk_create([ScheduleVersion(user=user, version=0)], ignore_conflicts=True)
    raise AssertionError("schedule version row vanished")  # pragma: no cover


def _publish_schedule_changed(*, user, version: int, reason: str, event_ids: Iterable[int] = ()) -> None:
    """Announce a schedule write to subscribers, through the outbox, inside its transaction.

    The key is the user's schedule (one aggregate, one version counter), so subscribers
    see a user's changes in order."""
    enqueue(
        biz_type="schedule.changed",
        topic=topics.SCHEDULING,
        message_key=f"schedule:{user.pk}",
        data={"user_id": user.pk, "version": version, "reason": reason, "event_ids": list(event_ids)},
    )


def _announce(*, user, version: int, reason: str, event_ids: Iterable[int]) -> None:
    _publish_schedule_changed(user=user, version=version, reason=reason, event_ids=event_ids)
    # Bulk writes send no signals: clear explicitly (merged with the receivers' clears).
    cache.invalidate_on_commit(user.pk, cache.SCHEDULE)


def _schedule_written(*, user, reason: str, event_ids: Iterable[int] = ()) -> int:
    """Bump the version (taking the user's schedule lock) and announce the write."""
    version = schedule_version_bump(user=user)
    _announce(user=user, version=version, reason=reason, event_ids=event_ids)
    return version


def _conflicts(user, wanted: set[tuple[int, int, int]], *, exclude_event_ids=()) -> list[dict]:
    """Existing events holding any of the wanted slots, one entry per event."""
    if not wanted:
        return []
    cells = Q()
    for week, day in {(w, d) for w, d, _ in wanted}:
        cells |= Q(week=week, day=day)
    taken = (
        ScheduleSlot.objects.filter(cells, user=user)
        .exclude(event_id__in=list(exclude_event_ids))
        .values_list("week", "day", "section", "event_id")
    )
    event_ids = sorted({event_id for w, d, s, event_id in taken if (w, d, s) in wanted})
    events = ScheduleEvent.objects.filter(pk__in=event_ids).order_by("week", "day", "start_section")
    return [_conflict_entry(e) for e in events]


def _conflict_entry(event) -> dict:
    """A clashing event (or an EventSpec of the same call, which has no id yet)."""
    return {
        "event_id": getattr(event, "pk", None),
        "week": event.week,
        "day": event.day,
        "start_section": event.start_section,
        "end_section": event.end_section,
        "title": event.title,
    }


def _raise_conflict(conflicts: list[dict]) -> None:
    count = len(conflicts)
    raise Conflict(
        f"The schedule already has {count} event{'s' if count != 1 else ''} in the requested sections.",
        code="slot_conflict",
        details={"conflicts": conflicts},
    )


def _claim_slots(user, events: list[ScheduleEvent]) -> None:
    """Insert the slot rows; a unique violation (a racing writer) becomes a slot_conflict."""
    rows = [
        ScheduleSlot(user=user, week=e.week, day=e.day, section=s, event=e)
        for e in events
        for s in range(e.start_section, e.end_section + 1)
    ]
    try:
        with transaction.atomic():
            ScheduleSlot.objects.bulk_create(rows)
    except IntegrityError:
        wanted = {(r.week, r.day, r.section) for r in rows}
        _raise_conflict(_conflicts(user, wanted, exclude_event_ids=[e.pk for e in events]) or [])


@transaction.atomic
def events_create(*, user, events: list[EventSpec], source: str = EventSource.MANUAL) -> list[ScheduleEvent]:
    """Write all the events or none. Every clash (with the schedule or between the specs)
    is reported together in one 409 `slot_conflict`."""
    if source not in EventSource.values:
        raise ValueError(f"unknown source {source!r}")
    for index, spec in enumerate(events):
        prefix = f"events[{index}]." if len(events) > 1 else ""
        if spec.kind not in EventKind.values or not 1 <= len(spec.title or "") <= 200:
            field_name = "kind" if spec.kind not in EventKind.values else "title"
            raise ApiError(
                f"Invalid input: {prefix}{field_name}.",
                code="validation_error",
                fields={
                    prefix + field_name: ["Unknown kind." if field_name == "kind" else "Must be 1-200 characters."]
                },
            )
        validate_position(
            week=spec.week, day=spec.day, start_section=spec.start_section, end_section=spec.end_section, prefix=prefix
        )
    if not events:
        return []
    wanted: dict[tuple[int, int, int], EventSpec] = {}
    clashing: list[EventSpec] = []  # specs of this call that overlap an earlier spec of it
    for spec in events:
        for slot in spec.slots():
            other = wanted.setdefault(slot, spec)
            if other is not spec and other not in clashing:
                clashing.append(other)
    version = schedule_version_bump(user=user)  # first: the user's schedule lock, held until commit
    conflicts = _conflicts(user, set(wanted)) + [_conflict_entry(spec) for spec in clashing]
    if conflicts:
        _raise_conflict(conflicts)
    created = ScheduleEvent.objects.bulk_create(
        [
            ScheduleEvent(
                user=user,
                kind=spec.kind,
                title=spec.title,
                week=spec.week,
                day=spec.day,
                start_section=spec.start_section,
                end_section=spec.end_section,
                location=spec.location,
                note=spec.note,
                task_id=spec.task_id,
                task_item_id=spec.task_item_id,
                course_id=spec.course_id,
                source=source,
                done=spec.done,
            )
            for spec in events
        ]
    )
    _claim_slots(user, created)
    _link_items(user, created)
    _announce(user=user, version=version, reason="events_created", event_ids=[e.pk for e in created])
    return created


def _link_items(user, events: list[ScheduleEvent]) -> None:
    """A task-class item without a scheduled event gets the first event written for it."""
    first = {}
    for event in events:
        if event.task_item_id and event.task_item_id not in first:
            first[event.task_item_id] = event.pk
    for item_id, event_id in first.items():
        TaskClassItem.objects.filter(pk=item_id, user=user, scheduled_event__isnull=True).update(
            scheduled_event_id=event_id
        )
    if first:
        cache.invalidate_on_commit(user.pk, cache.TASK_CLASSES)


MOVABLE = ("week", "day", "start_section", "end_section")
EDITABLE = ("title", "location", "note", "done", *MOVABLE)


@transaction.atomic
def event_update(*, user, event: ScheduleEvent, **fields) -> ScheduleEvent:
    """Change an event's text, done flag or position (a move re-claims its slots)."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    event = ScheduleEvent.objects.select_for_update().get(pk=event.pk, user=user)
    position = {name: fields.get(name, getattr(event, name)) for name in MOVABLE}
    moved = any(position[name] != getattr(event, name) for name in MOVABLE)
    if moved:
        validate_position(**position)
    for name, value in fields.items():
        setattr(event, name, value)
    _schedule_written(user=user, reason="event_moved" if moved else "event_updated", event_ids=[event.pk])
    if moved:
        wanted = {(event.week, event.day, s) for s in range(event.start_section, event.end_section + 1)}
        conflicts = _conflicts(user, wanted, exclude_event_ids=[event.pk])
        if conflicts:
            _raise_conflict(conflicts)
        ScheduleSlot.objects.filter(event=event).delete()
        event.save()
        _claim_slots(user, [event])
    else:
        event.save()
    return event


def event_move(*, user, event: ScheduleEvent, week: int, day: int, start_section: int, end_section: int):
    return event_update(
        user=user, event=event, week=week, day=day, start_section=start_section, end_section=end_section
    )


@transaction.atomic
def event_delete(*, user, event: ScheduleEvent) -> None:
    events_delete(user=user, events=ScheduleEvent.objects.filter(pk=event.pk, user=user))


@transaction.atomic
def events_delete(*, user, events, reason: str = "events_deleted") -> int:
    """Delete a queryset of the user's events (their slots go with them)."""
    events = events.filter(user=user)
    ids = list(events.values_list("pk", flat=True))
    if not ids:
        return 0  # nothing on the schedule changes: open previews stay valid
    _schedule_written(user=user, reason=reason, event_ids=ids)
    if TaskClassItem.objects.filter(scheduled_event_id__in=ids).exists():
        cache.invalidate_on_commit(user.pk, cache.TASK_CLASSES)  # SET_NULL is an update(): no signal
    ScheduleEvent.objects.filter(pk__in=ids).delete()
    return len(ids)
