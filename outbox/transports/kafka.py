"""Kafka transport: one idempotent producer per process (acks=all), the batch sent
asynchronously (`start`), flushed once, then each send's result read (`finish`); waiting
on each send in turn would cost a linger period per event (docs/DOMAIN.md §1)."""

import logging
import threading

from django.conf import settings
from kafka import KafkaProducer

from outbox.states import Claimed

logger = logging.getLogger(__name__)


def encode_message(row: Claimed) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Key, value and headers of a row's Kafka message; the event id travels as a header too."""
    headers = [
        ("event_id", str(row.id).encode()),
        ("biz_type", row.biz_type.encode()),
        ("service", row.service_name.encode()),
    ]
    return row.message_key.encode(), row.payload_json.encode(), headers


def producer_settings() -> dict:
    """The relay's KafkaProducer settings (benches build the raw producer they compare with from these)."""
    timeout = settings.OUTBOX_KAFKA_SEND_TIMEOUT_MS
    return {
        "client_id": "smartmate-outbox-relay",
        "acks": "all",
        "enable_idempotence": True,  # Tansu grants producer ids (InitProducerId), checked in tests
        "linger_ms": settings.OUTBOX_KAFKA_LINGER_MS,
        "request_timeout_ms": max(timeout // 2, 1000),
        "delivery_timeout_ms": timeout,
        "max_block_ms": max(timeout // 2, 1000),
        # Broker down: fail the batch fast (it retries with backoff) instead of waiting 30 s.
        "bootstrap_timeout_ms": max(timeout // 2, 1000),
        "reconnect_backoff_max_ms": 1000,
        "batch_size": 256 * 1024,
    }


class KafkaTransport:
    name = "kafka"

    def __init__(self, *, bootstrap_servers: str, overrides: dict | None = None):
        self.bootstrap_servers = bootstrap_servers
        self.overrides = overrides or {}
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def _timeout_ms(self) -> int:
        return settings.OUTBOX_KAFKA_SEND_TIMEOUT_MS

    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(
                bootstrap_servers=self.bootstrap_servers.split(","), **{**producer_settings(), **self.overrides}
            )
        return self._producer

    def send(self, rows: list[Claimed]) -> dict:
        return self.finish(self.start(rows))

    def start(self, rows: list[Claimed]) -> tuple:
        """Hand the batch to the producer without waiting; `finish` waits for the acknowledgements.

        The producer is held from start to finish: a producer is thread-safe, but a reset after
        a failed batch must not race another thread's batch."""
        self._lock.acquire()
        try:
            return self._start(rows)
        except BaseException:
            self._lock.release()
            raise

    def finish(self, in_flight: tuple) -> dict:
        try:
            return self._finish(*in_flight)
        finally:
            self._lock.release()

    def _start(self, rows: list[Claimed]) -> tuple:
        errors: dict = {}
        try:
            producer = self.producer()
        except Exception as exc:  # NoBrokersAvailable, timeouts: the whole batch retries later
            reason = f"kafka unavailable: {type(exc).__name__}: {exc}"
            return None, [], {row.id: reason for row in rows}
        futures = []
        for i, row in enumerate(rows):
            key, value, headers = encode_message(row)
            try:
                futures.append((row, producer.send(row.topic, key=key, value=value, headers=headers)))
            except Exception as exc:  # metadata unavailable (broker down) or a record too large
                reason = f"kafka send refused: {type(exc).__name__}: {exc}"
                if isinstance(exc, ValueError | TypeError):  # this record only
                    errors[row.id] = reason
                    continue
                for rest in rows[i:]:  # the broker is unreachable: do not wait max_block_ms per row
                    errors[rest.id] = reason
                break
        return producer, futures, errors

    def _finish(self, producer, futures: list, errors: dict) -> dict:
        if producer is None:
            return errors
        try:
            producer.flush(timeout=self._timeout_ms() / 1000 + 1)
        except Exception as exc:
            logger.warning("outbox: kafka flush did not complete: %s", exc)
        for row, future in futures:
            if not future.is_done:
                errors[row.id] = "kafka: no acknowledgement within the send timeout"
            elif future.failed():
                errors[row.id] = f"kafka: {type(future.exception).__name__}: {future.exception}"
        if errors:
            # An idempotent producer can be left in a fatal state; start the next batch on a fresh one.
            self._reset()
        return errors

    def after_settle(self, rows: list[Claimed]) -> None:
        pass

    def _reset(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except Exception:
                logger.debug("outbox: closing a failed producer raised", exc_info=True)

    def close(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.close(timeout=5)
