"""Planner benchmark (issue 10): `.venv/bin/python bench/planner.py [--runs N]`.

Builds deterministically 5 classes x 40 items over a 20-week semester with a full course
timetable (Monday-Friday, daytime nearly full, some odd/even-week courses and evening
courses), then times `plan_study` over repeated runs and prints median and p95.

A second scenario times the worst case: the same input plus one class whose item cannot
fit although the counting checks pass, so every attempt runs (greedy orders, the bounded
backtracking, the earliest-only greedy) before the planner answers `ok=False`.

Lectures that admit study blocks (docs/DOMAIN.md): the same scenarios again with every third
course (7 of 19) allowing tasks, plus one that needs them — the 5 classes and 3 more of 100
short items each (1-2 sections; the lectures are 2 sections long), 950 sections where the
free time has 980 but cannot hold them, so every free-time attempt runs and fails before the
planner goes into the lectures. Each is reported as a ratio to its floor, the same input
without lectures, timed alternately with it run by run in the same process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scheduling.planner import ClassSpec, ItemSpec, Lecture, plan_study
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


def lectures_allowing_tasks() -> list[Lecture]:
    """Every third course of the timetable admits study blocks (its course id is its index)."""
    out = []
    for index, (day, first, last, week_type) in enumerate(COURSES):
        if index % 3 == 0:
            for week in expand_weeks(1, SEMESTER_WEEKS, week_type):
                out.append(Lecture(week, day, first, last, course_id=index + 1))
    return out


def short_item_classes(count: int = 3, per_class: int = 100) -> list[ClassSpec]:
    """Classes over the whole semester of 1-2 section items: what fits inside a 2-section lecture."""
    first, last = (date_of(SEMESTER_START, w, d) for w, d in ((1, 1), (SEMESTER_WEEKS, 7)))
    return [
        ClassSpec(
            class_id=50 + k,
            start_date=first,
            end_date=last,
            strategy="rapid" if k % 2 else "steady",
            daily_max_sections=6,
            items=[ItemSpec(50_000 + 1000 * k + i, f"reading {k + 1}.{i + 1}", i, i % 2 + 1) for i in range(per_class)],
        )
        for k in range(count)
    ]


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


def _summary(durations: list[float]) -> tuple[float, float, float]:
    durations = sorted(durations)
    p95 = durations[min(len(durations) - 1, round(0.95 * (len(durations) - 1)))]
    return statistics.median(durations), p95, durations[-1]


def timed_pair(runs: int, floor: dict, variant: dict):
    """Time the floor and the variant alternately, run by run, so drifting load on a shared
    machine hits both alike; returns (median, p95, max, result) for each."""
    out: list[list[float]] = [[], []]
    results = [None, None]
    for _ in range(runs):
        for k, kwargs in enumerate((floor, variant)):
            started = time.perf_counter()
            results[k] = plan_study(**kwargs)
            out[k].append((time.perf_counter() - started) * 1000)
    return tuple((*_summary(out[k]), results[k]) for k in range(2))


def report(name: str, figures, floor=None) -> None:
    median, p95, worst, result = figures
    ratio = f" = {median / floor[0]:.2f}x / {p95 / floor[1]:.2f}x the floor" if floor else ""
    embedded = sum(p.embedded_in is not None for p in result.placements)
    print(
        f"{name}: ok={result.ok}, {len(result.placements)} placements ({embedded} inside lectures),"
        f" needed {result.needed_sections} / free {result.free_sections} + in lectures"
        f" {result.embeddable_sections} sections, method {result.method}:"
        f" median {median:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms{ratio}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    occupied = course_slots()
    lectures = lectures_allowing_tasks()
    classes = study_classes()
    common = {"semester_start": SEMESTER_START, "today": SEMESTER_START - timedelta(days=3)}
    print(f"python {sys.version.split()[0]}, {args.runs} runs per scenario")
    print(
        f"timetable: {len(occupied)} occupied sections over {SEMESTER_WEEKS} weeks;"
        f" {len(lectures)} lectures of 7 of the 19 courses allow tasks"
    )

    base = {"occupied": occupied, **common}
    fits, with_lectures = timed_pair(
        args.runs, {"classes": classes, **base}, {"classes": classes, "lectures": lectures, **base}
    )
    assert fits[3].ok, "the benchmark input must fit"
    assert with_lectures[3].placements == fits[3].placements, "free time first: lectures change nothing here"
    report("fits (floor)              5 x 40 items, no lecture admits blocks", fits)
    report("fits, a third admit       same, free time holds it all", with_lectures, fits)

    dense = [*classes, *short_item_classes()]
    free_only, needs = timed_pair(
        args.runs, {"classes": dense, **base}, {"classes": dense, "lectures": lectures, **base}
    )
    assert not free_only[3].ok, "the dense input must not fit in free time alone"
    assert needs[3].ok and any(p.embedded_in for p in needs[3].placements), "the dense input must need lectures"
    report("dense, free time (floor)  5 x 40 + 3 x 100 short items: does not fit", free_only)
    report("dense, a third admit      fits only with blocks inside lectures", needs, free_only)

    unfittable = [*classes, unfittable_class()]
    no_fit, no_fit_lectures = timed_pair(
        args.runs, {"classes": unfittable, **base}, {"classes": unfittable, "lectures": lectures, **base}
    )
    assert not no_fit[3].ok and not no_fit_lectures[3].ok
    report("no fit (floor)            same + a class that cannot fit (every attempt runs)", no_fit)
    report("no fit, a third admit     every attempt runs twice: free time, then with lectures", no_fit_lectures, no_fit)


if __name__ == "__main__":
    main()
