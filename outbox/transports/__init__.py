"""How the relay hands a claimed batch on: `kafka` (production) or `local` (embedded default).

A transport's `send(rows)` returns {event id: error} for the rows it could not hand
over (an empty dict: all sent); `start(rows)` and `finish(in_flight)` are the same in
two halves, so the relay can claim its next batch while the broker acknowledges this
one; `after_settle(rows)` runs once the sent rows are settled (the local transport
applies them there, in-process).
"""

import threading
from typing import Protocol

from django.conf import settings

from outbox.states import Claimed


class Transport(Protocol):
    name: str

    def send(self, rows: list[Claimed]) -> dict: ...

    def start(self, rows: list[Claimed]) -> object: ...

    def finish(self, in_flight: object) -> dict: ...

    def after_settle(self, rows: list[Claimed]) -> None: ...

    def close(self) -> None: ...


_cache: dict[tuple, Transport] = {}
_cache_lock = threading.Lock()


def get_transport() -> Transport:
    """The transport settings name (OUTBOX_TRANSPORT), one per process and configuration."""
    name = settings.OUTBOX_TRANSPORT
    key = (name, settings.KAFKA_BOOTSTRAP_SERVERS if name == "kafka" else "")
    with _cache_lock:
        transport = _cache.get(key)
        if transport is None:
            if name == "kafka":
                from outbox.transports.kafka import KafkaTransport

                transport = KafkaTransport(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
            elif name == "local":
                from outbox.transports.local import LocalTransport

                transport = LocalTransport()
            else:
                raise ValueError(f"OUTBOX_TRANSPORT must be 'kafka' or 'local', not {name!r}")
            _cache[key] = transport
        return transport


def close_transports() -> None:
    with _cache_lock:
        for transport in _cache.values():
            transport.close()
        _cache.clear()
