"""Embedded transport: no broker; the relay applies each sent batch in-process with the
same consumer code (a batch per service, inbox, the same handlers) as Kafka's."""

from collections import defaultdict

from outbox.registry import is_publish_only
from outbox.states import Claimed


class LocalTransport:
    name = "local"

    def send(self, rows: list[Claimed]) -> dict:
        return {}

    def start(self, rows: list[Claimed]) -> None:
        return None

    def finish(self, in_flight: None) -> dict:
        return {}

    def after_settle(self, rows: list[Claimed]) -> None:
        from outbox.consumer import Incoming, apply_batch

        by_service = defaultdict(list)
        for row in rows:
            if not is_publish_only(row.biz_type):
                by_service[row.service_name].append(Incoming.from_payload(row.payload))
        # The owning service's "group" is this process; failures settle the rows themselves.
        for service, incoming in by_service.items():
            apply_batch(service=service, incoming=incoming)

    def close(self) -> None:
        pass
