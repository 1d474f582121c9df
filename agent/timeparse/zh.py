# ruff: noqa: RUF001  (Chinese patterns)
"""The Chinese grammar: simplified text (traditional is mapped by normalise), with the common
Cantonese day and clock words (听日, 后日, 琴日, 朝早, 下昼, 三点三个字). Every repeat is bounded."""

from __future__ import annotations

import re
from datetime import date, timedelta

from agent.timeparse import conventions as cv
from agent.timeparse.numbers import NUM, cn_int
from agent.timeparse.scan import Scan

_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_WEEKDAY.update({str(i + 1): i for i in range(7)})
_WEEK_PREFIX = {"上上": -2, "上": -1, "这": 0, "本": 0, "呢": 0, "今": 0, "下": 1, "下下": 2}
PREFIX = r"(上上|下下|上|这|本|呢|今|下)"
WEEK = r"(?:周|星期|礼拜)"

# --- offsets ---
_HALF_HOUR_CANTONESE = re.compile(r"(?<![\d零〇一二两三四五六七八九十])个半钟头?\s?(后|之后|以后|过后)")
_FIVE_MINUTES = re.compile(rf"({NUM})\s?个\s?字\s?(后|之后|以后|过后|内|之内|以内)")
_QUARTERS = re.compile(rf"(过|再过)?\s?({NUM}|半)\s?刻钟\s?(后|之后|以后|过后|内|之内|以内)?")
_OFFSET = re.compile(
    rf"(过|再过|未来|接下来的?|今后|往后)?\s?(?<![月\d.])({NUM}(?:\.\d{{1,2}})?|半|几|两三|三四|三五|一两|二三)\s?(个)?\s?(半)?\s?"
    r"(分钟|分|小时|钟头|钟|天|日|周|星期|礼拜|月|年)\s?(半)?\s?(后|之后|以后|过后|内|之内|以内|里|前|之前|以前)?"
)


# Words that look like a time and are not one, taken before any rule reads them: greetings (早上好, 晚安,
# Cantonese 早晨! and 早唞), idioms with N点 (三点水 the radical, 两点一线, 好十三点 "silly"), and a question
# about what day or date a day is (今天星期几, 明天几号).
_NOT_A_TIME = re.compile(
    r"(?<![今明听昨前后寻琴大])(?:早上|早晨|早|中午|下午|晚上|晚)(?:好|安)(?=\s?(?:[!,.?~啊呀哦喔哈啦]|$))"
    r"|^\s?早晨\s?(?:呀|啊|晒|啦|喔|哦|你好|大家|各位)?(?=\s?(?:[!,.?~]|$))|早唞|早抖"
    r"|[三3]\s?点水(?!果)|[两二三]\s?点一线|十三点兮兮|[\d一二两三四五六七八九十]{1,2}\s?点钟?\s?方向|一点半点|半点"
    r"|一时(?:半会|半刻|间|之间|兴起|冲动|糊涂|疏忽|语塞|想不)|下午茶|早午饭|一日之计"
    r"|(?:周末|假期|新年|节日)\s?(?:快乐|愉快)|(?:回头|待会|等会|一会|晚点|迟啲|陣間|阵间)\s?见"
    r"|(?:好|很|太|咁|真|非常|有点|有啲)\s?十三点(?!\s?(?:半|钟|前|之前|以前|后|交|[\d零一二两三四五六七八九十]))"
    r"|(?:今天|今日|明天|明日|听日|后天|后日|昨天|昨日|琴日|寻日)\s?(?:是)?\s?"
    r"(?:(?:星期|礼拜|周)\s?几|几\s?[号日]|几\s?月\s?几\s?[号日])"
)


# a habit or a recurrence names no one deadline: 每天早上, 每周五, 逢礼拜三
_RECURRING = re.compile(
    rf"(?:每|逢)\s?(?:一)?\s?(?:个)?\s?(?:天|日|晚|早|朝|月|年|{WEEK}\s?[一二三四五六日天末1-7]?|周)"
    r"\s?的?\s?(?:早上|早晨|上午|中午|下午|傍晚|晚上|夜里|凌晨)?"
)


def _scan_offsets(s: Scan) -> None:
    for m in s.each(_NOT_A_TIME):
        s.skip(m)
    for m in s.each(_RECURRING):
        s.skip(m)
        s.recurring = True
    for m in s.each(_HALF_HOUR_CANTONESE):
        s.set_after(timedelta(minutes=90), m)
    for m in s.each(_FIVE_MINUTES):
        if 0 < cn_int(m[1]) < 12:
            s.set_after(timedelta(minutes=5 * cn_int(m[1])), m)  # 三个字之后 (Cantonese): 15 minutes
    for m in s.each(_QUARTERS):
        if not (m[1] or m[3]):
            continue
        quarters = 2 if m[2] == "半" else cn_int(m[2])
        if quarters <= 0:
            continue
        s.set_after(timedelta(minutes=15 * quarters), m)
    for m in s.each(_OFFSET):
        prefix, count, ge, half_before, unit, half_after, suffix = m.groups()
        if not suffix and not prefix:
            continue
        if unit == "分" and suffix not in ("后", "之后", "以后", "过后"):
            continue
        if unit == "日" and suffix in ("前", "之前", "以前"):
            continue  # 20日前 is "before the 20th"; days ago are 天前
        if unit == "钟" and not ge:
            continue  # 一个钟 = an hour (Cantonese); 三点钟 is a clock time
        if unit == "月" and not ge and count != "半":
            continue  # 三月后 is ambiguous with March; 三个月后 is an offset
        if m[0].startswith(("过两天", "过两日")):
            s.vague = True  # colloquial "in a couple of days": not exactly two
            s.take_m(m)
            continue
        if count in ("几", "两三", "三四", "三五", "一两", "二三"):
            s.vague = True
            s.take_m(m)
            continue
        if count == "半":
            amount = 0.5
        else:
            try:
                amount = float(count) if count[0].isdigit() else float(cn_int(count))
            except ValueError:
                continue
        if amount <= 0:
            continue
        if half_before or half_after:
            amount += 0.5
        sign = -1 if suffix in ("前", "之前", "以前") else 1
        if unit in ("分钟", "分"):
            s.set_after(sign * timedelta(minutes=amount), m)
        elif unit in ("小时", "钟头", "钟"):
            s.set_after(sign * timedelta(hours=amount), m)
        elif unit in ("天", "日"):
            if amount != int(amount):
                s.set_after(sign * timedelta(days=amount), m)
            else:
                s.add_day(s.today + sign * timedelta(days=int(amount)), m)
        elif unit in ("周", "星期", "礼拜"):
            days = 7 * amount
            s.add_day(s.today + sign * timedelta(days=int(days)) if days == int(days) else None, m)
        elif unit == "月":
            if amount == 0.5:
                s.add_day(s.today + sign * timedelta(days=15), m)
            elif amount != int(amount):
                s.add_day(cv.add_months(s.today, sign * int(amount)) + sign * timedelta(days=15), m)
            else:
                s.add_day(cv.add_months(s.today, sign * int(amount)), m)
        else:
            s.add_day(cv.add_months(s.today, sign * int(12 * amount)), m)
        s.far_named = True


# --- dates ---
_YEAR_WORD = {"今年": 0, "明年": 1, "出年": 1, "下年": 1, "后年": 2, "去年": -1, "旧年": -1, "上年": -1, "前年": -2}
_YMD = re.compile(
    rf"(?:(\d{{4}}|[〇零一二三四五六七八九]{{4}}|[两二]千零?[一二三四五六七八九十]{{0,3}})\s?年|(今年|明年|出年|下年|后年|去年|旧年))?"
    rf"\s?的?\s?(?<![\d零〇一二两三四五六七八九十])({NUM})\s?月份?(?!天|\s?[一两二三四五六七八九十几]\s?次)\s?的?\s?(?:初(?=[一二三四五六七八九十]))?"
    rf"(?:({NUM})\s?[日号]?(?![\d点时:个分天周月年])|(底|末|尾|初|中旬|上旬|下旬|中))?(?!\s?(?:后|之后|以后|内|以内|之内))"
)
_NTH = re.compile(
    rf"(?:(?:(今年|明年)\s?)?({NUM})\s?月份?|{PREFIX}个?月|(本月|这个月))\s?的?\s?"
    rf"(?:第\s?({NUM})\s?个|(最后)\s?一\s?个)\s?{WEEK}\s?([一二三四五六日天1-7])"
)
_REL_MONTH = re.compile(
    rf"(下下个?月|下个?月|上个?月|这个?月|本月|今个月|呢个月)\s?的?\s?"
    rf"(?:({NUM})\s?[号日]|月?(底|末|尾|初|中旬|上旬|下旬|中|内|之内|以内))?"
)
_MONTH_EDGE = re.compile(r"月(底|末|尾|初|中旬|中(?![心间]))")
_YEAR_EDGE = re.compile(
    r"(今|明|出|下|后|去|旧|上)?\s?年\s?年?(底|末|尾|初|内|中)|(今年|明年|出年|下年|后年|去年|旧年|上年)(?![纪级])\s?(之内|以内|内)?"
)
_YEAR4 = re.compile(
    r"(?<![\d零〇一二三四五六七八九])(\d{4}|[一二][〇零九][〇零一二三四五六七八九]{2})\s?年(?!\s?[\d零〇一二三四五六七八九十]{1,2}\s?月)"
)
_HALF_YEAR = re.compile(r"[上下]半年")
_AGE_AFTER = re.compile(rf"^\s?(?:就|才|已经|都|也|刚|满|快)?\s?{NUM}\s?周?岁")
_MD = re.compile(
    r"(?<![\d./:-])(1[0-2]|0?[1-9])/(\d{1,2})(?![\d./:])(?=\s?[\u4e00-\u9fff])"
    r"|(?<![\d./:-])(1[0-2]|0?[1-9])\.(\d{1,2})(?![\d./:])(?=\s?(?:前|之前|以前|号|日|交|截止|提交))"
)
_DAY = re.compile(
    rf"(?<![月\d.第])({NUM})\s?[号日](?![子记常本语文历元期报楼线床位键夜间出落光程益用头后内选房门窗车站厅馆桌柜台码球队电波风巴舱闸栋座仓字])"
)
_REL_DAYS = {
    "今明两天": 1,
    "大后天": 3,
    "大后日": 3,
    "后天": 2,
    "后日": 2,
    "明天": 1,
    "明日": 1,
    "明儿": 1,
    "后儿": 2,
    "昨儿": -1,
    "听日": 1,
    "今天": 0,
    "今日": 0,
    "今儿": 0,
    "昨天": -1,
    "昨日": -1,
    "琴日": -1,
    "寻日": -1,
    "噚日": -1,
    "大前天": -3,
    "前天": -2,
    "前日": -2,
}
_DEADLINE_AFTER_DAY = tuple("前之以交截上下中晚早凌午")
_REL_DAY = re.compile("|".join(sorted(_REL_DAYS, key=len, reverse=True)))
_DAY_PERIOD = re.compile(r"(今|明|听|昨|前|寻|琴|(?<![之以然课饭过最学班落午事])后)(晚|早|晨|夜|朝|午)(?!饭|餐|报|点)")
_WEEKDAY_RE = re.compile(
    rf"{PREFIX}?\s?(个)?\s?{WEEK}\s?(?:的?\s?{WEEK}\s?|的\s?)?([一二三四五六日天末1-7])(?![报记刊]|\s?[次遍趟])|(周末|礼拜末)"
)
_EN_WEEKDAY = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4, "sat": 5, "sun": 6}
_EN_WEEKDAY.update({"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6})
_WEEK_EN_DAY = re.compile(
    rf"{PREFIX}\s?个?\s?{WEEK}\s?(?:的\s?)?(" + "|".join(sorted(_EN_WEEKDAY, key=len, reverse=True)) + r")(?![a-z])"
)
_WHICH_WEEKDAY = re.compile(rf"{PREFIX}\s?个?\s?{WEEK}\s?几|{WEEK}\s?几(?=\s?(?:交|前|之前|截止|提交|要交|完成))")
_WHOLE_WEEK = re.compile(rf"{PREFIX}\s?个?\s?{WEEK}(?!\s?的?\s?{WEEK}?\s?[一二三四五六日天末1-7])(内|之内|以内)?")


_HOLIDAYS = {
    "元旦": (1, 1),
    "情人节": (2, 14),
    "妇女节": (3, 8),
    "三八节": (3, 8),
    "植树节": (3, 12),
    "愚人节": (4, 1),
    "劳动节": (5, 1),
    "五一": (5, 1),
    "青年节": (5, 4),
    "儿童节": "children's day",
    "六一": (6, 1),
    "建党节": (7, 1),
    "建军节": (8, 1),
    "教师节": "teachers' day",
    "双十节": (10, 10),
    "双十": (10, 10),
    "国庆节": "national day",
    "国庆": "national day",
    "十一": (10, 1),  # 十一前: before the National Day holiday (十一点, 十一号, 十一月 are not it)
    "万圣节": (10, 31),
    "光棍节": (11, 11),
    "双十一": (11, 11),
    "双十二": (12, 12),
    "平安夜": (12, 24),
    "圣诞夜": (12, 24),
    "跨年夜": (12, 31),
    "跨年": (12, 31),
    "圣诞节": (12, 25),
    "圣诞": (12, 25),
}
# lunar-calendar holidays move every year: named, they are asked about rather than guessed
_LUNAR = (
    "春节|过年|除夕|元宵节?|端午节?|七夕|中秋节?|重阳节?|清明节?|农历新年|新年|大年三十|年三十|大年初一|年初一|冬至|腊八"
    "|母亲节|父亲节|感恩节|复活节"
)
_HOLIDAY_NAME = "|".join(sorted(_HOLIDAYS, key=len, reverse=True))
# a holiday is a deadline when a deadline word is next to it (圣诞节前, 到元旦, 国庆当天交), not in 元旦快乐
_HOLIDAY = re.compile(
    rf"(在|到|截至|截止到?|赶在|于)?\s?(?:(今年|明年|出年|下年|后年|去年|旧年|\d{{4}}\s?年)\s?的?\s?)?(?:({_HOLIDAY_NAME})|({_LUNAR}))\s?(?:节)?"
    r"(?:(前(?!后)|之前|以前|当天|那天|当日|那日)|(前后|后|之后|以后|期间|假期)|(?=\s?(?:交|截止|要交|提交|完成)))?"
)


def _scan_holidays(s: Scan) -> None:
    for m in s.each(_HOLIDAY):
        cue, year_word, name, lunar, by, after = m.groups()
        named_as_deadline = (
            cue or by or year_word or s.text[m.end() : m.end() + 4].lstrip()[:1] in ("交", "截", "要", "提", "完")
        )
        alone = not s.text[: m.start()].strip() and not s.text[m.end() :].strip(" !.?~")  # the whole message
        alone = alone and name != "十一"  # 十一 alone is a number
        greeting = s.text[m.end() : m.end() + 3].lstrip().startswith(("快乐", "好"))
        if greeting:
            s.skip(m)  # 元旦快乐, 今年国庆节快乐: a greeting, its year word included
            continue
        if not (named_as_deadline or after or alone):
            continue  # 国庆节的安排: the holiday as a topic
        if lunar or after:
            s.vague = True  # 春节前 (a lunar date), 国庆后 (after it, but when?): ask
            s.take_m(m)
            continue
        when = _HOLIDAYS[name]
        if isinstance(when, str):
            when = cv.regional_holiday(when, s.tz)  # 国庆 is 10 October in Taiwan
        if when is None:
            s.vague = True
            s.take_m(m)
            continue
        month, day = when
        year = None
        if year_word:
            year = int(year_word[:4]) if year_word[0].isdigit() else s.today.year + _YEAR_WORD[year_word]
            s.far_named = s.far_named or year != s.today.year
        s.add_day(cv.month_day(s.today, month, day, year), m, explicit=True)


def _scan_dates(s: Scan) -> None:
    _scan_holidays(s)
    today = s.today
    for m in s.each(_NTH):
        year_word, month_token, rel, _this_month, nth, last, weekday = m.groups()
        weekday = _WEEKDAY[weekday]
        n = -1 if last else cn_int(nth)
        if n == 0 or n < -1 or (n == -1 and not last):
            continue
        if month_token:
            month = cn_int(month_token)
            if not 1 <= month <= 12:
                continue
            year = today.year + _YEAR_WORD[year_word] if year_word else cv.month_named(today, month)
            day = cv.nth_weekday(year, month, weekday, n)
            if day is not None and day < today and not year_word:
                day = cv.nth_weekday(year + 1, month, weekday, n)
        else:
            shift = _WEEK_PREFIX.get(rel, 0) if rel else 0
            base = cv.add_months(today.replace(day=1), shift)
            day = cv.nth_weekday(base.year, base.month, weekday, n)
        s.add_day(day, m, explicit=True)
    for m in s.each(_YMD):
        year4, year_word, month_token, day_token, edge = m.groups()
        month = cn_int(month_token)
        if not 1 <= month <= 12:
            continue
        year = cn_int(year4) if year4 else today.year + _YEAR_WORD[year_word] if year_word else None
        if year is not None and not 1 <= year <= 9999:
            s.add_day(None, m)
            continue
        if year is not None:
            s.far_named = True
        if day_token:
            s.add_day(cv.month_day(today, month, cn_int(day_token), year), m, explicit=True)
            continue
        year = year if year is not None else cv.month_named(today, month)
        if edge in ("初", "上旬"):
            day = date(year, month, 1)
        elif edge in ("中旬", "中"):
            day = date(year, month, 15)
        elif edge == "下旬":
            day = cv.month_end(year, month)
        else:
            day = cv.month_end(year, month)  # 四月 / 四月底: the month named as a whole
        s.add_day(day, m, grain="month" if edge in (None, "底", "末", "尾") else "day")
    for m in s.each(_REL_MONTH):
        word, day_token, edge = m.groups()
        shift = 2 if word.startswith("下下") else 1 if word.startswith("下") else -1 if word.startswith("上") else 0
        base = cv.add_months(today.replace(day=1), shift)
        if day_token:
            try:
                s.add_day(base.replace(day=cn_int(day_token)), m, explicit=True)
            except ValueError:
                s.add_day(None, m)
        elif edge in ("初", "上旬"):
            s.add_day(base, m)
        elif edge in ("中旬", "中"):
            s.add_day(base.replace(day=15), m)
        else:
            s.add_day(cv.month_end(base.year, base.month), m, grain="month")
    for m in s.each(_MONTH_EDGE):
        if m[1] == "初":
            day = today.replace(day=1)
            day = day if day >= today else cv.add_months(day, 1)
        elif m[1] in ("中旬", "中"):
            day = cv.day_of_month(today, 15)
        else:
            day = cv.month_end(today.year, today.month)
        s.add_day(day, m)
    for m in s.each(_HALF_YEAR):
        s.vague = True
        s.take_m(m)
    for m in s.each(_YEAR_EDGE):
        if m[3] and not m[2] and not m[4] and _AGE_AFTER.match(s.text[m.end() :]):
            continue  # 我今年20岁: an age, not a deadline
        word = (m[1] + "年") if m[1] else m[3]
        year = today.year + (_YEAR_WORD[word] if word else 0)
        edge = m[2]
        s.far_named = s.far_named or bool(word and word != "今年")
        s.add_day(
            date(year, 1, 1) if edge == "初" else date(year, 6, 30) if edge == "中" else date(year, 12, 31),
            m,
            grain="year",
        )
    for m in s.each(_YEAR4):
        s.add_day(date(cn_int(m[1]), 12, 31), m, grain="year")
        s.far_named = True
    for m in s.each(_MD):
        month, day = (m[1], m[2]) if m[1] else (m[3], m[4])
        s.add_day(cv.month_day(today, int(month), int(day)), m, explicit=True)
    for m in s.each(_DAY):
        try:
            value = cn_int(m[1])
        except ValueError:
            continue
        if value > 31:
            continue
        follow = s.text[m.end() : m.end() + 2]
        if m[1] == "一" and (follow[:1] not in _DEADLINE_AFTER_DAY or (follow[:1] == "之" and follow != "之前")):
            continue  # 一日到黑 / 一日三餐: "a day", not the first of the month
        s.add_day(cv.day_of_month(today, value), m, explicit=True)
    for m in s.each(_REL_DAY):
        s.add_day(today + timedelta(days=_REL_DAYS[m[0]]), m)
    for m in s.each(_DAY_PERIOD):
        shift = {"今": 0, "明": 1, "听": 1, "后": 2, "昨": -1, "寻": -1, "琴": -1, "前": -2}[m[1]]
        s.add_day(today + timedelta(days=shift), m)
        s.period = s.period or {"晚": "evening", "夜": "evening", "午": "noon"}.get(m[2], "morning")
    for m in s.each(_WHICH_WEEKDAY):
        s.vague = True  # 下周几交? which day: ask
        s.take_m(m)
    for m in s.each(_WEEK_EN_DAY):
        weekday = _EN_WEEKDAY[m[2]]
        s.add_day(cv.weekday_in_week(today, weekday, _WEEK_PREFIX[m[1]]), m, weekday=weekday)
    for m in s.each(_WEEKDAY_RE):
        if m[4]:
            s.add_day(cv.week_end(today, 0), m, grain="week")
            continue
        prefix, _ge, day_char = m[1], m[2], m[3]
        if day_char == "末":
            s.add_day(cv.week_end(today, _WEEK_PREFIX.get(prefix, 0) if prefix else 0), m, grain="week")
            continue
        weekday = _WEEKDAY[day_char]
        if prefix is None:
            s.add_day(cv.weekday_coming(today, weekday), m, weekday=weekday, roll=True)
        else:
            s.add_day(cv.weekday_in_week(today, weekday, _WEEK_PREFIX[prefix]), m, weekday=weekday)
    for m in s.each(_WHOLE_WEEK):
        s.add_day(cv.week_end(today, _WEEK_PREFIX[m[1]]), m, grain="week")


# --- clock times ---
_AFTER_A_DAY = "(?:(?<=[周期拜][一二三四五六日天1-7])|(?<=[今明听琴寻后昨前][日天]))"
_PERIOD_WORDS = (
    ("凌晨", "dawn"),
    ("早上", "morning"),
    ("早晨", "morning"),
    ("清早", "morning"),
    ("清晨", "morning"),
    ("一早", "morning"),
    ("朝头早", "morning"),
    ("朝早", "morning"),
    ("上午", "forenoon"),
    ("上昼", "forenoon"),
    ("中午", "noon"),
    ("正午", "noon"),
    ("晌午", "noon"),
    ("午间", "noon"),
    ("午饭前", "noon"),
    ("晏昼", "afternoon"),
    ("下午", "afternoon"),
    ("下昼", "afternoon"),
    ("午后", "afternoon"),
    ("傍晚", "afternoon"),
    ("黄昏", "afternoon"),
    ("挨晚", "afternoon"),
    ("晚黑", "evening"),
    ("晚上", "evening"),
    ("晚间", "evening"),
    ("夜晚", "evening"),
    ("夜里", "evening"),
    ("夜间", "evening"),
    ("深夜", "evening"),
    ("半夜", "evening"),
    ("晚饭后", "evening"),
    ("晚(?=\\s?[0-9一二三四五六七八九十两])", "evening"),
    ("早(?=\\s?[0-9一二三四五六七八九十两])", "morning"),
    # right after a weekday or a day word: 礼拜六晚, 星期日朝, 听日晚 (Cantonese)
    (_AFTER_A_DAY + "\\s?(?:晚|夜)(?![饭餐报点安])", "evening"),
    (_AFTER_A_DAY + "\\s?朝(?!早)", "morning"),
)
_PERIOD_RE = [(re.compile(word), period) for word, period in _PERIOD_WORDS]
_MIDNIGHT = re.compile(r"午夜(?:十二点|12点|零点|0点)?")
_RANGE = re.compile(rf"({NUM})\s?[点时]半?\s?(?:到|至|-|~)\s?({NUM})\s?[点时](?:(半)|({NUM})\s?分)?")
_CHA_BEFORE = re.compile(rf"差\s?(一刻|{NUM})\s?(?:分钟?)?\s?({NUM})\s?[点时]钟?")
_CHA_AFTER = re.compile(rf"({NUM})\s?[点时]\s?差\s?(一刻|{NUM})\s?分?钟?")
_CLOCK = re.compile(
    rf"({NUM})\s?[点时](?!半小时|半个)(?:钟)?\s?(?:(半)|(整|正|踏正)|过?\s?(一刻|三刻)|({NUM})\s?个字|过?\s?(零)?\s?({NUM})\s?(分钟?|分)?)?"
)
_NOT_CLOCK_AFTER = "都也儿点不没心子菜名赞击头评燃亮滴缀数"
# N点 followed by one of these counts points ("三点建议", 两点注意事项), it is not a clock time
_POINTS = re.compile(
    r"^\s?(?:的\s?)?(?:建议|意见|注意|要求|内容|原因|理由|想法|看法|体会|收获|感想|不足|好处|坏处|优点|缺点|问题|区别"
    r"|结论|改进|事项|规定|原则|方面|特点|要点|疑问|启发|思考|补充|说明|理解|经验|教训|心得|之间|连线|一线)"
)
_WORK_DAY = re.compile(r"(下班|放工|收工|上班|返工|开工)\s?(?:前|之前|以前)")
_NOT_CLOCK_BEFORE = "有早快慢多少晚好再差一"


def _scan_times(s: Scan) -> None:
    for m in s.each(_MIDNIGHT):
        s.add_clock(24, 0, True, m)
    for m in s.each(_RANGE):
        try:
            hour = cn_int(m[2])
            minute = 30 if m[3] else cn_int(m[4]) if m[4] else 0
        except ValueError:
            continue
        s.add_clock(hour, minute, False, m)
    for m in s.each(_CHA_BEFORE):
        try:
            minutes = 15 if m[1] == "一刻" else cn_int(m[1])
            hour = cn_int(m[2])
        except ValueError:
            continue
        if 0 < minutes < 60:
            s.add_clock(hour - 1 if hour else 23, 60 - minutes, False, m)
    for m in s.each(_CHA_AFTER):
        try:
            hour = cn_int(m[1])
            minutes = 15 if m[2] == "一刻" else cn_int(m[2])
        except ValueError:
            continue
        if 0 < minutes < 60:
            s.add_clock(hour - 1 if hour else 23, 60 - minutes, False, m)
    for m in s.each(_CLOCK):
        hour_token = m[1]
        if hour_token == "一" and (
            s.text[m.end(1) + 1 : m.end(1) + 2] in tuple(_NOT_CLOCK_AFTER)
            or (m.start() > 0 and s.text[m.start() - 1] in _NOT_CLOCK_BEFORE)
        ):
            continue  # 一点都不 / 快一点: "a little", not one o'clock
        bare_dian = s.text[m.end(1) : m.end(1) + 1] == "点" and not any((m[2], m[3], m[4], m[5], m[7]))
        if bare_dian and s.text[m.end(1) + 1 : m.end(1) + 2] in tuple(_NOT_CLOCK_AFTER):
            continue  # 三点都 / 两点心: not a clock time
        if _POINTS.match(s.text[m.end(1) :].lstrip()[1:]):
            continue  # 三点建议, 两点一线: points counted
        if s.text[m.end() : m.end() + 1] in ("几", "多") and s.text[m.end() : m.end() + 2] != "多少":
            s.partial = True  # 四点几 / 三点多: some time after four; ask
        try:
            hour = cn_int(hour_token)
            if m[2]:
                minute = 30
            elif m[4]:
                minute = 15 if m[4] == "一刻" else 45
            elif m[5]:
                minute = 5 * cn_int(m[5])  # Cantonese 三点三个字: units of five minutes
            elif m[7]:
                minute = cn_int(m[7])
                if not m[8] and not m[6] and minute < 10 and not m[7].isdigit():
                    minute *= 5  # 三点三 (Cantonese): three "字" of five minutes
            else:
                minute = 0
        except ValueError:
            continue
        s.add_clock(hour, minute, False, m)
    for m in s.each(_WORK_DAY):
        clock = cv.CLOSE_OF_BUSINESS if m[1] in ("下班", "放工", "收工") else cv.START_OF_BUSINESS
        s.add_clock(clock.hour, clock.minute, True, m)
    for pattern, period in _PERIOD_RE:
        for m in s.each(pattern):
            s.set_period(period, m)


VAGUE = (
    "改天",
    "改日",
    "过几天",
    "回头",
    "有空",
    "得闲",
    "有时间",
    "找时间",
    "找个时间",
    "以后再",
    "晚点",
    "晚些时候",
    "迟啲",
    "迟些",
    "到时候",
    "某天",
    "哪天",
    "最近",
    "近期",
    "这几天",
    "这两天",
    "过阵子",
    "过段时间",
    "抽空",
    "之后再",
    "(?<![今明去后前出旧周\\d零〇一二两三四五六七八九十几半])年[前后](?![天日])",
    "下班后",
    "放工后",
    "一阵间",
    "阵间",
    "等阵",
    "等一阵",
    "过一阵",
    "等会",
    "一会儿",
    "一会",
    "待会",
    "尽快",
    "尽早",
    "早点",
    "早些",
    "期末",
    "期中",
    "开学前",
    "放假前",
    "考试前",
    "考完",
)
_VAGUE_RE = re.compile("|".join(VAGUE))
_RESIDUE_AFTER = re.compile(r"^\s?(?:后|之后|以后|[点时号])")


PHASES = (_scan_offsets, _scan_dates, _scan_times)


# time already spent: 做了两个小时, 花了三天, 温咗三个钟书
_NARRATION = re.compile(
    rf"[了咗]\s?(?:整整|足足|快|差不多|将近|大概)?\s?(?:{NUM}|半|几)\s?(?:个|粒)?\s?半?\s?多?\s?(?:小时|钟头|钟|分钟|天|日|礼拜|星期|周)"
    r"(?!\s?(?:后|之后|以后|内|之内|以内))"
)


def finish(s: Scan) -> None:
    if any(s.free(m.start(), m.end()) for m in _VAGUE_RE.finditer(s.text)):
        s.vague = True
    for m in _NARRATION.finditer(s.text):
        s.narration = True
        s.narrated.append(m.span())
    for _start, end in list(s.spans):
        if _RESIDUE_AFTER.match(s.text[end:]) and not s.taken[end : end + 2].count(1):
            s.partial = True  # a number read as a date with 后 left over: it was an offset
