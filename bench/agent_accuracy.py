"""Offline agent accuracy: `.venv/bin/python bench/agent_accuracy.py [--misses] [--holdout-misses]`.

1. The time grammar on its development set (tests/data/time_dev.jsonl), its held-out slice
   (tests/data/time_holdout.jsonl) and the blind sets a second and a third author wrote
   (tests/data/time_blind*.jsonl):
   right / wrong / no answer per class and per language, and the parse time per utterance
   (agent.timeparse.parse alone).
2. The intent rules and quick-note drafts on tests/data/agent_utterances*.jsonl.
Pure code: no database, no network. The held-out misses are printed only when asked: the
slice is scored once per change, not tuned on.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def table(title: str, figures: dict) -> None:
    from tests.agent.time_accuracy import rate

    ms, floor = figures["ms_per_utterance"], figures["floor_ms_per_utterance"]
    print(
        f"\n{title}: {figures['rows']} utterances, parse {ms:.3f} ms per utterance "
        f"({ms / floor:.0f}x the floor of normalising the text and one regex pass: {floor:.4f} ms)"
    )
    print(f"{'slice':24} {'n':>5} {'right':>7} {'wrong':>7} {'no answer':>10}")
    order = sorted(figures["tally"], key=lambda k: (k != "all", not k.startswith("lang:"), k))
    for key in order:
        c = figures["tally"][key]
        n = sum(c.values())
        print(f"{key:24} {n:5} {rate(c, 'right'):7.1%} {rate(c, 'wrong'):7.1%} {rate(c, 'no_answer'):10.1%}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--misses", action="store_true", help="print every miss of the development sets")
    parser.add_argument("--holdout-misses", action="store_true", help="print the held-out misses (spoils them)")
    parser.add_argument("--blind-misses", action="store_true", help="print the misses of the blind set")
    parser.add_argument(
        "--blind-heldout-misses", action="store_true", help="print the misses of the second blind slice"
    )
    parser.add_argument("--blind3-misses", action="store_true", help="print the misses of the third author's slice")
    parser.add_argument(
        "--blind4-misses", action="store_true", help="print the misses of the third author's final slice (spoils it)"
    )
    args = parser.parse_args()
    from tests.agent.test_accuracy import HOLDOUT, evaluate, load
    from tests.agent.time_accuracy import BLIND, BLIND3, BLIND4, BLIND_HELDOUT, DEV, score
    from tests.agent.time_accuracy import HOLDOUT as TIME_HOLDOUT

    time_sets = (
        ("development set", DEV, args.misses, "miss"),
        ("held-out slice", TIME_HOLDOUT, args.holdout_misses, "held-out miss"),
        ("blind set (second author)", BLIND, args.blind_misses, "blind miss"),
        (
            "second blind slice (scored once, then tuned on)",
            BLIND_HELDOUT,
            args.blind_heldout_misses,
            "blind held-out miss",
        ),
        ("third author's blind slice (scored once, then tuned on)", BLIND3, args.blind3_misses, "blind3 miss"),
        ("third author's final slice (scored once, then tuned on)", BLIND4, args.blind4_misses, "blind4 miss"),
    )
    for title, path, show_misses, label in time_sets:
        if not path.exists():
            continue
        figures = score(path)
        table(f"time grammar, {title}", figures)
        if show_misses:
            for miss in figures["misses"]:
                print(f"{label}:", miss)

    started = time.perf_counter()
    figures = evaluate()
    elapsed = time.perf_counter() - started
    rows = load()
    chinese = sum(any("\u4e00" <= ch <= "\u9fff" for ch in r["text"]) for r in rows)
    print(f"\nintents: {figures['utterances']} utterances ({chinese / len(rows):.0%} Chinese)")
    print(f"intent accuracy:   {figures['intent_accuracy']:.3f}")
    print(f"deadline accuracy: {figures['deadline_accuracy']:.3f} on {figures['quick_notes']} quick notes")
    print(f"priority accuracy: {figures['priority_accuracy']:.3f}")
    print(f"time: {elapsed / len(rows) * 1000:.2f} ms per utterance (intent + quick-note draft)")
    if args.misses:
        for miss in figures["misses"]:
            print("miss:", miss)
    held = evaluate(HOLDOUT)
    print(
        f"intent held-out ({held['utterances']} utterances): intent {held['intent_accuracy']:.3f}, "
        f"deadline {held['deadline_accuracy']:.3f} on {held['quick_notes']}, priority {held['priority_accuracy']:.3f}"
    )
    if args.holdout_misses:
        for miss in held["misses"]:
            print("held-out miss:", miss)


if __name__ == "__main__":
    main()
