"""The message text: the task, the slots in the user's zone, the link, a summary ≤ 180."""

import pytest

from notifications.messages import compose, validate_event

BASE = "https://smartmate.example.com"


def data(**overrides):
    base = {
        "user_id": 1,
        "dedupe_key": "preview:p1",
        "kind": "preview_ready",
        "preview_id": "p1",
        "trigger_id": "t1",
        "trigger_type": "important_urgent_task",
        "target_type": "task_pool",
        "target_id": 3,
        "task_title": "Physics lab report",
        "slots": [{"start_at": "2026-11-24T06:00:00+00:00", "end_at": "2026-11-24T07:40:00+00:00"}],
    }
    base.update(overrides)
    return validate_event(base)


def test_slots_are_shown_in_the_users_time_zone():
    shanghai = compose(data(), timezone_name="Asia/Shanghai", base_url=BASE)
    berlin = compose(data(), timezone_name="Europe/Berlin", base_url=BASE)
    assert shanghai.slots == ["Tue 24 Nov 14:00\u201315:40"]
    assert berlin.slots == ["Tue 24 Nov 07:00\u201308:40"]
    assert "Physics lab report" in shanghai.summary and "Asia/Shanghai" in shanghai.summary
    assert shanghai.action_url == f"{BASE}/api/v1/active-schedule/previews/p1/"


def test_a_slot_across_midnight_names_both_days():
    message = compose(
        data(slots=[{"start_at": "2026-11-24T15:30:00+00:00", "end_at": "2026-11-24T16:30:00+00:00"}]),
        timezone_name="Asia/Shanghai",
        base_url=BASE,
    )
    assert message.slots == ["Tue 24 Nov 23:30\u2013Wed 25 Nov 00:30"]


@pytest.mark.parametrize("title", ["x" * 500, "数学作业 " * 80])
def test_summary_is_at_most_180_characters(title):
    slots = [{"start_at": f"2026-11-2{d}T06:00:00+00:00", "end_at": f"2026-11-2{d}T07:40:00+00:00"} for d in (4, 5, 6)]
    message = compose(data(task_title=title, slots=slots), timezone_name="Asia/Shanghai", base_url=BASE)
    assert len(message.summary) <= 180
    assert len(message.title) <= 100


def test_unknown_time_zone_falls_back_to_utc():
    message = compose(data(), timezone_name="Mars/Olympus", base_url=BASE)
    assert message.slots == ["Tue 24 Nov 06:00\u201307:40"]
