"""Where people differ, the one rule this parser follows (docs/DOMAIN.md §8, "Time conventions").

Every convention the grammar depends on is a name here; the grammar modules never
hard-code one of these choices.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

# A day named without a clock time: the deadline is the end of that day.
END_OF_DAY = time(23, 59)
# A day period named without a clock time ("明天下午", "tomorrow morning", 今晚/tonight): that period's
# latest sensible time.
PERIOD_DEFAULT = {
    "dawn": time(6, 0),
    "morning": time(9, 0),
    "forenoon": time(12, 0),
    "noon": time(12, 0),
    "afternoon": time(18, 0),
    "evening": time(22, 0),
}
TONIGHT = PERIOD_DEFAULT["evening"]
CLOSE_OF_BUSINESS = time(17, 0)  # also 下班前
START_OF_BUSINESS = time(9, 0)  # "first thing", 上班前
# A bare hour (no am/pm, no day period) from 1 to 6 is in the afternoon: "by 5", "三点前".
BARE_PM_HOURS = range(1, 7)
# A deadline further ahead than this, from a sentence that names no year and no offset, is not
# believed: the agent asks (agent.timeparse.check).
MAX_AHEAD = timedelta(days=366)
# Ambiguous numeric dates (4/1): day first in these zones' regions, month first elsewhere
# (United States, China and most of East Asia write the month first).
_DAY_FIRST_ZONE_PREFIXES = ("Europe/", "Australia/", "Africa/", "Asia/Kolkata", "Asia/Calcutta", "Pacific/Auckland")
_DAY_FIRST_ZONES = {
    "Asia/Hong_Kong",
    "Asia/Singapore",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Jakarta",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Mexico_City",
    "America/Bogota",
    "America/Lima",
    "America/Santiago",
}


# Zones of the United States (a prefix ends with "/").
_US_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Phoenix",
    "America/Anchorage",
    "America/Detroit",
    "America/Boise",
    "America/Juneau",
    "America/Adak",
    "America/Indiana/",
    "America/Kentucky/",
    "America/North_Dakota/",
    "Pacific/Honolulu",
    "US/",
)
# A holiday whose date depends on where the user is, read from the zone like the order of a numeric
# date: (zones or zone prefixes, (month, day)) per region, then the date everywhere else (None: it is
# not one known day there, so the agent asks).
REGIONAL_HOLIDAYS: dict[str, tuple[tuple[tuple[tuple[str, ...], tuple[int, int]], ...], tuple[int, int] | None]] = {
    "independence day": (((_US_ZONES, (7, 4)), (("Asia/Kolkata", "Asia/Calcutta"), (8, 15))), None),
    "national day": (((("Asia/Taipei",), (10, 10)),), (10, 1)),  # 国庆: 1 October; 双十 in Taiwan
    "teachers' day": (((("Asia/Taipei",), (9, 28)),), (9, 10)),  # 教师节
    "children's day": (((("Asia/Taipei", "Asia/Hong_Kong"), (4, 4)),), (6, 1)),  # 儿童节
}


# A clock time followed by a zone ("4pm CET", "8:00 GMT", "10am ET") is in that zone; the deadline is
# given in the user's. Abbreviations that name one fixed offset are that offset; ET, CT, MT and PT follow
# their zone's summer time. Ambiguous ones (IST: India, Ireland or Israel; CST: also China) are not read.
ZONE_ABBREVIATIONS: dict[str, str | float] = {
    "utc": 0,
    "gmt": 0,
    "wet": 0,
    "bst": 1,
    "cet": 1,
    "cest": 2,
    "eet": 2,
    "eest": 3,
    "msk": 3,
    "jst": 9,
    "kst": 9,
    "hkt": 8,
    "sgt": 8,
    "awst": 8,
    "aest": 10,
    "aedt": 11,
    "nzst": 12,
    "nzdt": 13,
    "est": -5,
    "edt": -4,
    "cdt": -5,
    "mst": -7,
    "mdt": -6,
    "pst": -8,
    "pdt": -7,
    "akst": -9,
    "akdt": -8,
    "hst": -10,
    "et": "America/New_York",
    "ct": "America/Chicago",
    "mt": "America/Denver",
    "pt": "America/Los_Angeles",
}


def named_zone(abbreviation: str, offset_hours: int | None = None, offset_minutes: int = 0) -> tzinfo:
    """The zone a clock time names: an abbreviation from `ZONE_ABBREVIATIONS`, or UTC/GMT ± hours."""
    value = ZONE_ABBREVIATIONS[abbreviation]
    if isinstance(value, str):
        return ZoneInfo(value)
    minutes = value * 60
    if offset_hours is not None:
        minutes += offset_hours * 60 + (offset_minutes if offset_hours >= 0 else -offset_minutes)
    return timezone(timedelta(minutes=minutes))


def _zone_in(key: str, zones: tuple[str, ...]) -> bool:
    return any(key == zone or (zone.endswith("/") and key.startswith(zone)) for zone in zones)


def regional_holiday(name: str, tz: ZoneInfo) -> tuple[int, int] | None:
    """The (month, day) of a holiday in `REGIONAL_HOLIDAYS` for the user's region, or None (ask)."""
    regions, elsewhere = REGIONAL_HOLIDAYS[name]
    key = getattr(tz, "key", "") or ""
    return next((day for zones, day in regions if _zone_in(key, zones)), elsewhere)


def day_first(tz: ZoneInfo) -> bool:
    """M/D/Y vs D/M/Y: read from the user's time zone (the only locale signal a user carries)."""
    key = getattr(tz, "key", "") or ""
    return key in _DAY_FIRST_ZONES or key.startswith(_DAY_FIRST_ZONE_PREFIXES)


def dotted_pair_is_clock(first: int, second: str, *, after_at: bool) -> bool:
    """A dotted pair of numbers in English ("9.15", "5.30", "10.12"): after "at"/"around" a clock time;
    after "by"/"before"/"until" a clock time only when the second number cannot be a month ("by 5.30"
    is 17:30, "by 10.12" is a date); elsewhere a date, when there is a cue for one."""
    if after_at:
        return True
    return len(second) == 2 and int(second) > 12 and first <= 23


def weekday_coming(today: date, weekday: int) -> date:
    """A weekday named alone ("Friday", "this Friday", 周五): the coming one, today included.

    Said on that same weekday it means today; the caller moves it a week on when the time
    named has already passed today (`roll_days`).
    """
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def weekday_in_week(today: date, weekday: int, weeks_ahead: int) -> date:
    """A weekday of a calendar week (weeks start on Monday): 0 this week, 1 "next" / 下周, 2 下下周,
    -1 last week. "next Friday" is the Friday of next week, however close this week's Friday is."""
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(days=7 * weeks_ahead + weekday)


def weekday_last(today: date, weekday: int) -> date:
    """ "last Friday" / 上个周五 with no week named: the most recent one before today."""
    return today - timedelta(days=(today.weekday() - weekday - 1) % 7 + 1)


def week_end(today: date, weeks_ahead: int) -> date:
    """A week named as a whole ("next week", 这个星期, 周末): its Sunday."""
    return weekday_in_week(today, 6, weeks_ahead)


def elapsed(now: datetime, delta: timedelta) -> datetime:
    """An offset in minutes or hours is elapsed time, not a move of the wall clock: "in 2 hours" said at
    00:30 on the night the clocks go forward is 03:30 local (Python's aware arithmetic would say 02:30)."""
    return (now.astimezone(UTC) + delta).astimezone(now.tzinfo)


def month_end(year: int, month: int) -> date:
    """A month named as a whole ("next month", 四月, "by the end of April"): its last day."""
    return date(year, month, calendar.monthrange(year, month)[1])


def month_named(today: date, month: int) -> int:
    """The year of a month named without a year: this year unless it has already ended."""
    return today.year if month >= today.month else today.year + 1


def month_day(today: date, month: int, day: int, year: int | None = None) -> date | None:
    """A month-day without a year already past rolls to next year; today is not past."""
    try:
        if year is not None:
            return date(year, month, day)
        candidate = date(today.year, month, day)
    except ValueError:
        return None
    if candidate < today:
        try:
            return date(today.year + 1, month, day)
        except ValueError:
            return None
    return candidate


def day_of_month(today: date, day: int) -> date | None:
    """A day of the month alone ("the 24th", 24号): this month's, or the next month that has it
    once it has passed."""
    if not 1 <= day <= 31:
        return None
    year, month = today.year, today.month
    for _ in range(3):
        if day <= calendar.monthrange(year, month)[1]:
            candidate = date(year, month, day)
            if candidate >= today:
                return candidate
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return None


def add_months(day: date, months: int) -> date:
    """An offset in months keeps the day of the month, cut to the month's length (Jan 31 + 1 → Feb 28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date | None:
    """The nth (1-5, or -1 for the last) weekday of a month."""
    days = calendar.monthrange(year, month)[1]
    if n == -1:
        last = date(year, month, days)
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    candidate = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    return candidate if candidate.month == month else None


def quarter_end(year: int, quarter: int) -> date:
    return month_end(year, quarter * 3)


# A range ("3-5pm", "between 9 and 11", 三点到五点, "Monday to Friday") is due at its end.
RANGE_TAKES_END = True
