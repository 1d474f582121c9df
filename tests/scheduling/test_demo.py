import pytest

from scheduling import selectors
from scheduling.demo import DEMO_STEPS
from scheduling.models import Course, ScheduleEvent, Task, TaskClass

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def run(user):
    for _label, step in DEMO_STEPS:
        step(user)


def counts(user):
    return (
        Course.objects.filter(user=user).count(),
        Task.objects.filter(user=user).count(),
        TaskClass.objects.filter(user=user).count(),
        ScheduleEvent.objects.filter(user=user).count(),
    )


def test_demo_steps_fill_this_week_and_are_idempotent(user):
    run(user)
    first = counts(user)
    assert first[:3] == (6, 6, 1)
    assert Task.objects.filter(user=user, urgency_threshold_at__isnull=False).exists()
    week = selectors.week_view(user=user, week=selectors.current_week(user=user))
    kinds = {row["kind"] for day in week.days for row in day["events"]}
    assert kinds == {"course", "task_item"}
    run(user)
    assert counts(user) == first
