"""Conditional reads of the cached reads (docs/DOMAIN.md §13, "Conditional reads").

A cached read's answer is a function of its cache version(s) and of a few inputs known before
any body is read: the user, the user's clock (zone, semester start), the resolved week or day,
the URL. Its ETag is an HMAC of exactly those, so `If-None-Match` is answered 304 after one
version read, without reading the cached body or rendering anything; any write that can change
the answer renews the version (scheduling.cache), and with it the tag.

What also moves with the clock alone is inside the tag too:
- the week without `?week=` and today name the resolved week and date;
- a task's effective priority is promoted once `urgency_threshold_at` passes, so a task page's
  tag carries the earliest such instant on it (`valid_until`) and stops matching from then on.

Tags are keyed with SECRET_KEY: another user's tag, or a tag made up by a client, never matches.
When the cache is down there is no version, so no tag: the read answers 200 as before.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from django.conf import settings
from django.http import HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags

# Renew every tag on a deploy that changes how an answer is rendered.
REVISION = "1"

_KEY: bytes | None = None


def _key() -> bytes:
    global _KEY
    if _KEY is None:
        # The section times shape every rendered time; a deploy that changes them renews the tags.
        sections = repr(settings.SCHEDULING_SECTION_TIMES)
        seed = f"smartmate.etags|{settings.SECRET_KEY}|{settings.VERSION}|{REVISION}|{sections}"
        _KEY = hashlib.sha256(seed.encode()).digest()
    return _KEY


def etag(*parts, valid_until: float | None = None) -> str:
    """The quoted ETag of an answer made from `parts` (the versions first); None in `parts`
    (a version the cache could not give) means: no tag."""
    until = int(valid_until) if valid_until else 0
    message = "|".join(str(part) for part in (until, *parts)).encode()
    digest = hmac.new(_key(), message, hashlib.sha256).hexdigest()[:24]
    return f'"{until:x}.{digest}"' if until else f'"{digest}"'


def matched(request, *parts) -> str | None:
    """The tag of If-None-Match that names the current answer of `parts` (made from them, and
    within its valid_until), or None. Reads no cache and renders nothing."""
    header = request.META.get("HTTP_IF_NONE_MATCH")
    if not header:
        return None
    now = time.time()
    for tag in parse_etags(header):
        if tag == "*":
            return etag(*parts)
        if tag.startswith("W/"):
            tag = tag[2:]  # If-None-Match compares weakly (RFC 9110 §13.1.2)
        opaque = tag.strip('"')
        until = 0
        if "." in opaque:
            try:
                until = int(opaque.split(".", 1)[0], 16)
            except ValueError:
                continue
            if until <= now:
                continue
        if hmac.compare_digest(tag, etag(*parts, valid_until=until)):
            return tag
    return None


def private(response, tag: str | None):
    """Tag a per-user answer: only the user's own client may keep it, and must ask again."""
    return _tagged(response, tag, "private, no-cache")


def shared(request, response, tag: str | None):
    """Tag an answer anyone may read (an anonymous reader's may be kept by a shared cache)."""
    signed_in = getattr(request, "user", None) is not None and request.user.is_authenticated
    return _tagged(response, tag, "private, no-cache" if signed_in else "public, no-cache")


def _tagged(response, tag, cache_control):
    if tag is not None:
        response["ETag"] = tag
        response["Cache-Control"] = cache_control
    patch_vary_headers(response, ["Authorization"])
    return response


def not_modified() -> HttpResponseNotModified:
    """The 304: no body; the caller tags it like the 200 it stands for (RFC 9110 §15.4.5)."""
    return HttpResponseNotModified()


def conditional(handler):
    """Marks a GET handler as a conditional read: the schema documents If-None-Match and 304
    on it (smartmate.schema)."""
    handler.conditional_read = True
    return handler
