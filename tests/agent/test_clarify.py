"""No wild answers (docs/DOMAIN.md §8): through the chat endpoint, a deadline in the past, or one the
grammar did not fully read, asks and writes nothing; a sentence with no time makes a task without
a deadline. The check itself (agent.timeparse.deadline_check) is tested directly too."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.timeparse import deadline_check

pytestmark = pytest.mark.django_db(transaction=True)
BASE = "/api/v1/agent/"


def chat(auth_api, text):
    return auth_api.post(BASE + "chat/", {"message": text}, format="json").json()


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("remind me to pay the fine yesterday", "That time has already passed"),
        ("提醒我昨天交报告", "这个时间已经过去了"),
        ("remind me to call the dentist in a day or two", "When is it due?"),
        ("提醒我明天或者后天交报告", "什么时候截止"),
        ("remind me to submit the form on 2/30", "When is it due?"),
        ("remind me to book the room at 13pm", "When is it due?"),
    ],
)
def test_a_deadline_that_is_past_or_not_fully_read_asks_and_creates_nothing(auth_api, user, text, question):
    from scheduling.models import Task

    body = chat(auth_api, text)
    assert body["intent"] == "quick_note"
    assert body["actions"][0]["type"] == "ask"
    assert question in body["reply"]
    assert Task.objects.filter(user=user).count() == 0


def test_a_sentence_with_no_time_creates_the_task_without_a_deadline(auth_api, user):
    from scheduling.models import Task

    body = chat(auth_api, "remind me to buy milk")
    assert body["actions"][0]["type"] == "task_created"
    assert Task.objects.get(user=user).deadline_at is None


def test_a_clear_time_creates_the_task_with_it(auth_api, user):
    user.timezone = "Asia/Shanghai"
    user.save()
    body = chat(auth_api, "提醒我一个半小时后交报告")
    assert body["actions"][0]["type"] == "task_created"
    deadline = datetime.fromisoformat(body["actions"][0]["task"]["deadline_at"])
    from django.utils import timezone

    assert timedelta(minutes=88) < deadline - timezone.now() <= timedelta(minutes=90)


@pytest.mark.django_db(transaction=False)
def test_the_check_refuses_past_far_and_unread_deadlines():
    tz = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 11, 23, 10, 0, tzinfo=tz)
    assert deadline_check(now + timedelta(hours=1), now=now).ok
    assert deadline_check(now - timedelta(minutes=1), now=now).reason == "past"
    assert deadline_check(now + timedelta(days=400), now=now).reason == "too_far"
    assert deadline_check(now + timedelta(days=400), now=now, far_named=True).ok  # "in 2027", "in 18 months"
    assert deadline_check(now + timedelta(days=1), now=now, read_fully=False).reason == "unparsed"
    assert deadline_check(datetime(2026, 11, 24, 10, 0), now=now).reason == "unparsed"  # naive: no zone
    assert deadline_check(None, now=now).ok  # no deadline at all: a task without one
