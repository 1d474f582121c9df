"""The outbox table, the consumers' inbox, and the relay's single-flight lock.

An OutboxEvent is written in the same transaction as the business change it
announces (`outbox.services.enqueue`). The relay moves it pending → published
(→ consumed for publish-only types); the owning service's consumer moves it
published → consumed. See docs/DOMAIN.md §1 for the state machine.

On PostgreSQL a statement-level trigger (migration 0004) sends NOTIFY on PENDING_CHANNEL
after every INSERT into the outbox: the notification is delivered when the enqueuing
transaction commits, and never if it rolls back; waiting relays wake on it.
"""

import uuid

import uuid6
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

LAST_ERROR_MAX = 2000
PENDING_CHANNEL = "outbox_pending"


def new_event_id() -> uuid.UUID:
    """A time-ordered id (UUIDv7): new rows' keys, in the outbox and in the inbox, land at the
    right edge of their indexes, so writing one costs the same with ten million rows behind it
    as with none (random ids would land on a random, likely uncached, leaf page each)."""
    return uuid.UUID(int=uuid6.uuid7().int)


def default_max_retry() -> int:
    """Attempts a new row gets; the number lives in one place, the OUTBOX_MAX_RETRY setting."""
    return settings.OUTBOX_MAX_RETRY


class OutboxEvent(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PUBLISHED = "published"
        CONSUMED = "consumed"
        DEAD = "dead"

    id = models.UUIDField(primary_key=True, default=new_event_id, editable=False, help_text="Also the event id.")
    biz_type = models.CharField(max_length=64)
    service_name = models.CharField(max_length=64, help_text="The service whose consumer settles the row.")
    topic = models.CharField(max_length=128)
    message_key = models.CharField(max_length=128, help_text="Kafka key; the ordering unit (an aggregate).")
    payload = models.JSONField(help_text='{"event_id", "biz_type", "occurred_at", "data"}')
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    retry_count = models.PositiveIntegerField(default=0)
    max_retry = models.PositiveIntegerField(default=default_max_retry)
    next_retry_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    last_error = models.TextField(blank=True, default="")
    # Lease of the relay that claimed the row; lease_id tells that relay's claim from a later one.
    locked_until = models.DateTimeField(null=True, blank=True)
    lease_id = models.UUIDField(null=True, blank=True, editable=False)
    published_at = models.DateTimeField(null=True, blank=True)
    consumed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_retry_at"], name="outbox_status_next_idx"),
            # The relay's scan: O(due rows), not O(table).
            models.Index(
                fields=["next_retry_at", "created_at"],
                name="outbox_due_idx",
                condition=Q(status="pending"),
            ),
            # Per-key order: "is there an older pending (relay) / unconsumed (consumer) row with this key?"
            models.Index(
                fields=["message_key", "created_at"],
                name="outbox_live_key_idx",
                condition=Q(status__in=["pending", "published"]),
            ),
            # Redelivery of rows published but never consumed.
            models.Index(fields=["published_at"], name="outbox_published_idx", condition=Q(status="published")),
            # Purge of consumed rows.
            models.Index(fields=["consumed_at"], name="outbox_consumed_idx", condition=Q(status="consumed")),
            models.Index(fields=["topic", "status"], name="outbox_topic_status_idx"),
            # The admin's newest-first list (Meta.ordering) without sorting the table.
            models.Index(fields=["-created_at"], name="outbox_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "published", "consumed", "dead"]), name="outbox_status_valid"
            ),
        ]

    def __str__(self):
        return f"{self.biz_type} {self.id} ({self.status})"


class InboxRecord(models.Model):
    """An event id a consumer service has applied; the unique pair makes handlers idempotent."""

    service_name = models.CharField(max_length=64)
    event_id = models.UUIDField()
    processed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service_name", "event_id"], name="outbox_inbox_unique_event"),
        ]
        indexes = [models.Index(fields=["processed_at"], name="outbox_inbox_processed_idx")]

    def __str__(self):
        return f"{self.service_name}:{self.event_id}"


class OutboxLock(models.Model):
    """A named lease in the database (single-flight for beat-driven runs); works on SQLite and PostgreSQL."""

    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=64, blank=True, default="")
    expires_at = models.DateTimeField()

    def __str__(self):
        return self.name
