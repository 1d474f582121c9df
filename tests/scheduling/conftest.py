"""Scheduling fixtures: users with a known semester and time zone, API clients, helpers."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from scheduling.timetable import monday_of


@pytest.fixture
def api(auth_api):
    return auth_api


@pytest.fixture
def other(make_user):
    return make_user("mallory")


@pytest.fixture
def other_api(other, client_for):
    return client_for(other)


@pytest.fixture
def this_monday(user) -> date:
    return user.semester_start


def set_semester(user, start: date):
    user.semester_start = start
    user.save(update_fields=["semester_start"])


@pytest.fixture
def semester_from_last_month(user):
    """A semester that started four weeks ago: week 5 is this week."""
    start = monday_of(timezone.localdate()) - timedelta(weeks=4)
    set_semester(user, start)
    return start


def event_body(**overrides):
    body = {"title": "Study", "week": 2, "day": 3, "start_section": 1, "end_section": 2}
    body.update(overrides)
    return body
