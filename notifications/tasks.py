"""Thin Celery tasks: each calls one service."""

from celery import shared_task

from notifications import services


@shared_task(name="notifications.sweep", ignore_result=True)
def sweep() -> dict:
    """Beat, every 60 s: return expired leases to pending, then send one batch of due rows."""
    return services.notifications_sweep()


@shared_task(name="notifications.deliver", ignore_result=True)
def deliver_notification(record_id: int) -> dict:
    """Enqueued after the handler's commit: send that record now if it is still due."""
    return services.notifications_deliver(record_ids=[record_id], limit=1)
