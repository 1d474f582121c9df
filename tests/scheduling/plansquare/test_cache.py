"""The shared listing cache on real Redis: one cached page serves everyone, the per-reader marks
are added after it, every committed change is seen on the next read, a rolled-back one clears
nothing, and a dead Redis only costs the copy."""

import pytest
from django.core.cache import cache as django_cache
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from scheduling.plansquare import cache, services
from scheduling.plansquare.models import Post
from tests.scheduling.plansquare.conftest import POSTS, publish
from tests.scheduling.test_cache import DEAD_REDIS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

TAGS = "/api/v1/plan-square/tags/"


def titles(client, query=""):
    response = client.get(POSTS + query)
    assert response.status_code == 200, response.content
    return [p["title"] for p in response.json()["results"]]


def test_the_listing_is_served_from_the_shared_cache(user):
    publish(user, "cached")
    assert titles(APIClient()) == ["cached"]
    Post.objects.update(title="changed behind the cache")  # no signal, no service
    assert titles(APIClient()) == ["cached"]
    assert titles(APIClient(), "?ordering=-likes") == ["changed behind the cache"]  # another key


def test_a_cached_page_costs_one_query_per_reader_for_the_marks_and_none_anonymously(user, other_api):
    post = publish(user)
    services.post_like(user=user, post_id=post.pk)
    APIClient().get(POSTS)  # fill the cache
    with CaptureQueriesContext(connection) as anonymous:
        APIClient().get(POSTS)
    assert len(anonymous) == 0
    with CaptureQueriesContext(connection) as signed_in:
        body = other_api.get(POSTS).json()
    marks = [q["sql"] for q in signed_in.captured_queries if "plansquare_post" in q["sql"]]
    assert len(marks) == 1 and "UNION" in marks[0]
    assert body["results"][0]["liked_by_me"] is False


def test_likes_imports_comments_and_edits_show_on_the_next_read(user, other, other_api):
    post = publish(user, "first")
    read = lambda: APIClient().get(POSTS).json()["results"][0]  # noqa: E731
    assert read()["likes"] == 0
    other_api.put(f"{POSTS}{post.pk}/like/")
    assert read()["likes"] == 1
    other_api.post(f"{POSTS}{post.pk}/import/", {}, format="json")
    assert read()["imports"] == 1
    other_api.post(f"{POSTS}{post.pk}/comments/", {"body": "hi"}, format="json")
    assert read()["comments"] == 1
    services.post_update(author=user, post_id=post.pk, title="renamed")
    assert read()["title"] == "renamed"
    publish(other, "second")
    assert titles(APIClient()) == ["second", "renamed"]
    services.post_delete(author=other, post_id=Post.objects.get(title="second").pk)
    assert titles(APIClient()) == ["renamed"]


def test_tag_counts_are_cached_and_cleared_by_post_changes_but_not_by_likes(user, other):
    post = publish(user, tags=["数学"])
    assert APIClient().get(TAGS).json() == [{"tag": "数学", "posts": 1}]
    version = cache.version(cache.MATCHES)
    services.post_like(user=other, post_id=post.pk)
    assert cache.version(cache.MATCHES) == version
    publish(other, "another", tags=["数学", "英语"])
    assert APIClient().get(TAGS).json() == [{"tag": "数学", "posts": 2}, {"tag": "英语", "posts": 1}]
    services.post_update(author=other, post_id=Post.objects.get(title="another").pk, tags=["英语"])
    assert APIClient().get(TAGS).json() == [{"tag": "数学", "posts": 1}, {"tag": "英语", "posts": 1}]


def test_after_a_like_the_next_read_recomputes_the_page_but_not_the_count(user, other):
    post = publish(user, "考研数学")
    APIClient().get(POSTS + "?q=考研")
    services.post_like(user=other, post_id=post.pk)
    with CaptureQueriesContext(connection) as reread:
        body = APIClient().get(POSTS + "?q=考研").json()
    assert body["count"] == 1 and body["results"][0]["likes"] == 1
    statements = [q["sql"].upper() for q in reread.captured_queries]
    assert len(statements) == 2 and not any("COUNT(" in sql for sql in statements)  # the page, its authors
    services.post_set_hidden(post_id=post.pk, hidden=True)
    assert APIClient().get(POSTS + "?q=考研").json()["count"] == 0  # hiding renews the count


def test_a_rolled_back_write_clears_nothing(user, other):
    post = publish(user)
    titles(APIClient())
    version = cache.version(cache.POSTS)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.post_like(user=other, post_id=post.pk)
        raise RuntimeError("rolled back")
    assert cache.version(cache.POSTS) == version
    assert APIClient().get(POSTS).json()["results"][0]["likes"] == 0


def test_a_page_read_while_a_write_commits_is_never_served_after_it(user, other, monkeypatch):
    """The version is read before the database: a page computed while a like commits is stored
    under the version that commit replaced, so it is never served again."""
    from scheduling.plansquare import selectors

    post = publish(user)
    real = selectors.listed_posts
    versions = []

    def a_like_commits_mid_read(filters):
        monkeypatch.setattr(selectors, "listed_posts", real)
        versions.append(cache.version(cache.POSTS))
        services.post_like(user=other, post_id=post.pk)
        versions.append(cache.version(cache.POSTS))
        return real(filters)

    monkeypatch.setattr(selectors, "listed_posts", a_like_commits_mid_read)
    APIClient().get(POSTS)
    assert versions[0] != versions[1]
    with CaptureQueriesContext(connection) as second:
        assert APIClient().get(POSTS).json()["results"][0]["likes"] == 1
    assert len(second) > 0  # computed afresh, not the value stored mid-write
    with CaptureQueriesContext(connection) as third:
        APIClient().get(POSTS)
    assert len(third) == 0


def test_the_square_works_with_redis_down(api, user, other_api):
    with override_settings(CACHES=DEAD_REDIS):
        with pytest.raises(Exception):  # noqa: B017 - the cache really is unreachable
            django_cache.get("probe")
        post = publish(user, "no cache")
        assert titles(APIClient()) == ["no cache"]
        assert other_api.put(f"{POSTS}{post.pk}/like/").json()["likes"] == 1
        assert APIClient().get(POSTS).json()["results"][0]["likes"] == 1
        assert APIClient().get(TAGS).status_code == 200
        assert other_api.post(f"{POSTS}{post.pk}/import/", {}, format="json").status_code == 201
