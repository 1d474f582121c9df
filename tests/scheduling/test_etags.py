"""Conditional reads (docs/DOMAIN.md §13): the cached reads answer an ETag made from the reader's
cache version, If-None-Match with it answers 304 without the cached body, a write renews it,
and no other reader's tag ever matches. On real Redis and PostgreSQL."""

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from scheduling import cache as keys
from scheduling.models import Task
from scheduling.models.tasks import Priority
from tests.scheduling.conftest import event_body
from tests.scheduling.plansquare.conftest import POSTS, publish

# Transactional: versions are renewed on commit, which a test inside one transaction never reaches.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

WEEK = "/api/v1/schedule/week/?week=2"
READS = [WEEK, "/api/v1/schedule/week/", "/api/v1/schedule/today/", "/api/v1/tasks/", "/api/v1/task-classes/"]


def tagged(response, status=200):
    assert response.status_code == status, response.content
    tag = response["ETag"]
    assert tag.startswith('"') and tag.endswith('"')
    assert response["Cache-Control"] == "private, no-cache"
    assert "Authorization" in response["Vary"]
    return tag


@pytest.mark.parametrize("path", READS)
def test_a_current_tag_answers_304_with_no_body(api, path):
    tag = tagged(api.get(path))
    again = api.get(path, HTTP_IF_NONE_MATCH=tag)
    assert again.status_code == 304
    assert again.content == b""
    assert tagged(again, 304) == tag
    # a list of tags, a weak form of it, and * match as RFC 9110 says
    assert api.get(path, HTTP_IF_NONE_MATCH=f'"other", W/{tag}').status_code == 304
    assert api.get(path, HTTP_IF_NONE_MATCH="*").status_code == 304
    assert api.get(path, HTTP_IF_NONE_MATCH='"made-up"').status_code == 200


def test_a_write_renews_the_week_tag(api):
    tag = tagged(api.get(WEEK))
    assert api.post("/api/v1/schedule/events/", event_body(), format="json").status_code == 201
    fresh = api.get(WEEK, HTTP_IF_NONE_MATCH=tag)
    assert fresh.status_code == 200
    assert fresh.json()["days"][2]["events"][0]["title"] == "Study"
    new_tag = tagged(fresh)
    assert new_tag != tag
    assert api.get(WEEK, HTTP_IF_NONE_MATCH=new_tag).status_code == 304


def test_a_task_write_renews_the_task_list_tag(api):
    tasks_tag = tagged(api.get("/api/v1/tasks/"))
    assert api.post("/api/v1/tasks/", {"title": "Read"}, format="json").status_code == 201
    fresh = api.get("/api/v1/tasks/", HTTP_IF_NONE_MATCH=tasks_tag)
    assert fresh.status_code == 200 and fresh.json()["count"] == 1
    assert tagged(fresh) != tasks_tag


def test_a_profile_change_renews_the_tags(api):
    tag = tagged(api.get(WEEK))
    assert api.patch("/api/v1/me/", {"timezone": "Europe/Berlin"}, format="json").status_code == 200
    fresh = api.get(WEEK, HTTP_IF_NONE_MATCH=tag)
    assert fresh.status_code == 200
    assert fresh.json()["days"][0]["events"] == [] and tagged(fresh) != tag


def test_another_users_tag_never_matches(api, other_api):
    for path in READS:
        mine = tagged(api.get(path))
        theirs = other_api.get(path, HTTP_IF_NONE_MATCH=mine)
        assert theirs.status_code == 200, path
        assert tagged(theirs) != mine


def test_304_reads_no_cached_body(api, user):
    tag = tagged(api.get(WEEK))
    ver = keys.family_version(keys.SCHEDULE, user.pk)
    body_key = keys.week_key(user.pk, ver, 2)
    assert cache.get(body_key) is not None
    cache.delete(body_key)
    assert api.get(WEEK, HTTP_IF_NONE_MATCH=tag).status_code == 304
    assert cache.get(body_key) is None  # neither read nor recomputed


def test_a_task_page_tag_expires_when_a_task_on_it_is_promoted(api, user):
    soon = timezone.now() + timedelta(seconds=2)
    Task.objects.create(user=user, title="Soon urgent", priority=Priority.IMPORTANT, urgency_threshold_at=soon)
    first = api.get("/api/v1/tasks/")
    tag = tagged(first)
    assert first.json()["results"][0]["priority"] == Priority.IMPORTANT
    assert api.get("/api/v1/tasks/", HTTP_IF_NONE_MATCH=tag).status_code == 304
    time.sleep(2.2)
    promoted = api.get("/api/v1/tasks/", HTTP_IF_NONE_MATCH=tag)
    assert promoted.status_code == 200  # same version, but the page is no longer the same
    assert promoted.json()["results"][0]["priority"] == Priority.IMPORTANT_URGENT
    assert tagged(promoted) != tag


def test_the_square_listing_is_conditional_for_anyone(api, api_client, other_api, user):
    post = publish(user)
    anonymous = api_client.get(POSTS)
    assert anonymous.status_code == 200
    tag = anonymous["ETag"]
    assert anonymous["Cache-Control"] == "public, no-cache"
    assert api_client.get(POSTS, HTTP_IF_NONE_MATCH=tag).status_code == 304
    signed_in = other_api.get(POSTS, HTTP_IF_NONE_MATCH=tag)  # the anonymous tag is not a reader's
    reader_tag = tagged(signed_in)
    assert other_api.get(POSTS, HTTP_IF_NONE_MATCH=reader_tag).status_code == 304
    assert other_api.put(f"{POSTS}{post.pk}/like/").status_code == 200
    liked = other_api.get(POSTS, HTTP_IF_NONE_MATCH=reader_tag)
    assert liked.status_code == 200 and liked.json()["results"][0]["liked_by_me"] is True
    assert api_client.get(POSTS, HTTP_IF_NONE_MATCH=tag).status_code == 200  # the like renewed it for all
