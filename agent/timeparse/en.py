"""The English grammar (reads lower-cased, whitespace-collapsed text; every repeat is bounded)."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from agent.timeparse import conventions as cv
from agent.timeparse.numbers import EN_HOURWORD, EN_MINUTEWORD, EN_NUMWORD, en_int, en_minutes
from agent.timeparse.scan import Scan

_MONTHS = (
    {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
    | {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
    | {"sept": 9}
)
MONTH = r"(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAYS = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
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
WD = r"(?:" + "|".join(sorted(_WEEKDAYS, key=len, reverse=True)) + r")"
# words ending in "s" that are not a counted noun after a number ("by 4/1 thanks", "at 5 tues")
_NOT_A_COUNT = (
    r"(?:tues|thurs|weds|this|is|was|as|his|its|has|does|goes|always|sometimes|yes|pls|thanks|plus|unless|works|sounds"
    r"|suits|seems|looks|means|makes|gets|helps|fits|lets|tuesdays|thursdays|wednesdays|mondays|fridays|saturdays|sundays"
    r"|weekdays|weekends|afterwards|besides|perhaps)"
)
_AMBIGUOUS_ABBR = {"sat", "sun", "wed", "mon"}  # also ordinary words: need a cue
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
_ORDINALS.update({"1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5})
_DAY_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}
for _ones, _value in list(_DAY_WORDS.items())[:9]:
    _DAY_WORDS[f"twenty-{_ones}"] = _DAY_WORDS[f"twenty {_ones}"] = 20 + _value
_DAY_WORDS["thirty-first"] = _DAY_WORDS["thirty first"] = 31
DAY_WORD = r"(?:" + "|".join(sorted((re.escape(w) for w in _DAY_WORDS), key=len, reverse=True)) + r")"
ORD = r"(?:first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th)"
UNIT = r"(?:minutes?|mins?|hours?|hrs?|days?|weeks?|wks?|fortnights?|months?|years?|yrs?)"
_NUMBER = rf"(?:\d{{1,4}}(?:\.\d{{1,3}})?|{EN_NUMWORD})"
AMT = (
    rf"(?:(?P<n>{_NUMBER}|an?)(?:\s(?P<frac>\d/\d)|\sand\sa\s(?P<andhalf>half|quarter))?"
    r"|(?P<only_frac>\d/\d)(?:\s(?:of\s)?an?)?"
    r"|(?P<half>half\san?|a\shalf|half)"
    r"|(?P<quarter>a\squarter\sof\san?|a\squarter|quarter\sof\san?|quarter)"
    r"|(?P<threeq>three[-\s]quarters\sof\san?|three[-\s]quarters))"
)
CUE = re.compile(
    r"(?:\b(?:on|by|due|before|until|till|til|deadline|from|at|for|date|dated|deadline\sis|date\sis)|[:@,(])\s?$"
)


def _day_token(token: str) -> int:
    return int(token) if token.isdigit() else _DAY_WORDS[token]


def _weekday(token: str) -> int:
    return _WEEKDAYS[token.rstrip(".")]


def _amount(m) -> float | None:
    if m["only_frac"]:
        a, b = m["only_frac"].split("/")
        return int(a) / int(b) if int(b) else None
    if m["half"]:
        return 0.5
    if m["quarter"]:
        return 0.25
    if m["threeq"]:
        return 0.75
    token = m["n"]
    try:
        value = float(token) if token[0].isdigit() else float(en_int(token))
    except (KeyError, ValueError):
        return None
    if m["frac"]:
        a, b = m["frac"].split("/")
        value += int(a) / int(b) if int(b) else 0
    if m["andhalf"]:
        value += 0.5 if m["andhalf"] == "half" else 0.25
    return value


def _offset(s: Scan, amount: float, unit: str, m, base: date | None = None, sign: int = 1) -> None:
    """An amount of a unit from now (or from `base`, a day): hours and minutes to the minute, days and
    longer to the day."""
    unit = unit.rstrip("s")
    if unit in ("minute", "min"):
        s.set_after(sign * timedelta(minutes=amount), m)
        return
    if unit in ("hour", "hr"):
        s.set_after(sign * timedelta(hours=amount), m)
        return
    whole = amount == int(amount)
    start = base or s.today
    if unit == "day":
        if whole:
            s.add_day(start + sign * timedelta(days=int(amount)), m)
        elif base is None:
            s.set_after(sign * timedelta(days=amount), m)
        else:
            s.add_day(None, m)
    elif unit in ("week", "wk", "fortnight"):
        days = amount * (14 if unit == "fortnight" else 7)
        s.add_day(start + sign * timedelta(days=int(days)) if days == int(days) else None, m)
    elif unit in ("month", "mo"):
        s.add_day(cv.add_months(start, sign * int(amount)) if whole else None, m)
    else:
        s.add_day(cv.add_months(start, sign * 12 * int(amount)) if whole else None, m)
    s.far_named = True


_OFFSET_IN = re.compile(
    rf"\b(?:in|within|after|over)\s(?:(?:about|around|roughly|approximately|approx\.?|just|exactly|another|only)\s)?"
    rf"(?:the\s(?:next|coming)\s)?{AMT}\s(?P<unit>{UNIT})(?:'s|s')?"
    r"(?:\sand\sa\s(?P<tail>half|quarter))?"
    rf"(?:,?\s(?:and\s)?(?P<n2>\d{{1,2}}|{EN_NUMWORD})\s(?P<unit2>minutes?|mins?)\b)?(?:\stime)?\b(?!\sor\s)"
)
_OFFSET_REL = re.compile(
    rf"\b{AMT}\s(?P<unit>{UNIT})(?:'s|s')?\s(?P<rel>from\s(?:now|today|tomorrow|(?P<wd>{WD}))|later|ago|hence|before\snow)\b"
)
_NEXT_N = re.compile(
    rf"\b(?:the\s)?(?:next|coming|following)\s(?P<n>\d{{1,3}}|{EN_NUMWORD})\s(?P<unit>minutes?|mins?|hours?|hrs?|days?|weeks?"
    r"|months?|years?)\b"
)
_WITHIN_THE = re.compile(r"\bwithin\sthe\s(hour|day|week|month)\b")
_WEEK_TODAY = re.compile(
    rf"\ba\s(week|fortnight)\s(?:(?:from|on)\s)?(today|tomorrow|{WD})\b|\b(tomorrow|{WD})\s(week|fortnight)\b"
)
_SAME_TIME = re.compile(r"\b(?:by\s)?(?:this|the\ssame|same)\stime\s(tomorrow|next\sweek)\b")


# Words that look like a time and are not one, taken before any rule reads them: greetings and farewells,
# "at the end of the day" as an idiom (a clause follows), the shop 7-Eleven, "24/7", and a question about
# what day or date it is.
_NOT_A_TIME = re.compile(
    r"\bgood\s(?:morning|afternoon|evening|night|day)\b|\bnight[- ]night\b"
    r"|^(?:morning|evening|afternoon)(?=\s?(?:[!,.]|$))"
    r"|\b(?:see|talk\sto|catch|speak\sto)\s(?:you|ya|u)\s(?:later|soon)\b|\btalk\s(?:later|soon)\b|\bttyl\b"
    r"|^later(?=\s?(?:[!,.]|$))"
    r"|\bat\sthe\send\sof\sthe\sday(?=,?\s(?:it|it's|its|we|i|i'm|you|they|he|she|that|this|there|what|everything"
    r"|nothing|all|life|people|no\sone|nobody|who)\b)"
    r"|\b(?:at|to|from|in|near|the)\s(?:a\s|the\s)?7[- ]?(?:11|eleven)\b|\b24\s?/\s?7\b|\b24-7\b"
    r"|\b9/11(?=\s(?:memorial|attacks?|museum|victims?|era|commission|anniversary|terrorist))"
    rf"|\b(?:\d{{1,2}}|{EN_NUMWORD})-day\sweekend\b|\bsunday\sbest\b|\bmonth\sof\ssundays\b"
    r"|\bwhat(?:'s|\sis)?\s(?:the\s)?(?:day|date)(?:\s(?:is\s)?(?:it|today|tomorrow)){0,2}\b"
    rf"|\b(?:have|had|enjoy)\s(?:a|an|your|the)\s(?:\w+\s)?(?:day|weekend|week|evening|night|morning|holiday|holidays)\b"
    rf"|\bhappy\s(?:{WD}|weekend|new\syear|holidays)\b"
)


# a habit or a recurrence names no one deadline: "every morning", "each Monday at 9"
_RECURRING = re.compile(
    rf"\b(?:every|each)\s(?:single\s)?(?:other\s)?(?:day|morning|afternoon|evening|night|week|weekend|month|year|{WD})"
    r"(?:\s(?:morning|afternoon|evening|night))?\b"
    r"|\b(?:on\s)?(?:mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|sundays|weekdays|weekends)\b"
    r"|\b(?:daily|weekly|monthly|yearly|annually|nightly)\b"
)


def _scan_offsets(s: Scan) -> None:
    for m in s.each(_NOT_A_TIME):
        s.skip(m)
    for m in s.each(_RECURRING):
        s.skip(m)
        s.recurring = True
    for m in s.each(_SAME_TIME):
        s.add_day(s.today + timedelta(days=1 if m[1] == "tomorrow" else 7), m)
        s.clocks.append(_now_clock(s, m))
    for m in s.each(_OFFSET_IN):
        amount = _amount(m)
        if m["tail"] and amount is not None:
            amount += 0.5 if m["tail"] == "half" else 0.25
        if m["n2"] and amount is not None:
            if not m["unit"].startswith("h"):
                s.add_day(None, m)  # "in 2 days 15 minutes": not a form people use; ask
                continue
            amount += en_int(m["n2"]) / 60
        if amount is None:
            s.add_day(None, m)
            continue
        _offset(s, amount, m["unit"], m)
    for m in s.each(_OFFSET_REL):
        amount = _amount(m)
        if amount is None:
            s.add_day(None, m)
            continue
        rel = m["rel"]
        base = None
        if rel == "from tomorrow":
            base = s.today + timedelta(days=1)
        elif m["wd"]:
            base = cv.weekday_coming(s.today, _weekday(m["wd"]))
        _offset(s, amount, m["unit"], m, base=base, sign=-1 if rel in ("ago", "before now") else 1)
    for m in s.each(_COMPACT_OFFSET):
        hours = m[2].startswith("h")
        number = int(m[1][0]) / int(m[1][2]) if "/" in m[1] and m[1][2] != "0" else float(m[1].replace("/", "."))
        amount = number * (60 if hours else 1) + (int(m[3]) if m[3] and hours else 0)
        s.set_after(timedelta(minutes=amount), m)
    for m in s.each(_WITHIN_THE):
        _offset(s, 1, m[1], m)
    for m in s.each(_NEXT_N):
        _offset(s, float(en_int(m["n"])), m["unit"], m)  # "the next 3 days": due at their end
    for m in s.each(_WEEK_TODAY):
        word = m[2] or m[3]
        if word == "today":
            base = s.today
        elif word == "tomorrow":
            base = s.today + timedelta(days=1)
        else:
            base = cv.weekday_coming(s.today, _weekday(word))
        s.add_day(base + timedelta(days=14 if "fortnight" in (m[1], m[4]) else 7), m)
        s.far_named = True


def _now_clock(s: Scan, m):
    from agent.timeparse.scan import ClockRead

    return ClockRead(s.now.hour, s.now.minute, True, m.start(), m.end())


# --- dates ---
_END = r"(?![\d/:-]|\.\d)"  # a date's last number: no digit, separator or decimal follows (a full stop may)
_ISO = re.compile(rf"(?<![\d/.-])(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){_END}")
_NUMERIC_Y = re.compile(rf"(?<![\d/.:-])(\d{{1,2}})([/.-])(\d{{1,2}})\2(\d{{4}}|\d{{2}}){_END}")
_NUMERIC = re.compile(rf"(?<![\d/.:-])(\d{{1,2}})([/.-])(\d{{1,2}}){_END}(?!\s?(?:am|pm|a\.m|p\.m|h\b|hours?|hrs?|%))")
_NTH = re.compile(rf"\b(?:the\s)?({ORD})\s({WD})\s(?:of|in)\s(?:(the|this|next)\s)?(month|{MONTH})(?:,?\s(\d{{4}}))?")
_MONTH_DAY = re.compile(
    rf"\b({MONTH})(?:\s|-|/)(?:the\s)?(\d{{1,2}}|{DAY_WORD})(?:st|nd|rd|th)?\b(?!:|\s?(?:am|pm|hours?|%))(?:,?\s(\d{{4}}))?"
)
_TO = r"\s?(?:-|to|through|thru|until|till|and)\s?"
_MONTH_DAY_RANGE = re.compile(
    rf"\b(?:from\s|between\s)?({MONTH})\s(\d{{1,2}})(?:st|nd|rd|th)?{_TO}(\d{{1,2}})(?:st|nd|rd|th)?\b"
    rf"(?!\s?(?:am|pm|a\.m|p\.m|:|/|hours?|hrs?|{MONTH}))(?:,?\s(\d{{4}}))?"
    rf"|\b(?:from\s|between\s)?(\d{{1,2}})(?:st|nd|rd|th)?{_TO}(\d{{1,2}})(?:st|nd|rd|th)?\s(?:of\s)?({MONTH})(?![a-z])"
    rf"(?:,?\s(\d{{4}}))?"
)
_DAY_MONTH = re.compile(
    rf"\b(?:the\s)?(\d{{1,2}}|{DAY_WORD})(?:st|nd|rd|th)?\s(?:of\s)?({MONTH})(?![a-z])(?:,?\s(\d{{4}}))?"
)
_DAY_OF_REL_MONTH = re.compile(
    rf"\b(?:the\s)?(\d{{1,2}}|{DAY_WORD})(?:st|nd|rd|th)?\sof\s(?:the\s)?(next|this)\smonth\b"
)
_ORDINAL_DAY = re.compile(
    r"\b(?:(?:on|by|before|until|till|due|from|after)\s)?the\s(\d{1,2})(?:st|nd|rd|th)\b(?!\s(?:centur|floor|birthday|anniversar"
    r"|place|time|row|grade|street|st\b|avenue|ave\b|amendment|edition|round|lap|percentile|generation|episode|chapter"
    r"|page|attempt|try|person|customer|caller|visitor|player|pick|level|stage|hole|inning|year|annual|week|day|month))"
    r"|\b(?:on|by|before|until|till|due)\s(\d{1,2})(?:st|nd|rd|th)\b"
    rf"|\b(?:on|by|before|until|till|due)\sthe\s({DAY_WORD})\b"
    r"(?=\s?(?:$|[.,!?;]|at\b|by\b|in\sthe\b|morning|afternoon|evening|night|\d))"
)
# "the third day of October"; "the first week of October" (which week? ask); "the week of October 6th"
_NTH_DAY_OF = re.compile(
    rf"\b(?:the\s)?({DAY_WORD}|\d{{1,2}}(?:st|nd|rd|th))\sday\sof\s(?:the\s)?(?:(this|next)\smonth|({MONTH})(?![a-z]))"
    rf"|\b(?:the\s)?(?:{ORD})\sweek(?:end)?\sof\s(?:the\s)?(?:this\s|next\s)?(?:month|{MONTH}(?![a-z]))"
)
_WEEK_OF = re.compile(
    rf"\b(?:the\s)?week\s(?:of|starting|beginning|commencing)\s(?:(?:the\s)?(\d{{1,2}})(?:st|nd|rd|th)?\s(?:of\s)?({MONTH})"
    rf"|({MONTH})\s(?:the\s)?(\d{{1,2}})(?:st|nd|rd|th)?)(?![a-z\d])"
)
_REL_DAYS = re.compile(
    r"\b(?:the\s)?day\safter\s(?:tomorrow|tmrw?)\b|\b(?:the\s)?day\sbefore\syesterday\b"
    r"|\b(today|tonight|tonite|tomorrow|tomorow|tommorow|tmrw|tmr|tmw|2moro|tomo|yesterday|last\snight)\b"
)
_WD_AFTER_NEXT = re.compile(rf"\b(?:the\s)?({WD})\.?\safter\snext\b")
_WD_WEEK = re.compile(
    rf"\b(?:on\s)?({WD})\.?\s(?:of\s)?(next|this|last)\sweek\b|\b(next|this|last)\sweek(?:'s)?\s(?:on\s)?({WD})\b"
)
_WD = re.compile(
    rf"\b(?:(this\scoming|the\scoming|this|coming|next|last|past|the\sfollowing|following)\s)?({WD})(?:\.|day\b)?(?![a-z'])"
)
_WD_CONTEXT = re.compile(r"^\.?\s?(?:\d|at\b|by\b|morning|afternoon|evening|night|noon|$|[.,;!?])")
_WEEK_AFTER_NEXT = re.compile(r"\b(?:(?:by|at)\s)?(?:the\s)?(?:end\sof\s(?:the\s)?)?week\safter\snext\b")
_END_OF_WEEK = re.compile(r"\b(?:the\s)?end\sof\s(?:the\s|this\s)?(next\s)?(?:work\s?)?week\b|\beow\b")
# which week, month or year a modifier names: 0 this one, 1 the next, -1 the last
_WHICH = {
    "this": 0,
    "current": 0,
    "next": 1,
    "coming": 1,
    "upcoming": 1,
    "the coming": 1,
    "this coming": 1,
    "following": 1,
    "the following": 1,
    "last": -1,
    "past": -1,
    "this past": -1,
    "previous": -1,
}
WHICH = "(" + "|".join(sorted((w.replace(" ", r"\s") for w in _WHICH), key=len, reverse=True)) + ")"
_THIS_WEEK = re.compile(rf"\b{WHICH}\s(week|weekend)\b")
_WEEKEND = re.compile(r"\b(?:(?:on|over|at|for|by|during)\s)?(?:the\s)?weekend\b(?!s)")
_MONTH_EDGE = re.compile(
    r"\b(?:the\s)?(end|start|beginning|middle|last\sday)\sof\s(?:the\s|this\s)?(next\s|last\s)?(month|year|quarter)\b"
    r"|\b(eom|eoy|eoq)\b"
)
_MONTH_EDGE_NAMED = re.compile(
    rf"\b(?:(?:the\s)?(end|start|beginning|middle)\sof\s|(mid|late|early)[- ]?)({MONTH})(?![a-z])(?:,?\s(\d{{4}}))?"
)
_YEAR_EDGE = re.compile(r"\b(?:the\s)?(end|start|beginning)\sof\s(\d{4})\b")
_QUARTER = re.compile(r"\b(?:(?:the\s)?end\sof\s|by\s)?q([1-4])\b")
_REL_MONTH_YEAR = re.compile(rf"\b{WHICH}\s(month|year|quarter)\b")
_MONTH_ALONE = re.compile(
    rf"\b(?:in|by|during|before|until|till|for|of|throughout|next|this|around)\s({MONTH})(?![a-z])(?:,?\s(\d{{4}}))?"
    rf"|\b({MONTH})\s(\d{{4}})\b"
)
_YEAR_ALONE = re.compile(r"\b(?:in|by|during|until|till|before\sthe\send\sof)\s((?:19|20)\d\d)\b")


_AT_BEFORE = re.compile(r"\b(?:at|around)\s?$")
_BY_BEFORE = re.compile(r"\b(?:by|before|until|till|til)\s?$")


def _dotted_clock(s: Scan, m) -> bool:
    head = s.text[max(0, m.start() - 8) : m.start()]
    after_at = bool(_AT_BEFORE.search(head))
    return (after_at or bool(_BY_BEFORE.search(head))) and cv.dotted_pair_is_clock(int(m[1]), m[3], after_at=after_at)


# a number right after one of these is a label or a measure (版本2.3, 价格3.50, 第1/2), not a date
_LABEL_BEFORE_ZH = re.compile(
    r"(?:版本|版|型号|价格|售价|单价|价|比分|比数|得分|分数|成绩|评分|体重|身高|温度|第|约|共|合计|总计|共计|号码|电话|编号|房间)\s?$"
)


def _cue_before(s: Scan, start: int) -> bool:
    head = s.text[max(0, start - 12) : start]
    chinese = bool(re.search(r"[\u4e00-\u9fff]\s?$", head)) and not _LABEL_BEFORE_ZH.search(head)
    return start == 0 or not head.strip() or bool(CUE.search(head)) or chinese


# a measure after a number pair: "1/2 cup", "3/4 inch", "2/3 of the class" are fractions, not dates
_COUNTED_AFTER = re.compile(
    rf"^\s(?!{_NOT_A_COUNT}\b)[a-z]{{2,}}s\b|^\s(?:people|kids|children|men|women|copies|pieces?|cups?|per\b)"
)
_MEASURE_AFTER = re.compile(
    r"^\s?(?:of\b|cups?\b|inch(?:es)?\b|in\b(?!\s(?:the|a)\b)|\"|tsp\b|tbsp\b|teaspoons?\b|tablespoons?\b|miles?\b"
    r"|mi\b|pounds?\b|lbs?\b|oz\b|ounces?\b|kgs?\b|g\b|grams?\b|cm\b|mm\b|m\b|km\b|ft\b|foot\b|feet\b|yards?\b"
    r"|lit(?:re|er)s?\b|l\b|ml\b|gallons?\b|pints?\b|servings?\b|portions?\b|slices?\b|sticks?\b|scale\b|turns?\b"
    r"|size\b|marathon\b|tank\b)"
)


def _ymd(s: Scan, a: int, b: int, year: int | None):
    """Two numbers of a numeric date in the user's order (or the only order that is valid)."""
    month, day = (b, a) if s.day_first else (a, b)
    if month > 12 and day <= 12:
        month, day = day, month
    return cv.month_day(s.today, month, day, year)


def _year(token: str | None) -> int | None:
    if not token:
        return None
    year = int(token)
    return year + 2000 if year < 100 else year


_PART_OF_PERIOD = re.compile(
    r"\b(?:early|late)\s(?:in\s)?(?:the\s)?(?:(?:this|next|last|the\scoming)\s)?(?:week|month|year)\b"
)


def _scan_dates(s: Scan) -> None:
    today = s.today
    for m in s.each(_PART_OF_PERIOD):
        s.vague = True  # "early next week", "late this month": some days of it, not one (ask)
        s.take_m(m)
    for m in s.each(_ISO):
        s.add_day(cv.month_day(today, int(m[2]), int(m[3]), int(m[1])), m, explicit=True)
        s.far_named = True
    for m in s.each(_NUMERIC_Y):
        s.add_day(_ymd(s, int(m[1]), int(m[3]), _year(m[4])), m, explicit=True)
        s.far_named = True
    for m in s.each(_WEEK_OF):
        month, day = (m[2], m[1]) if m[1] else (m[3], m[4])
        named = cv.month_day(today, _MONTHS[month.rstrip(".")], int(day))
        s.add_day(named and named + timedelta(days=6 - named.weekday()), m, grain="week")  # that week's Sunday
    for m in s.each(_NTH_DAY_OF):
        if not m[1]:
            s.add_day(None, m)  # "the first week of October": the week with the 1st in it, or the first whole one?
            continue
        day = int(m[1][:-2]) if m[1][0].isdigit() else _DAY_WORDS[m[1]]
        if m[3]:
            s.add_day(cv.month_day(today, _MONTHS[m[3].rstrip(".")], day), m, explicit=True)
        else:
            base = cv.add_months(today.replace(day=1), 1 if m[2] == "next" else 0)
            try:
                s.add_day(base.replace(day=day), m, explicit=True)
            except ValueError:
                s.add_day(None, m)
    for m in s.each(_NTH):
        n, weekday = _ORDINALS[m[1]], _weekday(m[2])
        year = int(m[5]) if m[5] else None
        if m[4] == "month":
            base = cv.add_months(today.replace(day=1), 1 if m[3] == "next" else 0)
            day = cv.nth_weekday(base.year, base.month, weekday, n)
            if day is not None and day < today and m[3] in (None, "the"):
                base = cv.add_months(base, 1)  # "the first Monday of the month", already past: next month's
                day = cv.nth_weekday(base.year, base.month, weekday, n)
        else:
            month = _MONTHS[m[4].rstrip(".")]
            day = cv.nth_weekday(year or cv.month_named(today, month), month, weekday, n)
            if day is not None and day < today and year is None:
                day = cv.nth_weekday(day.year + 1, month, weekday, n)
        s.add_day(day, m, explicit=True)
    for m in s.each(_DAY_OF_REL_MONTH):
        base = cv.add_months(today.replace(day=1), 1 if m[2] == "next" else 0)
        try:
            s.add_day(base.replace(day=_day_token(m[1])), m, explicit=True)
        except ValueError:
            s.add_day(None, m)
    for m in s.each(_MONTH_DAY_RANGE):
        month, first, last, year = (m[1], m[2], m[3], m[4]) if m[1] else (m[7], m[5], m[6], m[8])
        if int(first) >= int(last):
            continue
        month = _MONTHS[month.rstrip(".")]
        start = cv.month_day(today, month, int(first), _year(year))
        end = start and cv.month_day(start, month, int(last), start.year)
        s.add_day(end, m, explicit=True)  # "Feb 13-15": due at its end
        s.far_named = s.far_named or bool(year)
    for m in s.each(_MONTH_DAY):
        day = _day_token(m[2])
        s.add_day(cv.month_day(today, _MONTHS[m[1].rstrip(".")], day, _year(m[3])), m, explicit=True)
        s.far_named = s.far_named or bool(m[3])
    for m in s.each(_DAY_MONTH):
        if m[1] == "second" and not m[0].startswith(("the", "second of")):
            continue
        day = _day_token(m[1])
        s.add_day(cv.month_day(today, _MONTHS[m[2].rstrip(".")], day, _year(m[3])), m, explicit=True)
        s.far_named = s.far_named or bool(m[3])
    for m in s.each(_ORDINAL_DAY):
        s.add_day(cv.day_of_month(today, int(m[1] or m[2]) if (m[1] or m[2]) else _DAY_WORDS[m[3]]), m, explicit=True)
    for m in s.each(_NUMERIC):
        after = s.text[m.end() :]
        if not _cue_before(s, m.start()) or _MEASURE_AFTER.match(after) or _COUNTED_AFTER.match(after):
            continue
        if m[2] == "-" and _AT_BEFORE.search(s.text[max(0, m.start() - 8) : m.start()]):
            continue  # "at 3-4": a clock range (below), not 4 March
        if m[2] != "/" and s.text[m.end() : m.end() + 1].isalpha():
            continue
        if m[2] == "." and _dotted_clock(s, m):
            continue  # "at 9.15", "by 5.30": a clock time, read below
        day = _ymd(s, int(m[1]), int(m[3]), None)
        if day is None and m[2] == ".":
            continue  # "2.0", "3.75": a decimal number, not a date
        s.add_day(day, m, explicit=True)
    for m in s.each(_REL_DAYS):
        word = m[1]
        if word is None:
            s.add_day(today + timedelta(days=2 if "after" in m[0] else -2), m)
        elif word in ("today",):
            s.add_day(today, m)
        elif word in ("tonight", "tonite"):
            s.add_day(today, m)
            s.period = s.period or "evening"
        elif word == "yesterday":
            s.add_day(today - timedelta(days=1), m)
        elif word == "last night":
            s.add_day(today - timedelta(days=1), m)
            s.period = s.period or "evening"
        else:
            s.add_day(today + timedelta(days=1), m)
    for m in s.each(_WD_AFTER_NEXT):
        s.add_day(cv.weekday_in_week(today, _weekday(m[1]), 2), m, weekday=_weekday(m[1]))
    for m in s.each(_WD_WEEK):
        name, which = (m[1], m[2]) if m[1] else (m[4], m[3])
        weeks = {"next": 1, "this": 0, "last": -1}[which]
        s.add_day(cv.weekday_in_week(today, _weekday(name), weeks), m, weekday=_weekday(name))
    for m in s.each(_WEEK_AFTER_NEXT):
        s.add_day(cv.week_end(today, 2), m, grain="week")
    for m in s.each(_END_OF_WEEK):
        s.add_day(cv.week_end(today, 1 if m[1] else 0), m, grain="week")
    for m in s.each(_THIS_WEEK):
        s.add_day(cv.week_end(today, _WHICH[m[1]]), m, grain="week")
    for m in s.each(_WEEKEND):
        s.add_day(cv.week_end(today, 0), m, grain="week")
    for m in s.each(_WD):
        which, name = m[1], m[2]
        bare_abbr = name in _AMBIGUOUS_ABBR and not which and not (m.start() > 0 and _cue_before(s, m.start()))
        if bare_abbr and not m[0].endswith(".") and not _WD_CONTEXT.match(s.text[m.end() :]):
            continue  # "I sat down", "sun cream": not a weekday
        weekday = _weekday(name)
        if which in ("next", "the following", "following"):
            s.add_day(cv.weekday_in_week(today, weekday, 1), m, weekday=weekday)
        elif which in ("last", "past"):
            s.add_day(cv.weekday_last(today, weekday), m, weekday=weekday)
        else:
            s.add_day(cv.weekday_coming(today, weekday), m, weekday=weekday, roll=True)
    _scan_holidays(s)
    _scan_month_year(s)


_HOLIDAYS = {
    "new year's eve": (12, 31),
    "new years eve": (12, 31),
    "nye": (12, 31),
    "new year's day": (1, 1),
    "new years day": (1, 1),
    "new year's": (1, 1),
    "new year": (1, 1),
    "christmas eve": (12, 24),
    "xmas eve": (12, 24),
    "christmas day": (12, 25),
    "christmas": (12, 25),
    "xmas": (12, 25),
    "boxing day": (12, 26),
    "halloween": (10, 31),
    "valentine's day": (2, 14),
    "valentines day": (2, 14),
    "valentine's": (2, 14),
    "st patrick's day": (3, 17),
    "st. patrick's day": (3, 17),
    "april fools' day": (4, 1),
    "april fools day": (4, 1),
    "april fool's day": (4, 1),
    "may day": (5, 1),
    "earth day": (4, 22),
    "juneteenth": (6, 19),
    "canada day": (7, 1),
    "bonfire night": (11, 5),
    "guy fawkes night": (11, 5),
    "guy fawkes day": (11, 5),
    "veterans day": (11, 11),
    "veterans' day": (11, 11),
    "veteran's day": (11, 11),
    "remembrance day": (11, 11),
    # the date depends on the region (conventions.REGIONAL_HOLIDAYS)
    "independence day": "independence day",
}
_HOLIDAY_NAME = "|".join(sorted((re.escape(h) for h in _HOLIDAYS), key=len, reverse=True))
# after a deadline word ("by Christmas") it is that date; "after"/"over" Christmas name no one day (ask);
# "flights for Christmas" names a purpose, not a deadline
_HOLIDAY = re.compile(
    rf"\b(?:(by|before|on|until|till|til|due|ahead\sof)|(after|over|around|during))\s(?:the\s)?({_HOLIDAY_NAME})"
    r"(?![a-z])"
    rf"|^(?:the\s)?({_HOLIDAY_NAME})(?=\s?[.!?]?$)"  # named alone, the whole message: that day
    # with a time of its own: "Christmas Eve at 6pm", "New Year's Day morning"
    rf"|\b({_HOLIDAY_NAME})(?=\s(?:at\s|@\s?|by\s)?\d|\s(?:morning|afternoon|evening|night|noon)\b)"
    # "the day after Christmas", "the night before Christmas"
    rf"|\bthe\s(?:day|night)\s(after|before)\s(?:the\s)?({_HOLIDAY_NAME})(?![a-z])"
)
# holidays whose date moves from year to year (or differs by region and calendar): asked about
MOVING_HOLIDAY = (
    r"(?:easter(?:\ssunday|\smonday)?|thanksgiving(?:\sday)?|passover|diwali|ramadan|eid|hanukkah|(?:chinese|lunar)\snew\syear"
    r"|memorial\sday|labou?r\sday|mother'?s'?\sday|father'?s'?\sday|presidents'?\sday|president's\sday"
    r"|(?:mlk|martin\sluther\sking(?:\sjr\.?)?)\sday|good\sfriday|mardi\sgras|black\sfriday|cyber\smonday"
    r"|rosh\shashanah|yom\skippur|mid-autumn(?:\sfestival)?|dragon\sboat\sfestival|bank\sholiday|spring\sbreak)"
)
_MOVING_ALONE = re.compile(rf"^(?:the\s)?{MOVING_HOLIDAY}(?=\s?[.!?]?$)")


def _scan_holidays(s: Scan) -> None:
    for m in s.each(_MOVING_ALONE):
        s.vague = True
        s.take_m(m)
    for m in s.each(_HOLIDAY):
        if m[2]:
            s.vague = True
            s.take_m(m)
            continue
        when = _HOLIDAYS[m[3] or m[4] or m[5] or m[7]]
        if isinstance(when, str):
            when = cv.regional_holiday(when, s.tz)
            if when is None:
                s.vague = True  # "Independence Day" where the user's region has none we know: ask
                s.take_m(m)
                continue
        month, day = when
        shift = {"after": 1, "before": -1}.get(m[6], 0)
        named = cv.month_day(s.today - timedelta(days=shift), month, day)
        s.add_day(named and named + timedelta(days=shift), m, explicit=True)
        if m[6] and m[0].startswith("the night"):
            s.period = s.period or "evening"  # "the night before Christmas": that evening


def _scan_month_year(s: Scan) -> None:
    today = s.today
    for m in s.each(_MONTH_EDGE):
        edge, which, what = m[1], (m[2] or "").strip(), m[3]
        if m[4]:
            edge, what = "end", {"eom": "month", "eoy": "year", "eoq": "quarter"}[m[4]]
        shift = 1 if which == "next" else -1 if which == "last" else 0
        if what == "month":
            base = cv.add_months(today.replace(day=1), shift)
            end = cv.month_end(base.year, base.month)
            day = {"end": end, "last day": end, "start": base, "beginning": base}.get(edge, base.replace(day=15))
        elif what == "year":
            year = today.year + shift
            day = date(year, 12, 31) if edge == "end" or edge == "last day" else date(year, 1, 1)
            if edge == "middle":
                day = date(year, 6, 30)
            s.far_named = s.far_named or shift != 0
        else:
            quarter = (today.month - 1) // 3 + 1 + shift
            year = today.year + (quarter - 1) // 4
            quarter = (quarter - 1) % 4 + 1
            day = cv.quarter_end(year, quarter)
        whole = edge in ("end", "last day") or (what == "year" and edge == "middle")
        s.add_day(day, m, grain=what if whole else "day")
    for m in s.each(_MONTH_EDGE_NAMED):
        edge = m[1] or m[2]
        month = _MONTHS[m[3].rstrip(".")]
        year = _year(m[4]) or cv.month_named(today, month)
        if edge in ("early", "late"):
            s.add_day(None, m)  # "early April", "late April": which day? ask
            continue
        if edge in ("end", "late"):
            day = cv.month_end(year, month)
        elif edge in ("start", "beginning"):
            day = date(year, month, 1)
        else:
            day = date(year, month, 15)
        s.add_day(day, m)
    for m in s.each(_YEAR_EDGE):
        year = int(m[2])
        s.add_day(date(year, 12, 31) if m[1] == "end" else date(year, 1, 1), m, grain="year")
        s.far_named = True
    for m in s.each(_QUARTER):
        quarter = int(m[1])
        year = today.year if cv.quarter_end(today.year, quarter) >= today else today.year + 1
        s.add_day(cv.quarter_end(year, quarter), m)
    for m in s.each(_REL_MONTH_YEAR):
        shift = _WHICH[m[1]]
        if m[2] == "month":
            base = cv.add_months(today.replace(day=1), shift)
            s.add_day(cv.month_end(base.year, base.month), m, grain="month")
        elif m[2] == "quarter":
            index = today.year * 4 + (today.month - 1) // 3 + shift
            s.add_day(cv.quarter_end(index // 4, index % 4 + 1), m, grain="quarter")
        else:
            s.add_day(date(today.year + shift, 12, 31), m, grain="year")
            s.far_named = s.far_named or shift != 0
    for m in s.each(_MONTH_ALONE):
        name, year_token = (m[1], m[2]) if m[1] else (m[3], m[4])
        month = _MONTHS[name.rstrip(".")]
        if name.rstrip(".") in ("may", "mar") and not m[1]:
            continue
        year = _year(year_token) or cv.month_named(today, month)
        s.add_day(cv.month_end(year, month), m, grain="month")
        s.far_named = s.far_named or bool(year_token)
    for m in s.each(_YEAR_ALONE):
        s.add_day(date(int(m[1]), 12, 31), m, grain="year")
        s.far_named = True


# --- clock times ---
_AMPM = r"(?P<ampm>a\.m\.?|p\.m\.?|am|pm)"
_RANGE_AMPM = re.compile(
    r"\b(?:between\s|from\s)?(\d{1,2})(?::(\d\d))?\s?(am|pm)?\s?(?:-|to|until|till|and)\s?(\d{1,2})(?::(\d\d))?\s?(am|pm)\b"
)
_RANGE_BETWEEN = re.compile(
    r"\bbetween\s(\d{1,2})(?::(\d\d))?\sand\s(\d{1,2})(?::(\d\d))?\b(?!\s?(?:am|pm|/))"
    rf"(?!\s(?!{_NOT_A_COUNT}\b)[a-z]{{2,}}s\b|\s(?:people|kids|children|men|women))"
)
_CLOCK_AMPM = re.compile(
    rf"(?<![\d/.:$])\b(\d{{1,2}})(?:[:.]?(\d\d))?\s?{_AMPM}(?![a-z])|\b(\d{{1,2}})(?::(\d\d))?([ap])\b"
)
_SHORT_AMPM_CUE = re.compile(
    rf"(?:\b(?:at|by|before|until|till|til|around|about|from|to|tomorrow|today|tonight|tmrw?|tmr|{WD})|@|-)\.?\s?$"
)
_HHMM = re.compile(r"(?<![\d/.:])(\d{1,2})\s?:\s?(\d\d)(?![\d:])(?:\s?h\b)?")
_H_MM = re.compile(r"(?<![/.])\b(\d{1,2})h(\d\d)?\b")
_MILITARY = re.compile(
    r"(?:\b(at|by|before|until|till|til|for|around|about)\s|@\s?)(\d\d)(\d\d)(?:-?ish)?\b(?!\s?(?:am|pm))"
    r"|\b(\d\d)(\d\d)\s?(?:hours|hrs|h)\b|\b(\d\d)(\d\d)(?=\s(?:tonight|today|tomorrow)\b)"
)
# three digits after "at" are h:mm when nothing else can be meant: the end of the message, a part of the day
_COMPACT_CLOCK = re.compile(
    r"(?:\b(?:at|around|about)\s|@\s?)([1-9])([0-5]\d)(?:-?ish)?\b"
    r"(?=\s?(?:$|[.,!?](?!\d)|in\sthe\s(?:morning|afternoon|evening)|tonight|this\s(?:morning|afternoon|evening)|tomorrow"
    r"|today))"
)
_MIN_PAST = re.compile(
    rf"\b(half|a\squarter|quarter|\d{{1,2}}|{EN_NUMWORD})\s(minutes?\s)?(past|after|to|till|til|of|before)\s"
    rf"(\d{{1,2}}|{EN_HOURWORD}|noon|midnight)(?:\b|(?=[ap]\.?m))(?!\s?(?:/|:|\d))(?:\s?(a\.m\.?|p\.m\.?|am|pm)(?![a-z]))?"
    rf"(?!\s(?!{_NOT_A_COUNT}\b)[a-z]{{2,}}s\b)"
)
# "N to/of M" in digits is a clock time only with a cue ("at 10 to 6"), the word "minutes" or am/pm
_CLOCK_CUE_NEAR = re.compile(r"(?:\b(?:at|by|before|until|till|til|around|about)|@)\s?$")
_DOT_CLOCK = re.compile(
    r"\b(?:at|by|before|until|till|til|around)\s(\d{1,2})\.(\d\d)\b(?!\.\d"
    r"|\s?(?:each|per\b|apiece|a\s(?:piece|pop|kilo|pound|head|month|week|year)|dollars?|euros?|pounds?|bucks|usd|eur|gbp|%|percent))"
)
_COMPACT_OFFSET = re.compile(r"\b(?:in|within)\s(\d{1,3}(?:\.\d{1,2})?|\d/\d)\s?(h|hr|m|min)(?:\s?(\d{1,2})\s?m?)?\b")
_RANGE_FROM = re.compile(
    r"\b(?:from\s(\d{1,2})(?::(\d\d))?\s?(?:-|to|until|till|til)|at\s(\d{1,2})(?::(\d\d))?\s?-)\s?(\d{1,2})(?::(\d\d))?\b"
    rf"(?!\s?(?:am|pm|a\.m|p\.m|/|:|\.\d|%)|\s(?!{_NOT_A_COUNT}\b)[a-z]{{2,}}s\b)"
)
_HALF_H = re.compile(rf"\bhalf\s(\d{{1,2}}|{EN_HOURWORD})\b(?!\s?(?:hours?|an?\b|of\b|/|past))")
_WORD_CLOCK = re.compile(
    rf"\b(?:(?:at|by|before|until|till|around)\s)({EN_HOURWORD})[- ]({EN_MINUTEWORD})\b(?!\s?(?:minutes?|hours?|days?))"
    rf"|\b({EN_HOURWORD})(?:[- ]({EN_MINUTEWORD}))?\s?{_AMPM}(?![a-z])"
)
_CUE_HOUR = re.compile(
    rf"(?:\b(?:at|by|before|until|till|til|around)|@)\s?(\d{{1,2}}|{EN_HOURWORD})(?:\s?o'?clock|-?ish)?\b"
    r"(?!\s?(?:/|:|\.\d|st\b|nd\b|rd\b|th\b|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|%|people|pages?"
    r"|dollars?|times?|percent|items?|of\b|points?|stages?|moments?|go\b|places?|locations?|spots?|levels?|sides?"
    r"|stations?|stores?|shops?|schools?|sites?|venues?|rooms?|tables?|desks?|stops?|kids|children|students"
    r"|feet|foot|ft\b|inch(?:es)?\b|cm\b|mm\b|km\b|kms\b|miles?|meters?|metres?|kg\b|kilos?|lbs?\b|pounds?|mph\b|kph\b"
    r"|degrees?|percent|x\b)|\s(?:past|to|till|til)(?=\s?(?:$|[.,!?])))"
    # a counted noun after the number, maybe with one describing word: "at 3 locations", "at 3 different places"
    rf"(?!\s(?!{_NOT_A_COUNT}\b)[a-z]{{2,}}s\b)"
    r"(?!\s(?!(?:on|with|for|in|at|and|or|to|the|my|our|his|her|their|your|a|an|tomorrow|today|tonight|sharp|latest"
    rf"|o'?clock|am|pm|so|then|if|but|because|when|unless|please|pls|ok|okay)\b)[a-z]+\s(?!{_NOT_A_COUNT}\b)[a-z]{{2,}}s\b)"
)
# "a 2 by 4 plank", "the room is 10 by 12": a dimension, not "by 4 o'clock"
_DIMENSION_BEFORE = re.compile(
    rf"\b(?:a|an|the|is|are|was|were|be|measures?|measuring|sized?|about|roughly|approximately)\s"
    rf"(?:\d{{1,4}}(?:\.\d{{1,2}})?|{EN_NUMWORD})(?:\s?(?:ft|feet|foot|inch(?:es)?|in|m|cm|mm|metres?|meters?|yards?))?\s$"
)
_HOUR_THEN_PERIOD = re.compile(
    rf"(?<![\d/.:])\b(\d{{1,2}}|{EN_HOURWORD})(?::(\d\d))?(?=\s(?:tonight|tonite|this\s(?:morning|afternoon|evening|arvo)"
    rf"|in\sthe\s(?:morning|afternoon|evening|arvo)|at\snight|tomorrow|today|on\s(?:{WD}|the\s\d|{MONTH}|\d)|next\s))"
)
_OCLOCK = re.compile(rf"\b(\d{{1,2}}|{EN_HOURWORD})\s?o'?clock\b")
_NOON = re.compile(
    r"\b(?:12\s)?(noon|midday|midnight|lunchtime|lunch\stime|at\slunch)(?:-?ish)?\b"
    r"|\b(?:before|by|until|till|til)\slunch\b"
)
_DAY_LUNCH = re.compile(rf"\b(?:today|tomorrow|tmrw?|tmr|{WD})(?:'s)?\s(lunch(?:time)?)\b")
_EOD = re.compile(
    r"\b(?:the\s)?(?:end\sof\s(?:the\s)?(?:business\s|work\s?)?day|close\sof\sbusiness|end\sof\sbusiness|eod|cob|eob)\b"
    r"|\bfirst\sthing\b"
)
_PERIODS = re.compile(
    r"\b(?:(?:in|during)\sthe\s|(this)\s|at\s)?(morning|afternoon|arvo|evening|night|tonight|tonite)\b"
)


def _hour_token(token: str) -> int:
    return int(token) if token.isdigit() else en_int(token)


_ZONE_AFTER = re.compile(
    r"\s?\(?("
    + "|".join(sorted(cv.ZONE_ABBREVIATIONS, key=len, reverse=True))
    + r")\b(?:\s?([+-])(\d{1,2})(?::?(\d\d))?)?\)?"
    r"(?![a-z])"
)


def _clock_zones(s: Scan) -> None:
    """ "4pm CET", "Thursday 8:00 GMT", "10am (UTC+2)": the zone written right after a clock time."""
    for clock in s.clocks:
        m = _ZONE_AFTER.match(s.text, clock.end)
        if m is None or not s.free(m.start(1), m.end()):
            continue
        if m[1] in ("et", "ct", "mt", "pt") and m[2]:
            continue
        hours = (int(m[3]) if m[2] == "+" else -int(m[3])) if m[2] else None
        s.clock_zone = cv.named_zone(m[1], hours, int(m[4] or 0))
        s.take(m.start(1), m.end())


def _scan_times(s: Scan) -> None:
    for m in s.each(_MIN_PAST):
        _minutes_past(s, m)
    for m in s.each(_DOT_CLOCK):
        s.add_clock(int(m[1]), int(m[2]), int(m[1]) > 12, m, start=m.start(1))  # British "at 9.15"
    for m in s.each(_RANGE_AMPM):
        hour, minute, ampm = int(m[4]), int(m[5] or 0), m[6]
        _add_ampm(s, hour, minute, ampm, m)
    for m in s.each(_RANGE_BETWEEN):
        s.add_clock(int(m[3]), int(m[4] or 0), False, m)
    for m in s.each(_RANGE_FROM):
        s.add_clock(int(m[5]), int(m[6] or 0), False, m)  # "from 2 to 4", "at 3-4": due at its end
    for m in s.each(_CLOCK_AMPM):
        if m[1] is not None:
            _add_ampm(s, int(m[1]), int(m[2] or 0), m["ampm"], m)
        elif _SHORT_AMPM_CUE.search(s.text[max(0, m.start() - 12) : m.start()]):
            _add_ampm(s, int(m[4]), int(m[5] or 0), m[6] + "m", m)  # "at 4p", "fri 9a"
    for m in s.each(_MILITARY):
        hour, minute, word = (int(m[2]), int(m[3]), m[1]) if m[2] else (int(m[4] or m[6]), int(m[5] or m[7]), None)
        if word in ("by", "before", "until", "till", "til") and 1950 <= hour * 100 + minute <= 2099:
            continue  # "by 2030": a year, read by the date grammar
        if hour <= 23 and minute <= 59:
            start = m.start(2) if m[2] else m.start()
            s.add_clock(hour, minute, True, m, start=start)
    for m in s.each(_COMPACT_CLOCK):
        s.add_clock(int(m[1]), int(m[2]), False, m, start=m.start(1))
    for m in s.each(_HHMM):
        if _named_reference(s, m.start()):
            continue
        hour = int(m[1])
        s.add_clock(hour, int(m[2]), hour > 12 or hour == 0 or m[1].startswith("0"), m)
    for m in s.each(_H_MM):
        s.add_clock(int(m[1]), int(m[2] or 0), True, m)
    for m in s.each(_HALF_H):
        s.add_clock(_hour_token(m[1]), 30, False, m)
    for m in s.each(_WORD_CLOCK):
        if m[1]:
            s.add_clock(en_int(m[1]), en_minutes(m[2]), False, m, start=m.start(1))
        else:
            _add_ampm(s, en_int(m[3]), en_minutes(m[4]) if m[4] else 0, m["ampm"], m)
    for m in s.each(_NOON):
        word = m[1]
        if word == "midnight":
            s.add_clock(24, 0, True, m)
        else:
            s.add_clock(12, 0, True, m)
    for m in _DAY_LUNCH.finditer(s.text):
        if s.free(m.start(1), m.end(1)):
            s.add_clock(12, 0, True, m, start=m.start(1))
    for m in s.each(_EOD):
        if m[0] == "first thing":
            s.add_clock(cv.START_OF_BUSINESS.hour, cv.START_OF_BUSINESS.minute, True, m)
        elif m[0].endswith(("business", "cob", "eob")):
            s.add_clock(cv.CLOSE_OF_BUSINESS.hour, cv.CLOSE_OF_BUSINESS.minute, True, m)
        else:
            s.add_clock(24, 0, True, m)
    for m in s.each(_CUE_HOUR):
        if m[0].startswith("by") and _DIMENSION_BEFORE.search(s.text[max(0, m.start() - 24) : m.start()]):
            continue
        hour = _hour_token(m[1])
        if hour <= 24:
            s.add_clock(hour, 0, False, m, start=m.start(1))
    for m in s.each(_HOUR_THEN_PERIOD):
        hour = _hour_token(m[1])
        if hour <= 24:
            s.add_clock(hour, int(m[2] or 0), False, m)
    for m in s.each(_OCLOCK):
        s.add_clock(_hour_token(m[1]), 0, False, m)
    _clock_zones(s)
    for m in s.each(_PERIODS):
        word = m[2]
        if word in ("tonight", "tonite") or m[1]:
            s.add_day(s.today, m)  # "this morning": today, even when its time has passed
        if word in ("tonight", "tonite"):
            s.period = s.period or "evening"
        else:
            s.set_period({"morning": "morning", "afternoon": "afternoon", "arvo": "afternoon"}.get(word, "evening"), m)


_CAPITALISED_BEFORE = re.compile(r"[^\s.!?]\s([A-Z][a-z]{1,15})\s$")
_TIME_NAMES = set(_WEEKDAYS) | set(_MONTHS) | {"noon", "midnight", "today", "tomorrow", "tonight", "at", "by", "due"}


def _named_reference(s: Scan, start: int) -> bool:
    """ "John 3:16", "Psalm 23:4": a colon pair right after a capitalised name inside the sentence is a
    chapter and verse (or a score), not a clock time."""
    raw_start = s.norm.original(start, start + 1)[0]
    m = _CAPITALISED_BEFORE.search(s.norm.raw[max(0, raw_start - 20) : raw_start])
    return bool(m) and m[1].lower() not in _TIME_NAMES


def _minutes_past(s: Scan, m) -> None:
    """ "half past four", "a quarter to six", "ten to midnight", "twenty past 3 pm"."""
    token, said_minutes, relation, target, ampm = m[1], m[2], m[3], m[4], m[5]
    counted = token.isdigit() and relation not in ("past", "after") and not (said_minutes or ampm)
    if counted and not _CLOCK_CUE_NEAR.search(s.text[max(0, m.start() - 8) : m.start()]):
        return  # "5 to 10", "2 of 3": a range or a count
    minutes = 30 if token == "half" else 15 if "quarter" in token else _hour_token(token)
    if minutes >= 60:
        return
    if target in ("noon", "midnight"):
        hour, absolute = (12 if target == "noon" else 0), True
    else:
        hour, absolute = _hour_token(target), False
    if relation in ("to", "till", "til", "of", "before"):
        hour, minutes = hour - 1, 60 - minutes
        if target == "midnight":
            hour = 23
    if not 0 <= hour <= 24:
        return
    if ampm and not absolute:
        if ampm.startswith("p") and hour < 12:
            hour += 12
        elif ampm.startswith("a") and hour == 12:
            hour = 0
        absolute = True
    s.add_clock(hour, minutes, absolute, m)


def _add_ampm(s: Scan, hour: int, minute: int, ampm: str, m) -> None:
    if hour > 12 or hour == 0:
        s.add_clock(99, 0, True, m)  # "13pm": not a time; ask
        return
    if ampm.startswith("p") and hour < 12:
        hour += 12
    if ampm.startswith("a") and hour == 12:
        hour = 0
    s.add_clock(hour, minute, True, m)


VAGUE = re.compile(
    r"\b(?:sometime|some\stime|someday|some\sday|later|soon|at\ssome\spoint|when\si\s(?:have|get|find)\s(?:the\s)?time"
    r"|when\si\sget\sa\schance|in\sa\sfew\s(?:minutes|hours|days|weeks|months)|a\scouple\sof\s(?:minutes|hours|days|weeks|months)"
    r"|one\sof\sthese\sdays"
    r"|eventually|in\sa\sbit|in\sa\swhile|whenever(?=\s?(?:$|[.,!?]|you|i\s(?:can|want|like|get)))|next\stime"
    r"|asap|as\ssoon\sas\spossible|in\sdue\scourse"
    r"|before\slong|in\sthe\snear\sfuture|midweek|mid-week|in\s(?:a|an|one)\s(?:minute|hour|day|week|month)\sor\stwo"
    r"|a\sfew\sdays"
    r"|(?:by|before|over|after|during|until|till)\s(?:the\s)?(?:holidays|holiday\sseason|(?:winter|summer|spring|easter|christmas)"
    r"\sbreak|break|half[- ]term|reading\sweek|vacation|vac)"
    r"|(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?|\d|noon|midnight|am|pm)\sor\sso"
    rf"|(?:in|within)\s(?:\d{{1,3}}|{EN_NUMWORD})\s?(?:-|to|or)\s?(?:\d{{1,3}}|{EN_NUMWORD})\s{UNIT}"
    r"|the\s(?:day|week)\safter(?!\s(?:tomorrow|tomorow|tommorow|tmrw|tmr|tmw|2moro|tomo|next)\b)"
    r"|end\sof\s(?:the\s)?(?:semester|term|school\syear)|before\s(?:the\s)?(?:exams?|finals?|midterms?)"
    r"|(?:this|next|last|by|before|until|till|over\sthe|during\sthe|in\sthe|for\sthe)\s(?:summer|winter|spring|fall|autumn)"
    rf"|(?:by|before|over|after|around|during|until|till|on|due)\s(?:the\s)?{MOVING_HOLIDAY})\b"
)
# "at 3 or 4", "next week or the week after": two answers offered, so none is the deadline (ask)
_OR_ANOTHER = re.compile(
    rf"^,?\s?or\s(?:maybe\s|perhaps\s|possibly\s)?(?:the\s|on\s|at\s|by\s)?"
    rf"(?:\d|(?:{EN_HOURWORD}|{WD}|tomorrow|tmrw?|today|tonight|next|this|week|day|noon|midnight|morning|afternoon"
    rf"|evening|{MONTH})\b)"
)
# time already spent: "it took me 2 hours", "spent 3 days on it", "studied for 4 hrs"
_NARRATION = re.compile(
    r"\b(?:took|spent|studied|worked|waited|lasted|slept|practi[cs]ed|played|revised|trained|wasted)\b[^.!?;]{0,30}?"
    rf"\b(?:\d{{1,3}}(?:\.\d)?|an?|{EN_NUMWORD}|a\scouple\sof|a\sfew)\s(?:more\s)?(?:minutes?|mins?|hours?|hrs?|days?|weeks?)\b"
)
_UNIT_AFTER = re.compile(
    rf"^\s?(?:of\s)?(?:an?\s)?(?:minutes?|hours?|hrs?|days?|weeks?|months?|years?)\b"
    rf"|^\s?(?:and|,)\s(?:\d{{1,3}}|{EN_NUMWORD}|an?)\s{UNIT}\b"
)


PHASES = (_scan_offsets, _scan_dates, _scan_times)


def finish(s: Scan) -> None:
    if any(s.free(m.start(), m.end()) for m in VAGUE.finditer(s.text)):
        s.vague = True
    for m in _NARRATION.finditer(s.text):
        s.narration = True
        s.narrated.append(m.span())
    for _start, end in list(s.spans):
        if _UNIT_AFTER.match(s.text[end:]):
            s.partial = True  # "3/4 of an hour" read as a date: the rest says it was not one
        if _OR_ANOTHER.match(s.text[end:]):
            s.partial = True
