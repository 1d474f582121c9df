"""One cache round trip for what an authenticated request reads before its view runs.

On a loaded machine every Redis round trip is a context switch away from the CPU, and an
authenticated GET used to make four of them before its own work: the login snapshot, the
user's token bucket, the cache version its answer is stored under, then the body. Each is
small; together they were most of the request (docs/BENCHMARKS.md, "Per-request cost").

So authentication (accounts.authentication) reads, in one pipeline: the login generation and
snapshot (accounts.logins), the view's declared cache versions (`prefetch`, e.g. the schedule
version of the week), and — when the view applies `UserTokenBucketThrottle` — takes one token
of the user's bucket with the same Lua script the throttle runs. The versions are kept for the
rest of the request in a context variable that `family_version` (scheduling.cache) consults;
the throttle uses the verdict instead of calling Redis again.

A version renewed during the request (a write) is forgotten here at once, so the rest of the
request reads it fresh. Not django-redis (the embedded file cache): plain `get_many`, and the
throttle calls its own store. Redis down: nothing is found, the throttle fails open, as before.
"""

from __future__ import annotations

import contextvars
import logging

from django.core.cache import cache

logger = logging.getLogger("smartmate.cache")

MISSING = object()
_prefetched: contextvars.ContextVar[dict | None] = contextvars.ContextVar("prefetched", default=None)


def begin():
    """Start a request with nothing prefetched (RequestContextMiddleware); returns the reset token."""
    return _prefetched.set(None)


def end(token) -> None:
    _prefetched.reset(token)


def prefetched(key: str):
    """The value read for `key` at authentication, or MISSING (never read, or renewed since)."""
    found = _prefetched.get()
    if not found:
        return MISSING
    return found.get(key, MISSING)


def forget(keys) -> None:
    found = _prefetched.get()
    if found:
        for key in keys:
            found.pop(key, None)


def prefetch(*keys_of):
    """Declare on a handler the cache keys its request reads first: each `keys_of(user_id)`
    returns keys; they come back with the login check's round trip."""

    def mark(handler):
        handler.prefetch_keys = keys_of
        return handler

    return mark


def declared_keys(view, user_id) -> list[str]:
    if view is None:
        return []
    action = getattr(view, "action", None)
    method = getattr(getattr(view, "request", None), "method", "get") or "get"
    handler = getattr(view, action or method.lower(), None)
    return [key for keys_of in getattr(handler, "prefetch_keys", ()) for key in keys_of(user_id)]


def read(keys: list[str], *, keep: list[str], bucket=None) -> tuple[dict, tuple | None]:
    """({key: value} of `keys` found, the bucket's (allowed, tokens) or None), in one round trip
    on django-redis. `keep`: keys remembered for the rest of the request (found or not, so a
    missing version is not asked again before it is made). `bucket`: (key, capacity, refill,
    now) of the user's token bucket, or None."""
    client = getattr(cache, "client", None)
    verdict = None
    if client is None or not hasattr(client, "get_client"):
        found = _get_many(keys)
    else:
        from smartmate import throttling

        try:
            redis = client.get_client(write=True)
            pipe = redis.pipeline(transaction=False)
            pipe.mget([client.make_key(key) for key in keys])
            if bucket is not None:
                throttling.bucket_command(pipe, redis, *bucket)
            results = pipe.execute(raise_on_error=False)
        except Exception:
            logger.warning("cache unavailable reading the request's keys", exc_info=True)
            return {}, None
        values = results[0]
        found = {}
        if not isinstance(values, Exception):
            for key, raw in zip(keys, values, strict=True):
                if raw is not None:
                    found[key] = client.decode(raw)
        if bucket is not None:
            verdict = throttling.bucket_verdict(results[1])
    _prefetched.set({key: found[key] for key in keep if key in found})
    return found, verdict


def _get_many(keys):
    try:
        return cache.get_many(keys)
    except Exception:
        logger.warning("cache unavailable reading the request's keys", exc_info=True)
        return {}
