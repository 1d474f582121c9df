"""LLM token quota (DOMAIN §5): LLM_TOKEN_QUOTA tokens per user per window, reset lazily.

`quota_charge` is idempotent per (user, request id) and serialised on the user's quota
row, so concurrent charges neither double-charge nor lose one another's tokens.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import TokenCharge, TokenQuota
from smartmate.errors import ApiError


@dataclass(frozen=True)
class QuotaStatus:
    limit: int
    used: int
    window_started_at: datetime | None
    resets_at: datetime | None

    @property
    def remaining(self):
        return max(0, self.limit - self.used)


class QuotaExceeded(ApiError):
    status_code = 429
    default_code = "quota_exceeded"
    default_detail = "Your LLM token quota is used up."


def _window():
    return timedelta(days=settings.LLM_QUOTA_WINDOW_DAYS)


def _window_open(quota, now):
    return quota.window_started_at is not None and now < quota.window_started_at + _window()


def quota_status(*, user, now=None) -> QuotaStatus:
    now = now or timezone.now()
    quota = TokenQuota.objects.filter(user=user).first()
    if quota is None or not _window_open(quota, now):
        return QuotaStatus(settings.LLM_TOKEN_QUOTA, 0, None, None)
    return QuotaStatus(
        settings.LLM_TOKEN_QUOTA, quota.used, quota.window_started_at, quota.window_started_at + _window()
    )


def quota_check(*, user, now=None) -> QuotaStatus:
    """Refuse (429 quota_exceeded) once used ≥ limit in the open window."""
    status = quota_status(user=user, now=now)
    if status.used >= status.limit:
        raise QuotaExceeded(
            f"Your LLM token quota of {status.limit} is used up until {status.resets_at.isoformat()}.",
            details={"resets_at": status.resets_at.isoformat(), "limit": status.limit, "used": status.used},
        )
    return status


def quota_charge(*, user, request_id: str, tokens: int, now=None) -> TokenCharge:
    """Charge `tokens` once for `request_id`; a repeat returns the first charge unchanged."""
    if tokens < 0:
        raise ValueError("tokens must be >= 0")
    now = now or timezone.now()
    TokenQuota.objects.get_or_create(user=user)
    with transaction.atomic():
        quota = TokenQuota.objects.select_for_update().get(user=user)
        existing = TokenCharge.objects.filter(user=user, request_id=request_id).first()
        if existing is not None:
            return existing
        if not _window_open(quota, now):
            quota.window_started_at, quota.used = now, 0
        try:
            with transaction.atomic():
                charge = TokenCharge.objects.create(
                    user=user, request_id=request_id, tokens=tokens, window_started_at=quota.window_started_at
                )
        except IntegrityError:  # a concurrent charge of the same request id won (SQLite has no row lock)
            return TokenCharge.objects.get(user=user, request_id=request_id)
        quota.used += tokens
        quota.save(update_fields=["window_started_at", "used", "updated_at"])
        return charge
