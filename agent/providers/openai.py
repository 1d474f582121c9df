"""Any OpenAI-compatible chat-completions endpoint, streamed, with tool calling.

Retries on 429 / 5xx / connection errors with exponential backoff, only before the
first chunk has been passed on (a half-sent answer is never replayed); every other
failure, and the last one, is a ProviderError (→ upstream_error).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import openai

from agent.context import estimate_tokens
from agent.providers import Hints, ProviderError, ProviderEvent, ToolCall, validated_arguments

logger = logging.getLogger("smartmate.agent")
RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 10.0  # seconds; a longer Retry-After is cut to this (the user is waiting)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


class OpenAIProvider:
    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
    ):
        self.model = model
        self.max_retries = max_retries
        self.backoff = backoff
        # The SDK's own retries are off: ours are counted and never replay a started stream.
        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)

    async def _open(self, **kwargs):
        attempt = 0
        while True:
            retry_after = None
            try:
                return await self.client.chat.completions.create(**kwargs)
            except openai.APIStatusError as exc:
                if exc.status_code not in RETRY_STATUSES or attempt >= self.max_retries:
                    raise ProviderError(f"model endpoint answered {exc.status_code}", status=exc.status_code) from exc
                retry_after = _retry_after(exc.response.headers.get("retry-after"))
            except (openai.APIConnectionError, openai.APITimeoutError) as exc:
                if attempt >= self.max_retries:
                    raise ProviderError(f"model endpoint unreachable: {type(exc).__name__}") from exc
            attempt += 1
            delay = self.backoff * 2 ** (attempt - 1)
            if retry_after is not None:  # the endpoint said when; honour it within reason
                delay = min(max(delay, retry_after), MAX_RETRY_AFTER)
            logger.info("LLM call failed, retry %d in %.2fs", attempt, delay)
            await asyncio.sleep(delay)

    async def stream(self, *, messages: list[dict], tools: list[dict], hints: Hints) -> AsyncIterator[ProviderEvent]:
        stream = await self._open(
            model=self.model,
            messages=messages,
            tools=tools or openai.omit,
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=hints.max_tokens or openai.omit,
        )
        calls: dict[int, dict] = {}
        usage = None
        completion_text = []
        try:
            async for chunk in stream:
                if getattr(chunk, "usage", None):
                    usage = {
                        "prompt_tokens": chunk.usage.prompt_tokens,
                        "completion_tokens": chunk.usage.completion_tokens,
                    }
                for choice in chunk.choices or []:
                    delta = choice.delta
                    if delta is None:
                        continue
                    if delta.content:
                        completion_text.append(delta.content)
                        yield ProviderEvent("text", text=delta.content)
                    for tc in delta.tool_calls or []:
                        slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                        if tc.id:
                            slot["id"] = tc.id
                        if tc.function is not None:
                            slot["name"] += tc.function.name or ""
                            slot["arguments"] += tc.function.arguments or ""
        except openai.APIError as exc:
            raise ProviderError(f"model stream failed: {type(exc).__name__}") from exc
        finally:
            await stream.close()
        for index in sorted(calls):
            slot = calls[index]
            try:
                arguments = json.loads(slot["arguments"] or "{}")
            except (json.JSONDecodeError, RecursionError):
                arguments = {}
            arguments = validated_arguments(slot["name"], arguments)  # a list or a string is no object
            yield ProviderEvent(
                "tool_call",
                tool_call=ToolCall(id=slot["id"] or f"call_{index}", name=slot["name"], arguments=arguments),
            )
        estimated = usage is None
        if estimated:  # endpoint without include_usage: estimate
            usage = {
                "prompt_tokens": sum(4 + estimate_tokens(m.get("content") or "") for m in messages),
                "completion_tokens": estimate_tokens("".join(completion_text)),
            }
        yield ProviderEvent("usage", usage=usage, estimated=estimated)
