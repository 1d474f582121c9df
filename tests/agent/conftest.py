import json
from datetime import timedelta

import pytest
from django.utils import timezone


@pytest.fixture(autouse=True)
def _offline_fast(settings):
    settings.AGENT_PROVIDER = "offline"
    settings.AGENT_SSE_PING_SECONDS = 5.0
    settings.LLM_BACKOFF_SECONDS = 0.01


@pytest.fixture
def llm(httpserver, settings):
    """The openai provider pointed at a real loopback chat-completions server (pytest-httpserver)."""
    settings.AGENT_PROVIDER = "openai"
    settings.LLM_BASE_URL = httpserver.url_for("/v1")
    settings.LLM_API_KEY = "test-key"
    settings.LLM_MODEL = "fake-model"
    settings.LLM_MAX_RETRIES = 1
    return httpserver


@pytest.fixture
def tasks(user):
    """Two open tasks due in six days, for the schedule-plan draft to place."""
    from scheduling.services.tasks import task_create

    soon = timezone.now() + timedelta(days=6)
    return [
        task_create(user=user, title="数学作业", deadline_at=soon, estimated_sections=2),
        task_create(user=user, title="英语阅读", deadline_at=soon, estimated_sections=1),
    ]


def parse_sse(raw: str) -> list:
    """Split an SSE body into events: dicts for data lines, "[DONE]", and "ping" comments."""
    events = []
    for block in raw.split("\n\n"):
        if not block.strip():
            continue
        for line in block.split("\n"):
            if line.startswith(": ping"):
                events.append("ping")
            elif line.startswith("data: "):
                body = line[len("data: ") :]
                events.append("[DONE]" if body == "[DONE]" else json.loads(body))
    return events


def relay():
    from django.core.management import call_command

    call_command("outbox_relay", "--once")


def read_stream(response) -> str:
    """Drain a StreamingHttpResponse whose content is an async iterator (as under ASGI)."""
    from asgiref.sync import async_to_sync

    async def collect():
        return [part async for part in response.streaming_content]

    return b"".join(p if isinstance(p, bytes) else p.encode() for p in async_to_sync(collect)()).decode()
