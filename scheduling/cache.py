"""Every scheduling cache key and version, in one place (DOMAIN §4).

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


def version_key(family: str, user_id: int) -> str:
    return f"sm:ver:{family}:{user_id}"


# Exact keys deleted with each family's version bump (the versioned keys need no delete).
_FAMILY_KEYS: dict[str, Callable[[int], str]] = {SCHEDULE: recent_key, TASKS: tasks_key, TASK_CLASSES: task_classes_key}


def ttl() -> int:
    return settings.SCHEDULING_CACHE_TTL


def family_version(family: str, user_id: int) -> str | None:
    """The family's current version, created if absent; None when the cache is down."""
    key = version_key(family, user_id)
    try:
        ver = cache.get(key)
        if ver is None:
            cache.add(key, uuid.uuid4().hex, None)
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


def invalidate_now(family: str, user_id: int) -> None:
    """Give the family a fresh version and delete its exact key. Never raises."""
    try:
        cache.set(version_key(family, user_id), uuid.uuid4().hex, None)
        exact = _FAMILY_KEYS.get(family)
        if exact is not None:
            cache.delete(exact(user_id))
    except Exception:
        logger.warning("cache unavailable invalidating %s of user %s", family, user_id, exc_info=True)


class _Invalidation:
    """An on-commit callback comparable by (family, user), so one transaction clears a family once."""

    __slots__ = ("family", "user_id")

    def __init__(self, family, user_id):
        self.family, self.user_id = family, user_id

    def __eq__(self, other):
        return isinstance(other, _Invalidation) and (self.family, self.user_id) == (other.family, other.user_id)

    def __hash__(self):
        return hash((self.family, self.user_id))

    def __call__(self):
        invalidate_now(self.family, self.user_id)


def invalidate_on_commit(user_id: int | None, *families: str) -> None:
    """Clear the families once the current transaction commits (at once outside one).

    A rolled-back write clears nothing. Already-queued invalidations of the same
    (family, user) in this transaction are not queued again (Django drops the callbacks
    of a rolled-back savepoint from the same list, so skipping is safe).
    """
    if not user_id:
        return
    queued = {callback for _sids, callback, _robust in connection.run_on_commit} if connection.in_atomic_block else ()
    for family in families:
        callback = _Invalidation(family, user_id)
        if callback not in queued:
            transaction.on_commit(callback, robust=True)
