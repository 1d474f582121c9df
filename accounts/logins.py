"""Is this login still live? The check every authenticated request makes (docs/DOMAIN.md §13,
"How soon a revoked login stops working").

PostgreSQL is the truth: a login family is live while `revoked_at` is null and its user is active
(`accounts.selectors.live_family`, the one place that rule is written). Asking it on every
request cost a round trip per request, so each user has a snapshot in the cache: the user's row
(without the password hash) and the ids of their live families, stamped with the user's login
generation `sm:login:gen:{user}`. Both are read in one round trip (MGET); the snapshot is served
only while its stamp equals the current generation.

Every path that can end a login or change the user gives the generation a fresh random value,
at once and after its transaction commits (`logins_changed`): a family revoke, every revoke of a user's
families, logout, reuse detection, and every save or delete of the user (deactivation and
password changes among them, accounts.signals). A reader stamps what it read from PostgreSQL with
the generation it read *before* PostgreSQL, so a snapshot raced by a committing revoker is never
served past that revoker's bump. A generation that expired or was evicted is replaced by a fresh
random one: no old snapshot can match it.

When the cache is down (the Redis breaker open, errors swallowed by django-redis) nothing matches
and every request asks PostgreSQL, as before. A family missing from a current snapshot is asked
of PostgreSQL too (a login made while a bump was lost is then still accepted).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import TokenFamily, User
from accounts.selectors import live_family

logger = logging.getLogger("smartmate.accounts")

# The user's columns a request may read without a query. The password hash and the calendar
# feed's secret hash stay out of the cache: reading them on the instance loads them (Django's
# deferred fields), and a save() of such an instance writes only the loaded columns.
_LEFT_OUT = {"password", "calendar_secret_hash"}
FIELDS = tuple(f.attname for f in User._meta.concrete_fields if f.attname not in _LEFT_OUT)
# A deploy that changes the columns reads none of the old snapshots (their tuples would not fit).
_SHAPE = hashlib.sha256(",".join(FIELDS).encode()).hexdigest()[:8]

GENERATION_TTL = 24 * 3600  # idle users cost no memory; an expired generation is replaced


def snapshot_seconds() -> int:
    return settings.LOGIN_SNAPSHOT_SECONDS


def generation_key(user_id) -> str:
    return f"sm:login:gen:{user_id}"


def snapshot_key(user_id) -> str:
    return f"sm:login:snap:{_SHAPE}:{user_id}"


def _user_from(values) -> User:
    """A User built from cached columns (no query); the columns left out are deferred."""
    return User.from_db("default", list(FIELDS), values)


def keys(user_id) -> list[str]:
    """The cache keys the check reads (smartmate.request_reads reads them with others)."""
    return [generation_key(user_id), snapshot_key(user_id)]


def live_user(*, family_pk, user_id, found: dict | None = None) -> User | None:
    """The active user whose login family `family_pk` is live, or None (revoked, unknown, another
    user's family, an inactive user). From the cache's snapshot when it is current, else from
    PostgreSQL (which then refreshes the snapshot). `found`: `keys(user_id)` already read."""
    if settings.LOGIN_SNAPSHOT_SECONDS <= 0:
        family = live_family(family_pk=family_pk, user_id=user_id)
        return family.user if family else None
    gkey, skey = generation_key(user_id), snapshot_key(user_id)
    if found is None:
        try:
            found = cache.get_many([gkey, skey])
        except Exception:  # a cache without IGNORE_EXCEPTIONS
            logger.warning("cache unavailable reading the login snapshot of user %s", user_id, exc_info=True)
            found = {}
    generation, snapshot = found.get(gkey), found.get(skey)
    if generation is not None and snapshot is not None and snapshot[0] == generation:
        _gen, values, families = snapshot
        if str(family_pk) in families:
            return _user_from(values)
    return _refreshed(family_pk=family_pk, user_id=user_id, generation=generation)


def _refreshed(*, family_pk, user_id, generation) -> User | None:
    if generation is None:
        generation = _generation_made(user_id)
    row = User.objects.filter(pk=user_id).values_list(*FIELDS).first()
    if row is None:
        return None
    # Only families that can still have an unexpired access token: refresh refuses a login past
    # LOGIN_MAX_AGE_DAYS, so its last access token is at most one access lifetime younger.
    oldest = timezone.now() - timedelta(days=settings.LOGIN_MAX_AGE_DAYS) - settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    families = frozenset(
        str(pk)
        for pk in TokenFamily.objects.filter(
            user_id=user_id, revoked_at__isnull=True, created_at__gte=oldest
        ).values_list("pk", flat=True)
    )
    user = _user_from(row)
    if generation is not None:
        try:
            cache.set(snapshot_key(user_id), (generation, row, families), snapshot_seconds())
        except Exception:
            logger.warning("cache unavailable writing the login snapshot of user %s", user_id, exc_info=True)
    if not user.is_active:
        return None
    if str(family_pk) in families:
        return user
    # Not among the recent live families: the authoritative check (an old family, or a stale read).
    family = live_family(family_pk=family_pk, user_id=user_id)
    return family.user if family else None


def _generation_made(user_id) -> str | None:
    key = generation_key(user_id)
    try:
        cache.add(key, uuid.uuid4().hex, GENERATION_TTL)
        return cache.get(key)
    except Exception:
        logger.warning("cache unavailable making the login generation of user %s", user_id, exc_info=True)
        return None


def bump_now(user_id) -> None:
    """A fresh generation: every snapshot of the user stops being served. Never raises."""
    try:
        cache.set(generation_key(user_id), uuid.uuid4().hex, GENERATION_TTL)
    except Exception:
        logger.warning("cache unavailable bumping the login generation of user %s", user_id, exc_info=True)


def logins_changed(user_id) -> None:
    """Call from every write that ends a login or changes the user. Inside a transaction the
    generation is bumped now and again once it commits: a reader between the two reads the
    uncommitted-away state from PostgreSQL and stamps it with the first bump, which the second
    makes stale; the transaction's own later reads see its own writes. A rollback then only costs
    the user one snapshot refresh."""
    if not user_id:
        return
    bump_now(user_id)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: bump_now(user_id), robust=True)
