"""A question's time window ("what is due next week?", 明天有什么要交的): the span of the day, week,
month or year the sentence names, read by the same grammar as deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_DAYS = 7


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    label: str  # the words the user used ("下周", "tomorrow"), or "the next 7 days"


def window(text: str, now: datetime, tz: ZoneInfo) -> Window:
    from agent.timeparse import parse

    now = now.astimezone(tz)
    result = parse(text, now, tz)
    if result.day is None or result.ambiguous:
        return Window(now, now + timedelta(days=DEFAULT_DAYS), f"the next {DEFAULT_DAYS} days")

    def start_of(day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=tz)

    day, grain = result.day, result.grain or "day"
    if grain == "week":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
    elif grain == "month":
        first, last = day.replace(day=1), day + timedelta(days=1)
    elif grain == "quarter":
        first, last = date(day.year, (day.month - 1) // 3 * 3 + 1, 1), day + timedelta(days=1)
    elif grain == "year":
        first, last = date(day.year, 1, 1), date(day.year + 1, 1, 1)
    else:
        first, last = day, day + timedelta(days=1)
    start = max(now, start_of(first))
    end = start_of(last)
    if end <= start:  # a window wholly past ("yesterday"): nothing can still be due in it
        end = start
    return Window(start, end, result.matched.strip() or f"the next {DEFAULT_DAYS} days")
