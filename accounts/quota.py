"""LLM token quota, the weekly free allowance (docs/DOMAIN.md §5): LLM_TOKEN_QUOTA tokens per
user per window, reset lazily.

`quota_charge` is idempotent per (user, request id) and serialised on the user's quota
row, so concurrent charges neither double-charge nor lose one another's tokens.

A model call holds tokens before it starts (`quota_lock` + `quota_hold`, inside the caller's
transaction: accounts.credits.services decides how much of the call the allowance pays and what
goes to credits) and `quota_settle` replaces the hold by what the allowance paid after it. The
holds of turns in flight count as used, so N concurrent turns cannot all pass a check that each
of them alone would pass.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import TokenCharge, TokenQuota


@dataclass(frozen=True)
class QuotaStatus:
    limit: int
    used: int
    window_started_at: datetime | None
    resets_at: datetime | None

    @property
    def remaining(self):
        return max(0, self.limit - self.used)


# Below this many answer tokens a call is not worth making: the quota is taken as used up.
MIN_COMPLETION_TOKENS = 16


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


def quota_lock(*, user, now=None) -> TokenQuota:
    """The user's quota row, locked for the caller's transaction, its window opened anew if the
    last one ended. `quota_left` of it is what a call may still hold."""
    now = now or timezone.now()
    TokenQuota.objects.get_or_create(user=user)
    quota = TokenQuota.objects.select_for_update().get(user=user)
    if not _window_open(quota, now):
        quota.window_started_at, quota.used = now, 0
        quota.save(update_fields=["window_started_at", "used", "updated_at"])
    return quota


def quota_left(quota: TokenQuota) -> int:
    return max(0, settings.LLM_TOKEN_QUOTA - quota.used)


def quota_hold(*, quota: TokenQuota, request_id: str, tokens: int) -> TokenCharge:
    """Hold `tokens` of a row locked by `quota_lock` for one call (settled by `quota_settle`)."""
    charge = TokenCharge.objects.create(
        user_id=quota.user_id,
        request_id=request_id,
        tokens=tokens,
        window_started_at=quota.window_started_at,
        settled=False,
    )
    quota.used += tokens
    quota.save(update_fields=["used", "updated_at"])
    return charge


def quota_settle(*, user, request_id: str, tokens: int) -> TokenCharge | None:
    """Replace a hold by what the call used (once: a repeat returns the settled charge). The
    difference goes back to the window the hold was taken in, if that window is still open."""
    if tokens < 0:
        raise ValueError("tokens must be >= 0")
    with transaction.atomic():
        quota = TokenQuota.objects.select_for_update().filter(user=user).first()
        charge = TokenCharge.objects.select_for_update().filter(user=user, request_id=request_id).first()
        if quota is None or charge is None or charge.settled:
            return charge
        if charge.window_started_at == quota.window_started_at:
            quota.used = max(0, quota.used + tokens - charge.tokens)
            quota.save(update_fields=["used", "updated_at"])
        charge.tokens, charge.settled = tokens, True
        charge.save(update_fields=["tokens", "settled"])
        return charge
