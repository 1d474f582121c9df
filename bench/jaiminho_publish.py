"""The function django-jaiminho stores and relays in bench/outbox_jaiminho.py.

It lives in an importable module, not in the script: dill pickles a function of `__main__`
by value with its globals (the producer among them), one of a module by reference.
"""

import json

from jaiminho.send import save_to_outbox
from kafka import KafkaProducer

producer: KafkaProducer | None = None


def connect(bootstrap: str, *, linger_ms: int = 5) -> KafkaProducer:
    """The module-level producer, with bench/outbox_relay.py's raw-producer settings."""
    global producer
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=linger_ms)
    return producer


@save_to_outbox
def publish(topic: str, key: str, payload: dict) -> None:
    """The same message our Kafka transport builds (JSON value, event id / biz type / service
    headers). It waits for the broker's acknowledgement: jaiminho marks the event sent as soon as
    this returns, so returning before the ack would let a lost message count as sent."""
    value = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = [
        ("event_id", payload["event_id"].encode()),
        ("biz_type", payload["biz_type"].encode()),
        ("service", b"bench"),
    ]
    producer.send(topic, key=key.encode(), value=value, headers=headers).get(timeout=10)
