"""Paying model calls: the free allowance first, then credits, held before and settled after."""

from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.credits.models import CreditAccount, CreditEntry, LlmCall
from accounts.credits.pricing import Price, price_of
from accounts.credits.services import (
    InsufficientCredits,
    credits_check,
    llm_call_check,
    llm_call_reserve,
    llm_call_settle,
)
from accounts.quota import quota_charge, quota_status
from tests.concurrency import errors_of, run_concurrently

pytestmark = pytest.mark.django_db


def balance(user):
    account = CreditAccount.objects.filter(user=user).first()
    return account.balance if account else 0


def spends(user):
    return list(CreditEntry.objects.filter(account_id=user.pk, kind="spend").order_by("id"))


# --- the price rule -------------------------------------------------------------------------


def test_a_price_is_credits_per_thousand_tokens_rounded_up(prices):
    price = price_of("any-model")
    assert (price.prompt_per_1k, price.completion_per_1k) == (10, 30)
    assert price.cost(prompt_tokens=1000, completion_tokens=1000) == 40
    assert price.cost(prompt_tokens=1, completion_tokens=0) == 1  # never less than used
    assert price.cost(prompt_tokens=0, completion_tokens=0) == 0
    assert price_of("big-model").cost(prompt_tokens=1200, completion_tokens=300) == 90


def test_the_offline_model_is_free_whatever_the_prices_say(prices):
    assert price_of("offline").free and not price_of("any-model").free


def test_fractional_prices_are_exact():
    price = Price("m", Decimal("0.1"), Decimal("0.3"))
    assert price.cost(prompt_tokens=10_000, completion_tokens=10_000) == 4  # 1 + 3, no float drift


# --- the allowance first ----------------------------------------------------------------------


def test_a_call_within_the_allowance_spends_no_credits(user, grant, prices):
    grant(user, 50)
    llm_call_reserve(user=user, request_id="r", model="m", prompt_tokens=100)
    call = llm_call_settle(user=user, request_id="r", prompt_tokens=100, completion_tokens=40)
    assert (call.allowance_tokens, call.credits) == (140, 0)
    assert spends(user) == [] and balance(user) == 50
    assert quota_status(user=user).used == 140


def test_what_exceeds_the_allowance_becomes_one_spend_priced_per_model(user, grant, prices, settings):
    settings.LLM_TOKEN_QUOTA, settings.LLM_MAX_COMPLETION_TOKENS = 1000, 500
    quota_charge(user=user, request_id="earlier", tokens=800)
    grant(user, 100)
    budget = llm_call_reserve(user=user, request_id="r", model="m", prompt_tokens=300)
    # 200 tokens of allowance left: the call runs at full length, the rest held in credits.
    assert (budget.max_completion_tokens, budget.allowance_held) == (500, 200)
    assert budget.credits_held == price_of("m").cost(prompt_tokens=100, completion_tokens=500) == 16
    call = llm_call_settle(user=user, request_id="r", prompt_tokens=300, completion_tokens=400)
    # The allowance pays its 200 (prompt first): 100 prompt + 400 completion tokens on credits.
    assert (call.allowance_tokens, call.credits) == (200, 13)  # 100 * 10/1000 + 400 * 30/1000
    (spend,) = spends(user)
    assert (spend.amount, spend.balance_after, spend.ref) == (-13, 87, "llm:r")
    assert spend.reason == "m: 100 prompt + 400 completion tokens beyond the free allowance"
    assert quota_status(user=user).used == 1000
    assert LlmCall.objects.get(request_id="r").credits_held == 0


def test_a_settle_repeated_for_one_request_id_is_one_spend(user, grant, prices, settings):
    settings.LLM_TOKEN_QUOTA = 0
    grant(user, 100)
    llm_call_reserve(user=user, request_id="r", model="m", prompt_tokens=100)
    for _ in range(3):
        llm_call_settle(user=user, request_id="r", prompt_tokens=100, completion_tokens=100)
    assert [s.amount for s in spends(user)] == [-4] and balance(user) == 96


def test_estimated_usage_is_said_in_the_reason(user, grant, prices, settings):
    settings.LLM_TOKEN_QUOTA = 0
    grant(user, 100)
    llm_call_reserve(user=user, request_id="r", model="m", prompt_tokens=100)
    llm_call_settle(user=user, request_id="r", prompt_tokens=100, completion_tokens=100, estimated=True)
    assert spends(user)[0].reason.endswith("; estimated, the model reported no usage")
    assert LlmCall.objects.get(request_id="r").estimated


def test_a_call_the_model_endpoint_failed_costs_no_credits(user, grant, prices, settings):
    settings.LLM_TOKEN_QUOTA = 0
    grant(user, 100)
    llm_call_reserve(user=user, request_id="r", model="m", prompt_tokens=100)
    call = llm_call_settle(user=user, request_id="r", prompt_tokens=100, completion_tokens=0, failed=True)
    assert call.settled_at and call.credits == 0 and spends(user) == [] and balance(user) == 100


def test_a_call_that_starts_positive_may_end_below_zero_and_the_next_is_refused(user, grant, prices, settings):
    settings.LLM_TOKEN_QUOTA = 0
    grant(user, 1)
    llm_call_reserve(user=user, request_id="first", model="m", prompt_tokens=1000)
    llm_call_settle(user=user, request_id="first", prompt_tokens=1000, completion_tokens=1000)
    assert balance(user) == 1 - 40
    with pytest.raises(InsufficientCredits) as refused:
        llm_call_reserve(user=user, request_id="next", model="m", prompt_tokens=10)
    assert refused.value.status_code == 402 and refused.value.details["balance"] == -39
    with pytest.raises(InsufficientCredits):
        llm_call_check(user=user, model="m")
    assert not LlmCall.objects.filter(request_id="next").exists()


def test_without_credits_the_answer_is_cut_to_what_the_allowance_has_left(user, settings):
    settings.LLM_TOKEN_QUOTA, settings.LLM_MAX_COMPLETION_TOKENS = 1000, 500
    quota_charge(user=user, request_id="earlier", tokens=700)
    budget = llm_call_reserve(user=user, request_id="r", model="m", prompt_tokens=100)
    assert (budget.max_completion_tokens, budget.credits_held) == (200, 0)
    # Over the hold (the prompt estimate was low): still the allowance's, no credits were offered.
    call = llm_call_settle(user=user, request_id="r", prompt_tokens=150, completion_tokens=200)
    assert (call.allowance_tokens, call.credits) == (350, 0) and quota_status(user=user).used == 1050


def test_credits_held_by_calls_in_flight_count_against_the_balance(user, grant, prices, settings):
    settings.LLM_TOKEN_QUOTA, settings.LLM_MAX_COMPLETION_TOKENS = 0, 100
    grant(user, 5)
    first = llm_call_reserve(user=user, request_id="a", model="m", prompt_tokens=100)  # holds 1 + 3 = 4
    second = llm_call_reserve(user=user, request_id="b", model="m", prompt_tokens=100)  # 1 left: may start
    assert (first.credits_held, second.credits_held) == (4, 4)
    with pytest.raises(InsufficientCredits):  # 5 - 8 held
        llm_call_reserve(user=user, request_id="c", model="m", prompt_tokens=100)
    llm_call_settle(user=user, request_id="a", prompt_tokens=10, completion_tokens=0)  # spent 1 of its 4
    with pytest.raises(InsufficientCredits):  # balance 4, b still holds 4
        llm_call_reserve(user=user, request_id="d", model="m", prompt_tokens=100)
    llm_call_settle(user=user, request_id="b", prompt_tokens=10, completion_tokens=0)
    assert llm_call_reserve(user=user, request_id="e", model="m", prompt_tokens=100).credits_held == 4
    assert balance(user) == 3


def test_a_hold_never_settled_stops_counting_after_the_hold_time(user, grant, prices, settings):
    settings.LLM_TOKEN_QUOTA, settings.LLM_MAX_COMPLETION_TOKENS = 0, 100
    grant(user, 4)
    llm_call_reserve(user=user, request_id="died", model="m", prompt_tokens=100)  # its process dies
    with pytest.raises(InsufficientCredits):
        llm_call_reserve(user=user, request_id="r", model="m", prompt_tokens=100)
    LlmCall.objects.filter(request_id="died").update(
        created_at=LlmCall.objects.get(request_id="died").created_at - timedelta(seconds=settings.CREDITS_HOLD_SECONDS)
    )
    llm_call_reserve(user=user, request_id="r", model="m", prompt_tokens=100)


def test_a_free_model_holds_nothing_is_never_refused_and_is_counted(user, settings):
    settings.LLM_TOKEN_QUOTA = 0
    llm_call_check(user=user, model="offline")
    budget = llm_call_reserve(user=user, request_id="r", model="offline", prompt_tokens=10_000)
    assert (budget.allowance_held, budget.credits_held) == (0, 0)
    call = llm_call_settle(user=user, request_id="r", prompt_tokens=10_000, completion_tokens=50)
    assert (call.prompt_tokens, call.completion_tokens, call.credits, call.allowance_tokens) == (10_000, 50, 0, 0)
    assert quota_status(user=user).used == 0 and not CreditEntry.objects.exists()


def test_the_refusal_says_when_the_allowance_returns(user, settings):
    settings.LLM_TOKEN_QUOTA = 100
    quota_charge(user=user, request_id="all", tokens=100)
    with pytest.raises(InsufficientCredits) as refused:
        llm_call_check(user=user, model="m")
    details = refused.value.details
    assert details["free_allowance"] == {"limit": 100, "used": 100, "resets_at": details["resets_at"]}
    assert details["resets_at"] == quota_status(user=user).resets_at.isoformat() and details["balance"] == 0


# --- under concurrency ------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_hundred_concurrent_paid_calls_refuse_exactly_those_the_balance_cannot_start(user, grant, settings):
    """Each call holds, then spends, exactly 3 credits: whatever the interleaving, calls start while
    the balance less what calls in flight hold is positive, so ceil(100 / 3) = 34 run, 66 are refused."""
    settings.LLM_TOKEN_QUOTA, settings.LLM_MAX_COMPLETION_TOKENS = 0, 1000
    settings.CREDIT_PRICES = {"default": {"prompt_per_1k": "1", "completion_per_1k": "2"}}
    grant(user, 100)

    def call(i):
        llm_call_reserve(user=user, request_id=f"r{i}", model="m", prompt_tokens=1000)
        return llm_call_settle(user=user, request_id=f"r{i}", prompt_tokens=1000, completion_tokens=1000)

    outcomes = run_concurrently(100, call, close_caller_connection=True)
    refused = [o for o in outcomes if isinstance(o, InsufficientCredits)]
    assert [o for o in errors_of(outcomes) if not isinstance(o, InsufficientCredits)] == []
    assert (len(refused), len(spends(user))) == (66, 34)
    account = CreditAccount.objects.get(user=user)
    assert account.balance == 100 - 34 * 3 == sum(CreditEntry.objects.values_list("amount", flat=True))
    assert account.version == 35
    assert sorted(s.balance_after for s in spends(user)) == list(range(100 - 34 * 3, 100, 3))  # none lost
    assert credits_check() == []
    assert LlmCall.objects.filter(settled_at__isnull=True).count() == 0
