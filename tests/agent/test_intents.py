# ruff: noqa: RUF001  (Chinese text)
"""Intent rules, one group per rule: ranking questions, plan imperatives, negations, mixed-language
sentences (agent.intents.rules, agent.intents.query) — pure, and through the chat endpoint."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.intents.query import rank_of
from agent.intents.rules import classify
from agent.timeparse.normalise import normalise

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=SH)
BASE = "/api/v1/agent/"


def intent(text):
    return classify(text, NOW, SH).intent


@pytest.mark.parametrize(
    ("text", "rank"),
    [
        ("which of my tasks is most urgent?", "urgent"),
        ("what should I do first?", "urgent"),
        ("哪个任务最急", "urgent"),
        ("哪個作業最緊急？", "urgent"),
        ("我应该先做哪个", "urgent"),
        ("what's the most important thing on my list?", "important"),
        ("哪个任务最重要", "important"),
        ("which assignment is due first?", "soonest"),
        ("what's due soonest?", "soonest"),
        ("数学作业和英语作业哪个先交", "soonest"),
        ("is the essay due before the lab report?", "soonest"),
        ("哪个最晚截止", "latest"),
    ],
)
def test_superlative_and_comparative_questions_are_ranking_task_queries(text, rank):
    assert intent(text) == "task_query"
    assert rank_of(normalise(text).text) == rank


@pytest.mark.parametrize(
    "text",
    ["the thesis outline is due next Wednesday, really important", "明天交最重要的那份报告", "what is due this week?"],
)
def test_a_deadline_or_a_plain_list_question_is_not_a_ranking(text):
    assert rank_of(normalise(text).text) is None


@pytest.mark.parametrize(
    "text",
    [
        "把剩下的作业排进空闲时间",
        "把剩下的作業排進空閒時間",
        "帮我把没做完的任务排一下",
        "schedule the rest of my homework into my free time",
        "reschedule my remaining tasks",
        "fit everything left into my free slots",
    ],
)
def test_imperatives_to_place_what_is_left_draft_a_plan(text):
    assert intent(text) == "schedule_plan"


@pytest.mark.parametrize("text", ["把数学挪到周四晚上", "reschedule my study block to Friday evening"])
def test_moving_one_block_refines_the_draft(text):
    assert intent(text) == "schedule_refine"


@pytest.mark.parametrize(
    "text",
    [
        "I don't need to submit the essay tomorrow",
        "no need to call the bank tomorrow",
        "我明天不用交作业了",
        "不用提醒我交报告了",
        "周五的考试取消了",
    ],
)
def test_negations_are_not_notes(text):
    assert intent(text) == "chat"


@pytest.mark.parametrize("text", ["don't forget to call mom tomorrow", "别忘了明天交报告"])
def test_dont_forget_is_a_note_not_a_negation(text):
    assert intent(text) == "quick_note"


@pytest.mark.parametrize(
    ("text", "deadline"),
    [
        ("明天 submit the report", datetime(2026, 11, 24, 23, 59, tzinfo=SH)),
        ("提醒我 tomorrow 交 essay", datetime(2026, 11, 24, 23, 59, tzinfo=SH)),
        ("remind me 明天下午三点 to call mom", datetime(2026, 11, 24, 15, 0, tzinfo=SH)),
        ("下周五 deadline 是 lab report", datetime(2026, 12, 4, 23, 59, tzinfo=SH)),
    ],
)
def test_mixed_language_sentences_are_notes_with_their_deadline(text, deadline):
    from agent.intents.quick_note import draft

    assert intent(text) == "quick_note"
    assert draft(text, NOW, SH).deadline == deadline


# --- through the chat endpoint ---


@pytest.mark.django_db(transaction=True)
def test_the_most_urgent_question_answers_with_the_urgent_task_first(auth_api, user):
    from django.utils import timezone

    from scheduling.services.tasks import task_create

    user.timezone = "Asia/Shanghai"
    user.save()
    soon = timezone.now() + timedelta(days=1)
    task_create(user=user, title="读小说", deadline_at=soon, priority=4)
    task_create(user=user, title="交实验报告", deadline_at=soon + timedelta(days=2), priority=3)
    for text in ("哪个任务最急", "which of my tasks is most urgent?"):
        body = auth_api.post(BASE + "chat/", {"message": text}, format="json").json()
        assert body["intent"] == "task_query"
        action = body["actions"][0]
        assert action["type"] == "task_ranked" and action["rank"] == "urgent"
        assert action["tasks"][0]["title"] == "交实验报告"
        assert "交实验报告" in body["reply"]


@pytest.mark.django_db(transaction=True)
def test_a_comparison_ranks_the_tasks_it_names(auth_api, user):
    from django.utils import timezone

    from scheduling.services.tasks import task_create

    now = timezone.now()
    task_create(user=user, title="数学作业", deadline_at=now + timedelta(days=3))
    task_create(user=user, title="英语作业", deadline_at=now + timedelta(days=2))
    task_create(user=user, title="体检", deadline_at=now + timedelta(hours=5))
    body = auth_api.post(BASE + "chat/", {"message": "数学作业和英语作业哪个先交"}, format="json").json()
    titles = [t["title"] for t in body["actions"][0]["tasks"]]
    assert titles == ["英语作业", "数学作业"]


@pytest.mark.django_db(transaction=True)
def test_the_rest_into_free_time_drafts_a_plan(auth_api, user):
    from django.utils import timezone

    from scheduling.services.tasks import task_create

    task_create(user=user, title="数学作业", deadline_at=timezone.now() + timedelta(days=5), estimated_sections=1)
    body = auth_api.post(BASE + "chat/", {"message": "把剩下的作业排进空闲时间"}, format="json").json()
    assert body["intent"] == "schedule_plan"
    assert body["actions"][0]["type"] in ("preview", "no_plan")


@pytest.mark.django_db(transaction=True)
def test_a_negation_creates_nothing(auth_api, user):
    from scheduling.models import Task

    body = auth_api.post(BASE + "chat/", {"message": "I don't need to submit the essay tomorrow"}, format="json").json()
    assert body["intent"] == "chat" and body["actions"] == []
    assert "won't add" in body["reply"]
    assert Task.objects.filter(user=user).count() == 0
