import hashlib
import uuid

from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models


class User(AbstractUser):
    """A student. `timezone` renders every time; `semester_start` (a Monday) is week 1."""

    timezone = models.CharField(max_length=64, default="Asia/Shanghai")
    semester_start = models.DateField(null=True, blank=True)
    # SHA-256 (hex) of the secret path segment of the iCalendar feed; a new token replaces the old
    # one. Only the hash is kept, so a leaked database or backup does not hand out the feeds.
    calendar_secret_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        db_table = "accounts_user"


def calendar_secret_digest(secret: str) -> str:
    """The stored form of a calendar secret: it has 256 random bits, so a fast hash suffices."""
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenFamily(models.Model):
    """Every token descended from one login. Revoking it kills them all, access tokens included."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="token_families")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name_plural = "token families"
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self):
        return f"{self.user_id}:{self.id}"


class UsedRefreshToken(models.Model):
    """Insert-first blacklist: the unique jti makes the second use of a refresh token lose."""

    class Reason(models.TextChoices):
        ROTATED = "rotated"
        LOGOUT = "logout"

    jti = models.CharField(max_length=64, unique=True)
    family = models.ForeignKey(TokenFamily, on_delete=models.CASCADE, related_name="used_tokens")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return self.jti


class TokenQuota(models.Model):
    """A user's LLM token window. A window starts at the first charge after the previous ended."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="token_quota")
    window_started_at = models.DateTimeField(null=True, blank=True)
    used = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.user_id}: {self.used}"


class TokenCharge(models.Model):
    """Ledger: one row per (user, request id), so retries of one LLM call never double-charge."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="token_charges")
    request_id = models.CharField(max_length=100)
    tokens = models.PositiveIntegerField()
    window_started_at = models.DateTimeField()
    # False while the row is a hold taken before an LLM call (accounts.quota.quota_hold).
    settled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "request_id"], name="uniq_charge_per_request")]
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self):
        return f"{self.user_id}:{self.request_id} ({self.tokens})"


class IdempotencyRecord(models.Model):
    """The first response to a POST with an Idempotency-Key, replayed for 24 h."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress"
        DONE = "done"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255, validators=[RegexValidator(r"^[\x21-\x7e]+$")])
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    locked_until = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="uniq_idempotency_key_per_user")]

    def __str__(self):
        return f"{self.user_id}:{self.key}"


# Credits live in their own sub-package; imported here so they keep the accounts app label.
from accounts.credits.models import CreditAccount, CreditEntry, EntryKind, LlmCall  # noqa: E402, F401
