"""Concurrent writes on real PostgreSQL with real threads: one slot, one winner."""

import pytest
from django.db import IntegrityError, transaction

from scheduling.models import ScheduleEvent, ScheduleSlot
from scheduling.selectors import schedule_version_get
from scheduling.services import EventSpec, event_move, events_create
from smartmate.errors import Conflict
from tests.concurrency import run_concurrently

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def race(count, work):
    """Run work(i) in `count` threads released together; return [("ok", value) | ("conflict", exc)]."""
    return [
        ("conflict", outcome)
        if isinstance(outcome, Conflict)
        else ("error", outcome)
        if isinstance(outcome, Exception)
        else ("ok", outcome)
        for outcome in run_concurrently(count, work)
    ]


def test_two_concurrent_claims_of_one_slot_have_exactly_one_winner(user):
    results = race(
        2,
        lambda i: events_create(
            user=user, events=[EventSpec(title=f"claim {i}", week=3, day=2, start_section=4, end_section=5)]
        ),
    )
    outcomes = sorted(kind for kind, _ in results)
    assert outcomes == ["conflict", "ok"], results
    loser = next(exc for kind, exc in results if kind == "conflict")
    assert loser.error_code == "slot_conflict"
    winner = ScheduleEvent.objects.get()
    assert loser.details["conflicts"] == [
        {"event_id": winner.pk, "week": 3, "day": 2, "start_section": 4, "end_section": 5, "title": winner.title}
    ]
    assert ScheduleSlot.objects.count() == 2


def test_many_overlapping_claims_never_double_book_and_write_nothing_half(user):
    # Eight writers, each wanting two events: one in a contended block, one in its own free block.
    def work(i):
        return events_create(
            user=user,
            events=[
                EventSpec(title=f"own {i}", week=1, day=7, start_section=i + 1, end_section=i + 1),
                EventSpec(title=f"shared {i}", week=1, day=1, start_section=1 + i % 3, end_section=3 + i % 3),
            ],
        )

    results = race(8, work)
    assert all(kind in ("ok", "conflict") for kind, _ in results), results
    winners = [i for i, (kind, _) in enumerate(results) if kind == "ok"]
    assert len(winners) == 1
    # The losers' free "own" events were rolled back with their clashing ones.
    assert sorted(ScheduleEvent.objects.values_list("title", flat=True)) == sorted(
        [f"own {winners[0]}", f"shared {winners[0]}"]
    )
    slots = list(ScheduleSlot.objects.values_list("week", "day", "section"))
    assert len(slots) == len(set(slots)) == 4


def test_concurrent_moves_into_one_slot_have_exactly_one_winner(user):
    a, b = events_create(
        user=user,
        events=[
            EventSpec(title="a", week=2, day=1, start_section=1, end_section=1),
            EventSpec(title="b", week=2, day=2, start_section=1, end_section=1),
        ],
    )
    version = schedule_version_get(user)
    results = race(2, lambda i: event_move(user=user, event=(a, b)[i], week=2, day=5, start_section=6, end_section=6))
    assert sorted(kind for kind, _ in results) == ["conflict", "ok"], results
    assert ScheduleSlot.objects.filter(day=5, section=6).count() == 1
    assert ScheduleSlot.objects.count() == 2
    assert schedule_version_get(user) == version + 1  # the loser's bump rolled back with it


def test_the_slot_table_itself_refuses_a_double_booking(user):
    (event,) = events_create(user=user, events=[EventSpec(title="a", week=1, day=1, start_section=1, end_section=1)])
    with pytest.raises(IntegrityError), transaction.atomic():
        ScheduleSlot.objects.create(user=user, week=1, day=1, section=1, event=event)


def test_every_schedule_write_bumps_the_version(user):
    assert schedule_version_get(user) == 0
    (event,) = events_create(user=user, events=[EventSpec(title="a", week=1, day=1, start_section=1, end_section=1)])
    assert schedule_version_get(user) == 1
    event_move(user=user, event=event, week=1, day=2, start_section=1, end_section=1)
    assert schedule_version_get(user) == 2
    with pytest.raises(Conflict), transaction.atomic():
        events_create(user=user, events=[EventSpec(title="b", week=1, day=2, start_section=1, end_section=1)])
    assert schedule_version_get(user) == 2


def test_events_create_validates_specs_from_other_apps(user):
    from smartmate.errors import ApiError

    for spec, field in [
        (EventSpec(title="", week=1, day=1, start_section=1, end_section=1), "title"),
        (EventSpec(title="x", kind="meeting", week=1, day=1, start_section=1, end_section=1), "kind"),
        (EventSpec(title="x", week=31, day=1, start_section=1, end_section=1), "week"),
        (EventSpec(title="x", week=1, day=1, start_section=3, end_section=2), "end_section"),
    ]:
        with pytest.raises(ApiError) as caught:
            events_create(user=user, events=[spec])
        assert caught.value.error_code == "validation_error" and field in caught.value.fields
    assert schedule_version_get(user) == 0 and not ScheduleEvent.objects.exists()


def test_a_task_without_events_changes_no_schedule_version(user):
    from scheduling.services import task_create, task_delete

    task = task_create(user=user, title="t")
    task_delete(user=user, task=task)
    assert schedule_version_get(user) == 0
