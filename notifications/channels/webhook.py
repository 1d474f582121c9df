"""Generic webhook: the JSON body of DOMAIN §3, signed with
`X-SmartMate-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>` when a secret is set.

Receivers verify by computing the HMAC over the exact bytes received. The
`X-SmartMate-Delivery` header (the notification id) is stable across retries, so a
receiver can drop duplicates.
"""

import hashlib
import hmac
import json
from datetime import datetime

from notifications.channels.http import post
from notifications.messages import Message

SIGNATURE_HEADER = "X-SmartMate-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


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


def send(*, url: str, secret: str, message: Message, context: dict, now: datetime) -> None:
    raw = json.dumps(build(message, context=context, sent_at=now), ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"X-SmartMate-Event": str(context.get("event") or "")}
    if context.get("notification_id") is not None:
        headers["X-SmartMate-Delivery"] = str(context["notification_id"])
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, raw)
    post(url, raw, headers)
