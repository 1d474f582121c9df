"""Which service handles which event type.

    from outbox.registry import handles

    @handles("notification.requested")
    def deliver(event: Envelope) -> None: ...

A handler runs inside the consumer's database transaction (with the inbox record and
the row's `consumed` mark), under a savepoint of its own: raise to have the event
retried with backoff, without undoing the other events of the batch. Handlers live in
each app's `handlers.py`, imported by OutboxConfig.ready(). Event types that leave the
product for subscribers only (no handler here) are declared with `publish_only(...)`:
they are settled as consumed once published.

The batch form, for handlers where one statement can serve many events:

    @handles("search.reindex", many=True)
    def reindex(events: list[Envelope]) -> None: ...   # one INSERT … for all of them

receives consecutive events of its type in commit order (apply them in that order). If
it raises, each event is run again alone (`reindex([event])`), so only the failing ones
retry.
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from outbox.topics import topic_of


@dataclass(frozen=True)
class Envelope:
    event_id: str
    biz_type: str
    occurred_at: datetime
    data: dict[str, Any]


Handler = Callable[[Envelope], None]
BatchHandler = Callable[[list[Envelope]], None]

_handlers: dict[str, tuple[str, Handler]] = {}
_batch_types: set[str] = set()  # handlers registered with many=True
_publish_only: set[str] = set()
_publish_only_owner: dict[str, str] = {}
_topics: dict[str, set[str]] = {}  # service -> topics its consumer group subscribes to


def handles(biz_type: str, *, service: str | None = None, topic: str | None = None, many: bool = False):
    """Register the one handler of `biz_type`; `service` defaults to the handler's app label.

    `topic` names the topic the events arrive on when it is not `smartmate.<service>`;
    `many=True`: the handler takes a list of envelopes (the batch form above).
    """

    def register(fn: Handler) -> Handler:
        owner = service or fn.__module__.split(".")[0]
        if topic:
            _topics.setdefault(owner, set()).add(topic)
        existing = _handlers.get(biz_type)
        if existing and existing[1] is not fn and existing[1].__qualname__ != fn.__qualname__:
            raise RuntimeError(f"{biz_type} already handled by {existing[1].__module__}.{existing[1].__qualname__}")
        _handlers[biz_type] = (owner, fn)
        if many:
            _batch_types.add(biz_type)
        else:
            _batch_types.discard(biz_type)
        return fn

    return register


def publish_only(*biz_types: str, service: str | None = None) -> None:
    """Declare event types with no handler; `service` (their owner) defaults to the caller's app label."""
    owner = service or sys._getframe(1).f_globals.get("__name__", "").split(".")[0]
    _publish_only.update(biz_types)
    for biz_type in biz_types:
        _publish_only_owner.setdefault(biz_type, owner)


def handler_for(biz_type: str) -> tuple[str, Handler] | None:
    return _handlers.get(biz_type)


def takes_batches(biz_type: str) -> bool:
    """Its handler was registered with many=True: call it with a list of envelopes."""
    return biz_type in _batch_types


def is_publish_only(biz_type: str) -> bool:
    return biz_type in _publish_only and biz_type not in _handlers


def handled_types() -> dict[str, str]:
    """{biz_type: owning service}."""
    return {biz_type: owner for biz_type, (owner, _fn) in _handlers.items()}


def consumer_services() -> set[str]:
    """Every service that owns at least one handler (one consumer group each)."""
    return {owner for owner, _fn in _handlers.values()}


def topics_for(service: str) -> set[str]:
    """Topics the consumer group of `service` reads: `smartmate.<service>` plus any named in @handles."""
    return {topic_of(service)} | _topics.get(service, set())


def publish_only_types() -> set[str]:
    return set(_publish_only)


def owner_of(biz_type: str) -> str | None:
    """The service owning `biz_type`: its handler's, else the app that declared it publish-only."""
    registered = _handlers.get(biz_type)
    if registered:
        return registered[0]
    return _publish_only_owner.get(biz_type) if biz_type in _publish_only else None
