"""Credits metrics: spent and refused by model, rewarded by kind, counted once a write commits."""

import pytest
from prometheus_client import REGISTRY

from accounts.credits.services import InsufficientCredits, credit_reward_pay, llm_call_reserve, llm_call_settle

pytestmark = pytest.mark.django_db


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_spends_refusals_and_rewards_are_counted(
    user, make_user, grant, prices, settings, django_capture_on_commit_callbacks
):
    settings.LLM_TOKEN_QUOTA = 0
    before = (
        sample("smartmate_credits_spent_total", model="metric-model"),
        sample("smartmate_llm_calls_refused_total", model="metric-model"),
        sample("smartmate_credits_rewarded_total", kind="import"),
        sample("smartmate_llm_calls_total", model="metric-model"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        grant(user, 1)
        llm_call_reserve(user=user, request_id="r", model="metric-model", prompt_tokens=1000)
        llm_call_settle(user=user, request_id="r", prompt_tokens=1000, completion_tokens=1000)  # 40 credits
    with pytest.raises(InsufficientCredits):
        llm_call_reserve(user=user, request_id="refused", model="metric-model", prompt_tokens=1)
    bob = make_user("bob")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):  # a redelivery pays, and counts, once
            credit_reward_pay(
                biz_type="plan_square.imported",
                data={"author_id": user.pk, "post_id": 3, "actor_id": bob.pk, "kind": "import", "amount": 5},
            )
    after = (
        sample("smartmate_credits_spent_total", model="metric-model"),
        sample("smartmate_llm_calls_refused_total", model="metric-model"),
        sample("smartmate_credits_rewarded_total", kind="import"),
        sample("smartmate_llm_calls_total", model="metric-model"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [40, 1, 5, 1]


def test_metrics_are_served_on_the_scrape(client):
    body = client.get("/metrics").content.decode()
    assert "smartmate_credits_spent_total" in body and "smartmate_llm_calls_refused_total" in body
