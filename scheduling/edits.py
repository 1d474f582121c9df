"""Edited changes of a proposal (docs/DOMAIN.md, "Edited previews and drafts"). Pure: no
Django, no ORM, no clock — the services layer reads the schedule and passes it in.

A client may apply a preview candidate, or keep an agent draft, with the changes moved
elsewhere. An edit is accepted only when it obeys the rules the planner placed the
candidate by:

- it places the same tasks and items as the candidate, each once, with the same operation
  and the same length (``not_in_candidate``, ``duplicate``, ``missing``, ``op_changed``,
  ``length_changed``);
- each block lies inside the timetable (``outside_timetable``), starts no earlier than its
  window allows (``too_early``: the past, before the block it makes up for, before its study
  plan starts) and ends by the proposal's horizon (``beyond_horizon``) and by its task's
  deadline (``after_deadline``);
- each block lies on free sections (``slot_taken``) or wholly inside one lecture that admits
  study blocks, never across two lectures or a lecture and free time (``spans_lecture``);
- no two blocks of the edit overlap (``overlaps_change``).

:func:`changes_check` answers every broken rule of every change at once, so a client can fix
them in one round; an empty answer means the edit may be written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from scheduling.timetable import DAYS, MAX_WEEKS

Position = tuple[int, int, int]
"""``(week, day, section)``; positions compare as tuples, so "earlier" is (week, day, section) order."""

Target = tuple[str, int | None, int | None]
"""What a change places: ``(kind, task_id, task_item_id)``."""

SECTIONS_PER_DAY = 12

MESSAGES = {
    "not_in_candidate": "The candidate does not place this task or item.",
    "duplicate": "This task or item is placed more than once.",
    "missing": "The candidate places this task or item, and the edit leaves it out.",
    "op_changed": "An edit may move a block, not change what the change does (op, event_id).",
    "length_changed": "The block must keep its length of {length} section(s).",
    "outside_timetable": "The block lies outside the timetable (weeks 1-{weeks}, days 1-7, sections 1-{sections}).",
    "too_early": "The block starts too early: it must start at or after week {week}, day {day}, section {section}.",
    "beyond_horizon": "The block ends after the proposal's horizon (week {week}, day {day}, section {section}).",
    "after_deadline": "The block ends after the deadline (week {week}, day {day}, section {section} at the latest).",
    "slot_taken": "Sections {sections} of that day are already taken.",
    "spans_lecture": "A block lies inside one lecture that admits study blocks, or on free sections only.",
    "overlaps_change": "The block overlaps change {other} of this edit.",
}


@dataclass(frozen=True, slots=True)
class Window:
    """Where one task's or item's block may go.

    ``earliest`` is the first position a block may start on, ``horizon`` the last it may end on
    (the proposal's reach), ``deadline`` the last position ending by the target's deadline
    (``None``: no deadline). All inclusive."""

    earliest: Position
    horizon: Position
    deadline: Position | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    message: str


@dataclass(slots=True)
class ChangeError:
    """The rules one change breaks. ``index`` is its place in the edit (``None`` for a task or
    item of the candidate that the edit leaves out)."""

    index: int | None
    target: Target
    reasons: list[Reason] = field(default_factory=list)

    def add(self, code: str, **values) -> None:
        self.reasons.append(Reason(code, MESSAGES[code].format(**values)))

    def as_dict(self) -> dict:
        kind, task_id, task_item_id = self.target
        body: dict = {"index": self.index, "kind": kind}
        if task_id is not None:
            body["task_id"] = task_id
        if task_item_id is not None:
            body["task_item_id"] = task_item_id
        body["reasons"] = [{"code": r.code, "message": r.message} for r in self.reasons]
        return body


def target_of(change: Mapping) -> Target:
    return (change.get("kind") or "task", change.get("task_id"), change.get("task_item_id"))


def _op_of(change: Mapping) -> tuple[str, int | None]:
    return (change.get("op") or "create", change.get("event_id"))


def _span(change: Mapping) -> tuple[int, int, int, int]:
    to = change["to"]
    return to["week"], to["day"], to["start_section"], to["end_section"]


def _length(change: Mapping) -> int:
    _week, _day, start, end = _span(change)
    return end - start + 1


def _position(pos: Position) -> dict:
    return {"week": pos[0], "day": pos[1], "section": pos[2]}


def _inside_timetable(change: Mapping, sections_per_day: int, max_weeks: int) -> bool:
    week, day, start, end = _span(change)
    return 1 <= week <= max_weeks and 1 <= day <= DAYS and 1 <= start <= end <= sections_per_day


def changes_check(
    *,
    changes: Sequence[Mapping],
    candidate_changes: Sequence[Mapping],
    occupied: AbstractSet[Position],
    windows: Mapping[Target, Window],
    embeddable: Mapping[Position, int] | None = None,
    sections_per_day: int = SECTIONS_PER_DAY,
    max_weeks: int = MAX_WEEKS,
) -> list[ChangeError]:
    """Every broken rule of every edited change; ``[]`` when the edit may be written.

    ``changes`` and ``candidate_changes`` are change dicts (``op``, ``kind``, ``task_id``,
    ``task_item_id``, ``event_id``, ``to``). ``occupied`` holds the sections taken by the
    user's events; ``embeddable`` maps those of them that belong to a lecture admitting study
    blocks (and hold none yet) to that lecture's course id. ``windows`` gives each target of the
    candidate its window; a target without one is checked against the timetable only.
    Errors come in edit order, the left-out targets last."""
    embeddable = embeddable or {}
    pending: dict[Target, list[Mapping]] = {}
    for original in candidate_changes:
        pending.setdefault(target_of(original), []).append(original)
    in_candidate = set(pending)
    errors: list[ChangeError] = []
    placed: list[tuple[int, tuple[int, int, int, int]]] = []  # (index, span) of blocks inside the timetable

    for index, change in enumerate(changes):
        target = target_of(change)
        error = ChangeError(index, target)
        queue = pending.get(target)
        original = queue.pop(0) if queue else None
        if original is None:
            error.add("duplicate" if target in in_candidate else "not_in_candidate")
        else:
            if _op_of(change) != _op_of(original):
                error.add("op_changed")
            if _length(change) != _length(original):
                error.add("length_changed", length=_length(original))
        if not _inside_timetable(change, sections_per_day, max_weeks):
            error.add("outside_timetable", weeks=max_weeks, sections=sections_per_day)
        else:
            week, day, start, end = span = _span(change)
            window = windows.get(target)
            if window is not None:
                if (week, day, start) < window.earliest:
                    error.add("too_early", **_position(window.earliest))
                if (week, day, end) > window.horizon:
                    error.add("beyond_horizon", **_position(window.horizon))
                if window.deadline is not None and (week, day, end) > window.deadline:
                    error.add("after_deadline", **_position(window.deadline))
            _check_sections(error, week, day, start, end, occupied, embeddable)
            for other, other_span in placed:
                if _overlap(span, other_span):
                    error.add("overlaps_change", other=other)
                    break
            placed.append((index, span))
        if error.reasons:
            errors.append(error)

    for target, left in pending.items():
        for _original in left:
            error = ChangeError(None, target)
            error.add("missing")
            errors.append(error)
    return errors


def _check_sections(error, week, day, start, end, occupied, embeddable) -> None:
    slots = [(week, day, s) for s in range(start, end + 1)]
    taken = [s for (_w, _d, s) in slots if (week, day, s) in occupied and (week, day, s) not in embeddable]
    if taken:
        error.add("slot_taken", sections=", ".join(str(s) for s in taken))
        return
    lectures = {embeddable[slot] for slot in slots if slot in embeddable}
    if lectures and (len(lectures) > 1 or any(slot not in embeddable for slot in slots)):
        error.add("spans_lecture")


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] == b[0] and a[1] == b[1] and a[2] <= b[3] and b[2] <= a[3]
