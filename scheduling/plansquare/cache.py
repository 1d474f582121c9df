"""The plan square's cache keys and versions (docs/DOMAIN.md §4, §10), on scheduling.cache's
conventions: versioned exact keys, a version `set` to a fresh UUID on commit, no KEYS/SCAN, and a
Redis outage only costs the copy (reads fall back to the database).

What the square caches is shared by everyone, so a family's version is global, not per user:
- POSTS, the listing's pages: any change to a post, its counters or its visibility renews it.
- MATCHES, what does not move with likes, imports or comments: which visible posts there are and
  what finds them (title, summary, tags). The listing's counts and the tag counts live here, so
  a like costs the next reader one page query, not a COUNT over every match.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from django.core.cache import cache as django_cache

from scheduling import cache as base

logger = logging.getLogger("smartmate.cache")

SCOPE = "all"  # the scope of a shared family's version (scheduling.cache scopes per user otherwise)
POSTS = "square_posts"
MATCHES = "square_matches"


def _digest(params: dict) -> str:
    canonical = json.dumps(params, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def page_key(ver: str, params: dict) -> str:
    return f"sm:square:page:{ver}:{_digest(params)}"


def count_key(ver: str, params: dict) -> str:
    return f"sm:square:count:{ver}:{_digest(params)}"


def tags_key(ver: str, query: str) -> str:
    return f"sm:square:tags:{ver}:{_digest({'q': query})}"


def version(family: str) -> str | None:
    """The family's current version; None when the cache is down."""
    return base.family_version(family, SCOPE)


def _versions(families) -> dict[str, str | None]:
    keys = {family: base.version_key(family, SCOPE) for family in families}
    try:
        found = django_cache.get_many(list(keys.values()))
    except Exception:
        logger.warning("cache unavailable reading the square's versions", exc_info=True)
        return dict.fromkeys(families)
    return {family: found.get(key) or version(family) for family, key in keys.items()}


def listing_versions() -> tuple[str | None, str | None]:
    """(POSTS, MATCHES) versions in one round trip: what the listing's pages are cached under
    and what their ETags are made of (scheduling.etags)."""
    found = _versions((POSTS, MATCHES))
    return found[POSTS], found[MATCHES]


Entry = tuple[Callable[[str], str], Callable[[], Any]]  # (key of a version, compute)


def read_many(entries: dict[str, Entry]) -> dict[str, Any]:
    """{family: value}, each served from the cache under its family's current version or computed
    and stored. Two round trips on a hit (the versions, then the values), whatever the count.
    Versions are read before the database: a value computed while a writer commits is stored
    under the version that commit replaced, so it is never served."""
    versions = _versions(entries)
    keys = {family: make_key(versions[family]) for family, (make_key, _) in entries.items() if versions[family]}
    try:
        hits = django_cache.get_many(list(keys.values())) if keys else {}
    except Exception:
        logger.warning("cache unavailable reading the square", exc_info=True)
        hits, keys = {}, {}
    values, missed = {}, {}
    for family, (_make_key, compute) in entries.items():
        key = keys.get(family)
        if key in hits:
            values[family] = hits[key]
            continue
        values[family] = compute()
        if key:
            missed[key] = values[family]
    if missed:
        try:
            django_cache.set_many(missed, base.ttl())
        except Exception:
            logger.warning("cache unavailable writing the square", exc_info=True)
    return values


def changed(*, matches: bool = False) -> None:
    """After commit: the listing (and what finds posts, when `matches`) get a new version."""
    base.invalidate_on_commit(SCOPE, POSTS, *((MATCHES,) if matches else ()))
