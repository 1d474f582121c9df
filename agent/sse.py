"""The SSE writer: `retry: <ms>` first, then per event an `id: <turn>-<n>` line and a
`data: <chat.completion.chunk JSON>` line and a blank line, `: ping` while the model is silent,
exactly one `data: [DONE]` on every path.

A reconnecting client (EventSource reconnects after `retry` ms, and re-POSTs) must send the
same Idempotency-Key: it then gets `replay_stream` of the stored outcome, never a second run.

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
from django.conf import settings

from agent import chat
from agent.providers import Provider
from smartmate.errors import ApiError

DONE = "data: [DONE]\n\n"
PING = ": ping\n\n"


def retry_line() -> str:
    """How long a disconnected EventSource waits before it reconnects (and POSTs again)."""
    return f"retry: {settings.AGENT_SSE_RETRY_MS}\n\n"


def frame(payload: dict, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return head + "data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n\n"


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


async def event_stream(turn: chat.Turn, provider: Provider, *, ping_seconds: float, on_finished=None):
    """`on_finished(turn)` (sync) runs once the turn is finished, before the closing chunk: a
    client that sees [DONE] and POSTs again with its key finds the outcome stored."""
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
    seq = 0
    yield retry_line()
    try:
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=ping_seconds)
            except TimeoutError:
                yield PING
                continue
            if event is None:
                break
            seq += 1
            yield frame(chunk(turn, provider.model, event, first=first), f"{turn.request_id}-{seq}")
            first = False
        await sync_to_async(_finish)(turn, on_finished)
        usage = turn.tokens_used()
        final = chunk(
            turn, provider.model, {"kind": "error" if turn.error else "text", "text": "", "usage": usage}, first=first
        )
        final["choices"][0]["delta"].pop("content", None)
        final["choices"][0]["finish_reason"] = "error" if turn.error else "stop"
        final["extra"] = {"kind": "text", "intent": turn.intent, "usage": usage}
        yield frame(final, f"{turn.request_id}-{seq + 1}")
        yield DONE
    finally:
        if not task.done():
            task.cancel()  # the client went away: stop generation
            await asyncio.gather(task, return_exceptions=True)
        await asyncio.shield(sync_to_async(_finish)(turn, on_finished))


def _finish(turn: chat.Turn, on_finished) -> None:
    first_time = not turn.finished
    chat.turn_finish(turn)
    if first_time and on_finished is not None:
        on_finished(turn)


def _action_extra(action: dict) -> dict:
    """An action chunk's `extra`; a proposed write also carries `pending_action` (as live)."""
    extra = {"kind": "action", "action": action}
    if action.get("type") == "pending_action":
        extra["pending_action"] = action["pending_action"]
    return extra


async def replay_stream(outcome: dict, *, model: str, replay_id: str):
    """A stored outcome as a short stream: the intent, each action, the reply, the closing chunk
    and the one [DONE]. Its ids are the replay's own; nothing runs again."""
    base = {
        "id": f"chatcmpl-{replay_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "conversation_id": outcome.get("conversation_id"),
    }
    extras = [{"kind": "intent", "intent": outcome.get("intent", "chat")}]
    extras += [_action_extra(action) for action in outcome.get("actions", [])]
    yield retry_line()
    for seq, extra in enumerate(extras, start=1):
        delta = {"role": "assistant"} if seq == 1 else {}
        body = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}], "extra": extra}
        yield frame(body, f"{replay_id}-{seq}")
    seq = len(extras)
    text = {"index": 0, "delta": {"content": outcome.get("reply", "")}, "finish_reason": None}
    yield frame({**base, "choices": [text], "extra": {"kind": "text"}}, f"{replay_id}-{seq + 1}")
    closing = {"index": 0, "delta": {}, "finish_reason": "stop"}
    extra = {"kind": "text", "intent": outcome.get("intent", "chat"), "usage": outcome.get("usage", {})}
    yield frame({**base, "choices": [closing], "extra": extra}, f"{replay_id}-{seq + 2}")
    yield DONE
