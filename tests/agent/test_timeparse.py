# ruff: noqa: RUF001  (full-width punctuation and long patterns are the point here)
"""timeparse is pure: the DOMAIN §8 rules, tested directly."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.timeparse import parse

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=SH)  # a Monday


def at(text, now=NOW, tz=SH):
    return parse(text, now, tz).deadline


def test_a_date_without_a_time_means_2359_that_day():
    assert at("后天交报告") == datetime(2026, 11, 25, 23, 59, tzinfo=SH)
    assert at("hand it in on Dec 3") == datetime(2026, 12, 3, 23, 59, tzinfo=SH)


def test_tonight_without_a_time_means_2200():
    assert at("今晚交") == datetime(2026, 11, 23, 22, 0, tzinfo=SH)
    assert at("finish it tonight") == datetime(2026, 11, 23, 22, 0, tzinfo=SH)


def test_a_month_day_already_past_rolls_to_next_year():
    assert at("3月1日交") == datetime(2027, 3, 1, 23, 59, tzinfo=SH)
    assert at("by Feb 2") == datetime(2027, 2, 2, 23, 59, tzinfo=SH)
    assert at("11月23日交") == datetime(2026, 11, 23, 23, 59, tzinfo=SH)  # today is not past


def test_vague_hints_are_ambiguous_and_resolve_nothing():
    for text in ("改天再说", "过几天交", "remind me sometime", "do it later"):
        result = parse(text, NOW, SH)
        assert result.ambiguous and result.deadline is None, text


def test_no_time_expression_is_neither_a_hint_nor_ambiguous():
    result = parse("买牛奶", NOW, SH)
    assert not result.has_hint and not result.ambiguous and result.deadline is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("明天下午三点前交数学作业", (2026, 11, 24, 15, 0)),
        ("下周五之前复习线代，很重要", (2026, 12, 4, 23, 59)),
        ("大后天晚上八点半", (2026, 11, 26, 20, 30)),
        ("十二点一刻", (2026, 11, 23, 12, 15)),
        ("in 3 days", (2026, 11, 26, 23, 59)),
        ("remind me to email Prof. Li by Friday 5pm", (2026, 11, 27, 17, 0)),
        ("next Friday", (2026, 12, 4, 23, 59)),
        ("9点", (2026, 11, 23, 21, 0)),  # 09:00 has passed at 10:00; 21:00 has not
        ("两个小时后", (2026, 11, 23, 12, 0)),
        ("下个月底", (2026, 12, 31, 23, 59)),
    ],
)
def test_expressions(text, expected):
    assert at(text) == datetime(*expected, tzinfo=SH)


def test_resolution_happens_in_the_users_time_zone():
    utc_now = datetime(2026, 11, 23, 20, 0, tzinfo=ZoneInfo("UTC"))  # already the 24th in Shanghai
    assert at("明天交", utc_now, SH) == datetime(2026, 11, 25, 23, 59, tzinfo=SH)
    ny = ZoneInfo("America/New_York")
    assert at("tomorrow 9am", utc_now, ny) == datetime(2026, 11, 24, 9, 0, tzinfo=ny)


def test_naive_now_is_refused():
    with pytest.raises(ValueError):
        parse("明天", datetime(2026, 11, 23, 10, 0), SH)


@settings(max_examples=200, deadline=None)
@given(
    minutes=st.integers(min_value=0, max_value=60 * 24 * 400),
    text=st.sampled_from(
        ["明天", "后天下午三点", "下周三", "周五晚上", "tomorrow 5pm", "in 2 days", "Friday 9am", "月底"]
    ),
)
def test_resolved_deadlines_are_never_in_the_past_and_are_in_the_users_zone(minutes, text):
    now = datetime(2026, 1, 1, tzinfo=SH) + timedelta(minutes=minutes)
    deadline = at(text, now)
    assert deadline is not None and deadline >= now and deadline.tzinfo == SH


@pytest.mark.parametrize(
    ("text", "title", "priority"),
    [
        ("明天下午三点前交数学作业", "交数学作业", 4),
        ("下周五之前复习线代，很重要", "复习线代", 2),
        ("周五下午5点前把报销单交到财务处，很急", "报销单交到财务处", 3),
        ("十点前把今天的日记写完", "日记写完", 4),
        ("四点前去快递站拿包裹", "去快递站拿包裹", 4),
        ("remind me to email Prof. Li by Friday 5pm", "email Prof. Li", 4),
        ("urgent: send the invoice by 4pm today, it's important", "send the invoice", 1),
    ],
)
def test_quick_note_title_and_priority(text, title, priority):
    from agent.intents.quick_note import draft

    note = draft(text, NOW, SH)
    assert (note.title, note.priority) == (title, priority)


def test_urgency_threshold_is_before_the_deadline_for_the_not_urgent_quadrants():
    from agent.intents.quick_note import draft

    note = draft("下周五之前复习线代，很重要", NOW, SH, urgency_lead_hours=48)
    assert note.urgency_threshold_at == note.deadline - timedelta(hours=48)
    soon = draft("今天下午三点交作业", NOW, SH, urgency_lead_hours=48)
    assert soon.urgency_threshold_at == NOW  # never before now
