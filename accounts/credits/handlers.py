"""Outbox consumers of credits: the plan square's rewards (service `accounts`).

The square publishes them on its own topic, so the accounts consumer group subscribes to it
(`topic=`). Each runs inside the consumer's transaction with the inbox record of the event id,
and the entry's ref is unique per account: a redelivered event, or a second event for the same
(post, actor, kind), pays once (docs/DOMAIN.md §9).
"""

from accounts.credits.services import credit_reward_pay
from outbox import topics
from outbox.registry import Envelope, handles

PLAN_SQUARE_TOPIC = topics.PLAN_SQUARE


@handles("plan_square.liked", service="accounts", topic=PLAN_SQUARE_TOPIC)
@handles("plan_square.imported", service="accounts", topic=PLAN_SQUARE_TOPIC)
def pay_plan_square_reward(event: Envelope) -> None:
    credit_reward_pay(biz_type=event.biz_type, data=event.data)
