"""The SSE writer on its own, with providers written for the test (no network)."""

import asyncio

import pytest
from asgiref.sync import async_to_sync

from agent import chat, services
from agent.providers import ProviderEvent
from agent.sse import event_stream
from tests.agent.conftest import parse_sse

pytestmark = pytest.mark.django_db(transaction=True)


class SlowProvider:
    name = "slow"
    model = "slow-model"

    async def stream(self, *, messages, tools, hints):
        await asyncio.sleep(0.35)
        yield ProviderEvent("text", text="late")
        yield ProviderEvent("usage", usage={"prompt_tokens": 3, "completion_tokens": 1})


class ExplodingProvider:
    name = "boom"
    model = "boom-model"

    async def stream(self, *, messages, tools, hints):
        yield ProviderEvent("text", text="part")
        raise RuntimeError("bug")


def run(user, provider, text="hello", ping=5.0):
    conversation = services.conversation_create(user=user)
    turn = chat.turn_start(user=user, conversation=conversation, text=text)

    async def collect():
        return "".join([part async for part in event_stream(turn, provider, ping_seconds=ping)])

    return parse_sse(async_to_sync(collect)())


def test_pings_come_while_the_model_is_silent_and_stop_when_it_speaks(user):
    events = run(user, SlowProvider(), ping=0.1)
    first_data = next(i for i, e in enumerate(events) if isinstance(e, dict))
    assert events[:first_data].count("ping") >= 2
    assert "ping" not in events[first_data:]
    assert events.count("[DONE]") == 1 and events[-1] == "[DONE]"


def test_an_unexpected_failure_is_an_error_chunk_then_one_done(user):
    events = run(user, ExplodingProvider())
    errors = [e for e in events if isinstance(e, dict) and e["extra"]["kind"] == "error"]
    assert len(errors) == 1 and errors[0]["extra"]["code"] == "server_error"
    assert events.count("[DONE]") == 1 and events[-1] == "[DONE]"
