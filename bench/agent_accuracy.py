"""Offline agent accuracy (issue 8): `.venv/bin/python bench/agent_accuracy.py [--misses]`.

Runs the rule-based intent recogniser and the quick_note deadline resolver over the
labelled set tests/data/agent_utterances.jsonl (each utterance with its own fixed
"now" and time zone) and prints intent, deadline and priority accuracy, and the
parse time per utterance. Pure code: no database, no network.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--misses", action="store_true", help="print every miss")
    args = parser.parse_args()
    from tests.agent.test_accuracy import evaluate, load

    started = time.perf_counter()
    figures = evaluate()
    elapsed = time.perf_counter() - started
    rows = load()
    chinese = sum(any("\u4e00" <= ch <= "\u9fff" for ch in r["text"]) for r in rows)
    print(f"utterances: {figures['utterances']} ({chinese / len(rows):.0%} Chinese)")
    print(f"intent accuracy:   {figures['intent_accuracy']:.3f}")
    print(f"deadline accuracy: {figures['deadline_accuracy']:.3f} on {figures['quick_notes']} quick notes")
    print(f"priority accuracy: {figures['priority_accuracy']:.3f}")
    print(f"time: {elapsed / len(rows) * 1000:.2f} ms per utterance (intent + quick-note draft)")
    if args.misses:
        for miss in figures["misses"]:
            print("miss:", miss)
    from tests.agent.test_accuracy import HOLDOUT

    held = evaluate(HOLDOUT)
    print(
        f"held-out ({held['utterances']} utterances, never tuned on): intent {held['intent_accuracy']:.3f}, "
        f"deadline {held['deadline_accuracy']:.3f} on {held['quick_notes']}, priority {held['priority_accuracy']:.3f}"
    )
    if args.misses:
        for miss in held["misses"]:
            print("held-out miss:", miss)


if __name__ == "__main__":
    main()
