# ruff: noqa: RUF001  (full-width punctuation and long patterns are the point here)
"""timeparse is pure: the docs/DOMAIN.md §8 rules, tested directly."""

from datetime import UTC, datetime, timedelta
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


# --- the conventions, one test each (docs/DOMAIN.md §8) ---

WED = datetime(2026, 11, 25, 15, 30, tzinfo=SH)  # a Wednesday afternoon


def test_a_weekday_named_on_that_weekday_is_today_unless_its_time_has_passed():
    assert at("Wednesday", WED) == datetime(2026, 11, 25, 23, 59, tzinfo=SH)
    assert at("周三下午三点", WED) == datetime(2026, 12, 2, 15, 0, tzinfo=SH)  # 15:00 has passed: next week's


def test_this_weekday_said_after_it_is_the_coming_one_not_a_past_day():
    assert at("this Monday", WED) == datetime(2026, 11, 30, 23, 59, tzinfo=SH)


def test_next_weekday_is_in_next_calendar_week_and_after_next_the_week_after():
    assert at("next Friday", WED) == datetime(2026, 12, 4, 23, 59, tzinfo=SH)
    assert at("Thursday next week", WED) == datetime(2026, 12, 3, 23, 59, tzinfo=SH)
    assert at("the Friday after next", WED) == datetime(2026, 12, 11, 23, 59, tzinfo=SH)
    assert at("下下周二", WED) == datetime(2026, 12, 8, 23, 59, tzinfo=SH)


def test_numeric_dates_follow_the_day_month_order_of_the_users_zone():
    london, new_york = ZoneInfo("Europe/London"), ZoneInfo("America/New_York")
    now = datetime(2026, 11, 23, 10, 0, tzinfo=london)
    assert at("due 4/1/27", now, london).date().isoformat() == "2027-01-04"
    assert at("due 4/1/27", now.astimezone(new_york), new_york).date().isoformat() == "2027-04-01"
    assert at("due 25/12", now, new_york).date().isoformat() == "2026-12-25"  # only one order is a date


def test_midnight_and_end_of_day_are_2359_of_that_day():
    assert at("by midnight") == datetime(2026, 11, 23, 23, 59, tzinfo=SH)
    assert at("EOD tomorrow") == datetime(2026, 11, 24, 23, 59, tzinfo=SH)
    assert at("ten to midnight") == datetime(2026, 11, 23, 23, 50, tzinfo=SH)


def test_a_day_of_the_month_already_past_is_next_months():
    assert at("the 24th") == datetime(2026, 11, 24, 23, 59, tzinfo=SH)
    assert at("the 20th") == datetime(2026, 12, 20, 23, 59, tzinfo=SH)
    assert at("31号") == datetime(2026, 12, 31, 23, 59, tzinfo=SH)  # November has no 31st


def test_a_week_month_or_year_named_as_a_whole_is_due_at_its_end():
    assert at("next week") == datetime(2026, 12, 6, 23, 59, tzinfo=SH)
    assert at("这个星期") == datetime(2026, 11, 29, 23, 59, tzinfo=SH)
    assert at("next month") == datetime(2026, 12, 31, 23, 59, tzinfo=SH)
    assert at("四月") == datetime(2027, 4, 30, 23, 59, tzinfo=SH)
    assert at("明年三月") == datetime(2027, 3, 31, 23, 59, tzinfo=SH)
    assert at("by EOY") == datetime(2026, 12, 31, 23, 59, tzinfo=SH)


def test_a_range_is_due_at_its_end():
    assert at("tomorrow 3-5pm") == datetime(2026, 11, 24, 17, 0, tzinfo=SH)
    assert at("下周一至周五") == datetime(2026, 12, 4, 23, 59, tzinfo=SH)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("in 1.5 hours", (2026, 11, 23, 11, 30)),
        ("in 3/4 of an hour", (2026, 11, 23, 10, 45)),
        ("in an hour and a half", (2026, 11, 23, 11, 30)),
        ("五日后", (2026, 11, 28, 23, 59)),
        ("个半钟后", (2026, 11, 23, 11, 30)),
        ("9 tonight", (2026, 11, 23, 21, 0)),
        ("4 o'clock in the afternoon", (2026, 11, 23, 16, 0)),
        ("晚上七點", (2026, 11, 23, 19, 0)),
        ("16h30", (2026, 11, 23, 16, 30)),
        ("at 1745", (2026, 11, 23, 17, 45)),
        ("half past four", (2026, 11, 23, 16, 30)),
        ("a quarter to six", (2026, 11, 23, 17, 45)),
        ("2027年4月1号", (2027, 4, 1, 23, 59)),
        ("the first Monday of October", (2027, 10, 4, 23, 59)),
        ("五月最后一个周五", (2027, 5, 28, 23, 59)),
        ("in 3 weeks", (2026, 12, 14, 23, 59)),
        ("two years from today", (2028, 11, 23, 23, 59)),
        ("三个月后", (2027, 2, 23, 23, 59)),
        ("聽日下晝三點", (2026, 11, 24, 15, 0)),
        ("後日", (2026, 11, 25, 23, 59)),
        ("三點三個字", (2026, 11, 23, 15, 15)),
    ],
)
def test_each_failure_class_of_the_old_parser_reads_right(text, expected):
    assert at(text) == datetime(*expected, tzinfo=SH)


@pytest.mark.parametrize(
    "text",
    ["in a day or two", "改天下午", "明天或者后天", "2月30号", "13pm", "early April", "in a week and a half"],
)
def test_what_cannot_be_read_as_one_time_is_ambiguous_with_no_deadline(text):
    result = parse(text, NOW, SH)
    assert result.ambiguous and result.deadline is None, text


@pytest.mark.parametrize(
    "text", ["order 3/4 inch screws", "read pages 12-20", "room 1745", "一点都不想动", "I sat down"]
)
def test_numbers_and_words_that_are_not_times_are_not_read_as_one(text):
    result = parse(text, NOW, SH)
    assert result.deadline is None and not result.ambiguous, text


# --- rules added for a second author's phrasing (tests/data/time_blind.jsonl) ---

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def local(result):
    return result.deadline.strftime("%Y-%m-%d %H:%M")


def test_an_offset_in_hours_is_elapsed_time_across_the_clocks_going_forward_and_back():
    spring = datetime(2026, 3, 8, 0, 45, tzinfo=NY)  # clocks jump 02:00 → 03:00
    assert local(parse("wake me in 2 hours", spring, NY)) == "2026-03-08 03:45"
    assert local(parse("90分钟后", spring, NY)) == "2026-03-08 03:15"
    autumn = datetime(2026, 10, 25, 0, 30, tzinfo=LONDON)  # clocks go back 02:00 BST → 01:00 GMT
    assert local(parse("in 2 hours", autumn, LONDON)) == "2026-10-25 01:30"
    later = parse("in 2 hours", autumn, LONDON).deadline  # the second 01:30 (fold=1): two real hours on
    assert later.astimezone(UTC) - autumn.astimezone(UTC) == timedelta(hours=2)
    assert local(parse("tomorrow at 9", spring, NY)) == "2026-03-09 09:00"  # days stay on the wall clock


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("problem set due nxt wk", "2026-12-06 23:59"),
        ("pls submit b4 5", "2026-11-23 17:00"),
        ("coffee tomorrow @ 2", "2026-11-24 14:00"),
        ("submit by 9ish", "2026-11-23 21:00"),
        ("pick up the parcel this arvo", "2026-11-23 18:00"),
        ("email the prof before lunch tomorrow", "2026-11-24 12:00"),
        ("meeting starts in 2 hrs 15 mins", "2026-11-23 12:15"),
        ("study session from 2 to 4 tomorrow", "2026-11-24 16:00"),
        ("by Christmas", "2026-12-25 23:59"),
        ("finish it by new year's eve", "2026-12-31 23:59"),
        ("圣诞节前寄贺卡", "2026-12-25 23:59"),
        ("元旦之前交总结", "2027-01-01 23:59"),
        ("出年交", "2027-12-31 23:59"),
        ("supervision tuesday fortnight", "2026-12-08 23:59"),
        ("lunch order by noonish", "2026-11-23 12:00"),
        ("pay jake back 2mrw", "2026-11-24 23:59"),
        ("flashcards tmrw morn", "2026-11-24 09:00"),
        ("后儿交", "2026-11-25 23:59"),
        ("後晚交", "2026-11-25 22:00"),
        ("下课后晚上交", "2026-11-23 22:00"),  # 课后 is "after class", not 后晚
        ("聖誕節前交", "2026-12-25 23:59"),
        ("下周 tue 交", "2026-12-01 23:59"),
    ],
)
def test_chat_shorthand_holidays_and_compound_offsets_read_as_people_mean_them(text, expected):
    assert local(parse(text, NOW, SH)) == expected


def test_a_dotted_time_after_by_is_a_clock_only_when_its_second_number_cannot_be_a_month():
    saturday = datetime(2026, 10, 24, 21, 0, tzinfo=LONDON)
    assert local(parse("book the room by 5.30 tomorrow", saturday, LONDON)) == "2026-10-25 17:30"
    assert local(parse("by 10.12", saturday, LONDON)) == "2026-12-10 23:59"


@pytest.mark.parametrize(
    "text",
    [
        "call at 3 or 4",
        "study group next week or the week after",
        "we can hand it in the day after",
        "四點幾交",
        "三点多交",
        "春节前交",
        "国庆后再交",
        "after christmas",
        "finish the thesis by the end of the semester",
        "visit home over easter",
        "期末考试前交",
    ],
)
def test_alternatives_approximate_clocks_and_moving_holidays_are_asked_about(text):
    result = parse(text, NOW, SH)
    assert result.ambiguous and result.deadline is None, text


@pytest.mark.parametrize(
    "text",
    [
        "it took me 2 hours yesterday",
        "昨天做了两个小时",
        "尋日做咗兩個鐘",
        "write 5 to 10 pages",
        "2 of 3 essays done",
        "got 4/5 on the lab",
        "memorise John 3:16 for the quiz",
        "sat the exam already",
        "我今年20岁",
        "我有三点建议",
        "两点注意事项",
        "每周三次课",
        "听五月天的歌",
        "二号选手",
        "下载版本2.0",
        "flights for Christmas",
        "元旦快乐",
        "两点之间直线最短",
        "买三号电池",
        "一月一次的例会",
        "做咗三日",
        "一日到黑都喺度溫書",
        "掛咗三號波",
        "八號風球停課",
    ],
)
def test_counts_ages_references_and_time_already_spent_are_not_deadlines(text):
    result = parse(text, NOW, SH)
    assert result.deadline is None and not result.ambiguous, text


def test_a_report_of_time_spent_keeps_a_deadline_it_also_names():
    assert local(parse("spent 3 hours on it yesterday, due friday", NOW, SH)) == "2026-11-27 23:59"
    assert local(parse("the essay was due yesterday", NOW, SH)) == "2026-11-22 23:59"  # read; the agent asks


def test_shorthand_spans_point_at_the_shorthand_the_user_wrote():
    text = "pset due NXT WK ok"
    assert parse(text, NOW, SH).strip(text).split() == ["pset", "due", "ok"]


def test_spans_point_into_the_users_own_text_across_collapsed_whitespace_and_traditional_characters():
    text = "交   報告  下週五  下午三點"
    result = parse(text, NOW, SH)
    assert result.deadline == datetime(2026, 12, 4, 15, 0, tzinfo=SH)
    assert result.strip(text).split() == ["交", "報告"]


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet="0123456789 :/.-年月日号点分时周下上这个半刻后前内am pmtonightquarterhalfpast", max_size=40)
)
def test_parse_never_raises_and_any_deadline_it_gives_is_aware(text):
    result = parse(text, NOW, SH)
    assert result.deadline is None or result.deadline.tzinfo is not None


# --- worst case: every pattern is linear (normalised whitespace, bounded repeats) ---


def _cpu_seconds(fn) -> float:
    import time

    started = time.process_time()  # CPU time: waiting for a core on a shared machine does not count
    fn()
    return time.process_time() - started


ADVERSARIAL = {
    "spaces": lambda n: "过" + " " * (n - 2) + "x",
    "mixed whitespace": lambda n: ("\t\n " * n)[:n],
    "digits": lambda n: "1" * n,
    "digit space": lambda n: ("1 " * n)[:n],
    "colons": lambda n: ("1:" * n)[:n],
    "slashes": lambda n: ("1/" * n)[:n],
    "chinese numerals": lambda n: "一" * n,
    "clock words": lambda n: ("三点" * n)[:n],
    "in in": lambda n: ("in " * n)[:n],
    "what": lambda n: ("what " * n)[:n],
    "quarter past": lambda n: ("quarter past " * n)[:n],
    "week words": lambda n: ("下周" * n)[:n],
    "time spent": lambda n: ("took 2 " * n)[:n],
    "offered alternatives": lambda n: ("at 3 or " * n)[:n],
    "chat shorthand": lambda n: ("nxt wk b4 " * n)[:n],
    "chinese time spent": lambda n: ("做了两" * n)[:n],
    "holidays": lambda n: ("圣诞节前元旦" * n)[:n],
    "greetings": lambda n: ("good morning 早晨 " * n)[:n],
    "counted after a clock cue": lambda n: ("at 3 big " * n)[:n],
    "zones after clocks": lambda n: ("4pm cet (utc+8) " * n)[:n],
    "recurrences": lambda n: ("every 每周五 " * n)[:n],
    "holiday with a time": lambda n: ("christmas eve at 6 the day after " * n)[:n],
    "fractions and measures": lambda n: ("1/2 cup 3-4 " * n)[:n],
}


@pytest.mark.parametrize("shape", sorted(ADVERSARIAL))
def test_a_4000_character_adversarial_input_costs_about_what_plain_text_costs(shape):
    from agent.intents.quick_note import draft
    from agent.intents.rules import classify

    def run(text):
        return lambda: (classify(text, NOW, SH), draft(text, NOW, SH))

    floor = half = full = float("inf")
    for _ in range(7):  # interleaved, best of each: noise only ever adds time
        floor = min(floor, _cpu_seconds(run("买" * 4000)))  # the linear baseline: plain text, same length
        half = min(half, _cpu_seconds(run(ADVERSARIAL[shape](2000))))
        full = min(full, _cpu_seconds(run(ADVERSARIAL[shape](4000))))
    # generous bounds: linear means doubling the input about doubles the time (quadratic: 4x), and no
    # shape costs more than a small multiple of plain text (the old whitespace case was ~300x)
    assert full < 20 * floor + 0.05, (shape, full, floor)
    assert full < 3.5 * half + 0.02, (shape, full, half)


# --- rules added for a third author's phrasing (tests/data/time_blind3.jsonl) ---

NY_NOW = datetime(2026, 11, 23, 10, 0, tzinfo=NY)  # a Monday


@pytest.mark.parametrize(
    "text",
    [
        "good morning!",
        "good night, see you later",
        "at the end of the day it's your call",
        "grab a coffee at 7-11",
        "the library is open 24/7",
        "what day is it today?",
        "1/2 cup of flour",
        "3/4 inch bolts",
        "a 2 by 4 from the shed",
        "the room is 10 by 12",
        "at one point I nearly quit",
        "早上好",
        "晚安！",
        "早晨！",
        "佢好十三點",
        "三点水旁的字",
        "两点一线的生活",
        "今天星期几？",
        "明天几号？",
        "搭十一號巴士",
        "我有兩點意見",
        "版本2.3",
        "今年国庆节快乐",
        "I have a couple of questions",
        "10 or so people came",
        "whenever I study I get hungry",
        "call 650.650.6500",
        "the 4a class",
        "they cost at 3.50 each",
        "2-3 times a week",
        "between 2 and 3 people",
        "the 21st century",
        "have a nice weekend",
        "happy Friday!",
        "一时半会儿",
        "一日之计在于晨",
        "下午茶",
        "周末愉快",
        "两点钟方向",
        "回头见",
        "他上年纪了",
        "we met at 3 different places",
        "she is at 5 feet tall",
        "the 9/11 memorial",
        "a 3-day weekend in Maine",
        "in my Sunday best",
        "星期几？",
        "早晨呀",
    ],
)
def test_greetings_idioms_measures_labels_and_questions_about_the_day_are_not_times(text):
    for now, tz in ((NY_NOW, NY), (NOW, SH)):
        result = parse(text, now, tz)
        assert result.deadline is None and not result.ambiguous, text


def test_a_greeting_does_not_hide_a_deadline_in_the_same_message():
    assert local(parse("good morning, submit it by 5", NY_NOW, NY)) == "2026-11-23 17:00"
    assert local(parse("早上好，明天交", NOW, SH)) == "2026-11-24 23:59"


@pytest.mark.parametrize(
    "text",
    [
        "early next week",
        "late April",
        "by Memorial Day",
        "thanksgiving day",
        "this summer",
        "the first week of October",
        "端午",
        "农历新年前",
        "明年春节",
        "一陣間",
        "年前交",
        "下班后再做",
        "in 2-3 days",
        "in two or three hours",
        "下周几交？",
        "in an hour or two",
        "before the holidays",
    ],
)
def test_parts_of_a_period_and_holidays_without_one_known_date_are_asked_about(text):
    result = parse(text, NY_NOW if text.isascii() else NOW, NY if text.isascii() else SH)
    assert result.ambiguous and result.deadline is None, text


def test_a_holiday_whose_date_depends_on_the_region_is_read_in_the_users_region():
    kolkata, taipei = ZoneInfo("Asia/Kolkata"), ZoneInfo("Asia/Taipei")
    assert local(parse("on Independence Day", NY_NOW, NY)) == "2027-07-04 23:59"
    assert local(parse("on Independence Day", NY_NOW.astimezone(kolkata), kolkata)) == "2027-08-15 23:59"
    assert parse("on Independence Day", NY_NOW.astimezone(LONDON), LONDON).ambiguous
    assert local(parse("国庆前交", NOW, SH)) == "2027-10-01 23:59"
    assert local(parse("國慶前交", NOW.astimezone(taipei), taipei)) == "2027-10-10 23:59"
    assert local(parse("雙十節前", NOW, SH)) == "2027-10-10 23:59"
    assert local(parse("今年国庆", datetime(2027, 2, 1, 9, 0, tzinfo=SH), SH)) == "2027-10-01 23:59"
    assert local(parse("christmas", NY_NOW, NY)) == "2026-12-25 23:59"  # a holiday named alone is that day
    assert local(parse("十一前交", NOW, SH)) == "2027-10-01 23:59"  # the National Day holiday
    assert local(parse("十一点前交", NOW, SH)) == "2026-11-23 11:00"  # eleven o'clock
    assert local(parse("三八节前", NOW, SH)) == "2027-03-08 23:59"


def test_a_clock_time_followed_by_a_zone_is_in_that_zone_and_given_in_the_users():
    assert local(parse("5pm CET", NY_NOW, NY)) == "2026-11-23 11:00"
    assert local(parse("Thursday 8:00 GMT", NY_NOW, NY)) == "2026-11-26 03:00"
    assert local(parse("10am PT", NY_NOW, NY)) == "2026-11-23 13:00"
    assert local(parse("3pm UTC+8", NY_NOW, NY)) == "2026-11-24 02:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("quarter past 3pm", "2026-11-23 15:15"),
        ("3:20p", "2026-11-23 15:20"),
        ("330 p.m.", "2026-11-23 15:30"),
        ("in 1/4h", "2026-11-23 10:15"),
        ("in about half an hour", "2026-11-23 10:30"),
        ("in three-quarters of an hour", "2026-11-23 10:45"),
        ("tomorrow lunch", "2026-11-24 12:00"),
        ("this past weekend", "2026-11-22 23:59"),
        ("the following week", "2026-12-06 23:59"),
        ("next quarter", "2027-03-31 23:59"),
        ("Feb 13-15", "2027-02-15 23:59"),
        ("13-15 March", "2027-03-15 23:59"),
        ("four twenty-three a.m.", "2026-11-24 04:23"),
        ("next 3 days", "2026-11-26 23:59"),
        ("on the first", "2026-12-01 23:59"),
        ("third day of october", "2027-10-03 23:59"),
        ("the week of october 6th", "2027-10-10 23:59"),
        ("at 730 in the evening", "2026-11-23 19:30"),
        ("tomorrow at 150ish", "2026-11-24 13:50"),
        ("at 3-4", "2026-11-23 16:00"),
        ("未来三天", "2026-11-26 23:59"),
        ("今天下班前", "2026-11-23 17:00"),
        ("明天上班前", "2026-11-24 09:00"),
    ],
)
def test_forms_time_parser_suites_test_read_as_people_mean_them(text, expected):
    now, tz = (NY_NOW, NY) if text.isascii() else (NOW, SH)
    assert local(parse(text, now, tz)) == expected


def test_every_traditional_form_of_a_character_the_rules_read_is_read_as_the_simplified_one():
    import re
    from pathlib import Path

    import opencc

    from agent.timeparse.normalise import normalise

    root = Path(__file__).resolve().parents[2] / "agent"
    sources = [root / "timeparse" / "zh.py", *sorted((root / "intents").glob("*.py"))]
    chars = {c for path in sources for c in re.findall(r"[\u4e00-\u9fff]", path.read_text(encoding="utf-8"))}
    converters = [opencc.OpenCC(config) for config in ("s2t", "s2hk", "s2tw")]
    unread = sorted(
        (c, t)
        for c in chars
        for t in {convert.convert(c) for convert in converters}
        if t != c and normalise(t).text != c
    )
    assert not unread  # add each pair to the table in agent/timeparse/normalise.py


def test_a_habit_or_recurrence_names_no_one_deadline_and_its_clock_is_not_read():
    for text, now, tz in (
        ("every Monday at 9", NY_NOW, NY),
        ("each morning at 7", NY_NOW, NY),
        ("practice at 5 on tuesdays", NY_NOW, NY),
        ("weekly sync at 9", NY_NOW, NY),
        ("每周五交周报", NOW, SH),
        ("我每天早上跑步", NOW, SH),
        ("逢礼拜三下午三点", NOW, SH),
    ):
        result = parse(text, now, tz)
        assert result.deadline is None and not result.ambiguous, text
    assert local(parse("every week, due friday", NY_NOW, NY)) == "2026-11-27 23:59"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("上年", "2025-12-31 23:59"),
        ("下年初", "2027-01-01 23:59"),
        ("朝頭早", "2026-11-24 09:00"),
        ("聽日晚黑", "2026-11-24 22:00"),
        ("禮拜六晚", "2026-11-28 22:00"),
        ("星期日朝", "2026-11-29 09:00"),
        ("二零二七年", "2027-12-31 23:59"),
        ("三個字之後", "2026-11-23 10:15"),
        ("一日之內", "2026-11-24 23:59"),
    ],
)
def test_cantonese_day_parts_years_and_five_minute_units_read_as_said(text, expected):
    assert local(parse(text, NOW, SH)) == expected


def test_colloquial_in_a_couple_of_days_is_vague_in_cantonese_too():
    assert parse("過兩日先交", NOW, SH).ambiguous


def test_a_range_of_weekdays_ends_on_the_first_such_weekday_from_its_start():
    wednesday = datetime(2027, 2, 10, 9, 30, tzinfo=NY)
    assert local(parse("Monday to Friday", wednesday, NY)) == "2027-02-19 23:59"
    assert local(parse("from Wednesday to Friday", wednesday, NY)) == "2027-02-12 23:59"
    assert local(parse("下周一至周五", wednesday.astimezone(SH), SH)) == "2027-02-19 23:59"


def test_a_holiday_with_a_time_of_its_own_or_a_day_before_or_after_it_is_that_day():
    assert local(parse("Christmas Eve at 6pm", NY_NOW, NY)) == "2026-12-24 18:00"
    assert local(parse("the day after Christmas", NY_NOW, NY)) == "2026-12-26 23:59"
    assert local(parse("the night before Christmas", NY_NOW, NY)) == "2026-12-24 22:00"
    assert local(parse("跨年夜交", NOW, SH)) == "2026-12-31 23:59"
