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


class ScriptedSMTP:
    """An aiosmtpd handler whose RCPT and DATA replies the test scripts (a queue each; 250 once
    empty). Accepted mails are kept whole, as bytes, in `messages`."""

    def __init__(self):
        self.rcpt_replies: list[str] = []
        self.data_replies: list[str] = []
        self.messages: list[bytes] = []
        self.recipients: list[list[str]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_replies.pop(0) if self.rcpt_replies else "250 OK"
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):
        reply = self.data_replies.pop(0) if self.data_replies else "250 Message accepted for delivery"
        if reply.startswith("250"):
            self.messages.append(envelope.original_content or envelope.content)
            self.recipients.append(list(envelope.rcpt_tos))
        return reply

    def parsed(self, index=-1):
        import email
        from email import policy

        return email.message_from_bytes(self.messages[index], policy=policy.default)


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free loopback port, in its own thread; yields
    (handler, port)."""
    from aiosmtpd.controller import Controller

    from tests.conftest import free_port

    handler = ScriptedSMTP()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@pytest.fixture
def smtp(smtp_server, settings):
    """Django's SMTP backend pointed at the loopback server (what EMAIL_URL=smtp://… configures)."""
    handler, port = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "SmartMate <noreply@smartmate.example.com>"
    return handler
