"""Threaded comments (oldest first, soft delete), reports for staff, and the per-user limits
on posting, commenting and reporting."""

import pytest
from rest_framework.test import APIClient

from scheduling.plansquare.models import Post, PostComment, PostReport
from tests.scheduling.plansquare.conftest import POSTS, error, make_class, publish

# Transactional: the shared cache is cleared on commit, which a test wrapped in one transaction never reaches.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def comment(client, post, body="Nice plan", status=201, **extra):
    response = client.post(f"{POSTS}{post.pk}/comments/", {"body": body, **extra}, format="json")
    assert response.status_code == status, response.content
    return response.json()


def thread(client, post):
    response = client.get(f"{POSTS}{post.pk}/comments/")
    assert response.status_code == 200, response.content
    return response.json()


def test_comments_are_threaded_and_listed_oldest_first_to_anyone(api, other_api, user, other):
    post = publish(user)
    first = comment(other_api, post, "How long per day?")
    reply = comment(api, post, "About two sections", parent=first["id"])
    later = comment(other_api, post, "Thanks!")
    assert set(first) == {"id", "parent", "author", "body", "deleted", "created_at"}
    assert reply["parent"] == first["id"] and first["parent"] is None
    listed = thread(APIClient(), post)
    assert listed["count"] == 3
    assert [c["id"] for c in listed["results"]] == [first["id"], reply["id"], later["id"]]
    assert listed["results"][0]["author"] == {"id": other.pk, "username": other.username}
    assert Post.objects.get().comments == 3


def test_a_parent_must_be_a_comment_of_the_same_post(api, user):
    post, other = publish(user, "one"), publish(user, "two")
    elsewhere = comment(api, other)
    for parent in (elsewhere["id"], 10**9):
        body = error(
            api.post(f"{POSTS}{post.pk}/comments/", {"body": "x", "parent": parent}, format="json"),
            400,
            "validation_error",
        )
        assert "parent" in body["fields"]
    assert Post.objects.get(pk=post.pk).comments == 0


@pytest.mark.parametrize("body", ["", "   ", "x" * 2001])
def test_a_comment_body_is_1_to_2000_characters(api, user, body):
    post = publish(user)
    assert (
        "body"
        in error(api.post(f"{POSTS}{post.pk}/comments/", {"body": body}, format="json"), 400, "validation_error")[
            "fields"
        ]
    )


def test_a_comment_of_2000_characters_is_kept_whole_and_html_stays_text(api, user):
    post = publish(user)
    body = "<img src=x onerror=alert(1)>" + "字" * 1972
    assert len(body) == 2000
    assert comment(api, post, body)["body"] == body


def test_a_deleted_comment_keeps_its_place_with_an_empty_body(api, other_api, user):
    post = publish(user)
    first = comment(other_api, post, "mine")
    reply = comment(api, post, "a reply", parent=first["id"])
    error(api.delete(f"/api/v1/plan-square/comments/{first['id']}/"), 404, "not_found")  # not the author
    assert other_api.delete(f"/api/v1/plan-square/comments/{first['id']}/").status_code == 204
    assert other_api.delete(f"/api/v1/plan-square/comments/{first['id']}/").status_code == 204  # idempotent
    listed = thread(APIClient(), post)["results"]
    assert [(c["id"], c["body"], c["deleted"]) for c in listed] == [
        (first["id"], "", True),
        (reply["id"], "a reply", False),
    ]
    assert listed[1]["parent"] == first["id"]
    assert PostComment.objects.get(pk=first["id"]).body == ""  # the author's text is gone, not just hidden
    assert Post.objects.get().comments == 1
    assert (
        "parent"
        in error(
            api.post(f"{POSTS}{post.pk}/comments/", {"body": "x", "parent": first["id"]}, format="json"),
            400,
            "validation_error",
        )["fields"]
    )


def test_commenting_and_deleting_need_a_login(api, user):
    post = publish(user)
    mine = comment(api, post)
    anonymous = APIClient()
    error(anonymous.post(f"{POSTS}{post.pk}/comments/", {"body": "x"}, format="json"), 401, "not_authenticated")
    error(anonymous.delete(f"/api/v1/plan-square/comments/{mine['id']}/"), 401, "not_authenticated")


def test_a_report_is_accepted_and_kept_with_its_reason_for_staff(other_api, user, other):
    post = publish(user)
    response = other_api.post(f"{POSTS}{post.pk}/report/", {"reason": "Copied from my notes"}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["post"] == post.pk
    again = other_api.post(f"{POSTS}{post.pk}/report/", {"reason": "Still copied"}, format="json")
    assert again.status_code == 202
    report = PostReport.objects.get()
    assert (report.reporter, report.reason, report.resolved_at) == (other, "Still copied", None)


@pytest.mark.parametrize("reason", ["", "x" * 501])
def test_a_report_reason_is_1_to_500_characters(other_api, user, reason):
    post = publish(user)
    error(other_api.post(f"{POSTS}{post.pk}/report/", {"reason": reason}, format="json"), 400, "validation_error")
    assert not PostReport.objects.exists()


def test_posting_commenting_and_reporting_are_limited_per_user(api, other_api, user, settings):
    settings.PLAN_SQUARE_POST_RATE = "2/hour"
    settings.PLAN_SQUARE_COMMENT_RATE = "3/hour"
    settings.PLAN_SQUARE_REPORT_RATE = "1/hour"
    task_class = make_class(user)
    body = {"task_class_id": task_class.pk, "title": "t"}
    assert [api.post(POSTS, body, format="json").status_code for _ in range(3)] == [201, 201, 429]
    response = api.post(POSTS, body, format="json")
    assert error(response, 429, "throttled") and int(response["Retry-After"]) >= 1

    post = Post.objects.first()
    statuses = [api.post(f"{POSTS}{post.pk}/comments/", {"body": "hi"}, format="json").status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    assert other_api.post(f"{POSTS}{post.pk}/comments/", {"body": "hi"}, format="json").status_code == 201  # per user
    report = f"{POSTS}{post.pk}/report/"
    reports = [other_api.post(report, {"reason": "r"}, format="json").status_code for _ in range(2)]
    assert reports == [202, 429]
    # Reading and liking are not limited by these.
    assert api.put(f"{POSTS}{post.pk}/like/").status_code == 200
    assert api.get(POSTS).status_code == 200
