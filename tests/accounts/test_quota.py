from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.credits.models import LlmCall
from accounts.credits.services import InsufficientCredits, llm_call_reserve, llm_call_settle
from accounts.models import TokenCharge, TokenQuota
from accounts.quota import quota_charge, quota_status
from tests.concurrency import errors_of, run_concurrently


@pytest.mark.django_db
def test_a_charge_is_recorded_once_per_request_id(user):
    quota_charge(user=user, request_id="req-1", tokens=120)
    quota_charge(user=user, request_id="req-1", tokens=120)
    quota_charge(user=user, request_id="req-2", tokens=30)
    assert quota_status(user=user).used == 150
    assert TokenCharge.objects.filter(user=user).count() == 2


@pytest.mark.django_db
def test_a_call_is_refused_once_used_reaches_the_limit_and_no_credits_are_left(user, settings):
    settings.LLM_TOKEN_QUOTA = 1000
    quota_charge(user=user, request_id="a", tokens=900)
    llm_call_reserve(user=user, request_id="fits", model="m", prompt_tokens=50)  # 50 answer tokens left
    with pytest.raises(InsufficientCredits) as exc:
        llm_call_reserve(user=user, request_id="refused", model="m", prompt_tokens=1)
    assert exc.value.status_code == 402
    assert exc.value.error_code == "insufficient_credits"
    assert exc.value.details["resets_at"] == quota_status(user=user).resets_at.isoformat()


@pytest.mark.django_db
def test_the_window_resets_lazily_at_the_first_charge_after_it_ended(user, settings):
    settings.LLM_TOKEN_QUOTA = 100
    start = timezone.now() - timedelta(days=8)
    quota_charge(user=user, request_id="old", tokens=100, now=start)
    assert quota_status(user=user).used == 0  # the old window is over
    quota_charge(user=user, request_id="new", tokens=5)
    status = quota_status(user=user)
    assert status.used == 5
    assert status.window_started_at > start + timedelta(days=7)
    assert status.resets_at == status.window_started_at + timedelta(days=7)


@pytest.mark.django_db
def test_quota_endpoint_reports_limit_used_remaining_and_reset(auth_api, user):
    quota_charge(user=user, request_id="x", tokens=1234)
    body = auth_api.get("/api/v1/me/quota/").json()
    assert body["limit"] == 100_000
    assert body["used"] == 1234
    assert body["remaining"] == 100_000 - 1234
    assert body["window_started_at"] and body["resets_at"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_hundred_concurrent_charges_of_one_request_id_make_one_ledger_row(user):
    errors = errors_of(
        run_concurrently(
            100, lambda i: quota_charge(user=user, request_id="same", tokens=50), close_caller_connection=True
        )
    )
    assert errors == []
    assert TokenCharge.objects.filter(user=user).count() == 1
    assert TokenQuota.objects.get(user=user).used == 50


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_distinct_charges_add_up_exactly(user):
    errors = errors_of(
        run_concurrently(
            100, lambda i: quota_charge(user=user, request_id=f"r{i}", tokens=7), close_caller_connection=True
        )
    )
    assert errors == []
    assert TokenQuota.objects.get(user=user).used == 700
    assert sum(TokenCharge.objects.filter(user=user).values_list("tokens", flat=True)) == 700


# --- hold before the call, settle after ---------------------------------------------------


@pytest.mark.django_db
def test_a_hold_caps_the_answer_at_what_is_left_and_settles_at_the_reported_usage(user, settings):
    settings.LLM_TOKEN_QUOTA, settings.LLM_MAX_COMPLETION_TOKENS = 1000, 500
    quota_charge(user=user, request_id="earlier", tokens=600)
    held = llm_call_reserve(user=user, request_id="turn", model="m", prompt_tokens=200)
    assert held.max_completion_tokens == 200 and held.allowance_held == 400  # 1000 - 600 - 200 left for the answer
    assert quota_status(user=user).used == 1000
    llm_call_settle(user=user, request_id="turn", prompt_tokens=200, completion_tokens=50)
    llm_call_settle(user=user, request_id="turn", prompt_tokens=900, completion_tokens=99)  # a repeat changes nothing
    assert quota_status(user=user).used == 850
    assert TokenCharge.objects.get(user=user, request_id="turn").tokens == 250


@pytest.mark.django_db
def test_a_hold_is_refused_when_the_prompt_leaves_no_room_for_an_answer(user, settings):
    settings.LLM_TOKEN_QUOTA = 1000
    quota_charge(user=user, request_id="earlier", tokens=900)
    with pytest.raises(InsufficientCredits):
        llm_call_reserve(user=user, request_id="turn", model="m", prompt_tokens=95)  # 5 tokens left for an answer
    assert quota_status(user=user).used == 900
    assert not TokenCharge.objects.filter(request_id="turn").exists()
    assert not LlmCall.objects.filter(request_id="turn").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_holds_never_promise_more_than_the_quota(user, settings):
    settings.LLM_TOKEN_QUOTA, settings.LLM_MAX_COMPLETION_TOKENS = 1000, 100
    outcomes = run_concurrently(
        20,
        lambda i: llm_call_reserve(user=user, request_id=f"t{i}", model="m", prompt_tokens=200),
        close_caller_connection=True,
    )
    assert [type(o).__name__ for o in outcomes].count("CallBudget") == 3  # 3 holds of 300 fit in 1000
    assert all(isinstance(o, InsufficientCredits) for o in outcomes if type(o).__name__ != "CallBudget")
    assert TokenQuota.objects.get(user=user).used == 900


def usage_as_long_as_allowed(request):
    """A model that writes as long an answer as it is allowed (1,000 tokens when no cap is sent)."""
    from tests.agent import fake_llm

    completion = request.get_json().get("max_tokens") or 1000
    return fake_llm.sse_response(fake_llm.text_chunks("long answer", usage=(50, completion)))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_chat_turns_cannot_overspend_the_quota(user, settings, httpserver):
    from rest_framework.test import APIClient

    from accounts.services import session_start
    from tests.agent import fake_llm

    settings.AGENT_PROVIDER, settings.LLM_BASE_URL = "openai", httpserver.url_for("/v1")
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_TOKEN_QUOTA, settings.LLM_MAX_COMPLETION_TOKENS = 2500, 600
    httpserver.expect_request(fake_llm.PATH).respond_with_handler(usage_as_long_as_allowed)
    access = session_start(user=user)["access"]

    def chat(index):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Bearer " + access)
        return client.post("/api/v1/agent/chat/", {"message": f"tell me a long story {index}"}, format="json")

    responses = run_concurrently(8, chat)
    statuses = [r.status_code for r in responses]
    assert 200 in statuses and 402 in statuses and set(statuses) <= {200, 402}, statuses
    assert TokenQuota.objects.get(user=user).used <= settings.LLM_TOKEN_QUOTA
    charged = sum(TokenCharge.objects.filter(user=user).values_list("tokens", flat=True))
    assert TokenQuota.objects.get(user=user).used == charged
    for request, _ in httpserver.log:
        assert 0 < request.get_json()["max_tokens"] <= 600
