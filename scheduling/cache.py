"""Every scheduling cache key and version, in one place (docs/DOMAIN.md §4).

Cached values are raw rows (dicts of column values); anything that depends on the
clock (effective priority, start/end times, current/next) is derived after the cache.

Families and how they are invalidated, never with KEYS/SCAN:
- schedule reads (week, today, ongoing) carry the per-user version `{ver}` in their key;
  `schedule_changed` sets that version to a fresh UUID, so every week/day of the user is
  dropped at once (an event moved to another week cannot leave the old week stale).
- `sm:sched:recent:{user}`, `sm:tasks:{user}`, `sm:taskclasses:{user}` are exact keys, deleted
  on invalidation. Their value is stored with the version of its family read *before* the
  database read, and is served only while that version is still current: a reader that
  raced a committing writer can never re-cache stale rows past the writer's invalidation.

A version's scope is a user id, or a name for a family shared by everyone (the plan square's
listing, scheduling.plansquare.cache).

A cache failure never fails a read or a write: it is logged and the database answers.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

logger = logging.getLogger("smartmate.cache")

SCHEDULE = "sched"
TASKS = "tasks"
TASK_CLASSES = "taskclasses"


def week_key(user_id: int, ver: str, week: int) -> str:
    return f"sm:sched:week:{user_id}:{ver}:{week}"


def today_key(user_id: int, ver: str, on: date) -> str:
    return f"sm:sched:today:{user_id}:{ver}:{on.isoformat()}"


def ongoing_key(user_id: int, ver: str) -> str:
    return f"sm:sched:ongoing:{user_id}:{ver}"


def recent_key(user_id: int) -> str:
    return f"sm:sched:recent:{user_id}"


def tasks_key(user_id: int) -> str:
    return f"sm:tasks:{user_id}"


def task_classes_key(user_id: int) -> str:
    return f"sm:taskclasses:{user_id}"


def version_key(family: str, user_id: int | str) -> str:
    return f"sm:ver:{family}:{user_id}"


# Exact keys deleted with each family's version bump (the versioned keys need no delete).
_FAMILY_KEYS: dict[str, Callable[[int], str]] = {SCHEDULE: recent_key, TASKS: tasks_key, TASK_CLASSES: task_classes_key}


def ttl() -> int:
    return settings.SCHEDULING_CACHE_TTL


# Versions expire too, so idle users cost no memory: when one expires a fresh one is made, which
# only orphans the values stamped with the old one (they are never served again).
VERSION_TTL = 24 * 3600


def family_version(family: str, user_id: int | str) -> str | None:
    """The family's current version, created if absent; None when the cache is down."""
    key = version_key(family, user_id)
    try:
        ver = cache.get(key)
        if ver is None:
            cache.add(key, uuid.uuid4().hex, VERSION_TTL)
            ver = cache.get(key)
        return ver
    except Exception:
        logger.warning("cache unavailable reading %s", key, exc_info=True)
        return None


def read_through(key: str | None, compute: Callable[[], Any], *, timeout: int | None = None) -> Any:
    """Serve `key` from the cache or compute and store it. `key` None means: do not cache."""
    if key is None:
        return compute()
    try:
        hit = cache.get(key)
    except Exception:
        logger.warning("cache unavailable reading %s", key, exc_info=True)
        return compute()
    if hit is not None:
        return hit
    value = compute()
    _store(key, value, timeout)
    return value


def read_stamped(family: str, user_id: int, key: str, compute: Callable[[], Any], *, timeout=None) -> Any:
    """Like read_through for an exact (unversioned) key, guarded by its family's version."""
    vkey = version_key(family, user_id)
    try:
        found = cache.get_many([vkey, key])
    except Exception:
        logger.warning("cache unavailable reading %s", key, exc_info=True)
        return compute()
    ver = found.get(vkey) or family_version(family, user_id)
    stored = found.get(key)
    if ver is not None and stored is not None and stored[0] == ver:
        return stored[1]
    value = compute()
    if ver is not None:
        _store(key, (ver, value), timeout)
    return value


def _store(key, value, timeout):
    try:
        cache.set(key, value, ttl() if timeout is None else max(1, min(int(timeout), ttl())))
    except Exception:
        logger.warning("cache unavailable writing %s", key, exc_info=True)


def invalidate_now(user_id: int | str, families) -> None:
    """Give each family a fresh version and delete its exact key, in one round trip on Redis
    (a write pays for it on every commit). Never raises."""
    versions = {version_key(family, user_id): uuid.uuid4().hex for family in families}
    exact = [_FAMILY_KEYS[family](user_id) for family in families if family in _FAMILY_KEYS]
    try:
        client = getattr(cache, "client", None)  # django-redis: pipeline the commands
        if client is not None and hasattr(client, "get_client"):
            pipe = client.get_client(write=True).pipeline(transaction=False)
            for key, value in versions.items():
                pipe.set(client.make_key(key), client.encode(value), ex=VERSION_TTL)
            if exact:
                pipe.delete(*(client.make_key(key) for key in exact))
            pipe.execute()
        else:
            cache.set_many(versions, VERSION_TTL)
            cache.delete_many(exact)
    except Exception:
        logger.warning("cache unavailable invalidating %s of user %s", sorted(families), user_id, exc_info=True)


class _Invalidation:
    """The on-commit callback of one user's invalidations in one transaction."""

    __slots__ = ("families", "user_id")

    def __init__(self, user_id):
        self.user_id, self.families = user_id, set()

    def __call__(self):
        invalidate_now(self.user_id, self.families)


def invalidate_on_commit(user_id: int | str | None, *families: str) -> None:
    """Clear the families once the current transaction commits (at once outside one).

    A rolled-back write clears nothing. A transaction clears each user's families once,
    together: families are added to the user's callback already queued in it. That is
    safe because a queued callback outlives any later one of the same transaction (its
    savepoints either are still open, and so enclose the later one, or were released).
    """
    if not user_id:
        return
    if connection.in_atomic_block:
        for _sids, callback, _robust in connection.run_on_commit:
            if isinstance(callback, _Invalidation) and callback.user_id == user_id:
                callback.families.update(families)
                return
    callback = _Invalidation(user_id)
    callback.families.update(families)
    transaction.on_commit(callback, robust=True)
