"""The plan square's cache keys and versions (docs/DOMAIN.md §4, §10), on scheduling.cache's
conventions: versioned exact keys, a version `set` to a fresh UUID on commit, no KEYS/SCAN, and a
Redis outage only costs the copy (reads fall back to the database).

The listing is shared by everyone, so its version is global, not per user: any change to a post,
its counters or its visibility gives the family a new version. Tag counts change less often (a
like does not move them) and have their own family.
"""

from __future__ import annotations

import hashlib
import json

from scheduling import cache as base

SCOPE = "all"  # the scope of a shared family's version (scheduling.cache scopes per user otherwise)
POSTS = "square_posts"
TAGS = "square_tags"


def _digest(params: dict) -> str:
    canonical = json.dumps(params, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def posts_key(ver: str, params: dict) -> str:
    return f"sm:square:posts:{ver}:{_digest(params)}"


def tags_key(ver: str, query: str) -> str:
    return f"sm:square:tags:{ver}:{_digest({'q': query})}"


def version(family: str) -> str | None:
    """The family's current version; None when the cache is down (then nothing is cached)."""
    return base.family_version(family, SCOPE)


def read_through(family: str, make_key, compute):
    """Serve from the cache under the family's current version, read before the database is:
    a value computed while a writer commits is stored under the old version, never served."""
    ver = version(family)
    return base.read_through(None if ver is None else make_key(ver), compute)


def changed(*, tags: bool = False) -> None:
    """After commit: the listing (and the tag counts, when `tags`) get a new version."""
    base.invalidate_on_commit(SCOPE, POSTS, *((TAGS,) if tags else ()))
