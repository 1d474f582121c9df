"""Pure study planner (docs/DOMAIN.md §2, "Study plans"): free slots in, placements out.

No Django, no ORM, no clock: every input is passed in, so the same input always gives
the same output. The services layer reads the schedule, calls :func:`plan_study` or
:func:`candidate_spans` and writes what comes back.

Positions
    A slot is ``(week, day, section)``: week 1..``max_weeks`` (week n starts on
    ``semester_start + 7·(n-1)`` days, ``semester_start`` is a Monday), day 1..7
    (Monday..Sunday), section 1..``sections_per_day``. Positions compare as tuples, so
    "earlier" means ``(week, day, section)`` order.

Daily cap
    ``ClassSpec.daily_max_sections`` is **per class per day**: the sections one class
    places on one day add up to at most its cap. The pool of free time is shared across
    classes (a placement of one class blocks the others), the cap is not.

Algorithm of :func:`plan_study`
    1. Greedy in a fair interleaved order across classes (item i of a class of n items
       is processed at progress i/n; ties go to the earlier-ending class). ``rapid``
       takes the earliest feasible span; ``steady`` takes the first feasible span at or
       after its target day (``start + i·(range/n)``, the range being the class's dates
       clipped to the semester and to ``today``) and falls back to the earliest feasible
       span after its previous item.
    2. If that fails: the same greedy with the classes one after another, tightest
       deadline first, then smallest slack first; then a bounded depth-first
       backtracking (a few alternative spans per item, a fixed budget of tries); last,
       the greedy orders again with every class taking its earliest spans (a ``steady``
       class then loses its spread rather than the whole plan failing).
    3. Still nothing → ``ok=False`` with no placements. Before searching, counting
       checks (too few free sections overall or for one class, an item longer than its
       class's cap or allowed sections) answer ``ok=False`` at once. The search is heuristic: an
       input may have a solution that none of these attempts finds (the problem is
       NP-hard in general), in which case the result is ``ok=False`` too.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Literal

from scheduling.timetable import DAYS as DAYS_PER_WEEK
from scheduling.timetable import MAX_WEEKS
from scheduling.timetable import SECTIONS as SECTIONS_PER_DAY

__all__ = [
    "MAX_ITEM_SECTIONS",
    "ClassSpec",
    "ItemSpec",
    "Placement",
    "PlanResult",
    "PlannerInputError",
    "Slot",
    "Span",
    "candidate_score",
    "candidate_spans",
    "plan_study",
]

MAX_ITEM_SECTIONS = 4
DAYTIME_LAST_SECTION = 8

Strategy = Literal["steady", "rapid"]
Position = tuple[int, int, int]
"""``(week, day, section)``."""

STRATEGIES = ("steady", "rapid")

# Tries (spans attempted) the backtracking fallback may spend, and alternatives per item.
BACKTRACK_BUDGET = 2_000
BACKTRACK_ALTERNATIVES = 8


# --------------------------------------------------------------------------- errors


class PlannerInputError(ValueError):
    """Bad planner input. ``field`` names the offending input, for a validation error body."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(value: object, name: str, low: int, high: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise PlannerInputError(f"{name} must be an integer {bound}, got {value!r}.", field=name)


# --------------------------------------------------------------------------- slot model


@dataclass(frozen=True, order=True, slots=True)
class Slot:
    """One section of one day: ``(week, day, section)``."""

    week: int
    day: int
    section: int

    def __post_init__(self) -> None:
        _check_int(self.week, "week", 1)
        _check_int(self.day, "day", 1, DAYS_PER_WEEK)
        _check_int(self.section, "section", 1)

    def as_tuple(self) -> Position:
        return (self.week, self.day, self.section)


@dataclass(frozen=True, order=True, slots=True)
class Span:
    """Consecutive sections ``start_section..end_section`` (inclusive) of one day."""

    week: int
    day: int
    start_section: int
    end_section: int

    def __post_init__(self) -> None:
        _check_int(self.week, "week", 1)
        _check_int(self.day, "day", 1, DAYS_PER_WEEK)
        _check_int(self.start_section, "start_section", 1)
        _check_int(self.end_section, "end_section", self.start_section)

    @property
    def length(self) -> int:
        return self.end_section - self.start_section + 1

    @property
    def start(self) -> Position:
        return (self.week, self.day, self.start_section)

    @property
    def end(self) -> Position:
        return (self.week, self.day, self.end_section)

    def sections(self) -> range:
        """The section numbers covered."""
        return range(self.start_section, self.end_section + 1)

    def slots(self) -> tuple[Slot, ...]:
        return tuple(Slot(self.week, self.day, s) for s in self.sections())

    def overlaps(self, other: Span) -> bool:
        return (
            self.week == other.week
            and self.day == other.day
            and self.start_section <= other.end_section
            and other.start_section <= self.end_section
        )


# --------------------------------------------------------------------------- dates


def _check_semester_start(semester_start: date) -> None:
    if semester_start.weekday() != 0:
        raise PlannerInputError(
            f"semester_start must be a Monday, got {semester_start.isoformat()}.", field="semester_start"
        )


# --------------------------------------------------------------------------- plan input / output


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """One unscheduled item of a study plan."""

    item_id: int
    title: str
    order: int
    estimated_sections: int = 1

    def __post_init__(self) -> None:
        _check_int(self.estimated_sections, "estimated_sections", 1, MAX_ITEM_SECTIONS)
        if not _is_int(self.order):
            raise PlannerInputError(f"order must be an integer, got {self.order!r}.", field="order")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassSpec:
    """A task class with its planning fields. Items are planned in ``(order, item_id)`` order.

    ``items`` may be any sequence and the exclusions any iterable: they are stored as a
    tuple and frozensets, so a ClassSpec is hashable.
    """

    class_id: int
    start_date: date
    end_date: date
    strategy: Strategy = "steady"
    excluded_days: AbstractSet[int] = frozenset()
    excluded_sections: AbstractSet[int] = frozenset()
    daily_max_sections: int = 4
    items: Sequence[ItemSpec] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(self, "excluded_days", frozenset(self.excluded_days))
        object.__setattr__(self, "excluded_sections", frozenset(self.excluded_sections))
        if self.strategy not in STRATEGIES:
            raise PlannerInputError(
                f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}.", field="strategy"
            )
        if self.end_date < self.start_date:
            raise PlannerInputError(
                f"end_date {self.end_date.isoformat()} is before start_date {self.start_date.isoformat()}.",
                field="end_date",
            )
        for d in self.excluded_days:
            _check_int(d, "excluded_days", 1, DAYS_PER_WEEK)
        for s in self.excluded_sections:
            _check_int(s, "excluded_sections", 1)
        _check_int(self.daily_max_sections, "daily_max_sections", 1)
        seen: set[int] = set()
        for item in self.items:
            if not isinstance(item, ItemSpec):
                raise PlannerInputError(f"items must be ItemSpec instances, got {item!r}.", field="items")
            if item.item_id in seen:
                raise PlannerInputError(f"item {item.item_id} appears twice in class {self.class_id}.", field="items")
            seen.add(item.item_id)


@dataclass(frozen=True, order=True, slots=True)
class Placement:
    """An item placed on ``start_section..end_section`` of ``(week, day)``."""

    item_id: int
    class_id: int
    title: str
    week: int
    day: int
    start_section: int
    end_section: int

    @property
    def span(self) -> Span:
        return Span(self.week, self.day, self.start_section, self.end_section)


@dataclass(frozen=True, slots=True)
class PlanResult:
    """The outcome of :func:`plan_study`.

    ``ok=False`` means not every item fits; ``placements`` is then empty (all or nothing).
    ``needed_sections`` is the total of every item's ``estimated_sections``;
    ``free_sections`` counts the free slots (not occupied) that at least one class could
    use: inside its dates, semester weeks and ``today``, on a day and section it does not
    exclude — each slot once, whatever the number of classes. It ignores the daily cap and
    fragmentation, so ``needed <= free`` does not guarantee a fit. ``method`` names the
    attempt that succeeded (``greedy``, ``greedy-deadline``, ``greedy-slack``,
    ``backtracking``, ``earliest-…``), ``None`` when nothing fitted.
    """

    ok: bool
    placements: tuple[Placement, ...]
    needed_sections: int
    free_sections: int
    method: str | None = None


# --------------------------------------------------------------------------- bit helpers
# A day's sections are bits of an int: section s is bit s-1.


def _run_starts(mask: int, length: int) -> int:
    """Bits of ``mask`` that start ``length`` consecutive set bits."""
    starts = mask
    for k in range(1, length):
        starts &= mask >> k
    return starts


def _lowest(bits: int) -> int:
    """Section number of the lowest set bit (bits must be non-zero)."""
    return (bits & -bits).bit_length()


def _iter_sections(bits: int) -> Iterator[int]:
    while bits:
        low = bits & -bits
        yield low.bit_length()
        bits ^= low


def _span_bits(start: int, length: int) -> int:
    return ((1 << length) - 1) << (start - 1)


# --------------------------------------------------------------------------- planner internals


@dataclass(slots=True)
class _Class:
    spec: ClassSpec
    rank: int
    items: list[ItemSpec]
    days: list[int]  # usable day indexes (0-based from semester_start), ascending
    allowed: int  # section mask without excluded sections
    cap: int
    targets: list[int]  # steady: target day index per item
    needed: int
    capacity: int = 0  # upper bound: sum over usable days of min(cap, free allowed sections)


@dataclass(slots=True)
class _State:
    free: list[int]  # per day index: free section mask (occupied and placed bits cleared)
    used: list[list[int]]  # per class rank, per day index: sections placed
    after: list[tuple[int, int]] = field(default_factory=list)  # per class: (day, section) the next item may start at


def _earliest(st: _State, c: _Class, length: int, day: int, section: int) -> tuple[int, int] | None:
    """Earliest feasible ``(day, start_section)`` for class ``c`` at or after ``(day, section)``."""
    days, free, used, cap, allowed = c.days, st.free, st.used[c.rank], c.cap, c.allowed
    for j in range(bisect_left(days, day), len(days)):
        d = days[j]
        if used[d] + length > cap:
            continue
        starts = _run_starts(free[d] & allowed, length)
        if d == day:
            starts &= -(1 << (section - 1))
        if starts:
            return d, _lowest(starts)
    return None


def _preferred(st: _State, c: _Class, index: int, earliest_only: bool) -> tuple[int, int] | None:
    length = c.items[index].estimated_sections
    day, section = st.after[c.rank]
    if c.spec.strategy == "steady" and not earliest_only:
        target = c.targets[index]
        if (target, 1) > (day, section):
            hit = _earliest(st, c, length, target, 1)
            if hit is not None:
                return hit
    return _earliest(st, c, length, day, section)


def _alternatives(st: _State, c: _Class, index: int, earliest_only: bool) -> Iterator[tuple[int, int]]:
    """The preferred span, then up to BACKTRACK_ALTERNATIVES-1 others, earliest first."""
    first = _preferred(st, c, index, earliest_only)
    if first is None:
        return
    yield first
    length = c.items[index].estimated_sections
    day, section = st.after[c.rank]
    free, used, cap, allowed = st.free, st.used[c.rank], c.cap, c.allowed
    given = 1
    for j in range(bisect_left(c.days, day), len(c.days)):
        d = c.days[j]
        if used[d] + length > cap:
            continue
        starts = _run_starts(free[d] & allowed, length)
        if d == day:
            starts &= -(1 << (section - 1))
        for s in _iter_sections(starts):
            if (d, s) == first:
                continue
            yield d, s
            given += 1
            if given >= BACKTRACK_ALTERNATIVES:
                return


def _place(st: _State, c: _Class, index: int, d: int, s: int) -> tuple[int, int]:
    """Place item ``index`` of ``c`` at ``(d, s)``; returns the class's previous ``after``."""
    length = c.items[index].estimated_sections
    st.free[d] &= ~_span_bits(s, length)
    st.used[c.rank][d] += length
    previous = st.after[c.rank]
    st.after[c.rank] = (d, s + length)
    return previous


def _unplace(st: _State, c: _Class, index: int, d: int, s: int, previous: tuple[int, int]) -> None:
    length = c.items[index].estimated_sections
    st.free[d] |= _span_bits(s, length)
    st.used[c.rank][d] -= length
    st.after[c.rank] = previous


def _fresh_state(base_free: list[int], classes: list[_Class]) -> _State:
    n_days = len(base_free)
    return _State(
        free=list(base_free),
        used=[[0] * n_days for _ in classes],
        after=[(0, 1)] * len(classes),
    )


Order = list[tuple[_Class, int]]
Solution = list[tuple[_Class, int, int, int]]  # (class, item index, day index, start section)


def _greedy(base_free: list[int], classes: list[_Class], order: Order, earliest_only: bool) -> Solution | None:
    st = _fresh_state(base_free, classes)
    out: Solution = []
    for c, i in order:
        hit = _preferred(st, c, i, earliest_only)
        if hit is None:
            return None
        _place(st, c, i, *hit)
        out.append((c, i, *hit))
    return out


def _backtrack(base_free: list[int], classes: list[_Class], order: Order, budget: int) -> Solution | None:
    """Depth-first search over ``order``; each item tries its preferred span, then a few others."""
    st = _fresh_state(base_free, classes)
    trail: list[tuple[_Class, int, int, int, tuple[int, int]]] = []
    choices: list[Iterator[tuple[int, int]]] = []
    k, n = 0, len(order)
    while k < n:
        if len(choices) == k:
            c, i = order[k]
            choices.append(_alternatives(st, c, i, earliest_only=False))
        budget -= 1
        if budget < 0:
            return None
        hit = next(choices[k], None)
        if hit is None:
            choices.pop()
            k -= 1
            if k < 0:
                return None
            c, i, d, s, previous = trail.pop()
            _unplace(st, c, i, d, s, previous)
            continue
        c, i = order[k]
        previous = _place(st, c, i, *hit)
        trail.append((c, i, hit[0], hit[1], previous))
        k += 1
    return [(c, i, d, s) for c, i, d, s, _ in trail]


def _fair_order(classes: list[_Class]) -> Order:
    keyed = [(Fraction(i, len(c.items)), c.rank, i, c) for c in classes for i in range(len(c.items))]
    keyed.sort(key=lambda t: (t[0], t[1], t[2]))
    return [(c, i) for _, _, i, c in keyed]


def _sequential_order(classes: list[_Class]) -> Order:
    return [(c, i) for c in classes for i in range(len(c.items))]


def _build_classes(
    specs: Sequence[ClassSpec],
    *,
    semester_start: date,
    today: date | None,
    n_days: int,
    sections_per_day: int,
) -> list[_Class]:
    full = (1 << sections_per_day) - 1
    ranked = sorted(specs, key=lambda s: (s.end_date, s.start_date, s.class_id))
    out: list[_Class] = []
    for rank, spec in enumerate(ranked):
        for s in spec.excluded_sections:
            if s > sections_per_day:
                raise PlannerInputError(
                    f"excluded_sections must be 1..{sections_per_day}, got {s}.", field="excluded_sections"
                )
        lo = (spec.start_date - semester_start).days
        if today is not None:
            lo = max(lo, (today - semester_start).days)
        lo = max(lo, 0)
        hi = min((spec.end_date - semester_start).days, n_days - 1)
        days = [d for d in range(lo, hi + 1) if d % DAYS_PER_WEEK + 1 not in spec.excluded_days]
        items = sorted(spec.items, key=lambda it: (it.order, it.item_id))
        span_days = max(hi - lo + 1, 1)
        targets = [lo + (i * span_days) // len(items) for i in range(len(items))] if items else []
        allowed = full
        for s in spec.excluded_sections:
            allowed &= ~(1 << (s - 1))
        out.append(
            _Class(
                spec=spec,
                rank=rank,
                items=items,
                days=days,
                allowed=allowed,
                cap=spec.daily_max_sections,
                targets=targets,
                needed=sum(it.estimated_sections for it in items),
            )
        )
    return out


def plan_study(
    *,
    classes: Sequence[ClassSpec],
    occupied: Iterable[tuple[int, int, int] | Slot],
    semester_start: date,
    today: date | None = None,
    max_weeks: int = MAX_WEEKS,
    sections_per_day: int = SECTIONS_PER_DAY,
) -> PlanResult:
    """Place every item of ``classes`` into free time, all or nothing.

    Each item gets ``estimated_sections`` consecutive sections on one day, inside its
    class's dates (clipped to weeks 1..max_weeks and to ``today`` when given — the
    caller marks the sections of today that have already passed as occupied), on no
    occupied slot and no other placement, on no excluded day or section, within the
    class's per-day cap, and after the previous item of its class. Occupied slots
    outside the timetable are ignored. Placements come sorted by (week, day,
    start_section); the order of ``classes`` does not change the result.
    """
    _check_int(max_weeks, "max_weeks", 1)
    _check_int(sections_per_day, "sections_per_day", 1)
    _check_semester_start(semester_start)
    class_ids = [c.class_id for c in classes]
    if len(set(class_ids)) != len(class_ids):
        raise PlannerInputError("a class appears twice in classes.", field="classes")
    item_ids = [it.item_id for c in classes for it in c.items]
    if len(set(item_ids)) != len(item_ids):
        raise PlannerInputError("an item appears in two classes.", field="classes")

    n_days = max_weeks * DAYS_PER_WEEK
    full = (1 << sections_per_day) - 1
    base_free = [full] * n_days
    for slot in occupied:
        week, day, section = slot.as_tuple() if isinstance(slot, Slot) else slot
        if 1 <= week <= max_weeks and 1 <= day <= DAYS_PER_WEEK and 1 <= section <= sections_per_day:
            base_free[(week - 1) * DAYS_PER_WEEK + day - 1] &= ~(1 << (section - 1))

    built = _build_classes(
        classes, semester_start=semester_start, today=today, n_days=n_days, sections_per_day=sections_per_day
    )
    union = [0] * n_days
    for c in built:
        for d in c.days:
            avail = base_free[d] & c.allowed
            union[d] |= avail
            c.capacity += min(c.cap, avail.bit_count())
    needed = sum(c.needed for c in built)
    free_sections = sum(m.bit_count() for m in union)
    planned = [c for c in built if c.items]
    for rank, c in enumerate(planned):  # ranks index the search state, which holds planned classes only
        c.rank = rank

    def result(solution: Solution | None, method: str | None) -> PlanResult:
        if solution is None:
            return PlanResult(False, (), needed, free_sections, None)
        placements = []
        for c, i, d, s in solution:
            item = c.items[i]
            week, day = divmod(d, DAYS_PER_WEEK)
            placements.append(
                Placement(
                    item_id=item.item_id,
                    class_id=c.spec.class_id,
                    title=item.title,
                    week=week + 1,
                    day=day + 1,
                    start_section=s,
                    end_section=s + item.estimated_sections - 1,
                )
            )
        placements.sort(key=lambda p: (p.week, p.day, p.start_section))
        return PlanResult(True, tuple(placements), needed, free_sections, method)

    if not planned:
        return result([], "greedy")
    # Cheap proofs of infeasibility: not enough free slots overall or for one class.
    if needed > free_sections or any(c.needed > c.capacity for c in planned):
        return result(None, None)
    if any(it.estimated_sections > min(c.cap, c.allowed.bit_count()) for c in planned for it in c.items):
        return result(None, None)

    fair = _fair_order(planned)
    deadline = _sequential_order(planned)  # planned is ranked by (end_date, start_date, class_id)
    slack = _sequential_order(sorted(planned, key=lambda c: (c.capacity - c.needed, c.rank)))
    attempts: list[tuple[str, Order, bool]] = [
        ("greedy", fair, False),
        ("greedy-deadline", deadline, False),
        ("greedy-slack", slack, False),
    ]
    for method, order, earliest_only in attempts:
        solution = _greedy(base_free, planned, order, earliest_only)
        if solution is not None:
            return result(solution, method)
    solution = _backtrack(base_free, planned, fair, BACKTRACK_BUDGET)
    if solution is not None:
        return result(solution, "backtracking")
    if any(c.spec.strategy == "steady" for c in planned):
        for method, order, _ in attempts:
            solution = _greedy(base_free, planned, order, True)
            if solution is not None:
                return result(solution, "earliest-" + method)
    return result(None, None)


# --------------------------------------------------------------------------- candidates (docs/DOMAIN.md §2)


def candidate_score(span: Span) -> int:
    """A preview candidate's score: ``100 - start_section``."""
    return 100 - span.start_section


def candidate_spans(
    *,
    occupied: Iterable[tuple[int, int, int] | Slot],
    length: int,
    earliest: Position,
    latest: Position,
    max_candidates: int = 3,
    daytime_last_section: int = DAYTIME_LAST_SECTION,
    sections_per_day: int = SECTIONS_PER_DAY,
    max_weeks: int = MAX_WEEKS,
) -> list[Span]:
    """Preview candidates (docs/DOMAIN.md §2): spans of ``length`` consecutive free sections on one day.

    ``earliest`` is the first ``(week, day, section)`` a span may start on and ``latest``
    the last ``(week, day, section)`` it may end on, both inclusive (the caller maps "after
    now" to the first section starting after now and the deadline to the last section
    ending by it). Positions before week 1 or after ``max_weeks`` are clipped to the
    semester. Spans are sorted by (date, daytime first — start section ≤
    ``daytime_last_section`` —, start section) and taken in that order when they overlap
    none already taken, up to ``max_candidates``. No span → ``[]``. Score each with
    :func:`candidate_score`. (Within one day, start order already puts daytime spans
    first; the daytime key is kept so the sort reads as the rule is written.)
    """
    _check_int(length, "length", 1)
    _check_int(max_candidates, "max_candidates", 1)
    _check_int(sections_per_day, "sections_per_day", 1)
    _check_int(max_weeks, "max_weeks", 1)
    _check_int(daytime_last_section, "daytime_last_section", 0)
    for name, pos in (("earliest", earliest), ("latest", latest)):
        if len(pos) != 3 or not all(_is_int(v) for v in pos):
            raise PlannerInputError(f"{name} must be a (week, day, section) tuple, got {pos!r}.", field=name)
        _check_int(pos[1], f"{name} day", 1, DAYS_PER_WEEK)
        _check_int(pos[2], f"{name} section", 1, sections_per_day)
    if length > sections_per_day:
        return []

    n_days = max_weeks * DAYS_PER_WEEK
    lo = (earliest[0] - 1) * DAYS_PER_WEEK + earliest[1] - 1
    first_section = earliest[2]
    if lo < 0:
        lo, first_section = 0, 1
    hi = (latest[0] - 1) * DAYS_PER_WEEK + latest[1] - 1
    last_section = latest[2]
    if hi >= n_days:
        hi, last_section = n_days - 1, sections_per_day
    if lo > hi:
        return []

    full = (1 << sections_per_day) - 1
    busy: dict[int, int] = {}
    for slot in occupied:
        week, day, section = slot.as_tuple() if isinstance(slot, Slot) else slot
        d = (week - 1) * DAYS_PER_WEEK + day - 1
        if lo <= d <= hi and 1 <= day <= DAYS_PER_WEEK and 1 <= section <= sections_per_day:
            busy[d] = busy.get(d, 0) | (1 << (section - 1))

    chosen: list[Span] = []
    for d in range(lo, hi + 1):
        starts = _run_starts(full & ~busy.get(d, 0), length)
        if d == lo:
            starts &= -(1 << (first_section - 1))
        if d == hi:
            starts &= (1 << max(last_section - length + 1, 0)) - 1
        if not starts:
            continue
        week, day = d // DAYS_PER_WEEK + 1, d % DAYS_PER_WEEK + 1
        ordered = sorted(_iter_sections(starts), key=lambda s: (s > daytime_last_section, s))
        taken_today: list[Span] = []
        for s in ordered:
            span = Span(week, day, s, s + length - 1)
            if any(span.overlaps(t) for t in taken_today):
                continue
            taken_today.append(span)
            chosen.append(span)
            if len(chosen) == max_candidates:
                return chosen
    return chosen
