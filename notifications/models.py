"""Notification channels (where a user wants to be told) and records (one delivery each).

A record is unique per (user, channel, dedupe_key), so one preview never notifies a
channel twice however often its event is redelivered. Records move
pending → sending → sent | failed → … → dead | skipped; `locked_until` is the
sending lease and `claim_token` proves which claim may settle the row.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class ChannelKind(models.TextChoices):
    FEISHU = "feishu"
    WEBHOOK = "webhook"
    EMAIL = "email"


class NotificationChannel(models.Model):
    """A user's Feishu bot, generic webhook or email address. `secret` never leaves the server.

    The HTTP kinds send to `webhook_url`, the email kind to `address`; `target` is whichever the
    kind uses (a constraint keeps the other one empty)."""

    class TestStatus(models.TextChoices):
        DELIVERED = "delivered"
        FAILED = "failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_channels")
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    webhook_url = models.CharField(max_length=2000, blank=True, default="")
    address = models.EmailField(max_length=254, blank=True, default="")
    secret = models.CharField(max_length=512, blank=True, default="")
    # The secret a PUT replaced, still signing beside the new one until it expires (rotation).
    previous_secret = models.CharField(max_length=512, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    last_test_status = models.CharField(max_length=16, choices=TestStatus.choices, null=True, blank=True)  # noqa: DJ001 (null = never tested)
    last_test_error = models.CharField(max_length=2000, blank=True, default="")
    last_test_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="uniq_notification_channel_per_kind"),
            models.CheckConstraint(
                condition=(Q(kind="email") & ~Q(address="") & Q(webhook_url=""))
                | (~Q(kind="email") & ~Q(webhook_url="") & Q(address="")),
                name="notification_channel_one_target",
            ),
        ]
        ordering = ["kind"]

    def __str__(self):
        return f"{self.user_id}:{self.kind}"

    @property
    def target(self) -> str:
        """Where this channel sends: the address of the email kind, the URL of the others."""
        return self.address if self.kind == ChannelKind.EMAIL else self.webhook_url

    @property
    def has_secret(self) -> bool:
        return bool(self.secret)

    def rotating_secret(self, now) -> str:
        """The replaced secret while its rotation window lasts, else ""."""
        if self.previous_secret and self.previous_secret_expires_at and now < self.previous_secret_expires_at:
            return self.previous_secret
        return ""


class NotificationRecord(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"  # an attempt failed; waits for next_retry_at
        DEAD = "dead"
        SKIPPED = "skipped"

    class Channel(models.TextChoices):
        FEISHU = "feishu"
        WEBHOOK = "webhook"
        EMAIL = "email"
        NONE = "none"  # the user had no enabled channel

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    event = models.CharField(max_length=32)  # preview_ready | no_free_slot
    dedupe_key = models.CharField(max_length=191)
    source_event_id = models.CharField(max_length=64, blank=True, default="")  # the outbox event, for audit
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    last_error = models.CharField(max_length=2000, blank=True, default="")
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    preview_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 (null = no preview)
    trigger_id = models.CharField(max_length=64, blank=True, default="")
    payload = models.JSONField(default=dict)  # the event data as received
    message = models.JSONField(default=dict)  # title, summary, action_text, action_url, slots (rendered)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # (user, dedupe_key) first: the handler's "already notified?" check uses this index too.
            models.UniqueConstraint(fields=["user", "dedupe_key", "channel"], name="uniq_notification_per_channel_key")
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notif_user_created"),
            # The delivery scan touches due rows only (O(due), not O(table)).
            models.Index(fields=["next_retry_at"], name="notif_due", condition=Q(status__in=["pending", "failed"])),
            models.Index(fields=["locked_until"], name="notif_sending_lease", condition=Q(status="sending")),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.channel}:{self.dedupe_key} ({self.status})"
