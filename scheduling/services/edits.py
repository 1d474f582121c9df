"""Edited changes of a preview candidate or an agent draft (docs/DOMAIN.md, "Edited previews
and drafts"): read what the rules need — the user's taken sections, each task's deadline, each
item's study-plan dates — let the pure `scheduling.edits.changes_check` judge the edit, and turn
an accepted edit into the changes to write.

Call these inside the apply (or edit) transaction, after the user's schedule version row is
locked and found equal to the proposal's base version (`schedule_version_locked`): a schedule
that changed since the proposal stays a 409 `stale_version`, whatever the edit says, and the
sections read here cannot change before the write commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from django.conf import settings

from scheduling import edits
from scheduling.models import ScheduleEvent, ScheduleVersion, Task, TaskClassItem
from scheduling.models.active import ActiveSchedulePreview, TargetType
from scheduling.services.placement import first_position_after, free_time_read, last_position_by
from scheduling.timetable import Clock, semester_end
from smartmate.errors import ApiError


def schedule_version_locked(*, user) -> int:
    """The user's schedule version, its row locked until commit (no schedule write of this
    user commits meanwhile). 0 before any schedule write (no row to lock: nothing to race)."""
    return ScheduleVersion.objects.select_for_update().filter(user=user).values_list("version", flat=True).first() or 0


def _day_end(clock: Clock, on) -> datetime:
    return datetime.combine(on, clock.sections[-1][1], tzinfo=clock.tz)


def _windows(
    *, user, clock: Clock, targets, not_before: datetime, horizon_end: datetime
) -> dict[edits.Target, edits.Window]:
    """Each target's window: from the first section after `not_before` (and the start of its study
    plan) to the last section ending by the horizon, and by its deadline (a task's `deadline_at`,
    the end of its study plan's last day)."""
    earliest = first_position_after(clock, not_before)
    horizon = last_position_by(clock, horizon_end)
    task_ids = {t[1] for t in targets if t[1] is not None}
    item_ids = {t[2] for t in targets if t[2] is not None}
    deadlines = dict(Task.objects.filter(user=user, pk__in=task_ids).values_list("pk", "deadline_at"))
    items = {
        item.pk: item
        for item in TaskClassItem.objects.filter(user=user, pk__in=item_ids)
        .select_related("task_class")
        .only("pk", "task_class__start_date", "task_class__end_date")
    }
    windows = {}
    for target in targets:
        _kind, task_id, item_id = target
        start, deadline = earliest, None
        if task_id is not None and deadlines.get(task_id):
            deadline = last_position_by(clock, deadlines[task_id])
        item = items.get(item_id) if item_id is not None else None
        if item is not None and item.task_class.start_date:
            start = max(start, first_position_after(clock, _day_end(clock, item.task_class.start_date - timedelta(1))))
        if item is not None and item.task_class.end_date:
            end = last_position_by(clock, _day_end(clock, item.task_class.end_date))
            deadline = min(deadline, end) if deadline else end
        windows[target] = edits.Window(earliest=start, horizon=horizon, deadline=deadline)
    return windows


def _taken(*, user, changes: Sequence[Mapping]) -> tuple[set[edits.Position], dict[edits.Position, int]]:
    """The timetable sections of the edit's weeks that events hold, and the open sections of
    lectures that admit study blocks (holding no block yet), each with its lecture's course."""
    weeks = [c["to"]["week"] for c in changes]
    if not weeks:
        return set(), {}
    free_time = free_time_read(user_id=user.pk, first_week=min(weeks), last_week=max(weeks))
    return free_time.occupied, free_time.embeddable()


def changes_checked(
    *,
    user,
    clock: Clock,
    changes: Sequence[Mapping],
    candidate_changes: Sequence[Mapping],
    not_before: datetime,
    horizon_end: datetime,
) -> list[dict]:
    """The edited changes to write (and keep), in the candidate's shape, or 422 `invalid_changes`
    naming every broken rule of every change (`details.changes`: index, what it places, reasons
    with a code and a sentence)."""
    targets = {edits.target_of(c) for c in candidate_changes}
    occupied, embeddable = _taken(user=user, changes=changes)
    errors = edits.changes_check(
        changes=changes,
        candidate_changes=candidate_changes,
        occupied=occupied,
        embeddable=embeddable,
        windows=_windows(user=user, clock=clock, targets=targets, not_before=not_before, horizon_end=horizon_end),
        sections_per_day=len(clock.sections),
    )
    if errors:
        count = len(errors)
        raise ApiError(
            f"{count} change{'s' if count != 1 else ''} of the edit break{'s' if count == 1 else ''} a placement rule.",
            code="invalid_changes",
            status_code=422,
            details={"changes": [e.as_dict() for e in errors]},
        )
    return _as_stored(changes, candidate_changes, embeddable)


def _as_stored(
    changes: Sequence[Mapping], candidate_changes: Sequence[Mapping], embeddable: Mapping[edits.Position, int]
) -> list[dict]:
    """An accepted edit in the candidate's shape: each candidate change with its new place (and
    title), in the edit's order, `embedded_in` naming the lecture's course when the new place lies
    inside one; what it is for and `from` stay the candidate's."""
    originals: dict[edits.Target, list[Mapping]] = {}
    for original in candidate_changes:
        originals.setdefault(edits.target_of(original), []).append(original)
    stored = []
    for change in changes:
        original = originals[edits.target_of(change)].pop(0)
        to = {k: change["to"][k] for k in ("week", "day", "start_section", "end_section")}
        title = (change.get("title") or original.get("title", ""))[:200]
        kept = {k: v for k, v in original.items() if k != "embedded_in"}
        first = (to["week"], to["day"], to["start_section"])
        stored.append(
            {**kept, "title": title, "to": to, **({"embedded_in": embeddable[first]} if first in embeddable else {})}
        )
    return stored


# --- the windows of each kind of proposal ------------------------------------------------------


def preview_window(*, preview: ActiveSchedulePreview, now: datetime, clock: Clock) -> tuple[datetime, datetime]:
    """(not before, horizon end) of a preview's edits: after now — and after the block a make-up
    block is for, if it is still there — and within the horizon the preview was built with."""
    not_before = now
    trigger = preview.trigger
    if trigger.target_type == TargetType.SCHEDULE_EVENT:
        original = ScheduleEvent.objects.filter(pk=trigger.target_id, user_id=preview.user_id).first()
        if original is not None:
            not_before = max(
                now, clock.span(original.week, original.day, original.start_section, original.end_section)[1]
            )
    return not_before, preview.created_at + timedelta(days=settings.ACTIVE_SCHEDULE_HORIZON_DAYS)


def draft_window(*, created_at: datetime, now: datetime, clock: Clock) -> tuple[datetime, datetime]:
    """(not before, horizon end) of an agent draft's edits: after now, and by the last day the
    draft was planned over (AGENT_PLAN_DAYS_AHEAD from its day, within the semester)."""
    last = min(
        created_at.astimezone(clock.tz).date() + timedelta(days=settings.AGENT_PLAN_DAYS_AHEAD),
        semester_end(clock.semester_start),
    )
    return now, _day_end(clock, last)
