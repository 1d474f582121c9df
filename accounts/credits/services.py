"""Credit writes (docs/DOMAIN.md §9).

A balance moves only with a new ledger entry, in one transaction under the account's row lock
(`_entry_append`); an entry's `ref` is unique per account, so a retried charge, reward, grant
or refund is the entry made the first time.

A model call is paid in two steps around it. `llm_call_reserve` (before; refuses with 402
insufficient_credits) holds what the free allowance can pay and, for the rest, the most it may
cost in credits; `llm_call_settle` (after, once per request id) replaces the holds by the
provider's reported usage: the allowance pays first, the remainder is one `spend` entry.
Locks are always taken quota row → credit account (→ the call's own row, which nothing else
locks), so these and the staff and reward writes cannot deadlock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F, Q, Sum, Window
from django.db.models.functions import Coalesce, Lag
from django.utils import timezone

from accounts.credits import metrics
from accounts.credits.models import CreditAccount, CreditEntry, EntryKind, LlmCall
from accounts.credits.pricing import price_of
from accounts.quota import MIN_COMPLETION_TOKENS, quota_hold, quota_left, quota_lock, quota_settle, quota_status
from smartmate.errors import ApiError

logger = logging.getLogger("smartmate.credits")

REASON_MAX = 300


class InsufficientCredits(ApiError):
    status_code = 402
    default_code = "insufficient_credits"
    default_detail = "The free allowance is used up and the credit balance is 0 or less."


class InvalidReward(ValueError):
    """A reward event the handler cannot pay (the outbox retries it, then marks it dead)."""


# --- the ledger ----------------------------------------------------------------------------


def _account_locked(user_id: int) -> CreditAccount:
    CreditAccount.objects.get_or_create(user_id=user_id)
    return CreditAccount.objects.select_for_update().get(user_id=user_id)


def _entry_append(
    *, account: CreditAccount, kind: str, amount: int, ref: str, reason: str, created_by=None
) -> tuple[CreditEntry, bool]:
    """Append one entry to a locked account and move its balance with it; (entry, created)."""
    existing = CreditEntry.objects.filter(account=account, ref=ref).first()
    if existing is not None:
        return existing, False
    balance_after = account.balance + amount
    entry = CreditEntry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        balance_after=balance_after,
        reason=reason[:REASON_MAX],
        ref=ref,
        created_by=created_by,
    )
    account.balance, account.version = balance_after, account.version + 1
    account.save(update_fields=["balance", "version", "updated_at"])
    return entry, True


def credit_entry_append(
    *, user_id: int, kind: str, amount: int, ref: str, reason: str, created_by=None
) -> tuple[CreditEntry, bool]:
    """One idempotent ledger entry: a repeat of `ref` returns the first entry, created False."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise ValueError("amount must be a non-zero integer")
    if not ref or len(ref) > 128:
        raise ValueError("ref is required and at most 128 characters")
    with transaction.atomic():
        return _entry_append(
            account=_account_locked(user_id), kind=kind, amount=amount, ref=ref, reason=reason, created_by=created_by
        )


def credit_grant(*, user, amount: int, reason: str, granted_by, ref: str) -> tuple[CreditEntry, bool]:
    """Staff give (amount > 0) or take back (amount < 0) credits; `ref` names this one grant
    (the admin form's token), so a form sent twice grants once."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("a grant needs a reason")
    entry, created = credit_entry_append(
        user_id=user.pk, kind=EntryKind.GRANT, amount=amount, ref=ref, reason=reason, created_by=granted_by
    )
    if created:
        transaction.on_commit(lambda: metrics.GRANTED.labels("give" if amount > 0 else "take").inc(abs(amount)))
        logger.info("credits: %s granted %+d to user %s: %s", granted_by, amount, user.pk, reason)
    return entry, created


def credit_refund(*, spend: CreditEntry, refunded_by) -> tuple[CreditEntry, bool]:
    """Give a spend back, once (ref `refund:<spend ref>`)."""
    if spend.kind != EntryKind.SPEND:
        raise ValueError("only a spend can be refunded")
    return credit_entry_append(
        user_id=spend.account_id,
        kind=EntryKind.REFUND,
        amount=-spend.amount,
        ref=f"refund:{spend.ref}"[:128],
        reason=f"Refund of: {spend.reason}",
        created_by=refunded_by,
    )


# --- rewards (outbox events of the plan square) ----------------------------------------------

REWARD_KINDS = {"plan_square.liked": "like", "plan_square.imported": "import"}
REWARD_MAX = 10_000  # a sanity bound on one event's amount


def _positive_int(data: dict, name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidReward(f"{name} must be a positive integer, got {value!r}")
    return value


def credit_reward_pay(*, biz_type: str, data: dict) -> CreditEntry | None:
    """Pay the author of a liked or imported plan, at most once per (post, actor, kind): the
    entry's ref is built from those, so a redelivered event or a second event for the same
    reward pays nothing more. Nothing for one's own post or a deleted author."""
    kind = REWARD_KINDS.get(biz_type)
    if kind is None or data.get("kind") != kind:
        raise InvalidReward(f"{biz_type} carries kind {data.get('kind')!r}")
    author_id, post_id, actor_id = (_positive_int(data, name) for name in ("author_id", "post_id", "actor_id"))
    amount = _positive_int(data, "amount")
    if amount > REWARD_MAX:
        raise InvalidReward(f"amount {amount} is over {REWARD_MAX}")
    if author_id == actor_id:
        logger.warning("credits: no reward for one's own post (post %s, user %s)", post_id, author_id)
        return None
    if not get_user_model().objects.filter(pk=author_id).exists():
        logger.info("credits: reward for post %s dropped, its author %s is gone", post_id, author_id)
        return None
    verb = "liked" if kind == "like" else "imported"
    entry, created = credit_entry_append(
        user_id=author_id,
        kind=EntryKind.REWARD,
        amount=amount,
        ref=f"plan_square:{kind}:{post_id}:{actor_id}",
        reason=f"Your shared plan (post {post_id}) was {verb} by user {actor_id}",
    )
    if created:
        transaction.on_commit(lambda: metrics.REWARDED.labels(kind).inc(amount))
    return entry


# --- model calls -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CallBudget:
    request_id: str
    model: str
    max_completion_tokens: int  # sent to the model as max_tokens
    allowance_held: int
    credits_held: int


def _credits_in_flight(user_id: int, now) -> int:
    since = now - timedelta(seconds=settings.CREDITS_HOLD_SECONDS)
    held = LlmCall.objects.filter(
        user_id=user_id, settled_at__isnull=True, credits_held__gt=0, created_at__gte=since
    ).aggregate(total=Sum("credits_held"))["total"]
    return held or 0


def _refusal(*, user, model: str, balance: int) -> InsufficientCredits:
    metrics.REFUSED.labels(model).inc()
    status = quota_status(user=user)
    resets = status.resets_at.isoformat() if status.resets_at else None
    return InsufficientCredits(
        "The free allowance is used up"
        + (f" until {resets}" if resets else "")
        + f" and the credit balance is {balance}.",
        details={
            "balance": balance,
            "free_allowance": {"limit": status.limit, "used": status.used, "resets_at": resets},
            "resets_at": resets,
        },
    )


def llm_call_check(*, user, model: str) -> None:
    """The cheap refusal before anything is created (no lock; `llm_call_reserve` decides)."""
    if price_of(model).free or quota_status(user=user).remaining >= MIN_COMPLETION_TOKENS:
        return
    account = CreditAccount.objects.filter(user=user).first()
    balance = account.balance if account else 0
    if balance - _credits_in_flight(user.pk, timezone.now()) <= 0:
        raise _refusal(user=user, model=model, balance=balance)


def llm_call_reserve(*, user, request_id: str, model: str, prompt_tokens: int, now=None) -> CallBudget:
    """Hold what one call may cost before it starts, or refuse it (402 insufficient_credits).

    The allowance pays first. When what is left of it cannot pay the prompt and the longest
    answer, a positive balance (less what calls in flight hold) lets the call run at full length
    with the rest held in credits; with none, the answer is cut to what the allowance has left,
    and refused when that is not even MIN_COMPLETION_TOKENS. A free model holds nothing."""
    now = now or timezone.now()
    most = settings.LLM_MAX_COMPLETION_TOKENS
    price = price_of(model)
    if price.free:
        LlmCall.objects.create(user=user, request_id=request_id, model=model)
        return CallBudget(request_id, model, most, 0, 0)
    with transaction.atomic():
        quota = quota_lock(user=user, now=now)
        left, wanted = quota_left(quota), prompt_tokens + most
        completion, credits, on_credits = most, 0, False
        if left < wanted:
            account = _account_locked(user.pk)
            if account.balance - _credits_in_flight(user.pk, now) > 0:
                over_prompt = max(0, prompt_tokens - left)
                credits = price.cost(prompt_tokens=over_prompt, completion_tokens=wanted - left - over_prompt)
                on_credits = True
            else:
                completion = min(most, left - prompt_tokens)
                if completion < MIN_COMPLETION_TOKENS:
                    raise _refusal(user=user, model=model, balance=account.balance)
        allowance = min(left, prompt_tokens + completion)
        quota_hold(quota=quota, request_id=request_id, tokens=allowance)
        LlmCall.objects.create(
            user=user,
            request_id=request_id,
            model=model,
            allowance_held=allowance,
            credits_held=credits,
            on_credits=on_credits,
        )
    return CallBudget(request_id, model, completion, allowance, credits)


def _count_call(model: str, credits: int) -> None:
    metrics.CALLS.labels(model).inc()
    if credits:
        metrics.SPENT.labels(model).inc(credits)


def _spend_reason(model: str, prompt_tokens: int, completion_tokens: int, estimated: bool) -> str:
    reason = f"{model}: {prompt_tokens} prompt + {completion_tokens} completion tokens beyond the free allowance"
    return reason + ("; estimated, the model reported no usage" if estimated else "")


def llm_call_settle(
    *,
    user,
    request_id: str,
    prompt_tokens: int,
    completion_tokens: int,
    estimated: bool = False,
    failed: bool = False,
    now=None,
) -> LlmCall | None:
    """Pay one call from what it used, exactly once per request id (a repeat returns the settled
    call). The allowance pays what it held (prompt first); the rest of a call that started on
    credits is one `spend` entry, priced per model. A call the model endpoint failed (`failed`)
    costs no credits; a call that started without credits is the allowance's alone."""
    if prompt_tokens < 0 or completion_tokens < 0:
        raise ValueError("token counts must be >= 0")
    now = now or timezone.now()
    with transaction.atomic():
        call = LlmCall.objects.select_for_update().filter(user=user, request_id=request_id).first()
        if call is None or call.settled_at is not None:
            return call
        price = price_of(call.model)
        allowance = 0 if price.free else prompt_tokens + completion_tokens
        over_prompt = over_completion = credits = 0
        if call.on_credits:
            allowance = min(allowance, call.allowance_held)
            over_prompt = max(0, prompt_tokens - allowance)  # the allowance pays the prompt first
            over_completion = prompt_tokens + completion_tokens - allowance - over_prompt
            if not failed:
                credits = price.cost(prompt_tokens=over_prompt, completion_tokens=over_completion)
        if not price.free:
            quota_settle(user=user, request_id=request_id, tokens=allowance)
        if credits:
            _entry_append(
                account=_account_locked(user.pk),
                kind=EntryKind.SPEND,
                amount=-credits,
                ref=f"llm:{request_id}",
                reason=_spend_reason(call.model, over_prompt, over_completion, estimated),
            )
        call.prompt_tokens, call.completion_tokens = prompt_tokens, completion_tokens
        call.allowance_tokens, call.credits, call.estimated = allowance, credits, estimated
        call.credits_held, call.settled_at = 0, now
        call.save(
            update_fields=[
                "prompt_tokens",
                "completion_tokens",
                "allowance_tokens",
                "credits",
                "estimated",
                "credits_held",
                "settled_at",
            ]
        )
        transaction.on_commit(lambda: _count_call(call.model, credits))
    return call


# --- the ledger check ------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerMismatch:
    user_id: int
    username: str
    balance: int
    ledger_sum: int
    version: int
    entries: int
    broken_entry_ids: tuple[int, ...] = ()

    def __str__(self):
        text = (
            f"user {self.username} (id {self.user_id}): balance {self.balance}, ledger sum {self.ledger_sum}"
            f" ({self.balance - self.ledger_sum:+d}), version {self.version}, entries {self.entries}"
        )
        if self.broken_entry_ids:
            text += f", entries whose balance_after breaks the chain: {list(self.broken_entry_ids)}"
        return text


def credits_check() -> list[LedgerMismatch]:
    """Every account whose balance is not the sum of its ledger (or whose version is not its
    entry count, or one of whose entries does not follow from the one before)."""
    broken: dict[int, list[int]] = {}
    chain = CreditEntry.objects.annotate(
        previous=Window(Lag("balance_after", default=0), partition_by=[F("account_id")], order_by=F("id").asc())
    ).filter(~Q(balance_after=F("previous") + F("amount")))
    for account_id, entry_id in chain.values_list("account_id", "id"):
        broken.setdefault(account_id, []).append(entry_id)
    accounts = CreditAccount.objects.annotate(
        ledger_sum=Coalesce(Sum("entries__amount"), 0), entry_count=Count("entries")
    ).filter(~Q(balance=F("ledger_sum")) | ~Q(version=F("entry_count")) | Q(pk__in=list(broken)))
    return [
        LedgerMismatch(
            user_id=a.pk,
            username=a.user.username,
            balance=a.balance,
            ledger_sum=a.ledger_sum,
            version=a.version,
            entries=a.entry_count,
            broken_entry_ids=tuple(broken.get(a.pk, ())),
        )
        for a in accounts.select_related("user").order_by("pk")
    ]


def credits_check_log() -> int:
    """The daily check (beat): logs each mismatch as an error, or one line that all is well."""
    mismatches = credits_check()
    for mismatch in mismatches:
        logger.error("credits_check: %s", mismatch)
    if not mismatches:
        logger.info("credits_check: every balance equals its ledger")
    return len(mismatches)
