"""Counters and once-only rules under real concurrent requests on PostgreSQL (real threads)."""

import pytest
from django.db import connection

from outbox.models import OutboxEvent
from scheduling.models import TaskClass
from scheduling.plansquare import selectors, services
from scheduling.plansquare.models import Post, PostImport, PostLike, PostReward
from smartmate.errors import Conflict
from tests.concurrency import errors_of, run_concurrently
from tests.scheduling.plansquare.conftest import publish

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def reward_events(post):
    return OutboxEvent.objects.filter(message_key=f"plan_square_post:{post.pk}")


def test_fifty_users_liking_at_once_make_fifty_likes(user, make_user):
    post = publish(user)
    likers = [make_user(f"liker{i}") for i in range(50)]
    outcomes = run_concurrently(
        50, lambda i: services.post_like(user=likers[i], post_id=post.pk), close_caller_connection=True
    )
    assert errors_of(outcomes) == []
    post.refresh_from_db()
    assert post.likes == PostLike.objects.filter(post=post).count() == 50
    assert sorted(outcomes)[-1] == 50  # the last to commit saw every like
    assert reward_events(post).count() == PostReward.objects.count() == 50
    assert selectors.counter_drift() == []


def test_one_user_liking_twenty_times_at_once_makes_one_like_and_one_reward(user, make_user):
    post = publish(user)
    fan = make_user("fan")
    outcomes = run_concurrently(
        20, lambda i: services.post_like(user=fan, post_id=post.pk), close_caller_connection=True
    )
    assert errors_of(outcomes) == []
    assert set(outcomes) == {1}
    assert Post.objects.get().likes == 1
    assert reward_events(post).count() == 1


def test_like_unlike_like_pays_one_reward_even_when_they_race(user, make_user):
    post = publish(user)
    fan = make_user("fan")
    services.post_like(user=fan, post_id=post.pk)
    services.post_unlike(user=fan, post_id=post.pk)
    services.post_like(user=fan, post_id=post.pk)
    assert reward_events(post).count() == 1

    # Likes and unlikes of one user interleaved: the count always equals the rows, one reward.
    def flip(i):
        return (services.post_like if i % 2 else services.post_unlike)(user=fan, post_id=post.pk)

    assert errors_of(run_concurrently(20, flip, close_caller_connection=True)) == []
    post.refresh_from_db()
    assert post.likes == PostLike.objects.filter(post=post).count() in (0, 1)
    assert reward_events(post).count() == PostReward.objects.count() == 1


def test_ten_imports_at_once_by_one_user_make_one_class_and_nine_refusals(user, make_user):
    post = publish(user)
    importer = make_user("importer")
    outcomes = run_concurrently(
        10, lambda i: services.post_import(user=importer, post_id=post.pk), close_caller_connection=True
    )
    made = [o for o in outcomes if isinstance(o, TaskClass)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(made) == 1 and len(refused) == 9, outcomes
    assert {o.error_code for o in refused} == {"already_imported"}
    assert TaskClass.objects.filter(user=importer).count() == 1
    assert Post.objects.get().imports == PostImport.objects.count() == 1
    assert reward_events(post).count() == 1
    with pytest.raises(Conflict) as again:
        services.post_import(user=importer, post_id=post.pk)
    assert again.value.error_code == "already_imported"


def test_concurrent_imports_by_many_users_count_exactly(user, make_user):
    post = publish(user)
    importers = [make_user(f"importer{i}") for i in range(20)]
    outcomes = run_concurrently(
        20, lambda i: services.post_import(user=importers[i], post_id=post.pk), close_caller_connection=True
    )
    assert errors_of(outcomes) == []
    assert Post.objects.get().imports == 20
    assert selectors.counter_drift() == []


def test_concurrent_comments_and_deletes_keep_the_comment_count_exact(user, make_user):
    post = publish(user)
    writers = [make_user(f"writer{i}") for i in range(10)]
    created = run_concurrently(
        10,
        lambda i: services.comment_create(user=writers[i], post_id=post.pk, body=f"c{i}"),
        close_caller_connection=True,
    )
    assert errors_of(created) == []
    deletes = run_concurrently(
        10,
        lambda i: services.comment_delete(user=writers[i // 2 * 2], comment_id=created[i // 2 * 2].pk),
        close_caller_connection=True,
    )  # writers 0, 2, 4, 6, 8 each delete their comment twice at once
    assert errors_of(deletes) == []
    connection.close()
    assert Post.objects.get().comments == 5
    assert selectors.counter_drift() == []
