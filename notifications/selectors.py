"""Notification reads."""

from django.db.models import QuerySet

from notifications.models import NotificationChannel, NotificationRecord


def channel_list(*, user) -> QuerySet[NotificationChannel]:
    return NotificationChannel.objects.filter(user=user).order_by("kind")


def channel_get(*, user, kind: str) -> NotificationChannel | None:
    return NotificationChannel.objects.filter(user=user, kind=kind).first()


def notification_list(*, user, status: str | None = None) -> QuerySet[NotificationRecord]:
    records = NotificationRecord.objects.filter(user=user).order_by("-created_at", "-id")
    if status:
        records = records.filter(status=status)
    return records
