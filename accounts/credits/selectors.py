"""Credit reads: the balance with the free allowance, the ledger, usage by model."""

from datetime import timedelta

from django.db.models import Count, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.credits.filters import CreditEntryFilter
from accounts.credits.models import CreditAccount, CreditEntry, LlmCall
from accounts.quota import quota_status
from smartmate.filtering import apply

USAGE_RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30), "all": None}


def credit_balance(*, user) -> dict:
    account = CreditAccount.objects.filter(user=user).first()
    allowance = quota_status(user=user)
    return {
        "balance": account.balance if account else 0,
        "free_allowance": {"limit": allowance.limit, "used": allowance.used, "resets_at": allowance.resets_at},
        "updated_at": account.updated_at if account else None,
    }


def credit_entry_list(*, user):
    """Newest first (the id breaks ties, so pages never swap entries)."""
    return CreditEntry.objects.filter(account_id=user.pk).order_by("-created_at", "-id")


def credit_entry_search(*, user, filters=None):
    """The ledger's list endpoint: `credit_entry_list` filtered by the query string (kind),
    checked by CreditEntryFilter."""
    return apply(CreditEntryFilter, filters or {}, credit_entry_list(user=user))


def credit_usage(*, user, range_name: str, now=None) -> dict:
    """Settled model calls in the range, in total and by model (most calls first)."""
    calls = LlmCall.objects.filter(user=user, settled_at__isnull=False)
    span = USAGE_RANGES[range_name]
    if span is not None:
        calls = calls.filter(created_at__gte=(now or timezone.now()) - span)
    sums = {
        "calls": Count("id"),
        "prompt_tokens": Coalesce(Sum("prompt_tokens"), 0),
        "completion_tokens": Coalesce(Sum("completion_tokens"), 0),
        "credits_spent": Coalesce(Sum("credits"), 0),
    }
    by_model = list(calls.values("model").annotate(**sums).order_by("-calls", "model"))
    return {"range": range_name, **calls.aggregate(**sums), "by_model": by_model}
