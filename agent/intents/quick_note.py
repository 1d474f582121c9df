# ruff: noqa: RUF001  (full-width punctuation and long patterns are the point here)
"""quick_note: a sentence → a task draft (title, deadline, priority, urgency threshold).

`draft` is pure; `quick_note_create` (agent.services) writes the task through the
scheduling services. docs/DOMAIN.md §8: "很重要/important" → priority 1 or 2, "紧急/urgent"
→ 1 or 3; a time hint that cannot be resolved, or a deadline that fails
`timeparse.deadline_check` (past, over a year ahead, not fully read) → ask, write nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from agent import timeparse

IMPORTANT = re.compile(r"(重要|要紧|关键|\bimportant\b|\bcrucial\b|\bcritical\b|\b(?:high|top) priority\b)", re.I)
URGENT = re.compile(
    r"(紧急|很急|非常急|特别急|火急|加急|[，,]\s*急[!！。]*$|\burgent(?:ly)?\b|\basap\b|\bas soon as possible\b)", re.I
)

_NOISE = [
    r"(?:请)?帮我(?:记一下|记下|建个任务|加个任务|添加(?:一个)?任务)?[,，:：]?",
    r"提醒我(?:一下)?",
    r"记得(?:要)?",
    r"别忘了?(?:要)?",
    r"不要忘了?",
    r"记一下[:：]?",
    r"加个任务[:：]?",
    r"建个任务[:：]?",
    r"待办[:：]?",
    r"(?:这个|也)?(?:很|非常|特别)?(?:重要|紧急|急)(?:也|又)?(?:很|非常)?(?:重要|紧急|急)?",
    r"必须",
    r"ddl(?:是)?",
    r"之前|以前|之内|以内|前(?=[把交要去完做提在])|^前",
    r"[！!。，,;；~]+",
    r"\bremind me(?: to)?\b[:：]?",
    r"\bdon'?t (?:let me )?forget(?: to)?\b",
    r"\bremember to\b",
    r"\badd (?:a )?task(?: to)?\b[:：]?",
    r"\bto-?do\b[:：]?",
    r"\b(?:it'?s|very|really)?\s*(?:urgent|important)(?: and (?:urgent|important))?\b",
    r"\b(?:by|before|on|at|due|until|within|in)\s*$",
    r"\b(?:by|before|on|at|until)\b(?=\s*(?:,|$))",
    r"^\s*(?:i need to|i have to|need to)\b",
]


@dataclass
class NoteDraft:
    title: str
    deadline: datetime | None
    priority: int
    urgency_threshold_at: datetime | None
    ask: bool
    question: str = ""


def priority_of(text: str) -> int:
    important, urgent = bool(IMPORTANT.search(text)), bool(URGENT.search(text))
    return 1 if important and urgent else 2 if important else 3 if urgent else 4


def title_of(text: str, parsed: timeparse.ParseResult) -> str:
    title = parsed.strip(text)
    for pattern in _NOISE:
        title = re.sub(pattern, " ", title, flags=re.I)
    title = re.sub(r"\s+", " ", title).strip(" :：,，.、-")
    title = re.sub(r"^(?:的|要|把)+(?=[\u4e00-\u9fff])", "", title) if len(title) > 3 else title
    return (title or text.strip())[:200]


QUESTIONS = {
    "unparsed": "什么时候截止？请告诉我具体的日期或时间。 / When is it due? Please give me a day or time.",
    "past": "这个时间已经过去了，什么时候截止？ / That time has already passed. When is it due?",
    "too_far": "这个截止时间在一年以后，是哪一天？ / That is more than a year away. When is it due?",
}


def urgency_threshold(priority: int, deadline: datetime | None, now: datetime, lead_hours: int) -> datetime | None:
    """The "not urgent" quadrants (2, 4) become urgent this long before the deadline, never before now."""
    if deadline is None or priority not in (2, 4):
        return None
    return min(max(now, deadline - timedelta(hours=lead_hours)), deadline)


def draft(text: str, now: datetime, tz: ZoneInfo | str, *, urgency_lead_hours: int = 48) -> NoteDraft:
    parsed = timeparse.parse(text, now, tz)
    priority = priority_of(text)
    title = title_of(text, parsed)
    if parsed.ambiguous:
        return NoteDraft(title, None, priority, None, True, QUESTIONS["unparsed"])
    verdict = timeparse.deadline_check(parsed.deadline, now=now, far_named=parsed.far_named)
    if not verdict.ok:  # docs/DOMAIN.md §8: never a silent guess
        return NoteDraft(title, None, priority, None, True, QUESTIONS[verdict.reason])
    threshold = urgency_threshold(priority, parsed.deadline, now, urgency_lead_hours)
    return NoteDraft(title, parsed.deadline, priority, threshold, False)


def model_deadline(raw, *, text: str, now: datetime, tz: ZoneInfo) -> tuple[datetime | None, timeparse.DeadlineCheck]:
    """A deadline an LLM proposed in a tool call, through the same checks as the rules' own: not ISO 8601
    → unparsed; in the past; more than a year ahead when the user's sentence names no year or offset."""
    try:
        deadline = datetime.fromisoformat(str(raw))
    except ValueError:
        return None, timeparse.DeadlineCheck(False, "unparsed")
    if deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=tz)
    far_named = timeparse.parse(text, now, tz).far_named
    return deadline, timeparse.deadline_check(deadline, now=now, far_named=far_named)
