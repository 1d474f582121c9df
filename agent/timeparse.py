# ruff: noqa: RUF001  (full-width punctuation and long patterns are the point here)
"""Time expressions in Chinese and English → a deadline (PURE: no Django, no I/O).

    parse("明天下午三点前交数学作业", now=aware_dt, tz=ZoneInfo("Asia/Shanghai"))

DOMAIN §8 rules: a date without a time means 23:59 that day; 今晚/tonight without a
time means 22:00; a month-day already past rolls to next year; a vague hint
("改天", "sometime", "过几天") that names no day → `ambiguous`, the caller asks.
A time of day without a day means today, or tomorrow once it has passed.
Chinese numerals go through cn2an; the grammar around them is ours.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import cn2an

END_OF_DAY = time(23, 59)
TONIGHT = time(22, 0)
# A day period named without a clock time ("明天下午交", "tomorrow morning"): the end of that period.
PERIOD_DEFAULT = {
    "dawn": time(6, 0),
    "morning": time(9, 0),
    "forenoon": time(12, 0),
    "noon": time(12, 0),
    "afternoon": time(18, 0),
    "evening": time(22, 0),
}

_CN_DIGITS = "零〇一二两三四五六七八九十百"
NUM = rf"(?:\d{{1,4}}|[{_CN_DIGITS}]{{1,4}})"
_EN_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fourteen": 14,
    "thirty": 30,
}
EN_NUM = r"(?:\d{1,3}|" + "|".join(sorted(_EN_NUMBERS, key=len, reverse=True)) + ")"
_MONTHS = (
    {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
    | {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
    | {"sept": 9}
)
MONTH_RE = r"(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_CN_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 6, "七": 6}
_CN_WEEKDAY.update({str(i + 1): i for i in range(7)})
_EN_WEEKDAY = {
    "mon": 0,
    "tue": 1,
    "tues": 1,
    "wed": 2,
    "weds": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
}
EN_WEEKDAY_RE = (
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues|tue|weds|wed|thurs|thur|thu|fri|sat|sun)"
)

VAGUE_CN = (
    "改天",
    "过几天",
    "过两天",
    "回头",
    "有空",
    "找时间",
    "找个时间",
    "以后再",
    "晚点",
    "晚些时候",
    "到时候",
    "某天",
    "哪天",
    "最近",
    "近期",
    "这几天",
    "过阵子",
    "过段时间",
    "抽空",
    "之后再",
)
VAGUE_EN = (
    r"\bsometime\b",
    r"\bsome time\b",
    r"\bsomeday\b",
    r"\bsome day\b",
    r"\blater\b",
    r"\bsoon\b",
    r"\bat some point\b",
    r"\bwhen i (?:have|get|find) (?:the )?time\b",
    r"\bin a few days\b",
    r"\bone of these days\b",
    r"\beventually\b",
    r"\bin a bit\b",
    r"\bwhenever\b",
    r"\bnext time\b",
)


@dataclass
class ParseResult:
    deadline: datetime | None = None
    day: date | None = None
    clock: time | None = None
    has_hint: bool = False  # some time expression was seen (resolved or not)
    ambiguous: bool = False  # a hint that names no day or time: ask the user
    spans: list[tuple[int, int]] = field(default_factory=list)

    def strip(self, text: str) -> str:
        """The text with the matched time expressions cut out."""
        out, last = [], 0
        for start, end in sorted(self.spans):
            if start >= last:
                out.append(text[last:start])
                last = end
        out.append(text[last:])
        return "".join(out)


def cn_int(token: str) -> int:
    if token.isdigit():
        return int(token)
    return int(cn2an.cn2an(token.replace("〇", "零"), "smart"))


def en_int(token: str) -> int:
    token = token.lower()
    return int(token) if token.isdigit() else _EN_NUMBERS[token]


def _weekday_date(today: date, weekday: int, weeks_ahead: int | None) -> date:
    """weeks_ahead None: the coming one (today counts); 0: this calendar week; n: n weeks on."""
    if weeks_ahead is None:
        return today + timedelta(days=(weekday - today.weekday()) % 7)
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(days=7 * weeks_ahead + weekday)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _month_day(today: date, month: int, day: int, year: int | None = None) -> date | None:
    try:
        if year is not None:
            return date(year, month, day)
        candidate = date(today.year, month, day)
    except ValueError:
        return None
    if candidate < today:  # a month-day already past rolls to next year
        try:
            candidate = date(today.year + 1, month, day)
        except ValueError:
            return None
    return candidate


class _Scan:
    def __init__(self, text: str, now: datetime):
        self.text = text
        self.lower = text.lower()
        self.now = now
        self.today = now.date()
        self.day: date | None = None
        self.clock: time | None = None
        self.period: str | None = None
        self.exact: datetime | None = None
        self.roll_days = 0  # "周五" / "Friday" said on a Friday after the time: the next one
        self.spans: list[tuple[int, int]] = []
        self.taken = [False] * len(text)

    def free(self, m) -> bool:
        return not any(self.taken[m.start() : m.end()])

    def take(self, m) -> None:
        for i in range(m.start(), m.end()):
            self.taken[i] = True
        self.spans.append((m.start(), m.end()))

    def each(self, pattern, flags=0, *, lower=False):
        source = self.lower if lower else self.text
        for m in re.finditer(pattern, source, flags):
            if self.free(m):
                yield m

    def set_day(self, day, m) -> None:
        if day is not None and self.day is None:
            self.day = day
        self.take(m)


# --- Chinese -----------------------------------------------------------------------------------


def _scan_cn_dates(s: _Scan) -> None:
    today = s.today
    for m in s.each(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?"):
        s.set_day(_month_day(today, int(m[2]), int(m[3]), int(m[1])), m)
    for m in s.each(rf"({NUM})\s*月\s*({NUM})\s*[日号]?"):
        s.set_day(_month_day(today, cn_int(m[1]), cn_int(m[2])), m)
    for m in s.each(r"(?<![\d.])(1[0-2]|0?[1-9])\.([0-3]?\d)(?=\s*(?:前|之前|以前|号|日|交|截止|[,，。 ]|$))"):
        s.set_day(_month_day(today, int(m[1]), int(m[2])), m)
    for m in s.each(r"(?<![\d:：])(\d{1,2})/(\d{1,2})(?![\d/])"):
        s.set_day(_month_day(today, int(m[1]), int(m[2])), m)
    for m in s.each(r"(下下个?月|下个?月|这个?月|本月)\s*(底|末|初)?"):
        months = 2 if m[1].startswith("下下") else 1 if m[1].startswith("下") else 0
        base = _add_months(today.replace(day=1), months)
        rest = s.text[m.end() :]
        dm = re.match(rf"\s*({NUM})\s*[号日]", rest)
        if m[2] in ("底", "末"):
            s.set_day(base.replace(day=calendar.monthrange(base.year, base.month)[1]), m)
        elif m[2] == "初":
            s.set_day(base.replace(day=3), m)
        elif dm:
            try:
                s.set_day(base.replace(day=cn_int(dm[1])), m)
            except ValueError:
                s.take(m)
            s.spans.append((m.end(), m.end() + dm.end()))
            for i in range(m.end(), m.end() + dm.end()):
                s.taken[i] = True
        elif months == 0 and s.text[m.start() :].startswith(("这个月", "本月")):
            s.set_day(base.replace(day=calendar.monthrange(base.year, base.month)[1]), m)
        else:
            s.set_day(base.replace(day=calendar.monthrange(base.year, base.month)[1]), m)
    for m in s.each(r"月底|月末"):
        s.set_day(today.replace(day=calendar.monthrange(today.year, today.month)[1]), m)
    for m in s.each(r"年底|年末"):
        s.set_day(date(today.year, 12, 31), m)
    for m in s.each(rf"(?<![月\d])({NUM})\s*[号日](?!子|记|常|本|语|文|历|元|期|报|楼|线|床|位|键)"):
        try:
            d = today.replace(day=cn_int(m[1]))
        except ValueError:
            continue
        s.set_day(d if d >= today else _add_months(d, 1), m)
    # relative days
    for word, n in (
        ("大后天", 3),
        ("后天", 2),
        ("明天", 1),
        ("明日", 1),
        ("明儿", 1),
        ("今天", 0),
        ("今日", 0),
        ("今儿", 0),
    ):
        for m in s.each(re.escape(word)):
            s.set_day(today + timedelta(days=n), m)
    for m in s.each(r"(今|明)(晚|早|晨|夜|午)"):
        s.set_day(today + timedelta(days=1 if m[1] == "明" else 0), m)
        s.period = s.period or {"晚": "evening", "夜": "evening", "早": "morning", "晨": "morning", "午": "noon"}[m[2]]
    # weekdays
    for m in s.each(r"(下下个?|下个?|这个?|本|上个?)?\s*(周|星期|礼拜)\s*([一二三四五六日天末1-7])"):
        prefix = (m[1] or "").replace("个", "")
        weeks = {"下下": 2, "下": 1, "这": 0, "本": 0, "上": -1}.get(prefix)
        weekday = _CN_WEEKDAY[m[3]]
        if weeks is None and s.day is None:
            s.roll_days = 7
        s.set_day(_weekday_date(today, weekday, weeks), m)
    for m in s.each(r"(下下个?|下个?|这个?|本)\s*(周|星期|礼拜)(?![一二三四五六日天末1-7])(内|之内|以内)?"):
        prefix = m[1].replace("个", "")
        weeks = {"下下": 2, "下": 1, "这": 0, "本": 0}[prefix]
        s.set_day(_weekday_date(today, 6, weeks), m)
    for m in s.each(r"周末"):
        s.set_day(_weekday_date(today, 6, None), m)
    # offsets
    for m in s.each(
        rf"(?:过|再过)?\s*({NUM})\s*(个)?\s*(小时|钟头|分钟|天|日|周|星期|礼拜|月)\s*(后|之后|以后|内|之内|以内)?"
    ):
        if not m[4] and not m[0].startswith(("过", "再过")):
            continue
        if m[0].strip() in ("过两天", "过几天"):  # colloquial "in a few days": vague, not 2
            continue
        n = cn_int(m[1])
        unit = m[3]
        if unit in ("小时", "钟头"):
            s.exact = s.exact or s.now + timedelta(hours=n)
        elif unit == "分钟":
            s.exact = s.exact or s.now + timedelta(minutes=n)
        elif unit in ("天", "日"):
            s.day = s.day or today + timedelta(days=n)
        elif unit == "月":
            s.day = s.day or _add_months(today, n)
        else:
            s.day = s.day or today + timedelta(days=7 * n)
        s.take(m)


_CN_PERIODS = (
    ("凌晨", "dawn"),
    ("早上", "morning"),
    ("早晨", "morning"),
    ("清早", "morning"),
    ("上午", "forenoon"),
    ("中午", "noon"),
    ("午饭前", "noon"),
    ("下午", "afternoon"),
    ("午后", "afternoon"),
    ("傍晚", "afternoon"),
    ("晚上", "evening"),
    ("晚饭后", "evening"),
    ("夜里", "evening"),
    ("今晚", "evening"),
    ("晚(?=[0-9一二三四五六七八九十两])", "evening"),
    ("早(?=[0-9一二三四五六七八九十两])", "morning"),
)


def _scan_cn_times(s: _Scan) -> None:
    for word, period in _CN_PERIODS:
        for m in s.each(word):
            s.period = s.period or period
            s.take(m)
    for m in s.each(r"(?<!\d)(\d{1,2})\s*[:：]\s*(\d{2})(?!\d)(?!\s*[aApP]\.?[mM])"):
        if s.clock is None:
            s.clock = (int(m[1]), int(m[2]))
        s.take(m)
    for m in s.each(rf"({NUM})\s*(?:点|时)(?!点)\s*(?:(半)|(一刻)|(三刻)|({NUM})\s*分?)?\s*(钟)?"):
        try:
            hour = cn_int(m[1])
            minute = 30 if m[2] else 15 if m[3] else 45 if m[4] else cn_int(m[5]) if m[5] else 0
        except (ValueError, KeyError):
            continue
        if hour > 24 or minute > 59:
            continue
        if s.clock is None:
            s.clock = (hour, minute)
        s.take(m)


# --- English -----------------------------------------------------------------------------------


def _scan_en_dates(s: _Scan) -> None:
    today = s.today
    for m in s.each(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"):
        s.set_day(_month_day(today, int(m[2]), int(m[3]), int(m[1])), m)
    for m in s.each(rf"\b({MONTH_RE})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s*(\d{{4}}))?", lower=True):
        s.set_day(_month_day(today, _MONTHS[m[1].rstrip(".")], int(m[2]), int(m[3]) if m[3] else None), m)
    for m in s.each(rf"\b(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({MONTH_RE})\b", lower=True):
        s.set_day(_month_day(today, _MONTHS[m[2].rstrip(".")], int(m[1])), m)
    for m in s.each(r"(?<![\d:/])(\d{1,2})/(\d{1,2})(?![\d/])"):
        s.set_day(_month_day(today, int(m[1]), int(m[2])), m)
    for m in s.each(r"\b(?:the\s+)(\d{1,2})(?:st|nd|rd|th)\b", lower=True):
        try:
            d = today.replace(day=int(m[1]))
        except ValueError:
            continue
        s.set_day(d if d >= today else _add_months(d, 1), m)
    for m in s.each(r"\b(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?(next\s+)?month\b|\beom\b", lower=True):
        base = _add_months(today.replace(day=1), 1 if m[1] else 0)
        s.set_day(base.replace(day=calendar.monthrange(base.year, base.month)[1]), m)
    for m in s.each(r"\b(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?(next\s+)?week\b", lower=True):
        s.set_day(_weekday_date(today, 6, 1 if m[1] else 0), m)
    for m in s.each(r"\b(?:the\s+)?end\s+of\s+(?:the\s+)?day\b|\beod\b", lower=True):
        s.set_day(today, m)
    for m in s.each(r"\b(?:the\s+)?day\s+after\s+(?:tomorrow|tmrw?)\b", lower=True):
        s.set_day(today + timedelta(days=2), m)
    for m in s.each(r"\b(today|tonight|tomorrow|tomorow|tmrw|tmr|tmw|tonite)\b", lower=True):
        n = 0 if m[1] in ("today", "tonight", "tonite") else 1
        if m[1] in ("tonight", "tonite"):
            s.period = s.period or "evening"
        s.set_day(today + timedelta(days=n), m)
    for m in s.each(
        rf"\b(?:(this|next|coming|this\s+coming|the\s+following|on)\s+)?({EN_WEEKDAY_RE})\.?(?:day)?\b", lower=True
    ):
        weekday = _EN_WEEKDAY[m[2][:3] if m[2][:4] not in _EN_WEEKDAY else m[2][:4]]
        which = (m[1] or "").split()[0] if m[1] else ""
        weeks = 1 if which in ("next", "the") else None
        if weeks is None and s.day is None:
            s.roll_days = 7
        s.set_day(_weekday_date(today, weekday, weeks), m)
    for m in s.each(r"\b(this|next)\s+(week|weekend)\b", lower=True):
        s.set_day(_weekday_date(today, 6, 1 if m[1] == "next" else 0), m)
    for m in s.each(r"\b(?:this\s+)?weekend\b", lower=True):
        s.set_day(_weekday_date(today, 6, None), m)
    for m in s.each(
        rf"\b(?:in|within)\s+(?:the\s+next\s+)?({EN_NUM})\s+(minutes?|mins?|hours?|hrs?|days?|weeks?|months?)\b"
        rf"|\b({EN_NUM})\s+(minutes?|mins?|hours?|hrs?|days?|weeks?)\s+from\s+(?:now|today)\b",
        lower=True,
    ):
        n = en_int(m[1] or m[3])
        unit = m[2] or m[4]
        if unit.startswith("min"):
            s.exact = s.exact or s.now + timedelta(minutes=n)
        elif unit.startswith(("hour", "hr")):
            s.exact = s.exact or s.now + timedelta(hours=n)
        elif unit.startswith("day"):
            s.day = s.day or today + timedelta(days=n)
        elif unit.startswith("week"):
            s.day = s.day or today + timedelta(days=7 * n)
        else:
            s.day = s.day or _add_months(today, n)
        s.take(m)


def _scan_en_times(s: _Scan) -> None:
    for m in s.each(r"\b(\d{1,2})(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?)(?![a-z])", lower=True):
        hour, minute = int(m[1]), int(m[2] or 0)
        if hour > 12 or minute > 59:
            continue
        if m[3].startswith("p") and hour < 12:
            hour += 12
        if m[3].startswith("a") and hour == 12:
            hour = 0
        if s.clock is None:
            s.clock = (hour, minute, "abs")
        s.take(m)
    for m in s.each(r"(?<![\d/])(\d{1,2}):(\d{2})(?!\d)", lower=True):
        if s.clock is None:
            s.clock = (int(m[1]), int(m[2]))
        s.take(m)
    for m in s.each(
        r"\b(?:at|by|before|until|til|till)\s+(\d{1,2})(?:\s*o'?clock)?\b(?!\s*(?:/|st|nd|rd|th|days?|weeks?|hours?|am|pm))",
        lower=True,
    ):
        hour = int(m[1])
        if hour <= 24 and s.clock is None:
            s.clock = (hour, 0)
            s.spans.append((m.start(1), m.end()))
            for i in range(m.start(1), m.end()):
                s.taken[i] = True
    for m in s.each(r"\b(noon|midday|midnight)\b", lower=True):
        if s.clock is None:
            s.clock = (12, 0, "abs") if m[1] != "midnight" else (23, 59, "abs")
        s.take(m)
    for m in s.each(r"\b(?:(?:in\s+)?the\s+|this\s+)?(morning|afternoon|evening|night)\b", lower=True):
        s.period = s.period or {"morning": "morning", "afternoon": "afternoon"}.get(m[1], "evening")
        s.take(m)


# --- assembly ----------------------------------------------------------------------------------


def _resolve_clock(clock, period) -> time | None:
    if clock is None:
        return PERIOD_DEFAULT.get(period) if period else None
    hour, minute = clock[0], clock[1]
    absolute = len(clock) > 2
    if not absolute:
        if period == "evening" and hour == 12:
            hour = 24  # 晚上12点 / "12 at night": the end of the day
        elif (period in ("afternoon", "evening") and hour < 12) or (period == "noon" and hour < 6):
            hour += 12
        elif period == "dawn" and hour == 12:
            hour = 0
        elif period is None and 1 <= hour <= 6:
            hour += 12  # "3点前" / "by 5": afternoon, not the middle of the night
    if hour == 24:
        return END_OF_DAY
    if hour > 23:
        return None
    return time(hour, minute)


def parse(text: str, now: datetime, tz: ZoneInfo | str) -> ParseResult:
    """Find the time expression in `text` and resolve it against `now` in `tz`."""
    if isinstance(tz, str):
        tz = ZoneInfo(tz)
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    now = now.astimezone(tz)
    s = _Scan(text, now)
    _scan_cn_dates(s)
    _scan_en_dates(s)
    _scan_cn_times(s)
    _scan_en_times(s)
    result = ParseResult(spans=s.spans)
    vague = any(w in text for w in VAGUE_CN) or any(re.search(p, s.lower) for p in VAGUE_EN)
    result.has_hint = bool(s.spans) or vague
    if s.exact is not None:
        result.deadline = s.exact.replace(second=0, microsecond=0)
        result.day, result.clock = result.deadline.date(), result.deadline.timetz().replace(tzinfo=None)
        return result
    clock = _resolve_clock(s.clock, s.period)
    if s.day is None and clock is None:
        result.ambiguous = vague
        return result
    day = s.day or s.today
    if clock is not None and datetime.combine(day, clock, tzinfo=tz) <= now and day == s.today:
        bare = s.clock is not None and s.period is None and len(s.clock) == 2 and s.clock[0] <= 12
        later = _resolve_clock((s.clock[0] + 12, s.clock[1]), None) if bare else None
        if later is not None and datetime.combine(day, later, tzinfo=tz) > now:
            clock = later  # "十点前" said at 21:30 means tonight: a bare hour already past reads as p.m.
        elif s.day is None:
            day += timedelta(days=1)  # a time of day alone, already past: tomorrow
    if clock is None:
        clock = END_OF_DAY
    result.day, result.clock = day, clock
    if s.roll_days and day == s.today and datetime.combine(day, clock, tzinfo=tz) <= now:
        day += timedelta(days=s.roll_days)
    result.day, result.clock = day, clock
    result.deadline = datetime.combine(day, clock, tzinfo=tz)
    return result


__all__ = ["ParseResult", "cn_int", "parse"]
