"""Every topic of the product, named once (docs/DOMAIN.md §1, "Topics").

A service's own topic is `smartmate.<service>` (`topic_of`), the one its consumer group
always reads (`outbox.registry.topics_for`); a topic that several services read under
another name (the plan square's, read by the accounts service's credits handlers) is
declared here too. Producers pass one of these constants to `enqueue`, handlers name
the foreign topics they read with them: no topic name is written anywhere else.
"""

PREFIX = "smartmate."


def topic_of(service: str) -> str:
    """The topic a service publishes its own events on and its consumer group reads."""
    return f"{PREFIX}{service}"


SCHEDULING = topic_of("scheduling")  # schedule.changed, active_schedule.trigger.created
NOTIFICATIONS = topic_of("notifications")  # notification.requested
AGENT = topic_of("agent")  # agent.chat.message, agent.memory.extract
PLAN_SQUARE = topic_of("plansquare")  # plan_square.liked / .imported, read by the accounts service
