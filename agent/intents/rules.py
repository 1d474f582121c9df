# ruff: noqa: RUF001, E501  (full-width punctuation and long patterns are the point here)
"""Rule-based intent recognition for the offline provider (pure: no Django).

Order matters: a refine ("把数学挪到周四晚上") and a query ("do I have anything due
before Friday?") both carry time expressions, so they are tried before quick_note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from agent import timeparse
from agent.intents import query
from agent.timeparse.normalise import normalise

INTENTS = ("quick_note", "task_query", "schedule_plan", "schedule_refine", "chat")

_REFINE_CN = re.compile(r"(挪到|移到|改到|换到|调到|提前到|推到|推迟到|往后推|往前挪|往前提|改成|挪一下|换个时间)")
_REFINE_EN = re.compile(
    r"^(?:(?:can|could|would) you\s+|please\s+|let'?s\s+)?(?:move|shift|reschedule|push|pull|swap|change|put|switch)\b"
    r"|\binstead\b",
    re.I,
)
_QUERY_CN = re.compile(
    r"((?:有什么|有哪些|有啥)(?=.{0,6}?(?:要|任务|作业|ddl|截止|安排|事|交|做|没|考试|deadline))|(?:任务|作业|ddl|事情?)(?:都)?(?:有哪些|有什么)|查查|查看我|截止(?:的)?任务|哪些(?:任务|作业|ddl|事|东西)|交哪些|什么要交|要交什么|查一下|看看我的|列一下|待办事项|任务清单|还有什么|ddl是什么|都有什么|快到期|快截止|没完成的)",
    re.I,
)
_QUERY_EN = re.compile(
    r"\b(?:what(?:'s| is| are)?\b.{0,60}?\b(?:due|deadlines?|on my plate|left|tasks?|to-?dos?)|what do i have|"
    r"show (?:me )?my|list (?:all )?my|list (?:all|everything)|any (?:deadlines|tasks|assignments)|do i have anything|"
    r"which (?:tasks|assignments)\b.{0,60}?\bdue|upcoming deadlines|to-?do list|show me (?:everything|all)|"
    r"(?:what|everything) (?:do )?i (?:still )?(?:have|need) to (?:do|hand in|turn in|submit|finish))",
    re.I,
)
_PLAN_CN = re.compile(r"(安排|规划|排一下|排进|排到|排入|排上|塞进|放进空|计划|时间表|日程表|排个|排好)")
_PLAN_EN = re.compile(
    r"(\bplan\b|\bschedule (?:my|study|the|some|time|everything|all|what)|\bstudy plan\b|\bfit\b.{0,60}?\binto\b|"
    r"\borgani[sz]e my\b|\btimetable\b|\bslot\b.{0,40}?\binto\b|\bblock (?:out )?time\b)",
    re.I,
)
# "reschedule the rest / 重新安排剩下的": a new plan for what is left, not an edit of one block.
_REPLAN = re.compile(
    r"(重新(?:安排|规划|排)|\breschedule\b|\bre-?plan\b).{0,20}?(剩下|剩余|所有|全部|没做完|未完成|\brest\b|\ball\b|"
    r"\beverything\b|\bremaining\b|\bunfinished\b)|(剩下|剩余|没做完|未完成)的?.{0,10}?(排|安排)",
    re.I,
)
# "I don't need to…", 不用交了: the user takes something back; nothing to write.
_NEGATION = re.compile(
    r"(\b(?:i\s)?(?:don'?t|do\snot|no\slonger|won'?t)\s(?:need|have)\sto\b|\bno\sneed\sto\b|\bnever\smind\b|"
    r"\bnot\s(?:going|supposed)\sto\b|\b(?:is|was)\s(?:cancelled|canceled|called\soff)\b|"
    r"(?:不用|不需要|不必|无需|用不着|不要再?提醒|别再?提醒|不去了|不交了|不考了|取消了|算了))",
    re.I,
)
_NOTE_MARKERS_CN = re.compile(
    r"(提醒|记得|别忘|不要忘|记一下|记下|待办|加个任务|建个任务|添加任务|新建任务|ddl|截止)", re.I
)
_NOTE_MARKERS_EN = re.compile(
    r"(\bremind me\b|\bdon'?t (?:let me )?forget\b|\bremember to\b|\badd (?:a )?task\b|\bto-?do\b|\bdue\b|\bdeadline\b)",
    re.I,
)
_TASK_VERBS_CN = re.compile(
    r"(交|提交|完成|写完|做完|搞定|复习|准备|考|面试|开会|去|参加|缴|还|办|背|看完|读完|发|打印|回复|买|整理|学完|报名|退|寄|赶|剪|签|刷|充|拿|取|投|贴|到|写|改|搞|打扫|收拾|洗|修|上传|填|开|约|预约|报|订|领|查|见)"
)
_TASK_VERBS_EN = re.compile(
    r"\b(submit|finish|hand in|turn in|pay|return|book|call|email|send|prepare|review|study|register|apply|renew|"
    r"write|reply|buy|cancel|read|water|pick up|bring|back up|clean|take out|move|revise|need to|have to|must|"
    r"file|fill (?:in|out)|sign|print|mail|post|upload|practice|practise|meet|visit|collect|drop off|complete)\b",
    re.I,
)
_FEELING = re.compile(
    r"(好慌|好开心|好累|好烦|好紧张|紧张|焦虑|难过|开心|崩溃|郁闷|\b(?:so|really) (?:tired|happy|stressed|nervous)\b)",
    re.I,
)
_DONE_ALREADY = re.compile(r"(?<!把)[\u4e00-\u9fff]{1,4}完[\u4e00-\u9fff]?了")
_QUESTION = re.compile(
    r"([?？吗呢]\s*$|怎么|为什么|如何|什么是|几点|哪里|哪儿|去哪|\bhow\b|\bwhat\b|\bwhy\b|\bwho\b|\bwhere\b|\bwhen\b\?)",
    re.I,
)


@dataclass
class Recognised:
    intent: str
    parsed: timeparse.ParseResult


def classify(text: str, now: datetime, tz: ZoneInfo | str) -> Recognised:
    parsed = timeparse.parse(text, now, tz)
    text = normalise(text).text.strip()  # traditional → simplified, full-width → ASCII: one set of rules
    if _REPLAN.search(text):
        return Recognised("schedule_plan", parsed)
    if _REFINE_CN.search(text) or (_REFINE_EN.search(text) and not _NOTE_MARKERS_EN.search(text)):
        return Recognised("schedule_refine", parsed)
    if query.rank_of(text) and not (_PLAN_CN.search(text) or _PLAN_EN.search(text)):
        return Recognised("task_query", parsed)  # "which of my tasks is most urgent?" / 哪个任务最急
    if _QUERY_CN.search(text) or _QUERY_EN.search(text):
        return Recognised("task_query", parsed)
    if _NEGATION.search(text) and not re.search(r"\bdon'?t (?:let me )?forget\b|不要忘|别忘", text):
        return Recognised("chat", parsed)  # "I don't need to submit it after all": nothing to write
    if (_PLAN_CN.search(text) or _PLAN_EN.search(text)) and not (
        _NOTE_MARKERS_CN.search(text) or _NOTE_MARKERS_EN.search(text)
    ):
        return Recognised("schedule_plan", parsed)
    if _NOTE_MARKERS_CN.search(text) or _NOTE_MARKERS_EN.search(text):
        return Recognised("quick_note", parsed)
    if _FEELING.search(text) or (_DONE_ALREADY.search(text) and "把" not in text):
        return Recognised("chat", parsed)  # how the user feels, or what is already done: not a task
    if parsed.has_hint and not _QUESTION.search(text) and (_TASK_VERBS_CN.search(text) or _TASK_VERBS_EN.search(text)):
        return Recognised("quick_note", parsed)
    return Recognised("chat", parsed)
