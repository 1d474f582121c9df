"""Planner benchmark (docs/BENCHMARKS.md): `.venv/bin/python bench/planner.py [--runs N]`.

Builds deterministically 5 classes x 40 items over a 20-week semester with a full course
timetable (Monday-Friday, daytime nearly full, some odd/even-week courses and evening
courses), then times `plan_study` over repeated runs and prints median and p95.

A second scenario times the worst case: the same input plus one class whose item cannot
fit although the counting checks pass, so every attempt runs (greedy orders, the bounded
backtracking, the earliest-only greedy) before the planner answers `ok=False`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scheduling.planner import ClassSpec, ItemSpec, plan_study
from scheduling.timetable import date_of, expand_weeks

SEMESTER_START = date(2026, 9, 7)  # a Monday
SEMESTER_WEEKS = 20

# (day, start_section, end_section, week_type): a dense timetable from a school system.
COURSES = [
    (1, 1, 2, "all"), (1, 3, 4, "all"), (1, 5, 6, "all"), (1, 7, 8, "odd"),
    (2, 1, 2, "all"), (2, 3, 4, "all"), (2, 7, 8, "all"), (2, 9, 10, "all"),
    (3, 1, 2, "all"), (3, 3, 4, "even"), (3, 5, 6, "all"), (3, 7, 8, "all"),
    (4, 1, 2, "all"), (4, 3, 4, "all"), (4, 5, 6, "odd"), (4, 9, 10, "all"),
    (5, 1, 2, "all"), (5, 3, 4, "all"), (5, 5, 6, "all"),
]  # fmt: skip


def course_slots() -> set[tuple[int, int, int]]:
    occupied = set()
    for day, first, last, week_type in COURSES:
        for week in expand_weeks(1, SEMESTER_WEEKS, week_type):
            occupied.update((week, day, s) for s in range(first, last + 1))
    return occupied


def study_classes() -> list[ClassSpec]:
    exclusions = [
        {"excluded_days": {7}},
        {"excluded_sections": {11, 12}},
        {"excluded_days": {6}},
        {"excluded_sections": {1}},
        {},
    ]
    classes = []
    for k in range(5):
        first_week = 1 + k
        items = [ItemSpec(1000 * (k + 1) + i, f"class {k + 1} item {i + 1}", i, i % 4 + 1) for i in range(40)]
        classes.append(
            ClassSpec(
                class_id=k + 1,
                start_date=date_of(SEMESTER_START, first_week, 1),
                end_date=date_of(SEMESTER_START, first_week + 15, 7),
                strategy="steady" if k % 2 == 0 else "rapid",
                daily_max_sections=4 if k < 3 else 6,
                items=items,
                **exclusions[k],
            )
        )
    return classes


def unfittable_class() -> ClassSpec:
    """A class for week 20 only: 7 items of 4 sections, one a day, where Tuesday has no 4 free in a row.

    Its capacity count (4 a day for 7 days) equals its need, so only the search finds out.
    """
    first, last = (date_of(SEMESTER_START, SEMESTER_WEEKS, d) for d in (1, 7))
    items = [ItemSpec(99_000 + i, f"revision {i + 1}", i, 4) for i in range(7)]
    return ClassSpec(class_id=99, start_date=first, end_date=last, strategy="rapid", items=items)


def timed(runs: int, **kwargs):
    durations, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = plan_study(**kwargs)
        durations.append((time.perf_counter() - started) * 1000)
    durations.sort()
    p95 = durations[min(len(durations) - 1, round(0.95 * (len(durations) - 1)))]
    return statistics.median(durations), p95, durations[-1], result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    occupied = course_slots()
    classes = study_classes()
    common = {"semester_start": SEMESTER_START, "today": SEMESTER_START - timedelta(days=3)}
    print(f"python {sys.version.split()[0]}, {args.runs} runs per scenario")
    print(f"timetable: {len(occupied)} occupied sections over {SEMESTER_WEEKS} weeks")

    median, p95, worst, result = timed(args.runs, classes=classes, occupied=occupied, **common)
    assert result.ok, "the benchmark input must fit"
    print(
        f"fits:    5 classes x 40 items, {len(result.placements)} placements, needed {result.needed_sections}"
        f" / free {result.free_sections} sections, method {result.method}:"
        f" median {median:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms"
    )

    median, p95, worst, result = timed(args.runs, classes=[*classes, unfittable_class()], occupied=occupied, **common)
    assert not result.ok
    print(
        f"no fit:  same + a class that cannot fit (every attempt runs), ok={result.ok}:"
        f" median {median:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms"
    )


if __name__ == "__main__":
    main()
