"""Model providers behind one small interface.

    provider = get_provider()
    async for event in provider.stream(messages=[...], tools=TOOLS, hints=Hints(now, tz)):
        event.kind in ("text", "tool_call", "usage")

`offline` (default, deterministic, no network, rule-based intents) and `openai` (any
OpenAI-compatible chat-completions endpoint, streaming, tool calling). Both reach the
same actions: a tool call named after the intent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

INTENT_TOOLS = ("quick_note", "task_query", "schedule_plan", "schedule_refine")

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "quick_note",
            "description": "Create a task from a note with a title, deadline and priority.",
            "parameters": {
                "type": "object",
                "properties": {
                    "title": {"type": "string"},
                    "deadline": {"type": "string", "description": "ISO 8601 with offset, or omitted"},
                    "priority": {"type": "integer", "enum": [1, 2, 3, 4]},
                },
                "required": ["title"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "task_query",
            "description": "List the user's open tasks due in a period (today, this week, next week...).",
            "parameters": {"type": "object", "properties": {"period": {"type": "string"}}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "schedule_plan",
            "description": "Draft a plan placing open tasks and study-plan items into free slots.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "schedule_refine",
            "description": "Change the current draft plan, e.g. move a block to another day or time.",
            "parameters": {
                "type": "object",
                "properties": {"instruction": {"type": "string"}},
                "required": ["instruction"],
            },
        },
    },
]


def validated_arguments(name: str, arguments) -> dict:
    """A tool call's arguments as its schema above declares them: a model may send a list, a
    string or wrong types (JSON that parses is not yet an object). Anything else is dropped, so a
    tool sees a dict of the declared properties with the declared types, never an AttributeError."""
    tool = next((t["function"] for t in TOOLS if t["function"]["name"] == name), None)
    if tool is None or not isinstance(arguments, dict):
        return {}
    clean = {}
    for prop, spec in tool["parameters"].get("properties", {}).items():
        value = arguments.get(prop)
        if spec["type"] == "string" and isinstance(value, str):
            clean[prop] = value[:1000]
        elif (
            spec["type"] == "integer"
            and isinstance(value, int)
            and not isinstance(value, bool)
            and value in spec.get("enum", [value])
        ):
            clean[prop] = value
    return clean


@dataclass
class Hints:
    now: datetime
    tz: ZoneInfo
    max_tokens: int | None = None  # the most the answer may cost: what the quota has left for it


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict


@dataclass
class ProviderEvent:
    kind: str  # "text" | "tool_call" | "usage"
    text: str = ""
    tool_call: ToolCall | None = None
    usage: dict = field(default_factory=dict)
    estimated: bool = False  # usage counted by us: the endpoint reported none


class ProviderError(Exception):
    """The model endpoint failed (after retries): maps to upstream_error."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class Provider(Protocol):
    name: str
    model: str

    def stream(self, *, messages: list[dict], tools: list[dict], hints: Hints) -> AsyncIterator[ProviderEvent]: ...


def get_provider(model: str | None = None) -> Provider:
    """The provider of `model` (an id of agent.providers.choices.model_choices; None: the default)."""
    from django.conf import settings

    from agent.providers.choices import OFFLINE, model_default

    model = model or model_default()
    if settings.AGENT_PROVIDER == "openai" and model != OFFLINE:
        from agent.providers.openai import OpenAIProvider

        return OpenAIProvider(
            base_url=settings.LLM_BASE_URL,
            api_key=settings.LLM_API_KEY or "none",
            model=model,
            timeout=settings.LLM_TIMEOUT_SECONDS,
            max_retries=settings.LLM_MAX_RETRIES,
            backoff=settings.LLM_BACKOFF_SECONDS,
        )
    from agent.providers.offline import OfflineProvider

    return OfflineProvider()
