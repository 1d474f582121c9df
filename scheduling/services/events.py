"""Schedule event writes. Every schedule write goes through `_schedule_written`, which bumps
the user's schedule version and publishes `schedule.changed`, in the write's transaction.

Slots: each event owns one ScheduleSlot row per section it covers; the unique
(user, week, day, section, layer) constraint decides races, so of two concurrent writes that
want one section exactly one commits and the other gets 409 `slot_conflict`.

Embedding (docs/DOMAIN.md, "Lectures that admit study blocks"): an event other than a course
whose sections all lie inside one lecture of a course that allows tasks is embedded in that
course — `embedded_in` names it and its slots are on the embedded layer, so it is no clash
with the lecture (but is one with another block inside it). An event across two lectures, or
across a lecture and a free section, is not embedded and clashes with the lecture.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Q

from outbox.services import enqueue
from scheduling import cache
from scheduling.models import ScheduleEvent, ScheduleSlot, ScheduleVersion, TaskClassItem
from scheduling.models.timetable import EventKind, EventSource, SlotLayer
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


Cell = tuple[int, int, int, int]
"""``(week, day, section, layer)``: what a slot row claims."""


def _cells(event, embedded_in: int | None) -> list[Cell]:
    layer = SlotLayer.EMBEDDED if embedded_in else SlotLayer.TIMETABLE
    return [(event.week, event.day, s, layer) for s in range(event.start_section, event.end_section + 1)]


def _day_filter(days) -> Q:
    cells = Q()
    for week, day in set(days):
        cells |= Q(week=week, day=day)
    return cells


def embedding_resolve(*, user, events, exclude_event_ids=()) -> list[int | None]:
    """For each event or spec (anything with kind, week, day, start and end section), the course
    whose lecture — of a course that allows tasks — holds every one of its sections, else None.
    Courses are never embedded. One query; call it under the user's schedule lock."""
    wanted = [e for e in events if e.kind != EventKind.COURSE]
    if not wanted:
        return [None] * len(events)
    lectures: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    rows = (
        ScheduleEvent.objects.filter(
            _day_filter((e.week, e.day) for e in wanted), user=user, kind=EventKind.COURSE, course__allow_tasks=True
        )
        .exclude(pk__in=list(exclude_event_ids))
        .values_list("week", "day", "start_section", "end_section", "course_id")
    )
    for week, day, start, end, course_id in rows:
        lectures.setdefault((week, day), []).append((start, end, course_id))
    out = []
    for e in events:
        found = None
        if e.kind != EventKind.COURSE:
            for start, end, course_id in lectures.get((e.week, e.day), ()):
                if start <= e.start_section and e.end_section <= end:
                    found = course_id
                    break
        out.append(found)
    return out


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
        topic="smartmate.scheduling",
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


def _conflicts(user, wanted: set[Cell], *, exclude_event_ids=()) -> list[dict]:
    """Existing events holding any of the wanted slots (on the same layer), one entry per event."""
    if not wanted:
        return []
    taken = (
        ScheduleSlot.objects.filter(_day_filter((w, d) for w, d, _s, _l in wanted), user=user)
        .exclude(event_id__in=list(exclude_event_ids))
        .values_list("week", "day", "section", "layer", "event_id")
    )
    event_ids = sorted({event_id for w, d, s, layer, event_id in taken if (w, d, s, layer) in wanted})
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
    """Insert the slot rows (an embedded event's on the embedded layer); a unique violation (a
    racing writer) becomes a slot_conflict."""
    rows = [
        ScheduleSlot(user=user, week=w, day=d, section=s, layer=layer, event=e)
        for e in events
        for w, d, s, layer in _cells(e, e.embedded_in_id)
    ]
    try:
        with transaction.atomic():
            ScheduleSlot.objects.bulk_create(rows)
    except IntegrityError:
        wanted = {(r.week, r.day, r.section, r.layer) for r in rows}
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
    version = schedule_version_bump(user=user)  # first: the user's schedule lock, held until commit
    embedded = embedding_resolve(user=user, events=events)
    wanted: dict[Cell, EventSpec] = {}
    clashing: list[EventSpec] = []  # specs of this call that overlap an earlier spec of it
    for spec, course_id in zip(events, embedded, strict=True):
        for cell in _cells(spec, course_id):
            other = wanted.setdefault(cell, spec)
            if other is not spec and other not in clashing:
                clashing.append(other)
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
                embedded_in_id=course_id,
                source=source,
                done=spec.done,
            )
            for spec, course_id in zip(events, embedded, strict=True)
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
        event.embedded_in_id = embedding_resolve(user=user, events=[event], exclude_event_ids=[event.pk])[0]
        conflicts = _conflicts(user, set(_cells(event, event.embedded_in_id)), exclude_event_ids=[event.pk])
        if conflicts:
            _raise_conflict(conflicts)
        ScheduleSlot.objects.filter(event=event).delete()
        event.save()
        _claim_slots(user, [event])
        if event.kind == EventKind.COURSE and event.course_id:
            embedded_reconcile(user=user, course_ids=[event.course_id])
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
def events_delete(*, user, events, reason: str = "events_deleted", reconcile: bool = True) -> int:
    """Delete a queryset of the user's events (their slots go with them). Blocks embedded in a
    deleted lecture stay where they are, as ordinary events (`reconcile=False` leaves that to a
    caller that rewrites the lectures in the same transaction)."""
    events = events.filter(user=user)
    rows = list(events.values_list("pk", "kind", "course_id"))
    if not rows:
        return 0  # nothing on the schedule changes: open previews stay valid
    ids = [pk for pk, _kind, _course in rows]
    _schedule_written(user=user, reason=reason, event_ids=ids)
    if TaskClassItem.objects.filter(scheduled_event_id__in=ids).exists():
        cache.invalidate_on_commit(user.pk, cache.TASK_CLASSES)  # SET_NULL is an update(): no signal
    ScheduleEvent.objects.filter(pk__in=ids).delete()
    lectures = {course for _pk, kind, course in rows if kind == EventKind.COURSE and course}
    if reconcile and lectures:
        embedded_reconcile(user=user, course_ids=lectures)
    return len(ids)


def embedded_reconcile(*, user, course_ids) -> None:
    """After the lectures of these courses changed (moved, deleted, rewritten, `allow_tasks`
    turned off), every block embedded in them that no lecture of its course holds any more
    becomes an ordinary event where it is: its slots move to the timetable layer. Where that
    layer is taken — the lecture is still there but no longer admits blocks, or moved over
    part of the block — 409 `slot_conflict` names those blocks and the caller's transaction
    rolls back. Call under the user's schedule lock (inside a schedule write)."""
    blocks = list(ScheduleEvent.objects.filter(user=user, embedded_in_id__in=list(course_ids)))
    if not blocks:
        return
    holders = embedding_resolve(user=user, events=blocks)
    for block, holder in zip(blocks, holders, strict=True):
        if holder is not None and holder != block.embedded_in_id:  # now inside another such lecture
            ScheduleEvent.objects.filter(pk=block.pk).update(embedded_in_id=holder)
            cache.invalidate_on_commit(user.pk, cache.SCHEDULE)
    loose = [block for block, holder in zip(blocks, holders, strict=True) if holder is None]
    if not loose:
        return
    wanted = {cell for block in loose for cell in _cells(block, None)}
    if _conflicts(user, wanted, exclude_event_ids=[b.pk for b in loose]):
        count = len(loose)
        raise Conflict(
            f"{count} block{'s' if count != 1 else ''} inside this lecture would clash with it or with another "
            "event; move or delete them first.",
            code="slot_conflict",
            details={"conflicts": [_conflict_entry(b) for b in loose]},
        )
    ids = [b.pk for b in loose]
    ScheduleEvent.objects.filter(pk__in=ids).update(embedded_in=None)
    try:
        with transaction.atomic():
            ScheduleSlot.objects.filter(event_id__in=ids).update(layer=SlotLayer.TIMETABLE)
    except IntegrityError:
        _raise_conflict([_conflict_entry(b) for b in loose])
    cache.invalidate_on_commit(user.pk, cache.SCHEDULE)
