"""Chat honours Idempotency-Key for its effects: a repeat with the same key and body replays the
stored outcome (JSON, or a short stream ending with one [DONE]) and never runs the intents
again. The reconnect test drives the live ASGI server with a standard SSE client (httpx-sse)
that behaves like EventSource: it does not stop at [DONE], waits `retry` ms, and POSTs again."""

import json
import time
import uuid

import httpx
import pytest
from httpx_sse import connect_sse

from agent.models import Conversation
from scheduling.models import Task
from tests.agent.conftest import parse_sse, read_stream
from tests.conftest import serve_asgi

NOTE = "明天下午三点前交数学作业"


def reconnecting_event_source(url, *, body, headers, opens):
    """Open the stream `opens` times like a browser EventSource that never closes on [DONE]."""
    sessions = []
    last_id = None
    for _ in range(opens):
        sent = dict(headers)
        if last_id:
            sent["Last-Event-ID"] = last_id
        with httpx.Client(timeout=20) as client, connect_sse(client, "POST", url, json=body, headers=sent) as source:
            session = {"status": source.response.status_code, "headers": source.response.headers, "events": []}
            retry_ms = None
            for event in source.iter_sse():
                if event.retry is not None:
                    retry_ms = event.retry
                if event.data:
                    session["events"].append(event)
                    last_id = event.id or last_id
            session["retry"] = retry_ms
        sessions.append(session)
        time.sleep((retry_ms or 0) / 1000)
    return sessions


@pytest.mark.django_db(transaction=True)
def test_a_reconnecting_sse_client_with_a_key_makes_one_conversation_and_one_task(user, settings):
    from accounts.services import session_start

    settings.AGENT_SSE_RETRY_MS = 50
    headers = {
        "Authorization": "Bearer " + session_start(user=user)["access"],
        "Accept": "text/event-stream",
        "Idempotency-Key": str(uuid.uuid4()),
    }
    with serve_asgi() as port:
        sessions = reconnecting_event_source(
            f"http://127.0.0.1:{port}/api/v1/agent/chat/", body={"message": NOTE}, headers=headers, opens=3
        )
    assert Conversation.objects.filter(user=user).count() == 1
    assert Task.objects.filter(user=user).count() == 1
    conversation = Conversation.objects.get(user=user)
    for number, session in enumerate(sessions):
        assert session["status"] == 200
        assert session["retry"] == 50, "the stream starts with retry:"
        datas = [e.data for e in session["events"]]
        assert datas.count("[DONE]") == 1 and datas[-1] == "[DONE]"
        chunks = [json.loads(d) for d in datas[:-1]]
        assert all(e.id for e in session["events"]), "every event carries an id"
        assert {c["conversation_id"] for c in chunks} == {conversation.pk}
        assert session["headers"]["x-conversation-id"] == str(conversation.pk)
        actions = [c["extra"]["action"] for c in chunks if c["extra"]["kind"] == "action"]
        assert [a["type"] for a in actions] == ["task_created"]
        assert (session["headers"].get("idempotent-replayed") == "true") == (number > 0)
    first_reply = "".join(c["choices"][0]["delta"].get("content", "") for c in map(json.loads, datas[:-1]))
    assert first_reply, "the replay carries the stored reply"


@pytest.mark.django_db
def test_a_json_repeat_with_the_same_key_replays_the_answer_and_runs_nothing(auth_api, user):
    key = {"HTTP_IDEMPOTENCY_KEY": "note-1"}
    first = auth_api.post("/api/v1/agent/chat/", {"message": NOTE}, format="json", **key)
    again = auth_api.post("/api/v1/agent/chat/", {"message": NOTE}, format="json", **key)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert again["X-Conversation-ID"] == first["X-Conversation-ID"]
    assert Task.objects.filter(user=user).count() == 1
    assert Conversation.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_a_stream_repeat_of_a_json_turn_replays_it_as_a_short_stream(auth_api, user):
    key = {"HTTP_IDEMPOTENCY_KEY": "note-2"}
    conversation = auth_api.post("/api/v1/agent/conversations/", {}, format="json").json()["id"]
    url = f"/api/v1/agent/conversations/{conversation}/chat/"
    first = auth_api.post(url, {"message": NOTE}, format="json", **key).json()
    replay = auth_api.post(url, {"message": NOTE}, format="json", HTTP_ACCEPT="text/event-stream", **key)
    assert replay["Content-Type"].startswith("text/event-stream")
    raw = read_stream(replay)
    assert raw.startswith("retry: ")
    events = parse_sse(raw)
    assert events.count("[DONE]") == 1 and events[-1] == "[DONE]"
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events if isinstance(e, dict))
    assert text == first["reply"]
    assert Task.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_message_is_a_422(auth_api):
    key = {"HTTP_IDEMPOTENCY_KEY": "note-3"}
    assert auth_api.post("/api/v1/agent/chat/", {"message": NOTE}, format="json", **key).status_code == 200
    other = auth_api.post("/api/v1/agent/chat/", {"message": "hello"}, format="json", **key)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"


@pytest.mark.django_db
def test_a_refused_turn_frees_its_key_for_a_retry(llm, auth_api, user, settings):
    from accounts.quota import quota_charge
    from tests.agent import fake_llm

    llm.expect_request(fake_llm.PATH).respond_with_handler(
        lambda _: fake_llm.sse_response(fake_llm.tool_chunks("quick_note", {"title": "call mom"}))
    )
    settings.LLM_TOKEN_QUOTA = 10
    quota_charge(user=user, request_id="earlier", tokens=10)
    key = {"HTTP_IDEMPOTENCY_KEY": "note-4"}
    refused = auth_api.post("/api/v1/agent/chat/", {"message": NOTE}, format="json", **key)
    assert refused.status_code == 402  # the allowance is used up and there are no credits
    assert Conversation.objects.filter(user=user).count() == 0
    settings.LLM_TOKEN_QUOTA = 100_000
    retried = auth_api.post("/api/v1/agent/chat/", {"message": NOTE}, format="json", **key)
    assert retried.status_code == 200 and "Idempotent-Replayed" not in retried
    # the model's tool call ran this time: its task waits for a confirm (docs/DOMAIN.md §8)
    assert retried.json()["pending_action"]["payload"]["task"]["title"] == "call mom"
    assert Task.objects.filter(user=user).count() == 0


@pytest.mark.django_db
def test_format_sse_in_the_query_streams_like_the_accept_header(auth_api):
    response = auth_api.post("/api/v1/agent/chat/?format=sse", {"message": NOTE}, format="json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    events = parse_sse(read_stream(response))
    assert events[-1] == "[DONE]" and any(isinstance(e, dict) for e in events)
