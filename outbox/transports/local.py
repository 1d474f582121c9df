"""Embedded transport: no broker; the relay applies each sent batch in-process with the
same consumer code (one transaction per event, inbox, the same handlers) as Kafka's."""

import logging

from outbox.registry import is_publish_only
from outbox.services import Claimed

logger = logging.getLogger(__name__)


class LocalTransport:
    name = "local"

    def send(self, rows: list[Claimed]) -> dict:
        return {}

    def after_settle(self, rows: list[Claimed]) -> None:
        from outbox.consumer import apply_envelope

        for row in rows:
            if is_publish_only(row.biz_type):
                continue
            # The owning service's "group" is this process; a failure settles the row itself.
            apply_envelope(service=row.service_name, payload=row.payload)

    def close(self) -> None:
        pass
