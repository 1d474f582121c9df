"""Notification reads."""

from django.db.models import QuerySet

from notifications.filters import NotificationFilter
from notifications.models import NotificationChannel, NotificationRecord
from smartmate.filtering import apply


def channel_list(*, user) -> QuerySet[NotificationChannel]:
    return NotificationChannel.objects.filter(user=user).order_by("kind")


def channel_get(*, user, kind: str) -> NotificationChannel | None:
    return NotificationChannel.objects.filter(user=user, kind=kind).first()


def notification_list(*, user, filters=None) -> QuerySet[NotificationRecord]:
    """Newest first; `filters` is the query string (status, channel), checked by NotificationFilter."""
    records = NotificationRecord.objects.filter(user=user).order_by("-created_at", "-id")
    return apply(NotificationFilter, filters or {}, records)
