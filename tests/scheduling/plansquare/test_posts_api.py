"""Posts over HTTP: publishing a frozen snapshot, reading without a login, editing and deleting
as the author only, listing with search, tags, author, ordering and pagination."""

from datetime import date
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from scheduling.models import TaskClassItem
from scheduling.plansquare.models import Post, PostTag
from scheduling.services import task_class_item_update, task_class_update
from tests.scheduling.plansquare.conftest import POSTS, error, fullwidth, make_class, publish

# Transactional: the shared cache is cleared on commit, which a test wrapped in one transaction never reaches.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

POST_FIELDS = {
    "id",
    "title",
    "summary",
    "tags",
    "author",
    "strategy",
    "daily_max_sections",
    "weeks",
    "item_count",
    "total_sections",
    "likes",
    "imports",
    "comments",
    "liked_by_me",
    "imported_by_me",
    "published_at",
    "updated_at",
}


def create(api, task_class, status=201, **body):
    response = api.post(POSTS, {"task_class_id": task_class.pk, "title": "My plan", **body}, format="json")
    assert response.status_code == status, response.content
    return response.json()


def listing(client, query="", status=200):
    response = client.get(POSTS + query)
    assert response.status_code == status, response.content
    return response.json()


def ids(page):
    return [post["id"] for post in page["results"]]


# --- publishing ------------------------------------------------------------------------------


def test_publishing_copies_the_items_and_plan_settings_into_the_post(api, user):
    task_class = make_class(
        user,
        strategy="rapid",
        daily_max_sections=3,
        start_date=date(2026, 3, 2),
        end_date=date(2026, 3, 22),
    )
    body = create(api, task_class, title="Linear algebra in 3 weeks", summary="From zero", tags=["Math"])

    assert set(body) == POST_FIELDS | {"items"}
    assert body["author"] == {"id": user.pk, "username": user.username}
    assert (body["strategy"], body["daily_max_sections"], body["weeks"]) == ("rapid", 3, 3)
    assert body["items"] == [
        {"order": 1, "title": "Vectors", "estimated_sections": 2},
        {"order": 2, "title": "Matrices", "estimated_sections": 1},
        {"order": 3, "title": "Eigenvalues", "estimated_sections": 3},
    ]
    assert (body["item_count"], body["total_sections"]) == (3, 6)
    assert (body["likes"], body["imports"], body["comments"]) == (0, 0, 0)
    assert (body["liked_by_me"], body["imported_by_me"]) == (False, False)
    assert body["published_at"].endswith("+08:00")  # in the reader's zone


def test_later_edits_of_the_class_do_not_change_the_post(api, user):
    task_class = make_class(user)
    post_id = create(api, task_class)["id"]
    item = TaskClassItem.objects.filter(task_class=task_class).first()
    task_class_item_update(user=user, item=item, title="Renamed", estimated_sections=4)
    TaskClassItem.objects.create(task_class=task_class, user=user, title="Added later", order=9)
    task_class_update(user=user, task_class=task_class, strategy="rapid", daily_max_sections=1)

    body = api.get(f"{POSTS}{post_id}/").json()
    assert [i["title"] for i in body["items"]] == ["Vectors", "Matrices", "Eigenvalues"]
    assert body["items"][0]["estimated_sections"] == 2
    assert (body["strategy"], body["daily_max_sections"], body["item_count"]) == ("steady", 4, 3)

    task_class.delete()
    assert api.get(f"{POSTS}{post_id}/").json()["items"] == body["items"]


def test_the_span_without_dates_is_the_fewest_weeks_the_daily_cap_allows(api, user):
    many = [(f"step {n}", 4) for n in range(15)]  # 60 sections at 2 a day: 30 days, 5 weeks
    body = create(api, make_class(user, items=many, daily_max_sections=2))
    assert body["weeks"] == 5


def test_tags_are_stored_trimmed_lower_case_and_unique(api, user):
    body = create(api, make_class(user), tags=["  Python ", "PYTHON", "考研", fullwidth("CET")])
    assert body["tags"] == ["python", "考研", "cet"]
    assert set(PostTag.objects.values_list("tag", flat=True)) == {"python", "考研", "cet"}


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        (["a", "b", "c", "d", "e", "f"], "six different tags"),
        (["x" * 21], "a tag over 20 characters"),
        (["   "], "a blank tag"),
        ("python", "not a list"),
    ],
)
def test_bad_tags_are_refused_naming_the_field(api, user, tags, why):
    response = api.post(POSTS, {"task_class_id": make_class(user).pk, "title": "t", "tags": tags}, format="json")
    assert error(response, 400, "validation_error")["fields"].keys() == {"tags"}, why
    assert not Post.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 81}, "title"),
        ({"summary": "x" * 1001}, "summary"),
        ({"task_class_id": "abc"}, "task_class_id"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_post_bodies_are_refused_naming_the_field(api, user, body, field):
    full = {"task_class_id": make_class(user).pk, "title": "t", **body}
    assert field in error(api.post(POSTS, full, format="json"), 400, "validation_error")["fields"]


def test_another_users_class_is_not_found(api, other):
    body = {"task_class_id": make_class(other).pk, "title": "mine now"}
    error(api.post(POSTS, body, format="json"), 404, "not_found")


def test_a_class_with_no_items_cannot_be_published(api, user):
    body = error(
        api.post(POSTS, {"task_class_id": make_class(user, items=()).pk, "title": "t"}, format="json"),
        400,
        "validation_error",
    )
    assert "task_class_id" in body["fields"]


def test_html_is_stored_and_returned_as_text(api, user):
    title = '<script>alert("x")</script>'
    body = create(api, make_class(user), title=title, summary="<b>bold</b> & more")
    assert (body["title"], body["summary"]) == (title, "<b>bold</b> & more")
    assert Post.objects.get().title == title


def test_publishing_needs_a_login(user):
    response = APIClient().post(POSTS, {"task_class_id": make_class(user).pk, "title": "t"}, format="json")
    error(response, 401, "not_authenticated")


# --- reading, editing, deleting ------------------------------------------------------------------


def test_anyone_reads_a_post_and_the_listing_without_a_login(user):
    post = publish(user)
    anonymous = APIClient()
    detail = anonymous.get(f"{POSTS}{post.pk}/")
    assert detail.status_code == 200
    assert detail.json()["items"][0]["title"] == "Vectors"
    page = listing(anonymous)
    assert ids(page) == [post.pk]
    assert set(page["results"][0]) == POST_FIELDS  # the list has no items
    assert page["results"][0]["liked_by_me"] is False


def test_only_the_author_edits_title_summary_and_tags(api, other_api, user):
    post = publish(user)
    changed = api.patch(f"{POSTS}{post.pk}/", {"title": "New title", "tags": ["English"]}, format="json")
    assert changed.status_code == 200, changed.content
    assert (changed.json()["title"], changed.json()["tags"]) == ("New title", ["english"])
    assert list(PostTag.objects.filter(post=post).values_list("tag", flat=True)) == ["english"]

    error(other_api.patch(f"{POSTS}{post.pk}/", {"title": "Bob's"}, format="json"), 404, "not_found")
    error(api.patch(f"{POSTS}{post.pk}/", {"items": []}, format="json"), 400, "validation_error")
    assert Post.objects.get().title == "New title"


def test_a_deleted_post_is_gone_from_the_listing_and_reads_as_not_found(api, other_api, user):
    keep, gone = publish(user, "keep"), publish(user, "gone")
    error(other_api.delete(f"{POSTS}{gone.pk}/"), 404, "not_found")
    assert api.delete(f"{POSTS}{gone.pk}/").status_code == 204
    assert ids(listing(api)) == [keep.pk]
    error(api.get(f"{POSTS}{gone.pk}/"), 404, "not_found")


# --- listing -------------------------------------------------------------------------------------


def test_the_listing_is_newest_first_by_default_and_orders_by_likes_or_imports(user, other, make_user):
    old, middle, new = publish(user, "old"), publish(user, "middle"), publish(user, "new")
    Post.objects.filter(pk=old.pk).update(likes=5, imports=1)
    Post.objects.filter(pk=middle.pk).update(likes=9, imports=0)
    Post.objects.filter(pk=new.pk).update(likes=5, imports=7)
    client = APIClient()
    assert ids(listing(client)) == [new.pk, middle.pk, old.pk]
    assert ids(listing(client, "?ordering=-likes")) == [middle.pk, new.pk, old.pk]  # ties: newer first
    assert ids(listing(client, "?ordering=-imports")) == [new.pk, old.pk, middle.pk]
    error(client.get(POSTS + "?ordering=title"), 400, "validation_error")


def test_the_listing_pages_with_the_project_paginator(user):
    posts = [publish(user, f"plan {n}") for n in range(5)]
    client = APIClient()
    first = listing(client, "?page_size=2")
    assert first["count"] == 5 and ids(first) == [posts[4].pk, posts[3].pk]
    assert first["previous"] is None and first["next"].endswith("page=2&page_size=2")
    second = client.get(first["next"]).json()
    assert ids(second) == [posts[2].pk, posts[1].pk]
    assert "page=" not in second["previous"]
    last = listing(client, "?page=3&page_size=2")
    assert ids(last) == [posts[0].pk] and last["next"] is None
    error(client.get(POSTS + "?page=4&page_size=2"), 404, "not_found")
    error(client.get(POSTS + "?page=zero"), 404, "not_found")
    assert listing(client, "?page_size=1000")["count"] == 5  # capped at 100, like every list


def test_the_author_filter_shows_one_authors_posts(user, other):
    mine, theirs = publish(user, "mine"), publish(other, "theirs")
    client = APIClient()
    assert ids(listing(client, f"?author={other.pk}")) == [theirs.pk]
    assert ids(listing(client, f"?author={user.pk}")) == [mine.pk]
    error(client.get(POSTS + "?author=me"), 400, "validation_error")


def test_every_tag_asked_for_must_match(user):
    both = publish(user, "both", tags=["考研", "数学"])
    publish(user, "math only", tags=["数学"])
    publish(user, "none", tags=[])
    client = APIClient()
    assert len(ids(listing(client, "?tag=数学"))) == 2
    assert ids(listing(client, "?tag=数学&tag=考研")) == [both.pk]
    assert ids(listing(client, "?tag= 考研 &tag=数学")) == [both.pk]  # normalised like stored tags
    assert ids(listing(client, "?tag=数学&tag=英语")) == []
    error(client.get(POSTS + "?tag=" + "x" * 21), 400, "validation_error")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("线性代数", {"algebra"}),
        ("代数", {"algebra"}),
        ("复习", {"algebra", "english"}),
        ("高数 复习", set()),
        ("四级", {"english"}),
        ("英", {"english"}),
        ("vocabulary", {"english"}),
        ("VOCAB", {"english"}),  # a word prefix, any case
        ("python", {"code"}),  # found by its tag
        ("考研", {"algebra"}),  # a tag in Chinese
        (fullwidth("Python"), {"code"}),  # full-width letters fold
        ("!!!", set()),
        ("quantum", set()),
    ],
)
def test_search_finds_title_summary_and_tags_in_chinese_and_english(user, query, expected):
    posts = {
        "algebra": publish(user, "线性代数复习", summary="Matrices and vectors", tags=["考研"]),
        "english": publish(user, "英语四级 冲刺", summary="Vocabulary every day, 复习 twice", tags=["cet"]),
        "code": publish(user, "Learn to code", summary="small steps", tags=["python"]),
    }
    names = {post.pk: name for name, post in posts.items()}
    found = listing(APIClient(), "?" + urlencode({"q": query}))
    assert {names[i] for i in ids(found)} == expected
    assert found["count"] == len(expected)


def test_a_blank_query_is_no_filter(user):
    post = publish(user)
    assert ids(listing(APIClient(), "?q=%20%20")) == [post.pk]


def test_search_and_filters_combine_with_ordering(user, other):
    low = publish(user, "考研数学 A", tags=["数学"])
    high = publish(other, "考研数学 B", tags=["数学"])
    publish(other, "考研英语", tags=["英语"])
    Post.objects.filter(pk=high.pk).update(likes=3)
    found = listing(APIClient(), "?q=考研&tag=数学&ordering=-likes")
    assert ids(found) == [high.pk, low.pk]
    assert ids(listing(APIClient(), f"?q=考研&tag=数学&author={user.pk}")) == [low.pk]


def test_the_sqlite_fallback_searches_by_substring(user, monkeypatch):
    from scheduling.plansquare import selectors

    monkeypatch.setattr(selectors, "uses_full_text", lambda: False)
    algebra = publish(user, "线性代数复习", summary="Matrices", tags=["考研"])
    code = publish(user, "Learn to code", tags=["python"])
    client = APIClient()
    assert ids(listing(client, "?q=代数")) == [algebra.pk]
    assert ids(listing(client, "?q=MATRIC")) == [algebra.pk]
    assert ids(listing(client, "?q=yth")) == [code.pk]  # inside a tag
    assert ids(listing(client, "?q=考研 复习")) == [algebra.pk]
    assert ids(listing(client, "?q=quantum")) == []


def test_tags_lists_the_most_used_first_with_an_optional_filter(user):
    publish(user, "a", tags=["数学", "考研"])
    publish(user, "b", tags=["数学", "英语"])
    publish(user, "c", tags=["数学"])
    hidden = publish(user, "d", tags=["考研", "secret"])
    Post.objects.filter(pk=hidden.pk).update(hidden=True, hidden_at=hidden.published_at)
    client = APIClient()
    response = client.get("/api/v1/plan-square/tags/")
    assert response.status_code == 200
    assert response.json() == [{"tag": "数学", "posts": 3}, {"tag": "考研", "posts": 1}, {"tag": "英语", "posts": 1}]
    assert client.get("/api/v1/plan-square/tags/?q=英").json() == [{"tag": "英语", "posts": 1}]


def test_a_post_past_the_last_page_of_a_filter_is_a_404_but_an_empty_first_page_is_not(user):
    client = APIClient()
    assert listing(client, "?q=nothing")["results"] == []
    error(client.get(POSTS + "?q=nothing&page=2"), 404, "not_found")


def test_posts_render_exactly_as_their_serializers_document(user):
    from scheduling.plansquare.serializers import PostDetailSerializer, PostSerializer, post_row, render_posts

    post = publish(user, "<i>plan</i>", summary="s", tags=["a", "b"])
    row = post_row(Post.objects.select_related("author").get(pk=post.pk))
    marks = {post.pk: {"like"}}
    documented = {**row, "liked_by_me": True, "imported_by_me": False}
    assert render_posts([row], marks) == [PostSerializer(documented).data]
    assert render_posts([row], marks, detail=True) == [PostDetailSerializer(documented).data]
