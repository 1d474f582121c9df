# ruff: noqa: RUF001  (Chinese patterns)
"""task_query questions that rank instead of list (pure: no Django).

"which of my tasks is most urgent?" / 哪个任务最急 → rank "urgent"; "what is due first?" /
哪个先交 → "soonest"; "数学作业和英语作业哪个先交" (a comparison) → "soonest" among the tasks it
names. The read itself is agent.selectors.tasks_ranked; the order is `sort_key` here.
"""

from __future__ import annotations

import re
from datetime import datetime

RANKS = ("urgent", "important", "soonest", "latest")

_URGENT = re.compile(
    r"\b(?:most|more|least)\s(?:urgent|pressing|critical)\b|\burgent(?:est)?\b.{0,20}\?|\bwhat\sshould\si\s"
    r"(?:do|work\son|start(?:\swith)?|tackle|focus\son)\s(?:first|next|now)\b|\bwhere\sshould\si\sstart\b"
    r"|最(?:急|紧急|要紧|紧迫|赶)|更(?:急|紧急|要紧|紧迫)|比较急|先做(?:哪|什么|啥)|应该先(?:做|搞|写)|优先做"
)
_IMPORTANT = re.compile(
    r"\b(?:most|more|least)\s(?:important|significant)\b|\btop\spriority\b|\bhighest\spriority\b|最重要|更重要|优先级最高"
)
_SOONEST = re.compile(
    r"\b(?:due|deadline)\s(?:soonest|first|earliest)\b|\b(?:soonest|earliest|closest|nearest)\s(?:deadline|due)"
    r"|\bwhich\b.{0,40}?\b(?:first|sooner|earlier|soonest)\b|\bwhat(?:'s|\sis)?\s(?:due\s)?next\b"
    r"|\b(?:due|deadline)\s(?:before|sooner\sthan|earlier\sthan)\s(?:the|my)\b.{0,40}?\?"
    r"|哪(?:个|一个|样|门)?.{0,12}?(?:先交|先截止|最先|先到期|更早|最早|最近截止|先做完)|最(?:先|早|近)(?:截止|交|到期|的截止)|下一个(?:截止|要交)"
)
_LATEST = re.compile(
    r"\b(?:due\slast|latest\sdeadline|furthest\s(?:deadline|away))\b|最晚(?:截止|交|到期)|最后(?:截止|交)"
)


_QUESTION = re.compile(r"[?？]|哪|什么|啥|吗|\b(?:which|what|whats|should\si|where)\b")


def rank_of(text: str) -> str | None:
    """The ranking a question asks for, or None for a plain "what is due?" list (or a statement:
    "明天交最重要的那份报告" is a note)."""
    if not _QUESTION.search(text):
        return None
    for rank, pattern in (("latest", _LATEST), ("important", _IMPORTANT), ("urgent", _URGENT), ("soonest", _SOONEST)):
        if pattern.search(text):
            return rank
    return None


def sort_key(rank: str, *, priority: int, deadline: datetime | None, threshold: datetime | None, now: datetime):
    """Urgent first: the urgent quadrants (1, 3) and tasks past their urgency threshold, then by deadline.
    Important first: quadrants 1 and 2. A task without a deadline sorts after every dated one."""
    far = deadline.timestamp() if deadline else float("inf")
    if rank == "urgent":
        urgent = priority in (1, 3) or (threshold is not None and threshold <= now)
        return (0 if urgent else 1, far, priority)
    if rank == "important":
        return (0 if priority in (1, 2) else 1, far, priority)
    if rank == "latest":
        return (0 if deadline else 1, -far if deadline else 0, priority)
    return (far, priority)


def named_tasks(text: str, titles: dict[int, str]) -> list[int]:
    """Ids of the tasks a comparison names ("is the essay due before the lab report?")."""
    lowered = text.lower()
    hits = []
    for pk, title in titles.items():
        low = title.lower()
        words = re.findall(r"[\u4e00-\u9fff]{2}|[a-z]{4,}", low)
        if low in lowered or (words and any(w in lowered for w in words)):
            hits.append(pk)
    return hits
