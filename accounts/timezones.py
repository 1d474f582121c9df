"""A user's time zone, found one way (docs/DOMAIN.md §6, "A user's time zone").

The zone is the user's `timezone` field. A name the zone database cannot load (empty, a
typo written around the API's check, a zone removed from tzdata) is UTC: a time shown in
UTC with its label is never wrong, a guessed local zone could be. Every reader of a user's
zone — the timetable clock, the agent, notification texts, the request's active zone —
calls `user_zone` or `zone_named`; nothing builds a `ZoneInfo` from a user's field itself.
"""

import zoneinfo

from django.utils import timezone

FALLBACK = zoneinfo.ZoneInfo("UTC")


def zone_named(name) -> zoneinfo.ZoneInfo:
    """The zone called `name`, or UTC when no zone has that name."""
    if not name or not isinstance(name, str):
        return FALLBACK
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return FALLBACK


def user_zone(user) -> zoneinfo.ZoneInfo:
    """The zone every time of `user` is read and shown in."""
    return zone_named(getattr(user, "timezone", None))


def activate_user_zone(user) -> None:
    """Make `user`'s zone the current one, so DRF reads a naive time in a body in it."""
    timezone.activate(user_zone(user))
