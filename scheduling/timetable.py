"""Weeks, sections and times of the timetable (docs/DOMAIN.md §6). Pure: no models, no I/O.

Week n starts on `semester_start + 7·(n-1)` days; `day` 1-7 is Monday-Sunday; a day has
`len(sections)` sections, each a (start, end) pair of wall-clock times in the user's zone.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from datetime import date, datetime, time, timedelta
from datetime import tzinfo as TzInfo

MAX_WEEKS = 30
DAYS = 7

DEFAULT_SECTION_TIMES: tuple[tuple[str, str], ...] = (
    ("08:00", "08:45"),
    ("08:55", "09:40"),
    ("10:15", "11:00"),
    ("11:10", "11:55"),
    ("14:00", "14:45"),
    ("14:55", "15:40"),
    ("16:15", "17:00"),
    ("17:10", "17:55"),
    ("19:00", "19:45"),
    ("19:55", "20:40"),
    ("20:50", "21:35"),
    ("21:45", "22:30"),
)
# Sections a day: fixed by the API (1-12) and the database constraints; their times are
# configurable (settings.SCHEDULING_SECTION_TIMES, checked against this count).
SECTIONS = len(DEFAULT_SECTION_TIMES)


def parse_sections(pairs, *, count: int | None = None) -> tuple[tuple[time, time], ...]:
    """[("08:00", "08:45"), ...] → ((time, time), ...); refuses overlapping or unordered sections,
    and, with `count`, another number of them."""
    if count is not None and len(pairs) != count:
        raise ValueError(f"{count} sections a day are needed, got {len(pairs)}")
    parsed = tuple((time.fromisoformat(start), time.fromisoformat(end)) for start, end in pairs)
    previous_end = time.min
    for start, end in parsed:
        if not previous_end <= start < end:
            raise ValueError(f"section times must be ordered and not overlap: {pairs!r}")
        previous_end = end
    return parsed


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_start(semester_start: date, week: int) -> date:
    return semester_start + timedelta(days=7 * (week - 1))


def date_of(semester_start: date, week: int, day: int) -> date:
    return semester_start + timedelta(days=7 * (week - 1) + day - 1)


def semester_end(semester_start: date) -> date:
    """The last day of week MAX_WEEKS."""
    return date_of(semester_start, MAX_WEEKS, DAYS)


def week_and_day(semester_start: date, on: date) -> tuple[int, int]:
    """The (week, day) of a date; the week may fall outside 1-MAX_WEEKS (callers decide)."""
    offset = (on - semester_start).days
    return offset // 7 + 1, offset % 7 + 1


def in_semester(week: int | None) -> bool:
    return week is not None and 1 <= week <= MAX_WEEKS


def expand_weeks(start_week: int, end_week: int, week_type: str = "all") -> list[int]:
    """`all` | `odd` | `even` weeks between two week numbers, inclusive."""
    if week_type not in ("all", "odd", "even"):
        raise ValueError(f"unknown week_type {week_type!r}")
    weeks = range(start_week, end_week + 1)
    if week_type == "odd":
        return [w for w in weeks if w % 2 == 1]
    if week_type == "even":
        return [w for w in weeks if w % 2 == 0]
    return list(weeks)


# A week list as timetables print it: "1-16周", "第1-8,10-16周(双)", "单周 3-15", "Weeks 1-9 (odd)"
# (full-width forms are folded by NFKC first; en and em dashes join ranges too).
_WEEK_SPAN = re.compile(r"(\d{1,3})\s*(?:-|~|\u2013|\u2014|至|到|to)\s*(\d{1,3})|(\d{1,3})")
_WEEK_WORDS = re.compile(r"第|周|weeks?|wks?|\bw\b|单|双|odd|even|only|[()\[\]\s]")
_ODD, _EVEN = re.compile(r"单|odd"), re.compile(r"双|even")


def weeks_from_text(text: str) -> list[int] | None:
    """The week numbers a printed week list names, sorted; None when the text is not one (words
    other than weeks, odd and even; a range that runs backwards; no number at all). A parity word
    applies to the whole list unless both appear, then to its own comma-separated part. Numbers
    are not range-checked here: a course's weeks are (1-MAX_WEEKS)."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    parts = [part for part in re.split(r"[,;、]", text) if part.strip()]
    both = bool(_ODD.search(text)) and bool(_EVEN.search(text))
    weeks: set[int] = set()
    for part in parts:
        scope = part if both else text
        week_type = "odd" if _ODD.search(scope) else "even" if _EVEN.search(scope) else "all"
        spans = list(_WEEK_SPAN.finditer(part))
        if not spans or _WEEK_WORDS.sub("", _WEEK_SPAN.sub("", part)):
            return None
        for span in spans:
            start, end = (int(span[1]), int(span[2])) if span[1] else (int(span[3]), int(span[3]))
            if start > end:
                return None
            weeks.update(expand_weeks(start, end, week_type if start != end else "all"))
    return sorted(weeks) or None


class Clock:
    """A user's timetable: semester start, time zone and section times → absolute datetimes."""

    def __init__(self, semester_start: date, tz: TzInfo | str, sections=DEFAULT_SECTION_TIMES):
        self.semester_start = semester_start
        self.tz = zoneinfo.ZoneInfo(tz) if isinstance(tz, str) else tz
        self.sections = parse_sections(sections) if sections and isinstance(sections[0][0], str) else sections

    def span(self, week: int, day: int, start_section: int, end_section: int) -> tuple[datetime, datetime]:
        on = date_of(self.semester_start, week, day)
        start = datetime.combine(on, self.sections[start_section - 1][0], tzinfo=self.tz)
        end = datetime.combine(on, self.sections[end_section - 1][1], tzinfo=self.tz)
        return start, end

    def locate(self, moment: datetime) -> tuple[date, int, int]:
        """(local date, week, day) of an aware moment."""
        local = moment.astimezone(self.tz).date()
        week, day = week_and_day(self.semester_start, local)
        return local, week, day

    def next_boundary(self, moment: datetime) -> datetime:
        """The first section start or end strictly after `moment` (today's or a later day's)."""
        local = moment.astimezone(self.tz)
        for offset in range(2):
            on = local.date() + timedelta(days=offset)
            for start, end in self.sections:
                for t in (start, end):
                    candidate = datetime.combine(on, t, tzinfo=self.tz)
                    if candidate > local:
                        return candidate
        raise AssertionError("a day always has a section")  # pragma: no cover
