"""Rewards of the plan square arrive as outbox events and are paid exactly once, through the
consumer path the product runs (local transport in-process, and a real consumer group on Tansu)."""

import pytest

from accounts.credits.models import CreditAccount, CreditEntry
from accounts.credits.services import InvalidReward, credit_reward_pay
from outbox.consumer import Outcome, apply_envelope
from outbox.models import OutboxEvent
from outbox.registry import owner_of, topics_for
from outbox.relay import claim_batch
from outbox.services import enqueue

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def reward_event(pipe, *, author, actor, post_id=7, kind="like", amount=1):
    biz_type = "plan_square.liked" if kind == "like" else "plan_square.imported"
    data = {"author_id": author.pk, "post_id": post_id, "actor_id": actor.pk, "kind": kind, "amount": amount}
    return enqueue(
        biz_type=biz_type,
        topic=pipe.topic if pipe else "smartmate.plansquare",
        message_key=f"plan_square_post:{post_id}",
        data={**data, "ref": f"plan_square:{kind}:{post_id}:{actor.pk}"},
    )


def balance(user):
    account = CreditAccount.objects.filter(user=user).first()
    return account.balance if account else 0


def test_the_accounts_service_owns_the_rewards_and_reads_the_plan_squares_topic():
    assert owner_of("plan_square.liked") == owner_of("plan_square.imported") == "accounts"
    assert "smartmate.plansquare" in topics_for("accounts")


def test_a_reward_event_delivered_twice_pays_once(pipeline, user, make_user):
    bob = make_user("bob")
    event = reward_event(pipeline, author=user, actor=bob, amount=2)
    # A relay sends the event and dies before settling it: another relay sends it again.
    rows = claim_batch(lease_seconds=0)
    assert [r.id for r in rows] == [event.id]
    pipeline.transport.send(rows)
    assert pipeline.relay().published == 1
    counts = pipeline.consume(service="accounts")
    if pipeline.name == "kafka":
        assert counts["applied"] == 1 and counts["duplicate"] == 1  # two copies on the topic
    else:  # the in-process transport applied it once; deliver the same envelope again
        assert apply_envelope(service="accounts", payload=event.payload) == Outcome.DUPLICATE
    assert OutboxEvent.objects.get(id=event.id).status == OutboxEvent.Status.CONSUMED
    (entry,) = CreditEntry.objects.filter(account_id=user.pk)
    assert (entry.kind, entry.amount, entry.ref) == ("reward", 2, f"plan_square:like:7:{bob.pk}")
    assert "post 7" in entry.reason and balance(user) == 2


def test_a_second_event_for_the_same_reward_pays_nothing_more(pipeline, user, make_user):
    bob = make_user("bob")
    reward_event(pipeline, author=user, actor=bob, kind="import", amount=5)
    reward_event(pipeline, author=user, actor=bob, kind="import", amount=5)  # e.g. re-emitted by a retry
    reward_event(pipeline, author=user, actor=bob, kind="like", amount=1)  # another kind: paid
    pipeline.relay()
    pipeline.consume(service="accounts")
    assert sorted(CreditEntry.objects.values_list("amount", flat=True)) == [1, 5]
    assert balance(user) == 6
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {OutboxEvent.Status.CONSUMED}


def test_nothing_is_paid_for_ones_own_post_or_to_a_deleted_author(user, make_user):
    credit_reward_pay(
        biz_type="plan_square.liked",
        data={"author_id": user.pk, "post_id": 1, "actor_id": user.pk, "kind": "like", "amount": 1},
    )
    gone = make_user("gone")
    gone_id = gone.pk
    gone.delete()
    credit_reward_pay(
        biz_type="plan_square.liked",
        data={"author_id": gone_id, "post_id": 1, "actor_id": user.pk, "kind": "like", "amount": 1},
    )
    assert not CreditEntry.objects.exists()


@pytest.mark.parametrize(
    "change",
    [{"kind": "import"}, {"amount": 0}, {"amount": -3}, {"amount": "5"}, {"author_id": None}, {"amount": 10**6}],
)
def test_a_malformed_reward_is_refused_so_the_outbox_retries_then_buries_it(user, make_user, change):
    data = {"author_id": user.pk, "post_id": 1, "actor_id": make_user("bob").pk, "kind": "like", "amount": 1}
    with pytest.raises(InvalidReward):
        credit_reward_pay(biz_type="plan_square.liked", data={**data, **change})
    assert not CreditEntry.objects.exists()


def test_a_failing_reward_returns_the_event_to_pending(user, make_user, settings):
    settings.OUTBOX_TRANSPORT = "local"
    bob = make_user("bob")
    event = reward_event(None, author=user, actor=bob, amount=0)
    from outbox.relay import relay_once

    relay_once()
    row = OutboxEvent.objects.get(id=event.id)
    assert row.status == OutboxEvent.Status.PENDING and "InvalidReward" in row.last_error
    assert not CreditEntry.objects.exists()
