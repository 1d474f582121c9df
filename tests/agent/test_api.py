"""Conversations, chat (JSON), history through the outbox, memory, allowance and credits, ownership."""

import pytest

from agent.models import Message, TimelineEntry
from tests.agent.conftest import parse_sse, read_stream, relay

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "/api/v1/agent/"


def test_conversation_crud_and_other_users_get_404(auth_api, make_user, client_for):
    created = auth_api.post(BASE + "conversations/", {"title": "Finals"}, format="json")
    assert created.status_code == 201, created.content
    cid = created.json()["id"]
    assert set(created.json()) == {"id", "title", "archived", "created_at", "updated_at", "last_message_at"}
    assert auth_api.patch(f"{BASE}conversations/{cid}/", {"title": "Exams"}, format="json").json()["title"] == "Exams"
    assert auth_api.get(BASE + "conversations/").json()["count"] == 1
    bob = client_for(make_user("bob"))
    for path in ("", "messages/", "timeline/", "context-stats/", "schedule-preview/"):
        assert bob.get(f"{BASE}conversations/{cid}/{path}").status_code == 404
    other = bob.post(f"{BASE}conversations/{cid}/chat/", {"message": "hi"}, format="json")
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    assert auth_api.delete(f"{BASE}conversations/{cid}/").status_code == 204


def test_chat_creates_a_conversation_and_a_task_from_a_chinese_note(auth_api, user):
    user.timezone = "Asia/Shanghai"
    user.save()
    response = auth_api.post(BASE + "chat/", {"message": "明天下午三点前交数学作业"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["intent"] == "quick_note"
    assert response["X-Conversation-ID"] == str(body["conversation_id"])
    action = body["actions"][0]
    assert action["type"] == "task_created"
    assert action["task"]["deadline_at"].endswith("15:00:00+08:00")
    assert "数学作业" in action["task"]["title"]
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens"}
    from scheduling.models import Task

    assert Task.objects.filter(user=user, title=action["task"]["title"]).count() == 1


def test_an_unresolvable_time_asks_and_writes_nothing(auth_api, user):
    from scheduling.models import Task

    body = auth_api.post(BASE + "chat/", {"message": "改天提醒我把读书笔记整理一下"}, format="json").json()
    assert body["intent"] == "quick_note" and body["actions"][0]["type"] == "ask"
    assert Task.objects.filter(user=user).count() == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [({"message": ""}, "json"), ({"message": "x" * 4001}, "json"), ({}, "json"), ("{not json", "raw")],
)
def test_bad_chat_input_is_a_json_400_even_when_a_stream_was_asked_for(auth_api, body, content_type):
    kwargs = {"format": "json"} if content_type == "json" else {"content_type": "application/json"}
    response = auth_api.post(BASE + "chat/", body, HTTP_ACCEPT="text/event-stream", **kwargs)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "validation_error"


def test_4000_characters_is_accepted(auth_api):
    assert auth_api.post(BASE + "chat/", {"message": "好" * 4000}, format="json").status_code == 200


def test_unknown_conversation_is_404_before_any_stream(auth_api):
    response = auth_api.post(
        BASE + "conversations/999999/chat/", {"message": "hi"}, HTTP_ACCEPT="text/event-stream", format="json"
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_history_goes_through_the_outbox_and_is_stored_exactly_once_under_redelivery(auth_api):
    from outbox.models import OutboxEvent

    body = auth_api.post(BASE + "chat/", {"message": "hello"}, format="json").json()
    cid = body["conversation_id"]
    # the user message is there at once; the assistant's waits for the consumer
    assert list(Message.objects.filter(conversation_id=cid).values_list("seq", "role")) == [(1, "user")]
    relay()
    assert list(Message.objects.filter(conversation_id=cid).values_list("seq", "role")) == [
        (1, "user"),
        (2, "assistant"),
    ]
    # redeliver every agent event: nothing is stored twice
    event = OutboxEvent.objects.get(biz_type="agent.chat.message", message_key=f"conversation:{cid}")
    from agent.handlers import store_history
    from outbox.registry import Envelope

    store_history(Envelope(str(event.id), event.biz_type, event.created_at, event.payload["data"]))
    OutboxEvent.objects.filter(pk=event.pk).update(status="pending", next_retry_at=event.created_at)
    relay()
    assert Message.objects.filter(conversation_id=cid).count() == 2
    seqs = list(TimelineEntry.objects.filter(conversation_id=cid).values_list("seq", flat=True))
    assert seqs == sorted(set(seqs))
    messages = auth_api.get(f"{BASE}conversations/{cid}/messages/").json()
    assert messages["count"] == 2 and [m["role"] for m in messages["results"]] == ["user", "assistant"]
    timeline = auth_api.get(f"{BASE}conversations/{cid}/timeline/").json()["results"]
    assert [t["kind"] for t in timeline] == ["message", "message"]


def test_a_second_turn_gets_the_next_seqs(auth_api):
    cid = auth_api.post(BASE + "chat/", {"message": "hello"}, format="json").json()["conversation_id"]
    auth_api.post(f"{BASE}conversations/{cid}/chat/", {"message": "明天交报告"}, format="json")
    relay()
    assert list(Message.objects.filter(conversation_id=cid).values_list("seq", "role")) == [
        (1, "user"),
        (2, "assistant"),
        (3, "user"),
        (4, "assistant"),
    ]
    kinds = [t["kind"] for t in auth_api.get(f"{BASE}conversations/{cid}/timeline/").json()["results"]]
    assert kinds == ["message", "message", "message", "tool_call", "task_created", "message"]
    stats = auth_api.get(f"{BASE}conversations/{cid}/context-stats/").json()
    assert stats["messages"] == 4 and stats["budget"] > 0
    assert (
        stats["tokens"]["total"] == stats["tokens"]["system"] + stats["tokens"]["history"] + stats["tokens"]["memory"]
    )


def test_context_is_trimmed_oldest_first_to_the_budget(auth_api, settings):
    cid = auth_api.post(BASE + "conversations/", {}, format="json").json()["id"]
    for i in range(6):
        auth_api.post(
            f"{BASE}conversations/{cid}/chat/", {"message": f"message number {i} " + "x" * 200}, format="json"
        )
    relay()
    full = auth_api.get(f"{BASE}conversations/{cid}/context-stats/").json()
    settings.AGENT_CONTEXT_TOKEN_BUDGET = full["tokens"]["system"] + 200
    trimmed = auth_api.get(f"{BASE}conversations/{cid}/context-stats/").json()
    assert trimmed["messages"] < full["messages"] and trimmed["tokens"]["total"] <= trimmed["budget"]


def test_allowance_and_credits_used_up_refuses_with_402_before_any_model_call_or_stream(llm, auth_api, user, settings):
    from accounts.quota import quota_charge

    quota_charge(user=user, request_id="used-up", tokens=settings.LLM_TOKEN_QUOTA)
    for accept in ("application/json", "text/event-stream"):
        response = auth_api.post(BASE + "chat/", {"message": "hello"}, format="json", HTTP_ACCEPT=accept)
        assert response.status_code == 402
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"]["code"] == "insufficient_credits"
        assert "resets_at" in response.json()["error"]["details"]
    assert Message.objects.count() == 0
    assert llm.log == []
    # The offline model is free: it is never refused and spends nothing.
    offline = auth_api.post(BASE + "chat/", {"message": "hello", "model": "offline"}, format="json")
    assert offline.status_code == 200, offline.content


def test_each_turn_is_charged_once_under_its_request_id(llm, auth_api, user):
    from accounts.models import TokenCharge
    from tests.agent import fake_llm

    llm.expect_request(fake_llm.PATH).respond_with_handler(lambda _: fake_llm.sse_response(fake_llm.text_chunks("ok")))
    auth_api.post(BASE + "chat/", {"message": "hello"}, format="json")
    auth_api.post(BASE + "chat/", {"message": "明天交报告"}, format="json")
    charges = list(TokenCharge.objects.filter(user=user))
    assert len(charges) == 2 and all(c.tokens == 18 for c in charges)  # the fake's reported 11 + 7
    assert {c.request_id for c in charges} == set(
        Message.objects.filter(role="user").values_list("request_id", flat=True)
    )


def test_sse_framing_through_the_test_client(auth_api):
    response = auth_api.post(BASE + "chat/", {"message": "hello there"}, format="json", HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    raw = read_stream(response)
    events = parse_sse(raw)
    assert events.count("[DONE]") == 1 and events[-1] == "[DONE]"
    chunks = [e for e in events if isinstance(e, dict)]
    assert all(c["object"] == "chat.completion.chunk" and c["choices"][0]["index"] == 0 for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[0]["extra"]["kind"] == "intent"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "SmartMate" in text
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_task_query_answers_from_the_database(auth_api, user):
    from datetime import timedelta

    from django.utils import timezone

    from scheduling.services.tasks import task_create

    task_create(user=user, title="数据库作业", deadline_at=timezone.now() + timedelta(days=2))
    task_create(user=user, title="far away", deadline_at=timezone.now() + timedelta(days=40))
    body = auth_api.post(
        BASE + "chat/", {"message": "what is due in the next days? show my tasks"}, format="json"
    ).json()
    assert body["intent"] == "task_query"
    titles = [t["title"] for t in body["actions"][0]["tasks"]]
    assert titles == ["数据库作业"]


def test_a_started_turn_holds_its_tokens_so_a_concurrent_one_cannot_spend_them(llm, user, settings):
    from asgiref.sync import async_to_sync

    from accounts.credits.services import InsufficientCredits
    from accounts.quota import quota_status
    from agent import chat, services
    from agent.providers import get_provider
    from agent.sse import event_stream
    from tests.agent import fake_llm

    llm.expect_request(fake_llm.PATH).respond_with_response(fake_llm.sse_response(fake_llm.text_chunks("hi")))
    first = chat.turn_start(user=user, conversation=services.conversation_create(user=user), text="hello")
    settings.LLM_TOKEN_QUOTA = quota_status(user=user).used + 10  # nothing left beyond the hold
    with pytest.raises(InsufficientCredits):
        chat.turn_start(user=user, conversation=services.conversation_create(user=user), text="hello")

    async def collect():
        return "".join([part async for part in event_stream(first, get_provider(first.model), ping_seconds=5)])

    events = parse_sse(async_to_sync(collect)())
    assert not [e for e in events if isinstance(e, dict) and e["extra"]["kind"] == "error"]
    assert events.count("[DONE]") == 1 and events[-1] == "[DONE]"
    used = sum(first.tokens_used().values())
    assert quota_status(user=user).used == used  # the hold was settled at what the turn used


@pytest.mark.postgres
def test_concurrent_turns_on_one_conversation_get_distinct_seqs(user):
    import threading

    from django.db import connection

    from agent import services

    conversation = services.conversation_create(user=user)
    errors = []

    def store(i):
        try:
            services.user_message_store(conversation=conversation, content=f"m{i}", request_id=f"r{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=store, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(Message.objects.filter(conversation=conversation).values_list("seq", flat=True)) == list(range(1, 9))
    assert sorted(TimelineEntry.objects.filter(conversation=conversation).values_list("seq", flat=True)) == list(
        range(1, 9)
    )


def test_a_plan_includes_task_class_items(auth_api, user):
    from scheduling.services.tasks import task_class_create, task_class_item_create

    task_class = task_class_create(user=user, name="线性代数")
    item = task_class_item_create(user=user, task_class=task_class, title="第三章 习题", estimated_sections=2)
    body = auth_api.post(BASE + "chat/", {"message": "plan my week"}, format="json").json()
    assert body["intent"] == "schedule_plan"
    changes = body["actions"][0]["preview"]["changes"]
    assert [(c["kind"], c["task_item_id"]) for c in changes] == [("task_item", item.pk)]


def test_chat_is_rate_limited_per_user_with_a_json_429(auth_api, settings):
    settings.THROTTLE_CHAT_RATE = "2/min"
    cid = auth_api.post(BASE + "conversations/", {}, format="json").json()["id"]
    assert auth_api.post(BASE + "chat/", {"message": "hi"}, format="json").status_code == 200
    assert auth_api.post(f"{BASE}conversations/{cid}/chat/", {"message": "hi"}, format="json").status_code == 200
    third = auth_api.post(BASE + "chat/", {"message": "hi"}, format="json", HTTP_ACCEPT="text/event-stream")
    assert third.status_code == 429 and third.json()["error"]["code"] == "throttled"
    assert third["Content-Type"].startswith("application/json") and "Retry-After" in third
    # other agent endpoints are not limited by the chat rate
    assert auth_api.get(f"{BASE}conversations/{cid}/messages/").status_code == 200
