import uuid

import pytest

from tests.agent.conftest import llm  # noqa: F401  (the loopback OpenAI-compatible endpoint)
from tests.outbox.conftest import effect_table, pipeline  # noqa: F401  (the outbox's relay + consumer fixtures)


@pytest.fixture
def grant(db):
    """grant(user, amount): credits given by staff, as the admin does (one grant entry)."""
    from accounts.credits.services import credit_grant

    def give(user, amount, reason="test grant"):
        ref = f"grant:{uuid.uuid4().hex}"
        return credit_grant(user=user, amount=amount, reason=reason, granted_by=None, ref=ref)[0]

    return give


@pytest.fixture
def prices(settings):
    """Round prices that make each rule visible: 10 credits per 1,000 prompt tokens, 30 per 1,000 completion."""
    settings.CREDIT_PRICES = {
        "default": {"prompt_per_1k": "10", "completion_per_1k": "30"},
        "big-model": {"prompt_per_1k": "50", "completion_per_1k": "100"},
    }
    return settings.CREDIT_PRICES
