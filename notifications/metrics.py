"""Prometheus: delivery results (a counter) and the live backlog (gauges read at scrape time)."""

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

DELIVERIES = Counter(
    "smartmate_notification_deliveries_total",
    "Notification delivery results by channel and outcome (sent, retry, dead, skipped)",
    ["channel", "outcome"],
)


class BacklogCollector:
    """Records waiting or in flight, by status, and the age of the oldest due one."""

    def collect(self):
        from django.db.models import Count, Min
        from django.utils import timezone

        from notifications.models import NotificationRecord

        Status = NotificationRecord.Status
        live = [Status.PENDING, Status.FAILED, Status.SENDING]
        by_status = GaugeMetricFamily(
            "smartmate_notification_records", "Notification records not yet settled, by status", labels=["status"]
        )
        oldest = GaugeMetricFamily(
            "smartmate_notification_oldest_due_seconds", "Age of the oldest notification due for delivery"
        )
        try:
            counts = dict(
                NotificationRecord.objects.filter(status__in=live)
                .values_list("status")
                .annotate(n=Count("id"))
                .values_list("status", "n")
            )
            now = timezone.now()
            first_due = NotificationRecord.objects.filter(
                status__in=[Status.PENDING, Status.FAILED], next_retry_at__lte=now
            ).aggregate(first=Min("next_retry_at"))["first"]
        except Exception:  # a scrape must not fail because the database is away
            return
        for status in live:
            by_status.add_metric([status], counts.get(status, 0))
        oldest.add_metric([], (now - first_due).total_seconds() if first_due else 0.0)
        yield by_status
        yield oldest
