"""The one outbound POST every channel uses.

The URL is checked and resolved by `notifications.ssrf` immediately before the call
(DNS may have changed since the channel was saved) and the connection goes to the
checked address, with the original host in the Host header and TLS SNI/certificate
check. No redirects are followed; the whole exchange has a deadline; the response
body read is capped. No transaction may be open here: the caller settles the row
afterwards.
"""

import contextvars
import functools
import json
import logging
import random
import ssl
import time
from dataclasses import dataclass

import httpx
from django.conf import settings

from notifications import ssrf

MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "SmartMate-Notifications/1"


# httpx logs every request's full URL at INFO; a webhook URL's path is its credential
# (Feishu's hook token). While one of our sends runs, its URL is logged masked.
_masked_url: contextvars.ContextVar[str | None] = contextvars.ContextVar("notification_masked_url", default=None)


class _MaskWebhookUrls(logging.Filter):
    def filter(self, record):
        masked = _masked_url.get()
        if masked and isinstance(record.args, tuple):
            record.args = tuple(masked if isinstance(arg, httpx.URL) else arg for arg in record.args)
        return True


logging.getLogger("httpx").addFilter(_MaskWebhookUrls())


class DeliveryError(Exception):
    """A failed delivery. `permanent` → dead at once; otherwise retried with backoff.

    `str()` is safe to store and show: it never holds the URL's path or a secret."""

    def __init__(
        self, message: str, *, permanent: bool, status: int | None = None, code=None, retry_after: float | None = None
    ):
        super().__init__(message)
        self.permanent = permanent
        self.status = status
        self.code = code
        self.retry_after = retry_after  # seconds the endpoint asked us to wait (Retry-After), if it said


# Statuses worth a quick retry inside the same send: a rate limit or a passing server error.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] | None = None

    def retry_after(self) -> float | None:
        """Retry-After (seconds), or Feishu's gateway header x-ogw-ratelimit-reset."""
        for name in ("retry-after", "x-ogw-ratelimit-reset"):
            value = (self.headers or {}).get(name)
            if value is not None:
                try:
                    return max(0.0, float(value))
                except ValueError:
                    continue
        return None

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One verifying TLS context (certifi's roots) for every send; built once per process."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def timeout_seconds() -> float:
    return float(getattr(settings, "NOTIFICATIONS_HTTP_TIMEOUT", 5.0))


def check_url(kind: str, url: str) -> None:
    """Before each send: the URL rules of the kind (a channel saved before a rule existed)."""
    try:
        ssrf.check_channel_url(kind, url)
    except ssrf.UnsafeUrl as exc:
        raise DeliveryError(f"Refused: {exc}", permanent=True)


mask = ssrf.mask_url  # a URL is shown and logged masked after its host


def post(url: str, body: bytes, headers: dict[str, str]) -> Reply:
    """POST `body` to `url`; return a 2xx reply or raise DeliveryError."""
    try:
        target = ssrf.resolve(url)
    except ssrf.UnsafeUrl as exc:
        # A refused address is final; a name that does not resolve right now may later.
        raise DeliveryError(f"Refused: {exc}", permanent=not exc.transient)
    timeout = timeout_seconds()
    deadline = time.monotonic() + timeout
    request_headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        **headers,
        "Host": ssrf.host_header(url),
    }
    extensions = {"sni_hostname": target.host} if target.pinned_url.startswith("https") else {}
    token = _masked_url.set(ssrf.mask_url(url))
    try:
        with (
            httpx.Client(
                timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False, verify=ssl_context()
            ) as client,
            client.stream(
                "POST", target.pinned_url, content=body, headers=request_headers, extensions=extensions
            ) as response,
        ):
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= MAX_RESPONSE_BYTES:
                    break
                if time.monotonic() > deadline:
                    raise DeliveryError(f"Timed out after {timeout:g} s.", permanent=False)
            headers = {name.lower(): value for name, value in response.headers.items()}
            reply = Reply(status=response.status_code, body=b"".join(chunks)[:MAX_RESPONSE_BYTES], headers=headers)
    except httpx.TimeoutException:
        raise DeliveryError(f"Timed out after {timeout:g} s.", permanent=False)
    except httpx.TransportError as exc:
        raise DeliveryError(f"Connection failed: {type(exc).__name__}.", permanent=False)
    except httpx.HTTPError as exc:  # e.g. a body that cannot be decoded
        raise DeliveryError(f"Bad response: {type(exc).__name__}.", permanent=False)
    finally:
        _masked_url.reset(token)
    return classify(reply)


def classify(reply: Reply) -> Reply:
    """2xx passes; 429 and 5xx are retried; redirects and other 4xx are permanent."""
    status = reply.status
    if 200 <= status < 300:
        return reply
    excerpt = _excerpt(reply.body)
    message = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
    if status == 429 or status >= 500:
        raise DeliveryError(message, permanent=False, status=status, retry_after=reply.retry_after())
    if 300 <= status < 400:
        raise DeliveryError(f"HTTP {status}: redirects are not followed.", permanent=True, status=status)
    raise DeliveryError(message, permanent=True, status=status)


def backoff_sleep(attempt: int, retry_after: float | None) -> None:
    """Wait before the `attempt`-th quick retry: what the endpoint asked for, else 2^attempt times the
    base with jitter, never more than the cap (the row's own retry schedule takes over after)."""
    base = float(getattr(settings, "NOTIFICATIONS_QUICK_RETRY_BASE_SECONDS", 0.5))
    cap = float(getattr(settings, "NOTIFICATIONS_QUICK_RETRY_CAP_SECONDS", 5.0))
    wait = retry_after if retry_after is not None else base * (2**attempt) * (0.5 + random.random() / 2)
    time.sleep(min(max(wait, 0.0), cap))


def quick_retries() -> int:
    return int(getattr(settings, "NOTIFICATIONS_QUICK_RETRIES", 2))


def _excerpt(body: bytes, limit: int = 300) -> str:
    text = body[: limit * 4].decode("utf-8", "replace")
    text = " ".join(text.split())
    return text[:limit]
