"""The scan state the grammars write into, and the assembly of one deadline from it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from agent.timeparse import conventions as cv
from agent.timeparse.normalise import Normalised


@dataclass
class ParseResult:
    deadline: datetime | None = None
    day: date | None = None
    clock: time | None = None
    has_hint: bool = False  # some time expression was seen (resolved or not)
    ambiguous: bool = False  # a hint that names no day or time, or one not fully read: ask the user
    partial: bool = False  # a time expression the grammar read only in part (a subset of ambiguous)
    far_named: bool = False  # the sentence names a year or an offset: a deadline far ahead is meant
    period: str | None = None  # a part of the day named ("morning", "evening" …), with or without a clock
    grain: str | None = None  # what the day expression named as a whole: "day", "week", "month", "year"
    matched: str = ""  # the time expression's words, as the user wrote them
    spans: list[tuple[int, int]] = field(default_factory=list)  # in the caller's text

    def strip(self, text: str) -> str:
        """The text with the matched time expressions cut out."""
        out, last = [], 0
        for start, end in sorted(self.spans):
            if start >= last:
                out.append(text[last:start])
                last = end
        out.append(text[last:])
        return "".join(out)


@dataclass
class DayRead:
    day: date
    start: int
    end: int
    weekday: int | None = None  # set when the day was named by its weekday alone
    roll: bool = False  # a coming weekday: a week on when the time named has passed today
    explicit: bool = False  # a calendar date (beats a weekday that agrees with it)
    grain: str = "day"


@dataclass
class ClockRead:
    hour: int
    minute: int
    absolute: bool  # am/pm or a 24-hour form: no part-of-day shifting
    start: int
    end: int


_RANGE_BETWEEN = re.compile(r"^\s?(?:-|~|to|until|till|through|thru|and|到|至)\s?$")


class Scan:
    def __init__(self, norm: Normalised, now: datetime, tz: ZoneInfo):
        self.norm = norm
        self.text = norm.text
        self.now = now
        self.today = now.date()
        self.tz = tz
        self.day_first = cv.day_first(tz)
        self.days: list[DayRead] = []
        self.clocks: list[ClockRead] = []
        self.period: str | None = None
        self.exact: datetime | None = None
        self.clock_zone: tzinfo | None = None  # "4pm CET": the zone the clock time is in, when not the user's
        self.far_named = False
        self.vague = False
        self.partial = False
        self.recurring = False  # "every Monday at 9", 每周五: a habit, no one deadline
        self.narration = False  # the sentence reports time spent ("took me 2 hours", 做了两个小时)
        self.narrated: list[tuple[int, int]] = []  # where: a day read inside one is the duration, not a date
        self.spans: list[tuple[int, int]] = []
        self.taken = bytearray(len(self.text))

    # --- reading ---
    def free(self, start: int, end: int) -> bool:
        return not any(self.taken[start:end])

    def each(self, pattern: re.Pattern):
        for m in pattern.finditer(self.text):
            if self.free(m.start(), m.end()):
                yield m

    def take(self, start: int, end: int) -> None:
        self.taken[start:end] = b"\x01" * (end - start)
        self.spans.append((start, end))

    def take_m(self, m) -> None:
        self.take(m.start(), m.end())

    def skip(self, m) -> None:
        """Words that look like a time and are not one (a greeting, an idiom, a name): taken so that no
        rule reads them, and not part of the time expression."""
        self.taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())

    # --- writing ---
    def add_day(
        self, day: date | None, m, *, weekday=None, roll=False, explicit=False, start=None, end=None, grain="day"
    ):
        start = m.start() if start is None else start
        end = m.end() if end is None else end
        self.take(start, end)
        if day is None:
            self.partial = True  # the words were a date, but not a real one (2月30号)
            return
        self.days.append(DayRead(day, start, end, weekday, roll, explicit, grain))

    def add_clock(self, hour: int, minute: int, absolute: bool, m, *, start=None, end=None) -> None:
        start = m.start() if start is None else start
        end = m.end() if end is None else end
        self.take(start, end)
        if not (0 <= hour <= 24 and 0 <= minute <= 59):
            self.partial = True
            return
        self.clocks.append(ClockRead(hour, minute, absolute, start, end))

    def set_period(self, period: str, m) -> None:
        self.period = self.period or period
        self.take_m(m)

    def set_after(self, delta: timedelta, m) -> None:
        """An offset from now in minutes or hours ("in 2 hours", 半小时后): elapsed time."""
        self.set_exact(cv.elapsed(self.now, delta), m)

    def set_exact(self, when: datetime, m) -> None:
        self.take_m(m)
        if self.exact is not None and self.exact != when:
            self.partial = True
        self.exact = when
        self.far_named = True

    # --- assembly ---
    def _between(self, a, b) -> str:
        first, second = (a, b) if a.start < b.start else (b, a)
        return self.text[first.end : second.start]

    def _one_day(self) -> DayRead | None:
        if not self.days:
            return None
        distinct = {d.day for d in self.days}
        if len(distinct) == 1:
            return next((d for d in self.days if not d.roll), self.days[0])
        explicit = [d for d in self.days if d.explicit]
        if explicit and len({d.day for d in explicit}) == 1:
            chosen = explicit[0]
            others = [d for d in self.days if d.day != chosen.day]
            if all(d.weekday is not None and d.weekday == chosen.day.weekday() for d in others):
                return chosen  # "Monday, December 7": the date, when its weekday agrees
        if len(self.days) == 2 and _RANGE_BETWEEN.match(self._between(*self.days)):
            first, last = sorted(self.days, key=lambda d: d.start)
            if last.roll and first.weekday is not None:
                # 下周一至周五, "Monday to Friday": the end is the first such weekday from the start on
                days = (last.weekday - first.weekday) % 7
                last = DayRead(first.day + timedelta(days=days), last.start, last.end)
            return max((first, last), key=lambda d: d.day)  # a range is due at its end
        self.partial = True
        return None

    def _one_clock(self) -> ClockRead | None:
        if not self.clocks:
            return None
        distinct = {(c.hour, c.minute) for c in self.clocks}
        if len(distinct) == 1:
            return self.clocks[0]
        if len(self.clocks) == 2 and _RANGE_BETWEEN.match(self._between(*self.clocks)):
            return max(self.clocks, key=lambda c: c.start)
        self.partial = True
        return None

    def _drop_past_days(self) -> None:
        """A sentence that reports time already spent names when that happened, not a deadline: its past
        days ("it took me 2 hours yesterday") are not read."""

        def narrated(d: DayRead) -> bool:
            return d.day < self.today or any(d.start < end and start < d.end for start, end in self.narrated)

        past = [d for d in self.days if narrated(d)]
        self.days = [d for d in self.days if not narrated(d)]
        gone = {(d.start, d.end) for d in past}
        self.spans = [span for span in self.spans if span not in gone]

    def result(self) -> ParseResult:
        if self.narration:
            self._drop_past_days()
        result = ParseResult(spans=sorted(self.norm.original(a, b) for a, b in self.spans))
        result.has_hint = bool(self.spans) or self.vague
        result.far_named = self.far_named
        result.period = self.period
        if self.spans:
            first, last = result.spans[0][0], max(end for _start, end in result.spans)
            result.matched = self.norm.raw[first:last]
        if self.recurring and not self.days and self.exact is None:
            self.clocks, self.period = [], None  # "every Monday at 9": the clock belongs to the habit
        day_read = self._one_day()
        result.grain = day_read.grain if day_read else None
        clock_read = self._one_clock()
        if self.exact is not None and (self.clocks or (day_read and day_read.day != self.exact.date())):
            self.partial = True  # "in 2 hours at 5pm": two answers
        if self.partial:
            result.ambiguous = result.partial = True
            return result
        if self.exact is not None:
            result.deadline = self.exact.replace(second=0, microsecond=0)
            result.day, result.clock = result.deadline.date(), result.deadline.time()
            return result
        if self.vague and day_read is None:
            result.ambiguous = True  # "改天下午": a part of the day, but which day?
            return result
        clock = _resolve_clock(clock_read, self.period)
        if day_read is None and clock is None:
            return result
        tz, now = self.tz, self.now
        if self.clock_zone is not None and clock_read is not None:
            tz = self.clock_zone  # "Thursday 8:00 GMT": resolved in that zone, then given in the user's
            now = self.now.astimezone(tz)
        today = now.date()
        day = day_read.day if day_read else today
        if clock is not None and day_read is None and datetime.combine(day, clock, tzinfo=tz) <= now:
            later = None
            if clock_read is not None and not clock_read.absolute and self.period is None and clock_read.hour <= 12:
                later = _resolve_clock(ClockRead(clock_read.hour + 12, clock_read.minute, True, 0, 0), None)
            if later is not None and datetime.combine(day, later, tzinfo=tz) > now:
                clock = later  # "十点前" said at 21:30 means tonight: a bare hour already past reads as p.m.
            else:
                day += timedelta(days=1)  # a time of day alone, already past: tomorrow
        elif (
            clock_read is not None
            and day_read is not None
            and day == today
            and datetime.combine(day, clock, tzinfo=tz) <= now
        ):
            bare = not clock_read.absolute and self.period is None and clock_read.hour <= 12
            later = _resolve_clock(ClockRead(clock_read.hour + 12, clock_read.minute, True, 0, 0), None)
            if bare and later is not None and datetime.combine(day, later, tzinfo=tz) > now:
                clock = later  # "today at 8" said at 10:00: 20:00
        if clock is None:
            clock = cv.END_OF_DAY
        rolls = day_read is not None and day_read.roll and day == today
        if rolls and datetime.combine(day, clock, tzinfo=tz) <= now:
            day += timedelta(days=7)  # "Friday 9am" said on Friday at 10: next Friday
        result.deadline = datetime.combine(day, clock, tzinfo=tz)
        if tz is not self.tz:
            result.deadline = result.deadline.astimezone(self.tz)
        result.day, result.clock = result.deadline.date(), result.deadline.time()
        return result


def _resolve_clock(clock: ClockRead | None, period: str | None) -> time | None:
    if clock is None:
        return cv.PERIOD_DEFAULT.get(period) if period else None
    hour, minute = clock.hour, clock.minute
    if not clock.absolute:
        if period in ("evening",) and hour == 12:
            hour = 24  # 晚上12点 / "12 at night": the end of the day
        elif period in ("evening",) and hour < 4:
            hour += 24 if hour == 0 else 0  # 晚上零点; "1 at night" stays 01:00
        elif (period in ("afternoon", "evening") and hour < 12) or (period == "noon" and hour < 6):
            hour += 12
        elif period == "dawn" and hour == 12:
            hour = 0
        elif period is None and hour in cv.BARE_PM_HOURS:
            hour += 12  # "3点前" / "by 5": afternoon, not the middle of the night
        elif period is None and hour == 0 and minute == 0:
            hour = 24  # 0点 / 零点 without a part of the day: midnight at the end of the day
    if hour == 24 and minute == 0:
        return cv.END_OF_DAY
    if hour > 23:
        return None
    return time(hour, minute)
