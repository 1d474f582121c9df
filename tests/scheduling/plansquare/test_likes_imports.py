"""Likes and imports: idempotent likes with exact counts, imports that make the importer's own
task class (dated, named, plannable), and the rewards they pay through the outbox."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from outbox.models import OutboxEvent
from outbox.relay import relay_until_idle
from scheduling.models import TaskClass, TaskClassItem
from scheduling.plansquare import services
from scheduling.plansquare.models import Post, PostImport, PostLike, PostReward
from scheduling.timetable import date_of
from tests.scheduling.plansquare.conftest import POSTS, error, publish

# Transactional: the shared cache is cleared on commit, which a test wrapped in one transaction never reaches.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def like(client, post, method="put"):
    response = getattr(client, method)(f"{POSTS}{post.pk}/like/")
    assert response.status_code == 200, response.content
    return response.json()


def import_post(client, post, status=201, **body):
    response = client.post(f"{POSTS}{post.pk}/import/", body, format="json")
    assert response.status_code == status, response.content
    return response.json()


def rewards(kind=None):
    events = OutboxEvent.objects.filter(biz_type__startswith="plan_square.").order_by("created_at")
    return [e for e in events if kind is None or e.biz_type == kind]


# --- likes ---------------------------------------------------------------------------------------


def test_like_and_unlike_are_idempotent_and_count_exactly(api, other_api, user, other):
    post = publish(user)
    assert like(other_api, post) == {"likes": 1, "liked_by_me": True}
    assert like(other_api, post) == {"likes": 1, "liked_by_me": True}
    assert like(api, post) == {"likes": 2, "liked_by_me": True}
    assert like(other_api, post, "delete") == {"likes": 1, "liked_by_me": False}
    assert like(other_api, post, "delete") == {"likes": 1, "liked_by_me": False}
    assert Post.objects.get().likes == PostLike.objects.count() == 1


def test_liked_by_me_is_per_reader(api, other_api, user):
    post = publish(user)
    like(other_api, post)
    assert other_api.get(f"{POSTS}{post.pk}/").json()["liked_by_me"] is True
    assert api.get(f"{POSTS}{post.pk}/").json()["liked_by_me"] is False
    assert APIClient().get(f"{POSTS}{post.pk}/").json()["liked_by_me"] is False
    assert [p["liked_by_me"] for p in other_api.get(POSTS).json()["results"]] == [True]
    assert [p["liked_by_me"] for p in api.get(POSTS).json()["results"]] == [False]


def test_liking_needs_a_login(user):
    post = publish(user)
    error(APIClient().put(f"{POSTS}{post.pk}/like/"), 401, "not_authenticated")
    error(APIClient().delete(f"{POSTS}{post.pk}/like/"), 401, "not_authenticated")


def test_the_first_like_pays_the_author_once_ever(other_api, user, other, settings):
    settings.PLAN_SQUARE_LIKE_REWARD = 2
    post = publish(user)
    like(other_api, post)
    like(other_api, post, "delete")
    like(other_api, post)
    (event,) = rewards()
    assert event.biz_type == "plan_square.liked"
    assert event.topic == "smartmate.plansquare"
    assert event.message_key == f"plan_square_post:{post.pk}"
    data = event.payload["data"]
    assert {k: data[k] for k in ("author_id", "post_id", "actor_id", "kind", "amount")} == {
        "author_id": user.pk,
        "post_id": post.pk,
        "actor_id": other.pk,
        "kind": "like",
        "amount": 2,
    }
    assert data["ref"] == f"plan_square:like:{post.pk}:{other.pk}"
    assert PostReward.objects.get().amount == 2


def test_liking_ones_own_post_counts_but_pays_nothing(api, user):
    post = publish(user)
    assert like(api, post)["likes"] == 1
    assert rewards() == [] and not PostReward.objects.exists()


def test_a_like_and_an_import_credit_the_author_through_the_outbox(other_api, user, other, settings):
    from accounts.credits.selectors import credit_balance, credit_entry_list

    settings.PLAN_SQUARE_LIKE_REWARD, settings.PLAN_SQUARE_IMPORT_REWARD = 1, 5
    post = publish(user)
    like(other_api, post)
    import_post(other_api, post)
    like(other_api, post, "delete")
    like(other_api, post)
    assert credit_balance(user=user)["balance"] == 0  # nothing is paid inside the request
    relay_until_idle()  # the embedded transport hands the events to the accounts service
    assert [e.status for e in rewards()] == ["consumed", "consumed"]
    assert credit_balance(user=user)["balance"] == 6
    refs = sorted(entry.ref for entry in credit_entry_list(user=user))
    assert refs == [f"plan_square:import:{post.pk}:{other.pk}", f"plan_square:like:{post.pk}:{other.pk}"]
    assert credit_balance(user=other)["balance"] == 0


def test_rewards_paid_stay_when_the_post_is_deleted(api, other_api, user):
    post = publish(user)
    like(other_api, post)
    assert api.delete(f"{POSTS}{post.pk}/").status_code == 204
    assert len(rewards()) == 1
    assert PostReward.objects.filter(post_id=post.pk).count() == 1


# --- imports -------------------------------------------------------------------------------------


def test_import_makes_the_importers_own_class_dated_from_start_date(other_api, user, other):
    post = publish(user, "四周线性代数", summary="summary text")
    Post.objects.filter(pk=post.pk).update(weeks=3, strategy="rapid", daily_max_sections=2)
    body = import_post(other_api, post, start_date="2026-03-04")
    task_class = body["task_class"]
    assert task_class["name"] == "四周线性代数"
    assert (task_class["start_date"], task_class["end_date"]) == ("2026-03-04", "2026-03-24")
    assert (task_class["strategy"], task_class["daily_max_sections"]) == ("rapid", 2)
    assert [(i["title"], i["order"], i["estimated_sections"], i["status"]) for i in task_class["items"]] == [
        ("Vectors", 1, 2, "todo"),
        ("Matrices", 2, 1, "todo"),
        ("Eigenvalues", 3, 3, "todo"),
    ]
    assert TaskClass.objects.get(pk=task_class["id"]).user == other
    assert TaskClassItem.objects.filter(task_class_id=task_class["id"], user=other).count() == 3
    assert Post.objects.get().imports == 1
    assert PostImport.objects.get().task_class_id == task_class["id"]
    detail = other_api.get(f"{POSTS}{post.pk}/").json()
    assert (detail["imports"], detail["imported_by_me"]) == (1, True)


@pytest.mark.parametrize(
    ("today", "monday"),
    [
        (date(2026, 12, 2), date(2026, 12, 7)),  # a Wednesday
        (date(2026, 12, 6), date(2026, 12, 7)),  # a Sunday
        (date(2026, 12, 7), date(2026, 12, 14)),  # a Monday: the next one
    ],
)
def test_the_default_start_is_the_next_monday(other, today, monday):
    assert services.next_monday(other, today) == monday


def test_the_default_start_is_the_next_monday_in_the_importers_zone(other_api, user, other, monkeypatch):
    # Sunday 20:00 UTC is already Monday 04:00 in Shanghai: the next Monday there is a week later.
    sunday_evening_utc = datetime(2026, 12, 6, 20, 0, tzinfo=ZoneInfo("UTC"))
    monkeypatch.setattr(timezone, "now", lambda: sunday_evening_utc)
    post = publish(user)
    assert import_post(other_api, post)["task_class"]["start_date"] == "2026-12-14"


def test_a_name_clash_gets_a_suffix(other_api, user, other):
    TaskClass.objects.create(user=other, name="Plan")
    TaskClass.objects.create(user=other, name="Plan (2)")
    first, second = publish(user, "Plan"), publish(user, "Other")
    assert import_post(other_api, first)["task_class"]["name"] == "Plan (3)"
    assert import_post(other_api, second, name="Plan")["task_class"]["name"] == "Plan (4)"


def test_the_second_import_is_refused_and_so_is_ones_own_post(api, other_api, user, other):
    post = publish(user)
    import_post(other_api, post)
    error(other_api.post(f"{POSTS}{post.pk}/import/", {}, format="json"), 409, "already_imported")
    TaskClass.objects.filter(user=other).delete()  # deleting the copy does not allow another
    error(other_api.post(f"{POSTS}{post.pk}/import/", {}, format="json"), 409, "already_imported")
    error(api.post(f"{POSTS}{post.pk}/import/", {}, format="json"), 409, "own_post")
    assert Post.objects.get().imports == 1


def test_the_first_import_pays_the_author(other_api, user, other, settings):
    settings.PLAN_SQUARE_IMPORT_REWARD = 5
    post = publish(user)
    import_post(other_api, post)
    (event,) = rewards("plan_square.imported")
    assert event.payload["data"]["amount"] == 5
    assert event.payload["data"]["kind"] == "import"
    assert (event.payload["data"]["author_id"], event.payload["data"]["actor_id"]) == (user.pk, other.pk)


def test_an_imported_plan_can_be_planned_into_free_time(other_api, user, other):
    post = publish(user)
    start = date_of(other.semester_start, 2, 1)
    class_id = import_post(other_api, post, start_date=start.isoformat())["task_class"]["id"]
    response = other_api.post("/api/v1/task-classes/plan/", {"class_ids": [class_id]}, format="json")
    assert response.status_code == 201, response.content
    placements = response.json()["placements"]
    assert len(placements) == 3
    span_end = start + timedelta(days=7 * post.weeks - 1)
    assert all(start <= date_of(other.semester_start, p["week"], p["day"]) <= span_end for p in placements)


def test_a_failed_import_writes_nothing(other_api, user, other, monkeypatch):
    post = publish(user)

    def broken(**kwargs):
        raise RuntimeError("items could not be written")

    monkeypatch.setattr(services.scheduling, "task_class_items_create", broken)
    with pytest.raises(RuntimeError):
        services.post_import(user=other, post_id=post.pk)
    assert not TaskClass.objects.filter(user=other).exists()
    assert not PostImport.objects.exists() and not PostReward.objects.exists() and rewards() == []
    assert Post.objects.get().imports == 0


def test_import_needs_a_login(user):
    post = publish(user)
    error(APIClient().post(f"{POSTS}{post.pk}/import/", {}, format="json"), 401, "not_authenticated")


@pytest.mark.parametrize("start", ["1900-01-01", "9999-12-31", "soon"])
def test_a_start_date_out_of_range_is_refused_before_anything_is_written(other_api, user, other, start):
    post = publish(user)
    body = error(
        other_api.post(f"{POSTS}{post.pk}/import/", {"start_date": start}, format="json"), 400, "validation_error"
    )
    assert "start_date" in body["fields"]
    assert not TaskClass.objects.filter(user=other).exists() and Post.objects.get().imports == 0


def test_an_import_retried_with_its_idempotency_key_replays_the_first_answer(other_api, user, other):
    post = publish(user)
    first = other_api.post(f"{POSTS}{post.pk}/import/", {}, format="json", HTTP_IDEMPOTENCY_KEY="import-1")
    again = other_api.post(f"{POSTS}{post.pk}/import/", {}, format="json", HTTP_IDEMPOTENCY_KEY="import-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert TaskClass.objects.filter(user=other).count() == 1
    fresh = other_api.post(f"{POSTS}{post.pk}/import/", {}, format="json", HTTP_IDEMPOTENCY_KEY="import-2")
    error(fresh, 409, "already_imported")
