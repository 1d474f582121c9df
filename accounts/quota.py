"""LLM token quota (docs/DOMAIN.md §5): LLM_TOKEN_QUOTA tokens per user per window, reset lazily.

`quota_charge` is idempotent per (user, request id) and serialised on the user's quota
row, so concurrent charges neither double-charge nor lose one another's tokens.

An LLM call is paid in two steps: `quota_reserve` before it (holds the prompt plus the most the
answer may cost, and says that most as the call's max_tokens), `quota_settle` after it (the
provider's reported usage replaces the hold). The holds of turns in flight count as used, so N
concurrent turns cannot all pass a check that each of them alone would pass.
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


# Below this many answer tokens a call is not worth making: the quota is taken as used up.
MIN_COMPLETION_TOKENS = 16


@dataclass(frozen=True)
class Reservation:
    request_id: str
    tokens: int  # held: the prompt estimate plus max_completion_tokens
    max_completion_tokens: int  # sent to the model as max_tokens


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


def _exceeded(quota, used_up_message: str) -> QuotaExceeded:
    resets_at = quota.window_started_at + _window()
    return QuotaExceeded(
        f"{used_up_message} until {resets_at.isoformat()}.",
        details={"resets_at": resets_at.isoformat(), "limit": settings.LLM_TOKEN_QUOTA, "used": quota.used},
    )


def quota_reserve(*, user, request_id: str, prompt_tokens: int, now=None) -> Reservation:
    """Hold tokens for one LLM call before it starts, or refuse (429 quota_exceeded) when what is
    left cannot pay the prompt and a minimal answer. The answer may use what is left after the
    prompt, at most LLM_MAX_COMPLETION_TOKENS."""
    now = now or timezone.now()
    TokenQuota.objects.get_or_create(user=user)
    with transaction.atomic():
        quota = TokenQuota.objects.select_for_update().get(user=user)
        if not _window_open(quota, now):
            quota.window_started_at, quota.used = now, 0
        left = settings.LLM_TOKEN_QUOTA - quota.used
        completion = min(settings.LLM_MAX_COMPLETION_TOKENS, left - prompt_tokens)
        if completion < MIN_COMPLETION_TOKENS:
            raise _exceeded(quota, f"Your LLM token quota of {settings.LLM_TOKEN_QUOTA} is used up")
        held = prompt_tokens + completion
        TokenCharge.objects.create(
            user=user, request_id=request_id, tokens=held, window_started_at=quota.window_started_at, settled=False
        )
        quota.used += held
        quota.save(update_fields=["window_started_at", "used", "updated_at"])
    return Reservation(request_id=request_id, tokens=held, max_completion_tokens=completion)


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
