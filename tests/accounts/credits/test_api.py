"""`/api/v1/credits/` and the chat paths that spend credits, over a loopback OpenAI-compatible
endpoint (tests/agent/fake_llm.py), JSON and SSE."""

import pytest

from accounts.credits.models import CreditEntry, EntryKind, LlmCall
from accounts.credits.pricing import price_of
from accounts.credits.services import credit_entry_append
from accounts.quota import quota_charge
from tests.agent import fake_llm
from tests.agent.conftest import parse_sse, read_stream

pytestmark = pytest.mark.django_db

CREDITS = "/api/v1/credits/"
CHAT = "/api/v1/agent/chat/"


def error_code(response):
    return response.status_code, response.json()["error"]["code"]


# --- balance, ledger, prices --------------------------------------------------------------------


def test_balance_starts_at_zero_with_the_whole_allowance(auth_api, settings):
    body = auth_api.get(CREDITS + "balance/").json()
    assert body == {
        "balance": 0,
        "free_allowance": {"limit": settings.LLM_TOKEN_QUOTA, "used": 0, "resets_at": None},
        "updated_at": None,
    }


def test_balance_shows_the_ledger_and_the_allowance_used(auth_api, user, grant):
    grant(user, 12)
    quota_charge(user=user, request_id="x", tokens=300)
    body = auth_api.get(CREDITS + "balance/").json()
    assert body["balance"] == 12 and body["updated_at"]
    assert body["free_allowance"]["used"] == 300 and body["free_allowance"]["resets_at"]


def test_the_ledger_is_newest_first_filtered_by_kind_and_paginated(auth_api, user, grant):
    grant(user, 10, reason="welcome")
    for i in range(3):
        credit_entry_append(user_id=user.pk, kind=EntryKind.SPEND, amount=-1, ref=f"llm:{i}", reason=f"call {i}")
    body = auth_api.get(CREDITS + "ledger/").json()
    assert body["count"] == 4
    assert [e["ref"] for e in body["results"]] == ["llm:2", "llm:1", "llm:0", body["results"][3]["ref"]]
    assert set(body["results"][0]) == {"id", "kind", "amount", "balance_after", "reason", "ref", "created_at"}
    assert (body["results"][0]["amount"], body["results"][0]["balance_after"]) == (-1, 7)
    grants = auth_api.get(CREDITS + "ledger/?kind=grant").json()
    assert [(e["kind"], e["amount"], e["reason"]) for e in grants["results"]] == [("grant", 10, "welcome")]
    page = auth_api.get(CREDITS + "ledger/?page_size=2&page=2").json()
    assert [e["ref"] for e in page["results"]] == ["llm:0", body["results"][3]["ref"]]
    assert error_code(auth_api.get(CREDITS + "ledger/?kind=bonus")) == (400, "validation_error")


def test_prices_come_from_settings_with_offline_free_and_a_default(auth_api, prices):
    rows = auth_api.get(CREDITS + "prices/").json()
    assert rows == [
        {"model": "big-model", "prompt_per_1k": 50.0, "completion_per_1k": 100.0},
        {"model": "offline", "prompt_per_1k": 0.0, "completion_per_1k": 0.0},
        {"model": "default", "prompt_per_1k": 10.0, "completion_per_1k": 30.0},
    ]


@pytest.mark.parametrize("path", ["balance/", "ledger/", "usage/", "prices/"])
def test_credits_need_a_login(api_client, path):
    assert error_code(api_client.get(CREDITS + path)) == (401, "not_authenticated")


# --- model choice -------------------------------------------------------------------------------


def test_models_list_offline_alone_without_a_model_endpoint(auth_api):
    assert auth_api.get("/api/v1/agent/models/").json() == [
        {
            "id": "offline",
            "label": "SmartMate offline (rules, free)",
            "prompt_per_1k": 0.0,
            "completion_per_1k": 0.0,
            "default": True,
        }
    ]


def test_models_come_from_llm_models_with_their_prices_and_one_default(llm, auth_api, settings, prices):
    settings.LLM_MODELS = [
        {"id": "fake-model", "label": "Fake", "default": False},
        {"id": "big-model", "label": "Big", "default": True},
    ]
    rows = auth_api.get("/api/v1/agent/models/").json()
    assert [(r["id"], r["label"], r["default"]) for r in rows] == [
        ("fake-model", "Fake", False),
        ("big-model", "Big", True),
        ("offline", "SmartMate offline (rules, free)", False),
    ]
    assert (rows[1]["prompt_per_1k"], rows[1]["completion_per_1k"]) == (50.0, 100.0)
    assert (rows[0]["prompt_per_1k"], rows[0]["completion_per_1k"]) == (10.0, 30.0)  # the default price


def test_an_unknown_model_is_a_400_and_nothing_is_stored_or_called(llm, auth_api):
    response = auth_api.post(CHAT, {"message": "hello", "model": "gpt-17"}, format="json")
    assert error_code(response) == (400, "validation_error")
    assert "model" in response.json()["error"]["fields"]
    assert llm.log == [] and not LlmCall.objects.exists()
    from agent.models import Conversation

    assert not Conversation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_chosen_model_is_sent_to_the_endpoint_and_priced_as_that_model(
    llm, auth_api, user, settings, prices, grant
):
    settings.LLM_MODELS = [
        {"id": "fake-model", "label": "Fake", "default": True},
        {"id": "big-model", "label": "Big", "default": False},
    ]
    settings.LLM_TOKEN_QUOTA = 0
    grant(user, 1000)
    llm.expect_request(fake_llm.PATH).respond_with_handler(
        lambda _: fake_llm.sse_response(fake_llm.text_chunks("hi", usage=(1200, 300)))
    )
    assert auth_api.post(CHAT, {"message": "hello", "model": "big-model"}, format="json").status_code == 200
    assert auth_api.post(CHAT, {"message": "hello"}, format="json").status_code == 200
    assert [request.get_json()["model"] for request, _ in llm.log] == ["big-model", "fake-model"]
    amounts = list(CreditEntry.objects.filter(kind="spend").order_by("id").values_list("amount", flat=True))
    assert amounts == [-90, -21]  # big: 1.2 * 50 + 0.3 * 100; default: 1.2 * 10 + 0.3 * 30


# --- chat spends credits, by the price rule -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_sse_chat_reporting_usage_spends_what_the_price_rule_says(llm, auth_api, user, settings, prices, grant):
    settings.LLM_TOKEN_QUOTA = 0  # the allowance is used up
    grant(user, 100)
    llm.expect_request(fake_llm.PATH).respond_with_response(
        fake_llm.sse_response(fake_llm.text_chunks("four", " words", usage=(1200, 300)))
    )
    response = auth_api.post(CHAT, {"message": "hello"}, format="json", HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 200
    events = parse_sse(read_stream(response))
    assert events[-1] == "[DONE]" and not [e for e in events if isinstance(e, dict) and e["extra"]["kind"] == "error"]
    (spend,) = CreditEntry.objects.filter(kind="spend")
    assert spend.amount == -price_of("fake-model").cost(prompt_tokens=1200, completion_tokens=300) == -21
    assert spend.balance_after == 79
    assert spend.reason == "fake-model: 1200 prompt + 300 completion tokens beyond the free allowance"
    call = LlmCall.objects.get(user=user)
    assert (call.model, call.prompt_tokens, call.completion_tokens, call.credits, call.estimated) == (
        "fake-model",
        1200,
        300,
        21,
        False,
    )
    assert llm.log[0][0].get_json()["max_tokens"] == settings.LLM_MAX_COMPLETION_TOKENS  # not cut: on credits


@pytest.mark.django_db(transaction=True)
def test_an_sse_chat_without_reported_usage_is_estimated_and_says_so(llm, auth_api, user, settings, prices, grant):
    settings.LLM_TOKEN_QUOTA = 0
    grant(user, 100)
    chunks = fake_llm.text_chunks("an answer without a usage chunk")[:-1]
    llm.expect_request(fake_llm.PATH).respond_with_response(fake_llm.sse_response(chunks))
    response = auth_api.post(CHAT, {"message": "hello"}, format="json", HTTP_ACCEPT="text/event-stream")
    assert parse_sse(read_stream(response))[-1] == "[DONE]"
    call = LlmCall.objects.get(user=user)
    assert call.estimated and call.prompt_tokens > 0 and call.completion_tokens > 0
    (spend,) = CreditEntry.objects.filter(kind="spend")
    expected = price_of("fake-model").cost(prompt_tokens=call.prompt_tokens, completion_tokens=call.completion_tokens)
    assert spend.amount == -expected == -call.credits
    assert spend.reason.endswith("; estimated, the model reported no usage")


@pytest.mark.django_db(transaction=True)
def test_with_the_allowance_and_credits_gone_chat_is_a_402_before_any_byte(llm, auth_api, user, settings, prices):
    settings.LLM_TOKEN_QUOTA = 0
    credit_entry_append(user_id=user.pk, kind=EntryKind.GRANT, amount=-5, ref="debt", reason="taken back")
    for accept in ("application/json", "text/event-stream"):
        response = auth_api.post(CHAT, {"message": "hello"}, format="json", HTTP_ACCEPT=accept)
        assert error_code(response) == (402, "insufficient_credits")
        assert response.json()["error"]["details"]["balance"] == -5
    assert llm.log == [] and not LlmCall.objects.exists()


# --- usage ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_usage_counts_every_call_by_model_offline_included(llm, auth_api, user, settings, prices, grant):
    from datetime import timedelta

    settings.LLM_TOKEN_QUOTA = 0
    grant(user, 100)
    llm.expect_request(fake_llm.PATH).respond_with_handler(
        lambda _: fake_llm.sse_response(fake_llm.text_chunks("hi", usage=(1000, 100)))
    )
    for model in ("fake-model", "fake-model", "offline"):
        assert auth_api.post(CHAT, {"message": "hello", "model": model}, format="json").status_code == 200
    body = auth_api.get(CREDITS + "usage/").json()
    offline = LlmCall.objects.get(model="offline")
    assert body["range"] == "7d" and body["calls"] == 3
    assert body["credits_spent"] == 2 * 13 and body["prompt_tokens"] == 2000 + offline.prompt_tokens
    assert body["by_model"] == [
        {"model": "fake-model", "calls": 2, "prompt_tokens": 2000, "completion_tokens": 200, "credits_spent": 26},
        {
            "model": "offline",
            "calls": 1,
            "prompt_tokens": offline.prompt_tokens,
            "completion_tokens": offline.completion_tokens,
            "credits_spent": 0,
        },
    ]
    LlmCall.objects.filter(model="offline").update(created_at=offline.created_at - timedelta(days=2))
    assert auth_api.get(CREDITS + "usage/?range=24h").json()["calls"] == 2
    assert auth_api.get(CREDITS + "usage/?range=all").json()["calls"] == 3
    assert error_code(auth_api.get(CREDITS + "usage/?range=1y")) == (400, "validation_error")
