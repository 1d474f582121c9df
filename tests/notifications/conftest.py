"""Fixtures for the notifications tests: a real HTTP endpoint on loopback, settings that
allow it, event data shaped like the scheduler's `notification.requested`."""

import uuid
from datetime import datetime

import pytest
from django.utils import timezone

from outbox.registry import Envelope


@pytest.fixture(autouse=True)
def notification_settings(settings):
    settings.NOTIFICATIONS_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.NOTIFICATIONS_HTTP_TIMEOUT = 5.0
    settings.NOTIFICATIONS_LEASE_SECONDS = 600
    settings.NOTIFICATIONS_RETRY_DELAYS_MINUTES = [5, 10, 20, 30]
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 5
    settings.NOTIFICATIONS_BATCH_SIZE = 100
    settings.NOTIFICATIONS_SEND_CONCURRENCY = 4
    settings.PUBLIC_BASE_URL = "https://smartmate.example.com"
    return settings


@pytest.fixture
def hook(httpserver_ipv4):
    """A real HTTP server on 127.0.0.1 (werkzeug) recording every request; tests script its answers."""
    yield httpserver_ipv4
    httpserver_ipv4.clear()


@pytest.fixture
def public_dns(monkeypatch):
    """Answer DNS for made-up public host names from a table the test can change."""
    from notifications import ssrf

    table: dict[str, list[str]] = {}
    real = ssrf.lookup

    def lookup(host, port):
        if host in table:
            return list(table[host])
        return real(host, port)

    monkeypatch.setattr(ssrf, "lookup", lookup)
    return table


def event_data(user, **overrides) -> dict:
    preview_id = str(uuid.uuid4())
    data = {
        "user_id": user.pk,
        "dedupe_key": f"preview:{preview_id}",
        "kind": "preview_ready",
        "preview_id": preview_id,
        "trigger_id": str(uuid.uuid4()),
        "trigger_type": "important_urgent_task",
        "target_type": "task_pool",
        "target_id": 42,
        "task_title": "Linear algebra problem set",
        "slots": [
            {"start_at": "2026-11-24T06:00:00+00:00", "end_at": "2026-11-24T07:40:00+00:00"},
            {"start_at": "2026-11-25T02:15:00+00:00", "end_at": "2026-11-25T03:55:00+00:00"},
        ],
    }
    data.update(overrides)
    return data


def envelope(data: dict) -> Envelope:
    return Envelope(
        event_id=str(uuid.uuid4()), biz_type="notification.requested", occurred_at=timezone.now(), data=data
    )


@pytest.fixture
def t0() -> datetime:
    return timezone.now().replace(microsecond=0)
