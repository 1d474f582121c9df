"""The pure planner's rule for lectures that admit study blocks (docs/DOMAIN.md, "Lectures that
admit study blocks"): free sections first, then inside such lectures; a block never spans two
lectures or a lecture and a free section; never over a lecture that does not admit blocks; the
class's dates (its deadline) and every other planning rule hold as before.

No database: every test calls pure functions; the properties run under hypothesis.
"""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduling.planner import (
    ClassSpec,
    ItemSpec,
    Lecture,
    PlannerInputError,
    Span,
    candidate_spans,
    plan_study,
)
from scheduling.timetable import date_of
from tests.scheduling.test_planner import MONDAY, problems


def day(week: int, weekday: int):
    return date_of(MONDAY, week, weekday)


def items(n: int, sections: int = 1, first_id: int = 1) -> list[ItemSpec]:
    return [ItemSpec(first_id + i, f"item {first_id + i}", i, sections) for i in range(n)]


def one_week(class_id=1, **kw) -> ClassSpec:
    return ClassSpec(class_id=class_id, start_date=day(1, 1), end_date=day(1, 7), **kw)


def lecture_sections(lectures) -> set[tuple[int, int, int]]:
    return {(lec.week, lec.day, s) for lec in lectures for s in range(lec.start_section, lec.end_section + 1)}


def plan(classes, occupied=(), lectures=(), embedded=(), **kw):
    return plan_study(
        classes=list(classes),
        occupied=set(occupied) | lecture_sections(lectures),  # as the service reads it: lectures are taken
        lectures=list(lectures),
        embedded=set(embedded),
        semester_start=MONDAY,
        **kw,
    )


def all_but(week: int, days, keep=()) -> set[tuple[int, int, int]]:
    """Every section of those days taken except `keep` (day, section) pairs."""
    return {(week, d, s) for d in days for s in range(1, 13) if (d, s) not in keep}


# --------------------------------------------------------------------------- examples


def test_free_sections_alone_are_used_when_they_hold_every_item():
    # Monday: an admitting lecture at 1-2, free 3-4; everything else taken.
    lectures = [Lecture(1, 1, 1, 2, course_id=7)]
    occupied = all_but(1, range(1, 8), keep={(1, 1), (1, 2), (1, 3), (1, 4)})
    result = plan([one_week(items=items(1, 2), strategy="rapid")], occupied, lectures)
    assert result.ok and result.method == "greedy"
    assert [(p.start_section, p.embedded_in) for p in result.placements] == [(3, None)]
    assert result.free_sections == 2 and result.embeddable_sections == 2


def test_lectures_are_used_when_free_sections_run_out_and_name_their_course():
    lectures = [Lecture(1, 1, 1, 2, course_id=7)]
    occupied = all_but(1, range(1, 8), keep={(1, 1), (1, 2), (1, 3), (1, 4)})
    result = plan([one_week(items=items(2, 2), strategy="rapid")], occupied, lectures)
    # The greedy puts item 1 in free time and then finds nothing after it for item 2 (order
    # is kept); the backtracking moves item 1 into the lecture.
    assert result.ok and result.method == "backtracking+lectures"
    assert [(p.start_section, p.end_section, p.embedded_in) for p in result.placements] == [(1, 2, 7), (3, 4, None)]
    assert result.placements[0].span == Span(1, 1, 1, 2, embedded_in=7)


def test_a_block_never_spans_two_lectures_or_a_lecture_and_a_free_section():
    # Monday: lecture A 1-2, lecture B 3-4 (both admit blocks), free 5; all else taken.
    lectures = [Lecture(1, 1, 1, 2, course_id=1), Lecture(1, 1, 3, 4, course_id=2)]
    occupied = all_but(1, range(1, 8), keep={(1, s) for s in range(1, 6)})
    three = plan([one_week(items=items(1, 3))], occupied, lectures)
    assert not three.ok  # 1-3 spans two lectures, 3-5 a lecture and a free section
    two = plan([one_week(items=items(3, 2), strategy="rapid")], occupied, lectures)
    assert not two.ok  # two lectures hold one block each; the free section holds none of 2
    assert plan([one_week(items=items(2, 2), strategy="rapid")], occupied, lectures).ok


def test_a_lecture_that_does_not_admit_blocks_is_never_used():
    occupied = all_but(1, range(1, 8))  # every section taken, none by an admitting lecture
    assert not plan([one_week(items=items(1))], occupied).ok


def test_sections_already_holding_a_block_are_not_offered_again():
    lectures = [Lecture(1, 1, 1, 4, course_id=3)]
    occupied = all_but(1, range(1, 8), keep={(1, s) for s in range(1, 5)})
    result = plan([one_week(items=items(1, 2))], occupied, lectures, embedded={(1, 1, 2)})
    assert result.ok and [(p.start_section, p.embedded_in) for p in result.placements] == [(3, 3)]
    assert result.embeddable_sections == 3
    assert not plan([one_week(items=items(2, 2))], occupied, lectures, embedded={(1, 1, 2)}).ok


def test_blocks_inside_lectures_count_towards_the_daily_cap():
    lectures = [Lecture(1, 1, 1, 4, course_id=3)]
    occupied = all_but(1, range(1, 8), keep={(1, s) for s in range(1, 5)})
    assert not plan([one_week(items=items(2, 2), daily_max_sections=3)], occupied, lectures).ok


def test_the_deadline_holds_inside_lectures_too():
    # The only admitting lecture is on Friday; the class ends on Thursday.
    lectures = [Lecture(1, 5, 1, 2, course_id=3)]
    occupied = all_but(1, range(1, 8))
    spec = ClassSpec(class_id=1, start_date=day(1, 1), end_date=day(1, 4), items=items(1, 2))
    assert not plan([spec], occupied, lectures).ok
    spec = ClassSpec(class_id=1, start_date=day(1, 1), end_date=day(1, 5), items=items(1, 2))
    assert plan([spec], occupied, lectures).placements[0].embedded_in == 3


def test_lecture_sections_are_never_free_even_when_occupied_omits_them():
    lectures = [Lecture(1, 1, 1, 2, course_id=3)]
    result = plan_study(
        classes=[one_week(items=items(1, 2), strategy="rapid")],
        occupied=all_but(1, range(1, 8), keep={(1, 1), (1, 2)}),
        lectures=lectures,
        semester_start=MONDAY,
    )
    assert result.free_sections == 0 and result.placements[0].embedded_in == 3


def test_two_lectures_on_one_section_are_an_input_error():
    with pytest.raises(PlannerInputError):
        plan([one_week(items=items(1))], (), [Lecture(1, 1, 1, 2, 1), Lecture(1, 1, 2, 3, 2)])
    with pytest.raises(PlannerInputError):
        Lecture(1, 8, 1, 2, 1)


def test_candidates_offer_free_spans_first_then_spans_inside_one_lecture():
    lectures = [Lecture(1, 1, 1, 2, course_id=5), Lecture(1, 1, 3, 4, course_id=6)]
    occupied = all_but(1, range(1, 8), keep={(1, s) for s in range(1, 7)}) | lecture_sections(lectures)
    spans = candidate_spans(occupied=occupied, lectures=lectures, length=2, earliest=(1, 1, 1), latest=(1, 7, 12))
    assert spans == [Span(1, 1, 5, 6), Span(1, 1, 1, 2, 5), Span(1, 1, 3, 4, 6)]
    # three sections never fit: 1-3 and 2-4 cross two lectures, 4-6 a lecture and free time
    assert candidate_spans(occupied=occupied, lectures=lectures, length=3, earliest=(1, 1, 1), latest=(1, 7, 12)) == []


# --------------------------------------------------------------------------- properties

SECTIONS = 6
WEEKS = 2


@st.composite
def timetables(draw, max_weeks: int, sections: int):
    """Per day, free sections, lectures that do not admit blocks (`fixed`) and lectures that do."""
    fixed: set[tuple[int, int, int]] = set()
    lectures: list[Lecture] = []
    for week in range(1, max_weeks + 1):
        for weekday in range(1, 8):
            s = 1
            while s <= sections:
                kind = draw(st.sampled_from(["free", "free", "fixed", "admits"]))
                end = s if kind == "free" else min(s + draw(st.integers(0, 2)), sections)
                if kind == "fixed":
                    fixed.update((week, weekday, x) for x in range(s, end + 1))
                elif kind == "admits":
                    lectures.append(Lecture(week, weekday, s, end, course_id=draw(st.integers(1, 4))))
                s = end + 1
    inside = sorted(lecture_sections(lectures))
    embedded = draw(st.sets(st.sampled_from(inside), max_size=len(inside) // 3)) if inside else set()
    return fixed, lectures, embedded


@st.composite
def lecture_problems(draw):
    """The plain planner's random problems (tests/scheduling/test_planner.py) with a timetable of
    lectures on top: its occupied sections outside the lectures stay taken."""
    p = draw(problems())
    fixed, lectures, embedded = draw(timetables(p["max_weeks"], p["sections_per_day"]))
    inside = lecture_sections(lectures)
    fixed |= p["occupied"] - inside
    return {**p, "occupied": fixed | inside, "lectures": lectures, "embedded": embedded, "_fixed": fixed}


def run(p, **overrides):
    return plan_study(**{k: v for k, v in {**p, **overrides}.items() if not k.startswith("_")})


def usable_by_some_class(p, cells) -> int:
    usable = set()
    for c in p["classes"]:
        for week, weekday, section in cells:
            when = date_of(MONDAY, week, weekday)
            if not c.start_date <= when <= c.end_date or weekday in c.excluded_days:
                continue
            if (p["today"] is not None and when < p["today"]) or section in c.excluded_sections:
                continue
            usable.add((week, weekday, section))
    return len(usable)


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(lecture_problems())
def test_property_blocks_lie_wholly_in_free_time_or_wholly_inside_one_admitting_lecture(p):
    result = run(p)
    inside = lecture_sections(p["lectures"])
    assert result.embeddable_sections == usable_by_some_class(p, inside - p["embedded"])
    if not result.ok:
        assert result.placements == ()
        return
    by_id = {it.item_id: (c, it) for c in p["classes"] for it in c.items}
    assert sorted(pl.item_id for pl in result.placements) == sorted(by_id)
    taken: set[tuple[int, int, int]] = set()
    per_class_day: Counter = Counter()
    for pl in result.placements:
        spec, item = by_id[pl.item_id]
        cells = {slot.as_tuple() for slot in pl.span.slots()}
        assert pl.span.length == item.estimated_sections
        assert not cells & p["_fixed"]  # never over a lecture that does not admit blocks
        assert not cells & taken  # blocks never overlap each other, inside lectures or not
        taken |= cells
        if pl.embedded_in is None:
            assert not cells & inside  # free time only: never half in a lecture
        else:
            holders = [
                lec
                for lec in p["lectures"]
                if (lec.week, lec.day) == (pl.week, pl.day)
                and lec.start_section <= pl.start_section
                and pl.end_section <= lec.end_section
            ]
            assert len(holders) == 1 and holders[0].course_id == pl.embedded_in  # one lecture, never two
            assert not cells & p["embedded"]  # not where a block already sits
        when = date_of(MONDAY, pl.week, pl.day)
        assert spec.start_date <= when <= spec.end_date  # the class's dates: its deadline holds
        assert p["today"] is None or when >= p["today"]
        assert pl.day not in spec.excluded_days and not set(pl.span.sections()) & spec.excluded_sections
        per_class_day[(spec.class_id, pl.week, pl.day)] += pl.span.length
    caps = {c.class_id: c.daily_max_sections for c in p["classes"]}
    assert all(used <= caps[class_id] for (class_id, _, _), used in per_class_day.items())
    placed = {pl.item_id: pl for pl in result.placements}
    for spec in p["classes"]:
        ordered = sorted(spec.items, key=lambda it: (it.order, it.item_id))
        for before, after in itertools.pairwise(ordered):
            a, b = placed[before.item_id], placed[after.item_id]
            assert (b.week, b.day, b.start_section) > (a.week, a.day, a.end_section)


@PROPERTY
@given(lecture_problems())
def test_property_free_sections_are_preferred(p):
    """Whenever free time alone holds the plan, lectures change nothing; a plan that uses a
    lecture is one free time alone could not hold (for this planner)."""
    with_lectures, free_only = run(p), run(p, lectures=(), embedded=())
    assert with_lectures.free_sections == free_only.free_sections
    if free_only.ok:
        assert with_lectures.placements == free_only.placements and with_lectures.method == free_only.method
        assert all(pl.embedded_in is None for pl in with_lectures.placements)
    if any(pl.embedded_in is not None for pl in with_lectures.placements):
        assert not free_only.ok and with_lectures.method.endswith("+lectures")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lecture_problems(), st.randoms(use_true_random=False))
def test_property_lectures_keep_the_plan_deterministic_and_independent_of_input_order(p, rnd):
    first = run(p)
    classes, lectures = list(p["classes"]), list(p["lectures"])
    rnd.shuffle(classes)
    rnd.shuffle(lectures)
    assert run(p, classes=classes, lectures=lectures) == first


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lecture_problems())
def test_property_more_than_free_and_embeddable_sections_is_never_ok(p):
    result = run(p)
    if result.needed_sections > result.free_sections + result.embeddable_sections:
        assert not result.ok


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    length=st.integers(1, 4),
    earliest=st.tuples(st.integers(1, 2), st.integers(1, 7), st.integers(1, 12)),
    latest=st.tuples(st.integers(1, 2), st.integers(1, 7), st.integers(1, 12)),
    max_candidates=st.integers(1, 5),
)
def test_property_candidates_are_free_first_then_inside_one_lecture_in_bounds_and_disjoint(
    data, length, earliest, latest, max_candidates
):
    fixed, lectures, embedded = data.draw(timetables(2, 12))
    inside = lecture_sections(lectures)
    result = candidate_spans(
        occupied=fixed | inside,
        lectures=lectures,
        embedded=embedded,
        length=length,
        earliest=earliest,
        latest=latest,
        max_candidates=max_candidates,
    )
    assert len(result) <= max_candidates
    kinds = [span.embedded_in is not None for span in result]
    assert kinds == sorted(kinds)  # every free span before every span inside a lecture
    for i, span in enumerate(result):
        cells = {slot.as_tuple() for slot in span.slots()}
        assert span.length == length and span.start >= earliest and span.end <= latest  # the deadline holds
        assert not cells & fixed and not any(span.overlaps(other) for other in result[i + 1 :])
        if span.embedded_in is None:
            assert not cells & inside
        else:
            assert not cells & embedded
            assert any(
                (lec.week, lec.day) == (span.week, span.day)
                and lec.start_section <= span.start_section
                and span.end_section <= lec.end_section
                and lec.course_id == span.embedded_in
                for lec in lectures
            )
    # Free first: a span inside a lecture is offered only when no free span is left to offer.
    if any(kinds):
        free_spans = [
            Span(w, d, s, s + length - 1)
            for w in (1, 2)
            for d in range(1, 8)
            for s in range(1, 12 - length + 2)
            if Span(w, d, s, s + length - 1).start >= earliest
            and Span(w, d, s, s + length - 1).end <= latest
            and not {(w, d, x) for x in range(s, s + length)} & (fixed | inside)
        ]
        assert all(any(f.overlaps(c) for c in result) for f in free_spans)
