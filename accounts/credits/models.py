"""Credit accounts, their append-only ledger, and one row per priced model call.

The models keep the `accounts` app label (accounts/models.py imports them), so their tables
and migrations stay the accounts app's: credits are part of a user's account.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class CreditAccount(models.Model):
    """A user's balance. It moves only together with a new CreditEntry, in one transaction under
    this row's lock (accounts.credits.services); `version` counts the entries appended."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="credit_account"
    )
    balance = models.BigIntegerField(default=0)
    version = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "accounts"
        permissions = [("grant_credits", "Can grant, take back and refund credits")]

    def __str__(self):
        return f"{self.user}: {self.balance}"


class EntryKind(models.TextChoices):
    REWARD = "reward"
    SPEND = "spend"
    GRANT = "grant"
    REFUND = "refund"


class CreditEntry(models.Model):
    """One change of a balance, never updated (a database trigger refuses UPDATE). `ref` makes
    every entry idempotent: a retried charge, reward or grant with the same ref is this entry."""

    account = models.ForeignKey(CreditAccount, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=8, choices=EntryKind.choices)
    amount = models.BigIntegerField()  # signed: spends are negative
    balance_after = models.BigIntegerField()
    reason = models.CharField(max_length=300)
    ref = models.CharField(max_length=128)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "accounts"
        verbose_name_plural = "credit entries"
        constraints = [
            models.UniqueConstraint(fields=["account", "ref"], name="uniq_credit_ref_per_account"),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=[EntryKind.REWARD, EntryKind.REFUND], amount__gt=0)
                    | Q(kind=EntryKind.SPEND, amount__lt=0)
                    | (Q(kind=EntryKind.GRANT) & ~Q(amount=0))
                ),
                name="credit_amount_sign_by_kind",
            ),
        ]
        indexes = [models.Index(fields=["account", "-created_at", "-id"], name="credit_entry_newest")]

    def __str__(self):
        return f"{self.account_id}:{self.ref} ({self.amount:+d})"


class LlmCall(models.Model):
    """One model call of a chat turn: what it held before it ran, what it used and cost after.

    While `settled_at` is null the call is in flight and `credits_held` (the most its part beyond
    the free allowance may cost) counts against the balance, so concurrent calls cannot all start
    on the same credits. The usage endpoint sums the settled rows."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="llm_calls")
    request_id = models.CharField(max_length=100)
    model = models.CharField(max_length=100)
    # Held before the call: of the free allowance (tokens) and of the balance (credits).
    allowance_held = models.PositiveIntegerField(default=0)
    credits_held = models.PositiveIntegerField(default=0)
    # False: the allowance pays the whole call (it started with no credits to spend).
    on_credits = models.BooleanField(default=False)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    allowance_tokens = models.PositiveIntegerField(default=0)  # of the tokens used, paid by the allowance
    credits = models.PositiveIntegerField(default=0)  # spent (the ledger entry's amount, negated)
    estimated = models.BooleanField(default=False)  # the provider reported no usage
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "accounts"
        constraints = [models.UniqueConstraint(fields=["user", "request_id"], name="uniq_llm_call_per_request")]
        indexes = [
            models.Index(fields=["user", "created_at"], name="llm_call_user_created"),
            models.Index(
                fields=["user"], condition=Q(settled_at__isnull=True, credits_held__gt=0), name="llm_call_in_flight"
            ),
        ]

    def __str__(self):
        return f"{self.user_id}:{self.request_id} ({self.model})"
