"""The SSE writer (API.md): `data: <chat.completion.chunk JSON>` + blank line per event,
`: ping` while the model is silent, exactly one `data: [DONE]` on every path.

The model runs in its own task feeding a queue, so the writer can ping while it waits
(pings need the model read off the writing path). If the client goes away the ASGI
server cancels this generator: the model task is cancelled and only the tokens used
so far are charged.
"""

from __future__ import annotations

import asyncio
import json
import time

from asgiref.sync import sync_to_async

from agent import chat
from agent.providers import Provider
from smartmate.errors import ApiError

DONE = "data: [DONE]\n\n"
PING = ": ping\n\n"


def frame(payload: dict) -> str:
    return "data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n\n"


def chunk(turn: chat.Turn, model: str, event: dict, *, first: bool, finish: str | None = None) -> dict:
    delta: dict = {}
    if first:
        delta["role"] = "assistant"
    if event.get("kind") == "text":
        delta["content"] = event["text"]
    extra = {k: v for k, v in event.items() if k != "text"}
    return {
        "id": f"chatcmpl-{turn.request_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "conversation_id": turn.conversation.pk,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        "extra": extra,
    }


async def event_stream(turn: chat.Turn, provider: Provider, *, ping_seconds: float):
    queue: asyncio.Queue = asyncio.Queue()

    async def produce():
        try:
            async for event in chat.turn_events(turn, provider):
                await queue.put(event)
        except asyncio.CancelledError:
            raise
        except ApiError as exc:  # an action refused (validation, conflict...): its contract code
            turn.error = {"code": exc.error_code, "message": exc.message}
            await queue.put({"kind": "error", **turn.error})
        except Exception:  # never leave the client without an error chunk and [DONE]
            chat.logger.exception("agent turn failed")
            turn.error = {"code": "server_error", "message": "Internal server error."}
            await queue.put({"kind": "error", **turn.error})
        finally:
            queue.put_nowait(None)

    task = asyncio.create_task(produce())
    first = True
    try:
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=ping_seconds)
            except TimeoutError:
                yield PING
                continue
            if event is None:
                break
            yield frame(chunk(turn, provider.model, event, first=first))
            first = False
        usage = turn.tokens_used()
        final = chunk(
            turn, provider.model, {"kind": "error" if turn.error else "text", "text": "", "usage": usage}, first=first
        )
        final["choices"][0]["delta"].pop("content", None)
        final["choices"][0]["finish_reason"] = "error" if turn.error else "stop"
        final["extra"] = {"kind": "text", "intent": turn.intent, "usage": usage}
        yield frame(final)
        yield DONE
    finally:
        if not task.done():
            task.cancel()  # the client went away: stop generation
            await asyncio.gather(task, return_exceptions=True)
        await asyncio.shield(sync_to_async(chat.turn_finish)(turn))
