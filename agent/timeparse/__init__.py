"""Time expressions in English and Chinese → a deadline (PURE: no Django, no I/O).

    parse("明天下午三点前交数学作业", now=aware_dt, tz=ZoneInfo("Asia/Shanghai"))

The text is normalised first (agent.timeparse.normalise), then the Chinese and English
grammars (agent.timeparse.zh, agent.timeparse.en) read it in three phases — offsets, days,
clock times — each phase taking its words out so no later rule reads them again; the scan
then assembles one deadline (agent.timeparse.scan). Where people differ, the rule is in
agent.timeparse.conventions (docs/DOMAIN.md §8). `parse` reports what the sentence says;
whether the agent may use it (past, too far ahead, not fully read) is agent.timeparse.check.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from agent.timeparse import en, zh
from agent.timeparse.check import DeadlineCheck, deadline_check
from agent.timeparse.normalise import normalise
from agent.timeparse.numbers import cn_int
from agent.timeparse.scan import ParseResult, Scan

logger = logging.getLogger("smartmate.agent")
_PHASES = tuple(phase for pair in zip(zh.PHASES, en.PHASES, strict=True) for phase in pair)


def parse(text: str, now: datetime, tz: ZoneInfo | str) -> ParseResult:
    """Find the time expression in `text` and resolve it against `now` in `tz`."""
    if isinstance(tz, str):
        tz = ZoneInfo(tz)
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    s = Scan(normalise(text), now.astimezone(tz), tz)
    try:
        for phase in _PHASES:
            phase(s)
        zh.finish(s)
        en.finish(s)
    except (ArithmeticError, ValueError, KeyError, IndexError):  # a date out of range, a number too big
        logger.warning("time expression not understood", exc_info=True)
        s.partial = True
    return s.result()


__all__ = ["DeadlineCheck", "ParseResult", "cn_int", "deadline_check", "parse"]
