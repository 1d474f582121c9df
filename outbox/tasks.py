"""Beat-driven outbox work. Thin: each task calls a service and returns counts."""

import logging
import os
import socket
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from outbox import relay as relay_mod
from outbox import services

logger = logging.getLogger(__name__)
RELAY_LOCK = "outbox.relay"


@shared_task(name="outbox.tasks.relay", ignore_result=True)
def relay(max_seconds: float = 10.0) -> dict:
    """Single-flight: a run that finds another in progress returns at once (beat fires every second)."""
    holder = f"{socket.gethostname()}:{os.getpid()}"
    lease = max(settings.OUTBOX_LEASE_SECONDS, max_seconds * 2)
    if not services.lock_acquire(RELAY_LOCK, holder=holder, seconds=lease):
        return {"skipped": "another relay run holds the lock"}
    try:
        result = relay_mod.relay_until_idle(max_seconds=max_seconds)
    finally:
        services.lock_release(RELAY_LOCK, holder=holder)
    return {"claimed": result.claimed, "published": result.published, "dead": result.dead}


@shared_task(name="outbox.tasks.recover_leases", ignore_result=True)
def recover_leases() -> dict:
    return services.recover_leases()


@shared_task(name="outbox.tasks.purge", ignore_result=True)
def purge() -> int:
    return services.purge(older_than=timedelta(days=settings.OUTBOX_PURGE_AFTER_DAYS))
