"""Scoring of the time grammar on the labelled sets tests/data/time_dev.jsonl,
tests/data/time_holdout.jsonl and tests/data/time_blind*.jsonl (shared by tests/agent/test_accuracy.py
and bench/agent_accuracy.py).

Each row: text, a fixed `now` and zone, the language, a class label and the expected answer —
a local minute ("2026-11-24T15:00"), "none" (no time in the sentence) or "ask" (the agent must
ask). An answer is right when it matches; a deadline where another one (or none/ask) was
expected is wrong; "ask"/"none" where a deadline was expected is no answer.
"""

import json
import re
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

from agent.timeparse import parse
from agent.timeparse.normalise import normalise

_ONE_PASS = re.compile(r"\d{1,2}:\d\d|[点号]|\btomorrow\b")

DATA = Path(__file__).resolve().parent.parent / "data"
DEV = DATA / "time_dev.jsonl"
HOLDOUT = DATA / "time_holdout.jsonl"  # scored, never tuned on: the misses are not printed by default
# Written blind by a second author (before reading the grammar or the sets above), in other phrasing:
# the check of how the grammar does on wording its author never saw (docs/BENCHMARKS.md).
BLIND = DATA / "time_blind.jsonl"
# A second blind slice by the same second author, in phrasing again different, written after the grammar
# was fixed for the first one and scored once: the held-out figure for unseen phrasing.
BLIND_HELDOUT = DATA / "time_blind2.jsonl"
# A third author's blind slice (bare expressions as other parsers' suites test them), scored once before any
# fix and tuned on after; time_blind4.jsonl is that author's final once-scored slice.
BLIND3 = DATA / "time_blind3.jsonl"
BLIND4 = DATA / "time_blind4.jsonl"


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def answer(text: str, now: datetime, tz: str) -> str:
    result = parse(text, now, tz)
    if result.deadline is not None:
        return result.deadline.strftime("%Y-%m-%dT%H:%M")
    return "ask" if result.ambiguous else "none"


def verdict(expected: str, got: str) -> str:
    if got == expected:
        return "right"
    if got in ("ask", "none") and expected not in ("ask", "none"):
        return "no_answer"
    return "wrong"


def score(path: Path) -> dict:
    rows = load(path)
    tally: dict[str, Counter] = defaultdict(Counter)
    misses = []
    started = time.perf_counter()
    for row in rows:
        got = answer(row["text"], datetime.fromisoformat(row["now"]), row["tz"])
        outcome = verdict(row["expect"], got)
        lang = "en" if row["lang"] == "en" else "zh"
        keys = {"all", f"lang:{lang}", f"lang:{row['lang']}", f"class:{row['class']}"}
        for key in keys:
            tally[key][outcome] += 1
        if outcome != "right":
            misses.append((outcome, row["class"], row["lang"], row["text"], row["expect"], got, row["now"]))
    elapsed = time.perf_counter() - started
    started = time.perf_counter()  # a second, warm pass: the figure is the parse alone
    for row in rows:
        parse(row["text"], datetime.fromisoformat(row["now"]), row["tz"])
    elapsed = min(elapsed, time.perf_counter() - started)
    started = time.perf_counter()  # the floor: normalising the text and one regex pass over it
    for row in rows:
        _ONE_PASS.search(normalise(row["text"]).text)
    floor = time.perf_counter() - started
    return {
        "rows": len(rows),
        "tally": dict(tally),
        "misses": misses,
        "ms_per_utterance": elapsed / len(rows) * 1000,
        "floor_ms_per_utterance": floor / len(rows) * 1000,
    }


def rate(counter: Counter, outcome: str) -> float:
    total = sum(counter.values())
    return counter[outcome] / total if total else 0.0
