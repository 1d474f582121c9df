"""Feishu (Lark) custom-bot webhook: an interactive card, optionally signed.

Signing, as Feishu documents it: string_to_sign = f"{timestamp}\\n{secret}",
sign = base64(HMAC-SHA256(key=string_to_sign, msg=b"")); the body carries
"timestamp" (seconds, as a string) and "sign". Feishu answers HTTP 200 even for a bad
signature or key, with a body `code` ≠ 0: that is a permanent failure.
"""

import base64
import hashlib
import hmac
import json
from datetime import datetime

from notifications.channels.http import DeliveryError, post
from notifications.messages import Message


def sign(secret: str, timestamp: int | str) -> str:
    string_to_sign = f"{timestamp}\n{secret}".encode()
    digest = hmac.new(string_to_sign, b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def build(message: Message) -> dict:
    """The card: title, summary, the proposed slots one per line, and a button to the preview."""
    elements: list[dict] = [{"tag": "div", "text": {"tag": "plain_text", "content": message.summary}}]
    if message.slots:
        elements.append({"tag": "hr"})
        elements.append(
            {
                "tag": "div",
                "text": {"tag": "plain_text", "content": "\n".join(f"• {slot}" for slot in message.slots)},
            }
        )
    elements.append(
        {
            "tag": "action",
            "actions": [
                {
                    "tag": "button",
                    "text": {"tag": "plain_text", "content": message.action_text},
                    "type": "primary",
                    "url": message.action_url,
                }
            ],
        }
    )
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True, "enable_forward": True},
            "header": {"title": {"tag": "plain_text", "content": message.title}, "template": "blue"},
            "elements": elements,
        },
    }


def send(*, url: str, secret: str, message: Message, context: dict, now: datetime) -> None:
    body = build(message)
    if secret:
        timestamp = str(int(now.timestamp()))
        body = {"timestamp": timestamp, "sign": sign(secret, timestamp), **body}
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    reply = post(url, raw, {})
    answer = reply.json()
    if isinstance(answer, dict):
        code = answer.get("code", answer.get("StatusCode", 0))
        if code not in (0, None):
            msg = str(answer.get("msg") or answer.get("StatusMessage") or "error")[:500]
            raise DeliveryError(f"Feishu code {code}: {msg}", permanent=True, status=reply.status, code=code)
