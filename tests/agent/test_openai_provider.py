# ruff: noqa: RUF001
"""The openai provider against a real local HTTP server speaking the streaming protocol."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from asgiref.sync import async_to_sync

from agent.providers import TOOLS, Hints, ProviderError
from agent.providers.openai import OpenAIProvider
from tests.agent import fake_llm
from tests.agent.conftest import parse_sse, read_stream, relay

HINTS = Hints(now=datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tz=ZoneInfo("Asia/Shanghai"))


def provider(httpserver, **kw):
    return OpenAIProvider(
        base_url=httpserver.url_for("/v1"), api_key="test-key", model="fake-model", timeout=5, backoff=0.01, **kw
    )


def run(p, messages=None):
    async def collect():
        return [
            e
            async for e in p.stream(messages=messages or [{"role": "user", "content": "hi"}], tools=TOOLS, hints=HINTS)
        ]

    return async_to_sync(collect)()


def test_streams_text_and_reports_usage(httpserver):
    httpserver.expect_request(fake_llm.PATH, method="POST").respond_with_response(
        fake_llm.sse_response(fake_llm.text_chunks("Hel", "lo"))
    )
    events = run(provider(httpserver))
    assert [e.text for e in events if e.kind == "text"] == ["Hel", "lo"]
    assert events[-1].kind == "usage" and events[-1].usage == {"prompt_tokens": 11, "completion_tokens": 7}
    request, _response = httpserver.log[0]
    body = request.get_json()
    assert body["stream"] is True and body["model"] == "fake-model"
    assert {t["function"]["name"] for t in body["tools"]} == {
        "quick_note",
        "task_query",
        "schedule_plan",
        "schedule_refine",
    }
    assert request.headers["Authorization"] == "Bearer test-key"


def test_assembles_a_tool_call_from_streamed_argument_fragments(httpserver):
    args = {"title": "交数学作业", "deadline": "2026-11-24T15:00:00+08:00", "priority": 2}
    httpserver.expect_request(fake_llm.PATH).respond_with_response(
        fake_llm.sse_response(fake_llm.tool_chunks("quick_note", args))
    )
    calls = [e.tool_call for e in run(provider(httpserver)) if e.kind == "tool_call"]
    assert len(calls) == 1 and calls[0].name == "quick_note" and calls[0].arguments == args and calls[0].id == "call_1"


def test_a_429_is_retried_with_backoff_then_succeeds(httpserver):
    import time

    limited = fake_llm.error_response(429)
    limited.headers["Retry-After"] = "0.3"
    httpserver.expect_ordered_request(fake_llm.PATH).respond_with_response(limited)
    httpserver.expect_ordered_request(fake_llm.PATH).respond_with_response(
        fake_llm.sse_response(fake_llm.text_chunks("ok"))
    )
    started = time.monotonic()
    events = run(provider(httpserver))
    assert time.monotonic() - started >= 0.3  # Retry-After honoured over the 0.01 s backoff
    assert [e.text for e in events if e.kind == "text"] == ["ok"]
    assert len(httpserver.log) == 2


def test_a_persistent_500_becomes_a_provider_error_after_the_retries(httpserver):
    httpserver.expect_request(fake_llm.PATH).respond_with_response(fake_llm.error_response(500))
    with pytest.raises(ProviderError) as info:
        run(provider(httpserver, max_retries=2))
    assert info.value.status == 500
    assert len(httpserver.log) == 3


def test_a_400_is_not_retried(httpserver):
    httpserver.expect_request(fake_llm.PATH).respond_with_response(fake_llm.error_response(400))
    with pytest.raises(ProviderError):
        run(provider(httpserver))
    assert len(httpserver.log) == 1


# --- through the API --------------------------------------------------------------------------

BASE = "/api/v1/agent/"


@pytest.mark.django_db(transaction=True)
def test_the_llm_tool_call_proposes_the_task_its_confirm_writes_it_and_usage_is_charged(llm, auth_api, user):
    from accounts.models import TokenCharge
    from scheduling.models import Task

    user.timezone = "Asia/Shanghai"
    user.save()
    args = {"title": "交数学作业", "priority": 2}
    llm.expect_request(fake_llm.PATH).respond_with_response(
        fake_llm.sse_response(fake_llm.tool_chunks("quick_note", args))
    )
    body = auth_api.post(BASE + "chat/", {"message": "明天下午三点前交数学作业，很重要"}, format="json").json()
    assert body["intent"] == "quick_note"
    assert not Task.objects.filter(user=user).exists()  # a model's write waits for the user
    pending = body["pending_action"]
    assert pending["kind"] == "create_task" and pending["reason"] == "model_tool_call"
    assert pending["payload"]["task"]["deadline_at"] is not None
    assert body["usage"] == {"prompt_tokens": 20, "completion_tokens": 9}
    assert TokenCharge.objects.get(user=user).tokens == 29
    assert auth_api.post(f"{BASE}actions/{pending['id']}/confirm/").status_code == 200
    task = Task.objects.get(user=user)
    assert task.title == "交数学作业" and task.priority == 2
    assert TokenCharge.objects.get(user=user).tokens == 29  # confirming runs no model
    relay()
    timeline = auth_api.get(f"{BASE}conversations/{body['conversation_id']}/timeline/").json()["results"]
    assert [t["kind"] for t in timeline] == ["message", "tool_call", "message", "task_created"]
    assert timeline[1]["data"]["pending_action_id"] == pending["id"]
    assert timeline[3]["data"]["id"] == task.pk  # the confirm joined the conversation's timeline


@pytest.mark.django_db(transaction=True)
def test_an_llm_500_is_a_502_upstream_error_in_json(llm, auth_api):
    llm.expect_request(fake_llm.PATH).respond_with_response(fake_llm.error_response(500))
    response = auth_api.post(BASE + "chat/", {"message": "hello"}, format="json")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_error"
    assert response.json()["error"]["details"]["status"] == 500


@pytest.mark.django_db(transaction=True)
def test_an_llm_500_mid_stream_is_an_error_chunk_then_one_done(llm, auth_api):
    llm.expect_request(fake_llm.PATH).respond_with_response(fake_llm.error_response(503))
    response = auth_api.post(BASE + "chat/", {"message": "hello"}, format="json", HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 200
    events = parse_sse(read_stream(response))
    errors = [e for e in events if isinstance(e, dict) and e["extra"]["kind"] == "error"]
    assert len(errors) == 1 and errors[0]["extra"]["code"] == "upstream_error"
    assert events.count("[DONE]") == 1 and events[-1] == "[DONE]"


@pytest.mark.django_db(transaction=True)
def test_an_llm_tool_call_streams_intent_action_and_text_chunks(llm, auth_api, user):
    from datetime import timedelta

    from django.utils import timezone

    args = {"title": "email Prof. Li", "deadline": (timezone.now() + timedelta(days=2)).isoformat()}
    llm.expect_request(fake_llm.PATH).respond_with_response(
        fake_llm.sse_response(fake_llm.tool_chunks("quick_note", args))
    )
    response = auth_api.post(
        BASE + "chat/", {"message": "remind me to email Prof. Li"}, format="json", HTTP_ACCEPT="text/event-stream"
    )
    events = parse_sse(read_stream(response))
    kinds = [e["extra"]["kind"] for e in events if isinstance(e, dict)]
    assert kinds[:3] == ["intent", "action", "text"]
    extra = next(e["extra"] for e in events if isinstance(e, dict) and e["extra"]["kind"] == "action")
    # the rules found no time in the sentence, so the model's resolved deadline is proposed
    assert extra["action"]["type"] == "pending_action"
    task = extra["pending_action"]["payload"]["task"]
    assert task["title"] == "email Prof. Li" and task["deadline_at"] is not None
    assert events.count("[DONE]") == 1


def test_a_model_that_does_not_answer_in_time_is_a_provider_error(httpserver):
    import time

    def too_slow(request):
        time.sleep(1.5)
        return fake_llm.sse_response(fake_llm.text_chunks("late"))

    httpserver.expect_request(fake_llm.PATH).respond_with_handler(too_slow)
    slow = OpenAIProvider(
        base_url=httpserver.url_for("/v1"), api_key="k", model="m", timeout=0.3, max_retries=1, backoff=0.01
    )
    with pytest.raises(ProviderError):
        run(slow)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("deadline", "question"),
    [
        ("2020-01-01T09:00:00+00:00", "already passed"),  # in the past
        ("2031-06-01T09:00:00+00:00", "more than a year"),  # years ahead; the sentence names no year
        ("next-ish Friday", "When is it due?"),  # not a time at all
    ],
)
def test_a_deadline_the_model_proposes_goes_through_the_same_checks_and_asks_instead(
    llm, auth_api, user, deadline, question
):
    from scheduling.models import Task

    llm.expect_request(fake_llm.PATH).respond_with_response(
        fake_llm.sse_response(fake_llm.tool_chunks("quick_note", {"title": "email Prof. Li", "deadline": deadline}))
    )
    body = auth_api.post(BASE + "chat/", {"message": "remind me to email Prof. Li"}, format="json").json()
    action = body["actions"][0]
    assert action["type"] == "ask" and question in body["reply"]
    assert Task.objects.filter(user=user).count() == 0
