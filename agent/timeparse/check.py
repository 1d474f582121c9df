"""May the agent write this deadline? One check for the rules' own reading and for a deadline an
LLM proposes (docs/DOMAIN.md §8, "No wild answers")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agent.timeparse.conventions import MAX_AHEAD


@dataclass(frozen=True)
class DeadlineCheck:
    ok: bool
    reason: str = ""  # "" | "past" | "too_far" | "unparsed"


def deadline_check(deadline: datetime | None, *, now: datetime, far_named: bool = False, read_fully: bool = True):
    """A deadline in the past, more than a year ahead when the sentence names no year or offset, or
    built from words the grammar did not fully read, is not used: the caller asks instead."""
    if not read_fully or (deadline is not None and deadline.tzinfo is None):
        return DeadlineCheck(False, "unparsed")
    if deadline is None:
        return DeadlineCheck(True)
    if deadline < now.replace(second=0, microsecond=0):
        return DeadlineCheck(False, "past")
    if not far_named and deadline - now > MAX_AHEAD:
        return DeadlineCheck(False, "too_far")
    return DeadlineCheck(True)
