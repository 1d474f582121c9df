"""Feishu (Lark) custom-bot webhook: an interactive card, optionally signed.

Signing, as Feishu documents it: string_to_sign = f"{timestamp}\\n{secret}",
sign = base64(HMAC-SHA256(key=string_to_sign, msg=b"")); the body carries
"timestamp" (seconds, as a string) and "sign". Feishu answers HTTP 200 even for a bad
signature or key, with a body `code` ≠ 0.

Only the codes Feishu documents as the caller's fault are permanent (the row goes dead):
they will not change by sending again. Rate limits (code 9499 or 11232, HTTP 429: a bot may
post 5 times a second, 100 a minute) and server errors are retried: a few quick retries with
backoff inside this send, then the row's own retry schedule. An unknown code is retried too,
bounded by the row's attempts, rather than losing the notification on a guess.
"""

import base64
import hashlib
import hmac
import json
from datetime import datetime

from notifications.channels import http
from notifications.channels.http import RETRYABLE_STATUSES, DeliveryError, backoff_sleep, mask, post, quick_retries
from notifications.messages import Message

# The caller's fault: a wrong or deleted hook, a bad signature or a clock off by over an hour,
# an IP or keyword rule of the bot, a disabled bot.
PERMANENT_CODES = {
    19001: "the webhook URL or its parameters are invalid",
    19002: "the request body is invalid",
    19007: "the bot is disabled or was removed from the chat",
    19021: "signature check failed (secret or clock)",
    19022: "the sending IP is not allowed by the bot",
    19024: "the message lacks the bot's keyword",
}
RATE_LIMIT_CODES = {9499, 11232}


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


def _body(message: Message, secret: str, now: datetime) -> bytes:
    body = build(message)
    if secret:
        timestamp = str(int(now.timestamp()))
        body = {"timestamp": timestamp, "sign": sign(secret, timestamp), **body}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _answer_error(reply) -> DeliveryError | None:
    """The error a 2xx answer's body `code` stands for, or None for success."""
    answer = reply.json()
    if not isinstance(answer, dict):
        return None
    code = answer.get("code", answer.get("StatusCode", 0))
    if code in (0, None):
        return None
    msg = str(answer.get("msg") or answer.get("StatusMessage") or "error")[:500]
    permanent = code in PERMANENT_CODES
    text = f"Feishu code {code}: {msg}" + (f" ({PERMANENT_CODES[code]})" if permanent else "")
    return DeliveryError(text, permanent=permanent, status=reply.status, code=code, retry_after=reply.retry_after())


def _quick_retry(error: DeliveryError) -> bool:
    return not error.permanent and (error.code in RATE_LIMIT_CODES or error.status in RETRYABLE_STATUSES)


def check(target: str) -> None:
    http.check_url("feishu", target)


def send(
    *, target: str, secret: str, message: Message, context: dict, now: datetime, previous_secret: str = ""
) -> None:
    retries = quick_retries()
    for attempt in range(retries + 1):
        try:
            error = _answer_error(post(target, _body(message, secret, now), {}))
        except DeliveryError as exc:
            error = exc
        if error is None:
            return
        if attempt == retries or not _quick_retry(error):
            raise error
        backoff_sleep(attempt, error.retry_after)


__all__ = ["PERMANENT_CODES", "RATE_LIMIT_CODES", "build", "check", "mask", "send", "sign"]
