"""The placement rules of an edited candidate (scheduling.edits, pure): every broken rule of
every change is named, and an edit that keeps them all is accepted."""

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.edits import Window, changes_check


def change(week, day, start, end, *, task_id=None, task_item_id=None, op="create", title="Block"):
    body = {
        "op": op,
        "title": title,
        "kind": "task_item" if task_item_id else "task",
        "to": {"week": week, "day": day, "start_section": start, "end_section": end},
    }
    if task_id:
        body["task_id"] = task_id
    if task_item_id:
        body["task_item_id"] = task_item_id
    return body


MATH = ("task", 1, None)
READING = ("task", 2, None)
CHAPTER = ("task_item", None, 7)
WIDE = Window(earliest=(3, 1, 1), horizon=(3, 7, 12))
CANDIDATE = [change(3, 2, 1, 2, task_id=1), change(3, 2, 5, 5, task_id=2), change(3, 3, 9, 10, task_item_id=7)]
WINDOWS = {MATH: WIDE, READING: WIDE, CHAPTER: WIDE}


def check(changes, *, occupied=frozenset(), windows=WINDOWS, candidate=CANDIDATE, **extra):
    errors = changes_check(
        changes=changes, candidate_changes=candidate, occupied=set(occupied), windows=windows, **extra
    )
    return [e.as_dict() for e in errors]


def codes(errors):
    return [(e["index"], [r["code"] for r in e["reasons"]]) for e in errors]


def test_the_candidate_itself_and_a_move_to_free_sections_are_accepted():
    assert check(CANDIDATE) == []
    moved = [change(3, 4, 3, 4, task_id=1), change(3, 5, 12, 12, task_id=2), change(3, 6, 1, 2, task_item_id=7)]
    assert check(moved, occupied={(3, 4, 2), (3, 4, 5)}) == []


def test_the_order_of_the_changes_does_not_matter():
    assert check(list(reversed(CANDIDATE))) == []


def test_a_block_on_a_taken_section_names_the_sections():
    errors = check([change(3, 2, 1, 2, task_id=1), *CANDIDATE[1:]], occupied={(3, 2, 2)})
    assert codes(errors) == [(0, ["slot_taken"])]
    assert errors[0]["task_id"] == 1 and "2" in errors[0]["reasons"][0]["message"]


def test_the_window_bounds_are_inclusive_and_each_side_has_its_reason():
    windows = {**WINDOWS, MATH: Window(earliest=(3, 2, 3), horizon=(3, 4, 12), deadline=(3, 3, 6))}
    inside = [change(3, 2, 3, 4, task_id=1), *CANDIDATE[1:]]
    last = [change(3, 3, 5, 6, task_id=1), *CANDIDATE[1:]]
    assert check(inside, windows=windows) == [] and check(last, windows=windows) == []
    early = check([change(3, 2, 2, 3, task_id=1), *CANDIDATE[1:]], windows=windows)
    assert codes(early) == [(0, ["too_early"])]
    late = check([change(3, 3, 6, 7, task_id=1), *CANDIDATE[1:]], windows=windows)
    assert codes(late) == [(0, ["after_deadline"])]
    beyond = check([change(3, 5, 1, 2, task_id=1), *CANDIDATE[1:]], windows=windows)
    assert codes(beyond) == [(0, ["beyond_horizon", "after_deadline"])]


def test_the_same_tasks_and_items_each_once():
    swapped = [change(3, 2, 1, 2, task_id=1), change(3, 2, 5, 5, task_id=3), CANDIDATE[2]]
    assert codes(check(swapped)) == [(1, ["not_in_candidate"]), (None, ["missing"])]
    twice = [*CANDIDATE, change(3, 5, 1, 2, task_id=1)]
    assert codes(check(twice)) == [(3, ["duplicate"])]
    left_out = check(CANDIDATE[:2])
    assert left_out == [
        {
            "index": None,
            "kind": "task_item",
            "task_item_id": 7,
            "reasons": [{"code": "missing", "message": left_out[0]["reasons"][0]["message"]}],
        }
    ]
    assert codes(check([])) == [(None, ["missing"])] * 3


def test_a_block_keeps_its_length_and_its_operation():
    longer = [change(3, 2, 1, 3, task_id=1), *CANDIDATE[1:]]
    assert codes(check(longer)) == [(0, ["length_changed"])]
    as_move = [{**change(3, 2, 1, 2, task_id=1), "op": "move", "event_id": 9}, *CANDIDATE[1:]]
    assert codes(check(as_move)) == [(0, ["op_changed"])]


def test_blocks_of_one_edit_never_overlap_and_the_later_one_names_the_earlier():
    crowded = [change(3, 4, 1, 2, task_id=1), change(3, 4, 2, 2, task_id=2), change(3, 4, 2, 3, task_item_id=7)]
    errors = check(crowded)
    assert codes(errors) == [(1, ["overlaps_change"]), (2, ["overlaps_change"])]
    assert "change 0" in errors[0]["reasons"][0]["message"]


def test_every_broken_rule_of_every_change_is_answered_at_once():
    windows = {**WINDOWS, MATH: Window(earliest=(3, 1, 1), horizon=(3, 7, 12), deadline=(3, 2, 12))}
    bad = [change(3, 5, 1, 3, task_id=1), change(3, 5, 3, 3, task_id=2)]
    assert codes(check(bad, windows=windows, occupied={(3, 5, 3)})) == [
        (0, ["length_changed", "after_deadline", "slot_taken"]),
        (1, ["slot_taken", "overlaps_change"]),
        (None, ["missing"]),
    ]


def test_sections_past_the_days_last_are_outside_the_timetable():
    assert codes(check([change(3, 2, 9, 10, task_id=1), *CANDIDATE[1:]], sections_per_day=10)) == []
    errors = check([change(3, 2, 10, 11, task_id=1), *CANDIDATE[1:]], sections_per_day=10)
    assert codes(errors) == [(0, ["outside_timetable"])]


def test_a_block_may_lie_inside_one_lecture_that_admits_study_blocks_only():
    lecture = {(3, 4, s): 50 for s in (1, 2)} | {(3, 4, s): 51 for s in (3, 4)}
    occupied = set(lecture) | {(3, 4, 5)}

    def at(start, end):
        return check([change(3, 4, start, end, task_id=1), *CANDIDATE[1:]], occupied=occupied, embeddable=lecture)

    assert at(1, 2) == [] and at(3, 4) == []
    assert codes(at(2, 3)) == [(0, ["spans_lecture"])]  # two lectures
    assert codes(at(4, 5)) == [(0, ["slot_taken"])]  # a lecture and a plain event
    free = check([change(3, 4, 6, 7, task_id=1), *CANDIDATE[1:]], occupied={(3, 4, 5)}, embeddable={(3, 4, 7): 52})
    assert codes(free) == [(0, ["spans_lecture"])]  # a free section and a lecture


@settings(max_examples=300, deadline=None)
@given(
    occupied=st.sets(st.tuples(st.just(3), st.integers(1, 3), st.integers(1, 12)), max_size=20),
    day=st.integers(1, 3),
    start=st.integers(1, 11),
    earliest=st.tuples(st.just(3), st.integers(1, 3), st.integers(1, 12)),
    deadline=st.tuples(st.just(3), st.integers(1, 3), st.integers(1, 12)),
)
def test_a_moved_block_is_accepted_exactly_when_free_and_inside_its_window(occupied, day, start, earliest, deadline):
    candidate = [change(3, 1, 1, 2, task_id=1)]
    window = Window(earliest=earliest, horizon=(3, 7, 12), deadline=deadline)
    edit = [change(3, day, start, start + 1, task_id=1)]
    errors = check(edit, occupied=occupied, windows={MATH: window}, candidate=candidate)
    free = not {(3, day, start), (3, day, start + 1)} & occupied
    inside = (3, day, start) >= earliest and (3, day, start + 1) <= deadline
    assert (errors == []) == (free and inside), errors
