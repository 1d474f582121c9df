"""The pure timetable rules: week numbering from semester_start, section times, week expansion."""

import zoneinfo
from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.timetable import (
    DEFAULT_SECTION_TIMES,
    Clock,
    date_of,
    expand_weeks,
    in_semester,
    parse_sections,
    week_and_day,
    week_start,
)

MONDAY = date(2026, 9, 7)
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def test_semester_start_is_week_1_day_1():
    assert week_and_day(MONDAY, MONDAY) == (1, 1)
    assert week_and_day(MONDAY, date(2026, 9, 13)) == (1, 7)
    assert week_and_day(MONDAY, date(2026, 9, 14)) == (2, 1)


def test_dates_before_the_semester_fall_outside_it():
    week, day = week_and_day(MONDAY, date(2026, 9, 6))
    assert (week, day) == (0, 7)
    assert not in_semester(week)
    assert not in_semester(31)
    assert in_semester(30)


@given(st.integers(min_value=1, max_value=30), st.integers(min_value=1, max_value=7))
def test_week_and_day_round_trip(week, day):
    assert week_and_day(MONDAY, date_of(MONDAY, week, day)) == (week, day)
    assert week_start(MONDAY, week).weekday() == 0


def test_default_sections_match_the_contract():
    sections = parse_sections(DEFAULT_SECTION_TIMES)
    assert len(sections) == 12
    assert sections[0] == (time(8, 0), time(8, 45))
    assert sections[4] == (time(14, 0), time(14, 45))
    assert sections[11] == (time(21, 45), time(22, 30))


def test_overlapping_sections_are_refused():
    with pytest.raises(ValueError):
        parse_sections([("08:00", "09:00"), ("08:30", "09:30")])


def test_span_renders_sections_in_the_users_time_zone():
    clock = Clock(MONDAY, "Asia/Shanghai")
    start, end = clock.span(2, 3, 3, 4)
    assert start.isoformat() == "2026-09-16T10:15:00+08:00"
    assert end.isoformat() == "2026-09-16T11:55:00+08:00"
    start, _ = Clock(MONDAY, "Europe/Berlin").span(1, 1, 1, 1)
    assert start.isoformat() == "2026-09-07T08:00:00+02:00"


def test_week_and_day_maps_dates_and_in_semester_refuses_dates_outside_it():
    assert week_and_day(MONDAY, MONDAY) == (1, 1)
    assert week_and_day(MONDAY, MONDAY + timedelta(days=9)) == (2, 3)
    assert not in_semester(week_and_day(MONDAY, MONDAY - timedelta(days=1))[0])
    assert not in_semester(week_and_day(MONDAY, MONDAY + timedelta(weeks=30))[0])
    assert week_and_day(MONDAY, MONDAY + timedelta(weeks=30) - timedelta(days=1)) == (30, 7)
    assert week_and_day(MONDAY, MONDAY + timedelta(weeks=2))[0] == 3  # past a two-week plan's weeks
    assert date_of(MONDAY, 2, 3) == MONDAY + timedelta(days=9)


def test_locate_uses_the_users_local_date():
    clock = Clock(MONDAY, "Asia/Shanghai")
    # 17:00 UTC on Sunday is 01:00 on Monday in Shanghai: week 2, day 1.
    on, week, day = clock.locate(datetime(2026, 9, 13, 17, 0, tzinfo=zoneinfo.ZoneInfo("UTC")))
    assert (on, week, day) == (date(2026, 9, 14), 2, 1)


def test_next_boundary_is_the_next_section_start_or_end():
    clock = Clock(MONDAY, "Asia/Shanghai")
    assert clock.next_boundary(datetime(2026, 9, 7, 8, 10, tzinfo=SHANGHAI)).time() == time(8, 45)
    assert clock.next_boundary(datetime(2026, 9, 7, 8, 50, tzinfo=SHANGHAI)).time() == time(8, 55)
    late = clock.next_boundary(datetime(2026, 9, 7, 23, 0, tzinfo=SHANGHAI))
    assert (late.date(), late.time()) == (date(2026, 9, 8), time(8, 0))


@pytest.mark.parametrize(
    ("start", "end", "kind", "weeks"),
    [
        (1, 4, "all", [1, 2, 3, 4]),
        (1, 5, "all", [1, 2, 3, 4, 5]),
        (1, 6, "odd", [1, 3, 5]),
        (1, 6, "even", [2, 4, 6]),
        (3, 3, "even", []),
        (2, 2, "even", [2]),
        (3, 3, "all", [3]),
        (1, 30, "odd", list(range(1, 31, 2))),
    ],
)
def test_expand_weeks(start, end, kind, weeks):
    assert expand_weeks(start, end, kind) == weeks


@given(st.integers(1, 30), st.integers(1, 30), st.sampled_from(["all", "odd", "even"]))
def test_property_expand_weeks_returns_the_weeks_of_the_asked_parity_in_range(a, b, kind):
    start, end = min(a, b), max(a, b)
    weeks = expand_weeks(start, end, kind)
    if not weeks:
        assert start == end and kind != "all" and (start % 2 == 1) != (kind == "odd")
        return
    assert weeks == sorted(set(weeks)) and weeks[0] >= start and weeks[-1] <= end
    wanted = {"all": {0, 1}, "odd": {1}, "even": {0}}[kind]
    assert {w for w in range(start, end + 1) if w % 2 in wanted} == set(weeks)
