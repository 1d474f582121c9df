# ruff: noqa: RUF001, E501  (Chinese text and long canned replies)
"""The embedded provider: deterministic, no network. Rules pick the intent and answer
a tool call named after it, exactly as an LLM with function calling would."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from agent.context import estimate_tokens
from agent.intents.rules import classify
from agent.providers import Hints, ProviderEvent, ToolCall

_REPLIES = [
    (
        re.compile(r"^(你好|您好|嗨|哈喽|hi\b|hello|hey)", re.I),
        "你好！我是 SmartMate，可以帮你记任务、查截止日期、安排学习时间。 / Hi! I can note tasks, tell you what is due and plan your study time.",
    ),
    (re.compile(r"(谢谢|感谢|thank)", re.I), "不客气！/ You're welcome!"),
    (
        re.compile(
            r"(不用|不需要|不必|无需|算了|取消了|\bdon'?t need to\b|\bno need to\b|\bnever mind\b|\bno longer\b)", re.I
        ),
        "好的，这个我就不记了。/ OK, I won't add that.",
    ),
    (
        re.compile(r"(你是谁|你能做什么|who are you|what can you do)", re.I),
        "我是 SmartMate 学习助手：说“明天下午三点前交作业”我会建任务，问“这周有什么要交的”我会列出来，说“帮我安排复习”我会排进空闲时间。 / I'm SmartMate: tell me a deadline and I'll make a task, ask what's due, or ask me to plan your week.",
    ),
]
_DEFAULT_CN = "我明白了。需要的话，可以让我记个任务、查一下截止日期，或者把任务排进空闲时间。"
_DEFAULT_EN = "Got it. I can note a task, tell you what's due, or plan tasks into your free time."


def _reply_for(text: str) -> str:
    for pattern, reply in _REPLIES:
        if pattern.search(text.strip()):
            return reply
    return _DEFAULT_CN if re.search(r"[\u4e00-\u9fff]", text) else _DEFAULT_EN


class OfflineProvider:
    name = "offline"
    model = "smartmate-offline-rules"

    async def stream(self, *, messages: list[dict], tools: list[dict], hints: Hints) -> AsyncIterator[ProviderEvent]:
        text = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        prompt_tokens = sum(4 + estimate_tokens(m.get("content") or "") for m in messages)
        recognised = classify(text, hints.now, hints.tz)
        if recognised.intent != "chat" and any(t["function"]["name"] == recognised.intent for t in tools):
            arguments = {"text": text}
            if recognised.intent == "schedule_refine":
                arguments = {"instruction": text}
            yield ProviderEvent(
                "tool_call", tool_call=ToolCall(id="call_offline_1", name=recognised.intent, arguments=arguments)
            )
            yield ProviderEvent("usage", usage={"prompt_tokens": prompt_tokens, "completion_tokens": 8})
            return
        reply = _reply_for(text)
        for piece in re.findall(r".{1,12}", reply, flags=re.S):
            yield ProviderEvent("text", text=piece)
        yield ProviderEvent(
            "usage", usage={"prompt_tokens": prompt_tokens, "completion_tokens": estimate_tokens(reply)}
        )
