"""Our outbox relay vs django-jaiminho 2.2.1's: `.venv/bin/python bench/outbox_jaiminho.py [--events N]`.

Needs bench/requirements.txt installed (django-jaiminho is not a SmartMate dependency).
Settings: bench/jaiminho_settings.py (the project's plus jaiminho, keep-order strategy,
signed events). Same PostgreSQL scratch database as bench/outbox_relay.py (DATABASE_URL,
default sm_outbox_bench, created and migrated), one Tansu broker started on a free port,
topics of 3 partitions, the same ≈200-byte payloads and --keys message keys:

1. jaiminho: N calls of a `@save_to_outbox` function (bench/jaiminho_publish.py), each
   stored as an Event row (dill-pickled function and arguments, signed); then
   `EventRelayer().relay()` — what `manage.py events_relay` runs — is timed until every
   event is sent: per event one transaction (row lock, signature check, unpickle, call the
   function, mark sent). The function sends through a module-level kafka-python producer
   with the relay's settings (acks=all, idempotent, linger 5 ms) and waits for the send's
   result: jaiminho marks the event sent when the function returns, so that wait is what
   at-least-once requires.
2. ours: N pending outbox rows relayed by `relay_once` back to back (bench/outbox_relay.py's
   `measure_relay`: claim a batch with FOR UPDATE SKIP LOCKED + lease, send it, flush once,
   settle).

Each relay gets one warm-up event outside the timing. Prints events/s for each and the ratio;
the messages on each topic are counted at the end. `--jaiminho-linger-ms 0`: jaiminho's
producer without the 5 ms linger its one-send-then-wait pays on every event (ours keeps 5 ms).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.jaiminho_settings"

from bench.outbox_relay import ensure_database, envelope, measure_relay  # noqa: E402


def topic_messages(bootstrap: str, topic: str, expected: int) -> int:
    """Messages on `topic`, read from the start (Tansu's end offsets count record batches, not
    records, once a producer batches: 100 records sent in one batch show an end offset of 1)."""
    from kafka import KafkaConsumer, TopicPartition

    logging.getLogger("kafka.coordinator.consumer").setLevel(logging.ERROR)  # "group_id is None"
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        count, deadline = 0, time.monotonic() + 30
        while count < expected and time.monotonic() < deadline:
            count += sum(len(records) for records in consumer.poll(timeout_ms=500).values())
        count += sum(len(records) for records in consumer.poll(timeout_ms=500).values())  # none beyond
        return count
    finally:
        consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--keys", type=int, default=10_000, help="distinct message keys")
    parser.add_argument(
        "--jaiminho-linger-ms", type=int, default=5, help="linger of jaiminho's producer (default: the relay's 5 ms)"
    )
    args = parser.parse_args()
    n = args.events

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from jaiminho.models import Event
    from jaiminho.relayer import EventRelayer
    from kafka.admin import KafkaAdminClient, NewTopic

    from bench import jaiminho_publish
    from outbox.transports import close_transports, get_transport
    from tests.conftest import TansuBroker

    call_command("migrate", verbosity=0)
    broker = TansuBroker().start()
    settings.OUTBOX_TRANSPORT = "kafka"
    settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap
    topics = {"jaiminho": "bench.jaiminho", "ours": "bench.ours"}
    results: dict[str, float] = {}
    try:
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        admin.create_topics([NewTopic(t, num_partitions=3, replication_factor=1) for t in topics.values()])
        admin.close()
        producer = jaiminho_publish.connect(broker.bootstrap, linger_ms=args.jaiminho_linger_ms)

        # 1. jaiminho
        Event.objects.all().delete()
        relayer = EventRelayer()
        jaiminho_publish.publish(topics["jaiminho"], "warm-up", envelope(-1)[1])
        relayer.relay()  # producer and connection warm-up, outside the timing
        assert not Event.objects.filter(sent_at__isnull=True).exists()
        started = time.perf_counter()
        for i in range(n):
            jaiminho_publish.publish(topics["jaiminho"], f"bench:{i % args.keys}", envelope(i)[1])
        stored = time.perf_counter() - started
        event = Event.objects.filter(sent_at__isnull=True).first()
        print(
            f"jaiminho: {n} events stored in {stored:.2f} s = {n / stored:,.0f}/s "
            f"(message {len(event.message)} B, function {len(event.function)} B pickled)",
            flush=True,
        )
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Event._meta.db_table}")
        started = time.perf_counter()
        calls = 0
        while Event.objects.filter(sent_at__isnull=True).exists():
            calls += 1
            assert calls <= 3, "jaiminho's relay stopped on a failing event (keep-order)"
            relayer.relay()
        elapsed = time.perf_counter() - started
        results["jaiminho"] = n / elapsed
        print(
            f"jaiminho relay: {n} events in {elapsed:.2f} s = {results['jaiminho']:,.1f}/s "
            f"({calls} relay() call, producer linger {args.jaiminho_linger_ms} ms)",
            flush=True,
        )
        producer.close()

        # 2. ours, same database and broker
        results["ours"], passes = measure_relay(
            n, topic=topics["ours"], keys=args.keys, batch_size=settings.OUTBOX_BATCH_SIZE, transport=get_transport()
        )
        print(
            f"our relay: {n - 1} timed events = {results['ours']:,.0f}/s "
            f"({passes} passes of {settings.OUTBOX_BATCH_SIZE})",
            flush=True,
        )
        close_transports()

        expected = {"jaiminho": n + 1, "ours": n}  # with the warm-up events
        sent = {name: topic_messages(broker.bootstrap, topic, expected[name]) for name, topic in topics.items()}
        assert sent == expected, sent
        results["ratio"] = results["ours"] / results["jaiminho"]
        print(
            f"messages on the topics: {sent}; ours / jaiminho = {results['ratio']:.1f}x; "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            flush=True,
        )
    finally:
        close_transports()
        broker.stop()
    print(json.dumps({"events": n, **{k: round(v, 1) for k, v in results.items()}}))


if __name__ == "__main__":
    main()
