"""Moderation in the admin: staff with the moderation permission hide and unhide posts and
comments and read reports; a hidden post is a 404 to everyone but its author and staff; a hidden
comment reads like a deleted one."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from scheduling.plansquare import services
from scheduling.plansquare.models import Post, PostComment, PostReport
from tests.scheduling.plansquare.conftest import POSTS, error, publish

# Transactional: the shared cache is cleared on commit, which a test wrapped in one transaction never reaches.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

CHANGELIST = "/admin/plansquare/{}/"


@pytest.fixture
def moderator(django_user_model):
    return django_user_model.objects.create_superuser("mod", "mod@example.com", "Correct-Horse-9")


@pytest.fixture
def staff_without_permission(django_user_model):
    staff = django_user_model.objects.create_user("clerk", password="Correct-Horse-9", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_post", "change_post", "view_postreport"]))
    return staff


def admin_action(client, model, action, ids):
    return client.post(CHANGELIST.format(model), {"action": action, "_selected_action": [str(i) for i in ids]})


def test_a_hidden_post_is_a_404_for_everyone_but_its_author_and_staff(api, other_api, user, moderator, client_for):
    post = publish(user)
    services.post_set_hidden(post_id=post.pk, hidden=True)
    for client in (other_api, APIClient()):
        error(client.get(f"{POSTS}{post.pk}/"), 404, "not_found")
        error(client.get(f"{POSTS}{post.pk}/comments/"), 404, "not_found")
    writes = (
        ("put", "like/", None),
        ("post", "import/", {}),
        ("post", "comments/", {"body": "x"}),
        ("post", "report/", {"reason": "x"}),
    )
    for method, path, body in writes:
        error(getattr(other_api, method)(f"{POSTS}{post.pk}/{path}", body, format="json"), 404, "not_found")
    assert api.get(f"{POSTS}{post.pk}/").status_code == 200
    assert client_for(moderator).get(f"{POSTS}{post.pk}/").status_code == 200
    assert api.get(POSTS).json()["count"] == 0  # gone from the listing, for its author too

    services.post_set_hidden(post_id=post.pk, hidden=False)
    assert other_api.get(f"{POSTS}{post.pk}/").status_code == 200
    assert APIClient().get(POSTS).json()["count"] == 1


def test_staff_hide_and_unhide_posts_with_admin_actions(client, user, moderator):
    post = publish(user)
    client.force_login(moderator)
    response = admin_action(client, "post", "hide_posts", [post.pk])
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.hidden and post.hidden_at is not None
    assert APIClient().get(f"{POSTS}{post.pk}/").status_code == 404
    admin_action(client, "post", "unhide_posts", [post.pk])
    post.refresh_from_db()
    assert not post.hidden and post.hidden_at is None


def test_staff_without_the_moderation_permission_are_not_offered_the_actions(client, user, staff_without_permission):
    post = publish(user)
    client.force_login(staff_without_permission)
    page = client.get(CHANGELIST.format("post"))
    assert page.status_code == 200 and b"hide_posts" not in page.content
    admin_action(client, "post", "hide_posts", [post.pk])
    assert not Post.objects.get().hidden
    staff_without_permission.user_permissions.add(Permission.objects.get(codename="moderate_post"))
    staff_without_permission = type(staff_without_permission).objects.get(pk=staff_without_permission.pk)
    client.force_login(staff_without_permission)
    assert b"hide_posts" in client.get(CHANGELIST.format("post")).content
    admin_action(client, "post", "hide_posts", [post.pk])
    assert Post.objects.get().hidden


def test_a_hidden_comment_reads_like_a_deleted_one_and_leaves_the_count(api, other_api, user, client, moderator):
    post = publish(user)
    rude = other_api.post(f"{POSTS}{post.pk}/comments/", {"body": "rude words"}, format="json").json()
    api.post(f"{POSTS}{post.pk}/comments/", {"body": "kind words"}, format="json")
    client.force_login(moderator)
    admin_action(client, "postcomment", "hide_comments", [rude["id"]])
    listed = APIClient().get(f"{POSTS}{post.pk}/comments/").json()["results"]
    assert [(c["body"], c["deleted"]) for c in listed] == [("", True), ("kind words", False)]
    assert Post.objects.get().comments == 1
    assert PostComment.objects.get(pk=rude["id"]).body == "rude words"  # kept, to show it again
    admin_action(client, "postcomment", "unhide_comments", [rude["id"]])
    assert APIClient().get(f"{POSTS}{post.pk}/comments/").json()["results"][0]["body"] == "rude words"
    assert Post.objects.get().comments == 2


def test_hiding_a_deleted_comment_and_showing_it_again_keeps_it_deleted(other_api, user):
    post = publish(user)
    mine = other_api.post(f"{POSTS}{post.pk}/comments/", {"body": "oops"}, format="json").json()
    other_api.delete(f"/api/v1/plan-square/comments/{mine['id']}/")
    services.comment_set_hidden(comment_id=mine["id"], hidden=True)
    services.comment_set_hidden(comment_id=mine["id"], hidden=False)
    assert APIClient().get(f"{POSTS}{post.pk}/comments/").json()["results"][0]["deleted"] is True
    assert Post.objects.get().comments == 0


def test_staff_read_reports_with_their_reasons_and_resolve_them(other_api, user, client, moderator):
    post = publish(user, "Suspicious plan")
    other_api.post(f"{POSTS}{post.pk}/report/", {"reason": "Spam links in the summary"}, format="json")
    client.force_login(moderator)
    page = client.get(CHANGELIST.format("postreport"))
    assert page.status_code == 200
    assert "Spam links in the summary" in page.content.decode()
    detail = client.get(f"/admin/plansquare/post/{post.pk}/change/").content.decode()
    assert "Spam links in the summary" in detail
    rows = {row["label"]: row for row in client.get("/admin/").context["attention"]}
    assert rows["Plan-square reports open"]["count"] == "1"
    assert "Spam links" in client.get(rows["Plan-square reports open"]["url"]).content.decode()
    report = PostReport.objects.get()
    admin_action(client, "postreport", "hide_reported_posts", [report.pk])
    rows = {row["label"]: row for row in client.get("/admin/").context["attention"]}
    assert rows["Plan-square reports open"]["count"] == "0"
    report.refresh_from_db()
    assert report.resolved_at is not None and report.resolved_by == moderator
    assert Post.objects.get().hidden


def test_the_admin_shows_html_in_a_title_as_text(user, client, moderator):
    publish(user, "<script>alert(1)</script>")
    client.force_login(moderator)
    page = client.get(CHANGELIST.format("post")).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
