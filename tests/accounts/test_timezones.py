"""A user's time zone is found one way (accounts.timezones, docs/DOMAIN.md §6): every reader
agrees, and a name that does not load is UTC."""

import zoneinfo

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.timezones import activate_user_zone, user_zone, zone_named


@pytest.mark.parametrize("name", ["", None, "Mars/Olympus", "../etc/passwd", 42])
def test_a_name_that_does_not_load_is_utc(name):
    assert zone_named(name) == zoneinfo.ZoneInfo("UTC")


def test_a_users_zone_is_their_timezone_field():
    assert user_zone(User(timezone="Europe/Berlin")) == zoneinfo.ZoneInfo("Europe/Berlin")


@pytest.mark.django_db
def test_every_reader_of_a_broken_zone_agrees_on_utc(user):
    from notifications.messages import compose  # noqa: F401 - reads zone_named, tested in test_messages
    from scheduling.selectors import clock_for

    User.objects.filter(pk=user.pk).update(timezone="Mars/Olympus")  # written around the API's check
    user.refresh_from_db()
    assert clock_for(user).tz == zoneinfo.ZoneInfo("UTC")
    try:
        activate_user_zone(user)
        assert timezone.get_current_timezone() == zoneinfo.ZoneInfo("UTC")
    finally:
        timezone.deactivate()
