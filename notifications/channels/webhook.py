"""Generic webhook: the JSON body of docs/DOMAIN.md §3, signed per the Standard Webhooks
convention when a secret is set:

    webhook-id: <stable per notification: a retry carries the same id, so receivers dedupe on it>
    webhook-timestamp: <unix seconds of this attempt>
    webhook-signature: v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{body}")> [v1,<...> ...]

The key of a `whsec_<base64>` secret is its decoded base64, as the Standard Webhooks libraries
read it; any other secret is used as its UTF-8 bytes. While a rotated-out secret is still
accepted (NOTIFICATIONS_SECRET_ROTATION_HOURS), each delivery is signed with both, space
separated, so a receiver may switch keys at any time in that window.

Deprecated, kept for one release: `X-SmartMate-Signature: sha256=<hex HMAC-SHA256(secret,
raw body)>` (current secret only, no timestamp). `X-SmartMate-Delivery` carries the
notification id as before.
"""

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from datetime import datetime

from notifications.channels import http
from notifications.channels.http import mask, post
from notifications.messages import Message

SIGNATURE_HEADER = "X-SmartMate-Signature"  # deprecated: removed in the release after 0.2
SECRET_PREFIX = "whsec_"


def sign(secret: str, body: bytes) -> str:
    """The deprecated X-SmartMate-Signature value."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signing_key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        encoded = secret[len(SECRET_PREFIX) :]
        try:
            return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            pass  # not base64 after all: its bytes, like any other secret
    return secret.encode()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(*, secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(standard_signature(s, msg_id, timestamp, body) for s in secrets if s),
    }


def message_id(context: dict) -> str:
    """Stable across retries of one notification; a connection test gets a fresh one."""
    notification_id = context.get("notification_id")
    return f"msg_notification_{notification_id}" if notification_id is not None else f"msg_test_{uuid.uuid4().hex}"


def build(message: Message, *, context: dict, sent_at: datetime) -> dict:
    return {
        "event": context.get("event"),
        "version": 1,
        "notification_id": context.get("notification_id"),
        "user_id": context.get("user_id"),
        "preview_id": context.get("preview_id"),
        "trigger_id": context.get("trigger_id"),
        "trigger_type": context.get("trigger_type"),
        "target_type": context.get("target_type"),
        "target_id": context.get("target_id"),
        "message": message.public(),
        "sent_at": sent_at.isoformat(),
    }


def check(target: str) -> None:
    http.check_url("webhook", target)


def send(
    *, target: str, secret: str, message: Message, context: dict, now: datetime, previous_secret: str = ""
) -> None:
    raw = json.dumps(build(message, context=context, sent_at=now), ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"X-SmartMate-Event": str(context.get("event") or "")}
    if context.get("notification_id") is not None:
        headers["X-SmartMate-Delivery"] = str(context["notification_id"])
    if secret:
        headers.update(
            signature_headers(
                secrets=[secret, previous_secret], msg_id=message_id(context), timestamp=int(now.timestamp()), body=raw
            )
        )
        headers[SIGNATURE_HEADER] = sign(secret, raw)
    post(target, raw, headers)


__all__ = ["build", "check", "mask", "send", "sign", "signature_headers", "signing_key", "standard_signature"]
