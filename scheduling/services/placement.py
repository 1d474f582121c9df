"""Placement: where new blocks can go in a user's schedule.

The pure planner (`scheduling.planner`) decides; this module reads what it needs (the taken
slots, the open tasks and items), maps moments to timetable positions, and turns the planner's
spans and placements into changes (the shape `scheduling.services.applying` writes). Previews'
candidates, study plans and the agent's drafts all place through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from scheduling import planner
from scheduling.models import ScheduleSlot, Task, TaskClass, TaskClassItem
from scheduling.models.tasks import Status
from scheduling.models.timetable import EventKind
from scheduling.selectors import clock_for, schedule_version_get
from scheduling.timetable import MAX_WEEKS, Clock, semester_end

Position = tuple[int, int, int]
"""`(week, day, section)`; positions compare in time order."""


# --- moments and positions -------------------------------------------------------------------


def first_position_after(clock: Clock, moment: datetime) -> Position:
    """The first (week, day, section) whose section starts after `moment`."""
    local, week, day = clock.locate(moment)
    for section, (start, _end) in enumerate(clock.sections, start=1):
        if datetime.combine(local, start, tzinfo=clock.tz) > moment:
            return week, day, section
    _local, week, day = clock.locate(moment + timedelta(days=1))
    return week, day, 1


def last_position_by(clock: Clock, moment: datetime) -> Position:
    """The last (week, day, section) whose section ends by `moment`."""
    local, week, day = clock.locate(moment)
    for section in range(len(clock.sections), 0, -1):
        if datetime.combine(local, clock.sections[section - 1][1], tzinfo=clock.tz) <= moment:
            return week, day, section
    _local, week, day = clock.locate(moment - timedelta(days=1))
    return week, day, len(clock.sections)


def window(clock: Clock, after: datetime, by: datetime) -> tuple[Position, Position] | None:
    """The positions a block may take to start after `after` and end by `by`, or None."""
    earliest, latest = first_position_after(clock, after), last_position_by(clock, by)
    if latest < earliest or earliest[0] > MAX_WEEKS or latest[0] < 1:
        return None
    return earliest, latest


# Day parts by the start of a section: morning before noon, evening from 18:00.
_NOON, _EVENING = time(12, 0), time(18, 0)


def day_part_sections(clock: Clock, part: str | None) -> range:
    """The sections of `morning`, `afternoon` or `evening` (by their start times); any other
    part, or none, is the whole day. With the default times: 1-4, 5-8 and 9-12."""
    bounds = {"morning": (time.min, _NOON), "afternoon": (_NOON, _EVENING), "evening": (_EVENING, time.max)}
    if part not in bounds:
        return range(1, len(clock.sections) + 1)
    low, high = bounds[part]
    inside = [n for n, (start, _end) in enumerate(clock.sections, start=1) if low <= start < high]
    return range(inside[0], inside[-1] + 1) if inside else range(0)


# --- what is taken ---------------------------------------------------------------------------


def taken_slots(*, user_id: int, first_week: int = 1, last_week: int = MAX_WEEKS) -> set[Position]:
    """The (week, day, section) slots of weeks first..last that a block may not use."""
    return set(
        ScheduleSlot.objects.filter(user_id=user_id, week__gte=first_week, week__lte=last_week).values_list(
            "week", "day", "section"
        )
    )


def occupied_slots(*, user, clock: Clock, now: datetime, first_week: int = 1, last_week: int = MAX_WEEKS) -> set:
    """Taken slots of weeks first..last, plus the sections of today that have already started:
    the planner takes `today` as a date, so the past of today is ours to mark."""
    taken = taken_slots(user_id=user.pk, first_week=first_week, last_week=last_week)
    local, week, day = clock.locate(now)
    for section, (start, _end) in enumerate(clock.sections, start=1):
        if datetime.combine(local, start, tzinfo=clock.tz) <= now:
            taken.add((week, day, section))
    return taken


# --- the planner's answers as changes ----------------------------------------------------------


def spans(
    *, clock: Clock, occupied: Iterable, length: int, earliest: Position, latest: Position, max_candidates: int = 3
) -> list[planner.Span]:
    """Free spans of `length` sections in the window, by the preview candidates' order."""
    return planner.candidate_spans(
        occupied=occupied,
        length=length,
        earliest=earliest,
        latest=latest,
        max_candidates=max_candidates,
        sections_per_day=len(clock.sections),
        max_weeks=MAX_WEEKS,
    )


def block_change(
    *,
    title: str,
    kind: str,
    week: int,
    day: int,
    start_section: int,
    end_section: int,
    task_id: int | None = None,
    task_item_id: int | None = None,
) -> dict:
    """A new block as the change an apply writes."""
    change = {
        "op": "create",
        "title": title,
        "kind": kind,
        "to": {"week": week, "day": day, "start_section": start_section, "end_section": end_section},
    }
    if task_id:
        change["task_id"] = task_id
    if task_item_id:
        change["task_item_id"] = task_item_id
    return change


def class_spec(task_class: TaskClass, items, *, start_date: date, end_date: date) -> planner.ClassSpec:
    """A task class as the planner's input (the caller chooses the window)."""
    return planner.ClassSpec(
        class_id=task_class.pk,
        start_date=start_date,
        end_date=end_date,
        strategy=task_class.strategy,
        excluded_days=task_class.excluded_days or (),
        excluded_sections=task_class.excluded_sections or (),
        daily_max_sections=task_class.daily_max_sections,
        items=[
            planner.ItemSpec(item_id=i.pk, title=i.title, order=i.order, estimated_sections=i.estimated_sections)
            for i in items
        ],
    )


# --- free time: everything open, in the next days ------------------------------------------------


@dataclass
class Proposal:
    """Changes placing open work into free time, and the schedule version they were read at."""

    changes: list[dict]
    base_version: int


def free_time_proposal(*, user, now: datetime, days_ahead: int, limit: int = 20) -> Proposal | None:
    """Place the user's open tasks and unscheduled task-class items into free spans of the next
    `days_ahead` days; None when nothing fits.

    Tasks (earliest deadline first) take the first free span before their deadline; the items
    then go through the study planner with their classes' exclusions, daily cap and strategy,
    in the time left. Whatever does not fit is left out."""
    clock = clock_for(user)
    today = now.astimezone(clock.tz).date()
    last_date = min(today + timedelta(days=days_ahead), semester_end(clock.semester_start))
    earliest = first_position_after(clock, now)
    if last_date < today or earliest[0] > MAX_WEEKS:
        return None
    horizon_end = datetime.combine(last_date, clock.sections[-1][1], tzinfo=clock.tz)
    # The version before the slots: the proposal's base is never newer than what it saw.
    base_version = schedule_version_get(user)
    occupied = occupied_slots(user=user, clock=clock, now=now, first_week=max(earliest[0], 1))
    changes: list[dict] = []

    def add(change: dict) -> None:
        to = change["to"]
        occupied.update((to["week"], to["day"], s) for s in range(to["start_section"], to["end_section"] + 1))
        changes.append(change)

    tasks = (
        Task.objects.filter(user=user, status=Status.TODO, deadline_at__gt=now, schedule_events__isnull=True)
        .order_by("deadline_at", "priority", "id")
        .distinct()[:limit]
    )
    for task in tasks:
        bounds = window(clock, now, min(task.deadline_at, horizon_end))
        if bounds is None:
            continue
        length = max(1, task.estimated_sections)
        for span in spans(
            clock=clock, occupied=occupied, length=length, earliest=earliest, latest=bounds[1], max_candidates=1
        ):
            add(block_change(title=task.title, kind=EventKind.TASK, task_id=task.pk, **span_position(span)))

    for placement in _items_placements(
        user=user, clock=clock, occupied=occupied, today=today, last_date=last_date, limit=limit
    ):
        add(
            block_change(
                title=placement.title,
                kind=EventKind.TASK_ITEM,
                task_item_id=placement.item_id,
                week=placement.week,
                day=placement.day,
                start_section=placement.start_section,
                end_section=placement.end_section,
            )
        )
    return Proposal(changes, base_version) if changes else None


def span_position(span: planner.Span) -> dict:
    return {"week": span.week, "day": span.day, "start_section": span.start_section, "end_section": span.end_section}


def _items_placements(*, user, clock: Clock, occupied: set, today: date, last_date: date, limit: int):
    items = TaskClassItem.objects.filter(user=user, status=Status.TODO, scheduled_event__isnull=True).order_by(
        "task_class_id", "order", "id"
    )[:limit]
    by_class: dict[int, list] = {}
    for item in items:
        by_class.setdefault(item.task_class_id, []).append(item)
    specs = []
    for task_class in TaskClass.objects.filter(user=user, pk__in=by_class).order_by("pk"):
        start = max(task_class.start_date or today, today)
        end = min(task_class.end_date or last_date, last_date)
        if start > end:
            continue
        try:
            specs.append(class_spec(task_class, by_class[task_class.pk], start_date=start, end_date=end))
        except planner.PlannerInputError:
            continue

    def plan(classes):
        try:
            result = planner.plan_study(
                classes=classes,
                occupied=occupied,
                semester_start=clock.semester_start,
                today=today,
                sections_per_day=len(clock.sections),
            )
        except planner.PlannerInputError:
            return ()
        return result.placements if result.ok else ()

    # All classes in one shared pool; if they do not all fit, each class that fits on its own
    # (in turn, each seeing the blocks placed before it).
    groups = [specs] if len(specs) == 1 or (specs and plan(specs)) else [[spec] for spec in specs]
    for group in groups:
        placements = plan(group)
        for p in placements:
            occupied.update((p.week, p.day, s) for s in range(p.start_section, p.end_section + 1))
        yield from placements


# --- one block moved ---------------------------------------------------------------------------


def free_start(*, user, week: int, day: int, length: int, part: str | None, others: Iterable[dict] = ()) -> int | None:
    """The first section of `day` in week `week` that starts `length` free sections inside the
    day part (`day_part_sections`), with the blocks of `others` (changes not yet written)
    counted as taken; None when there is none."""
    clock = clock_for(user)
    sections = len(clock.sections)
    taken = {(d, s) for _w, d, s in taken_slots(user_id=user.pk, first_week=week, last_week=week)}
    for other in others:
        to = other["to"]
        if to["week"] == week:
            taken.update((to["day"], s) for s in range(to["start_section"], to["end_section"] + 1))
    for start in day_part_sections(clock, part):
        block = range(start, start + length)
        if block.stop - 1 <= sections and not any((day, s) in taken for s in block):
            return start
    return None
