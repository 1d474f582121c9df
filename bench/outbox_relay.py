"""Outbox relay benchmark (issue 5): `.venv/bin/python bench/outbox_relay.py [--events N]`.

On PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/sm_outbox_bench,
created and migrated if needed) and a Tansu broker the script starts on a free port:

1. raw producer: one kafka-python KafkaProducer (the relay's own settings: acks=all,
   idempotent, linger 5 ms) sends the N envelopes asynchronously and flushes once;
2. relay: N pending rows are inserted, then `relay_once` runs back to back until none
   is due (claim with FOR UPDATE SKIP LOCKED + lease, send the batch, flush once,
   settle with one UPDATE per outcome) — the loop `outbox_relay --loop` runs;
3. consumer (skip with --no-consume): one group member applies the N events, one
   transaction each (inbox insert, a no-op handler, mark consumed), offsets committed
   per poll.

Figures are events per second, best of --runs for the producer and the relay.

`--latency`: end-to-end latency instead. `outbox_relay --loop` logic and one consumer group
member run in threads while events are enqueued at --rate per second for --seconds; the
figure is consumed_at - created_at (commit of the business transaction to the consumer's
commit), p50 / p95 / p99.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartmate.settings_test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sm_outbox_bench")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def ensure_database(url: str) -> None:
    from urllib.parse import urlsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def envelope(i: int) -> tuple[uuid.UUID, dict]:
    """An event id and the ≈200-byte payload every outbox bench sends."""
    from django.utils import timezone

    event_id = uuid.uuid4()
    return event_id, {
        "event_id": str(event_id),
        "biz_type": "bench.noop",
        "occurred_at": timezone.now().isoformat(),
        "data": {"i": i, "text": "a chat message of a typical length, some sixty characters"},
    }


def measure_relay(n: int, *, topic: str, keys: int) -> tuple[int, float, int]:
    """Our relay over `n` fresh pending rows (the outbox table is emptied first), `relay_once`
    back to back until none is due. The first row is relayed alone as a warm-up (producer,
    connection); returns (events timed, seconds, passes) of the rest."""
    from django.db import connection

    from outbox.models import OutboxEvent
    from outbox.relay import relay_once

    OutboxEvent.objects.all()._raw_delete(OutboxEvent.objects.db)
    rows = []
    for i in range(n):
        event_id, payload = envelope(i)
        rows.append(
            OutboxEvent(
                id=event_id,
                biz_type="bench.noop",
                service_name="bench",
                topic=topic,
                message_key=f"bench:{i % keys}",
                payload=payload,
            )
        )
    OutboxEvent.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE outbox_outboxevent")
    relay_once(batch_size=1)  # producer and connection warm-up, outside the timing
    started = time.perf_counter()
    passes = 0
    while relay_once().claimed:
        passes += 1
    elapsed = time.perf_counter() - started
    published = OutboxEvent.objects.filter(status="published").count()
    assert published == n, published
    return n - 1, elapsed, passes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1, help="repeat the producer and relay measurements")
    parser.add_argument("--batch-size", type=int, default=None, help="relay batch (default OUTBOX_BATCH_SIZE)")
    parser.add_argument("--keys", type=int, default=10_000, help="distinct message keys")
    parser.add_argument("--no-consume", action="store_true")
    parser.add_argument("--latency", action="store_true", help="measure end-to-end latency instead")
    parser.add_argument("--rate", type=int, default=100, help="--latency: events enqueued per second")
    parser.add_argument("--seconds", type=int, default=20, help="--latency: how long to enqueue")
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    from outbox.consumer import ConsumerLoop
    from outbox.models import OutboxEvent
    from outbox.registry import handles
    from outbox.relay import StopFlag
    from outbox.transports import close_transports
    from tests.conftest import TansuBroker

    @handles("bench.noop", service="bench")
    def noop(event):
        pass

    broker = TansuBroker().start()
    settings.OUTBOX_TRANSPORT = "kafka"
    settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap
    if args.batch_size:
        settings.OUTBOX_BATCH_SIZE = args.batch_size
    n = args.events
    results: dict[str, float] = {}
    if args.latency:
        try:
            measure_latency(args, broker)
        finally:
            close_transports()
            broker.stop()
        return
    try:
        topics = [f"bench.raw.{i}" for i in range(args.runs)] + [f"bench.relay.{i}" for i in range(args.runs)]
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        admin.create_topics([NewTopic(t, num_partitions=3, replication_factor=1) for t in topics])
        admin.close()

        # 1. raw producer
        best = 0.0
        for run in range(args.runs):
            messages = [
                (f"bench:{i % args.keys}".encode(), json.dumps(envelope(i)[1], separators=(",", ":")).encode())
                for i in range(n)
            ]
            producer = KafkaProducer(
                bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=True, linger_ms=5
            )
            producer.partitions_for(f"bench.raw.{run}")  # metadata outside the timing
            started = time.perf_counter()
            futures = [producer.send(f"bench.raw.{run}", key=k, value=v) for k, v in messages]
            producer.flush()
            assert all(f.succeeded() for f in futures)
            elapsed = time.perf_counter() - started
            producer.close()
            best = max(best, n / elapsed)
            print(f"raw producer run {run + 1}: {n} events in {elapsed:.2f} s = {n / elapsed:,.0f}/s", flush=True)
        results["raw"] = best

        # 2. relay
        best = 0.0
        for run in range(args.runs):
            timed, elapsed, passes = measure_relay(n, topic=f"bench.relay.{run}", keys=args.keys)
            best = max(best, timed / elapsed)
            print(
                f"relay run {run + 1}: {timed} events in {elapsed:.2f} s = {timed / elapsed:,.0f}/s "
                f"({passes} passes of {settings.OUTBOX_BATCH_SIZE})",
                flush=True,
            )
        results["relay"] = best
        close_transports()

        # 3. consumer
        if not args.no_consume:
            settings.OUTBOX_CONSUMER_GROUP_PREFIX = f"bench.{uuid.uuid4().hex[:6]}."
            loop = ConsumerLoop(service="bench", topics=[f"bench.relay.{args.runs - 1}"])
            loop.consumer.poll(timeout_ms=0)
            started = time.perf_counter()
            counts = loop.run(stop=StopFlag(), once=True, max_seconds=3600)
            elapsed = time.perf_counter() - started
            consumed = OutboxEvent.objects.filter(status="consumed").count()
            results["consumer"] = counts["applied"] / elapsed
            print(
                f"consumer: {counts['applied']} applied ({consumed} rows consumed) in {elapsed:.2f} s "
                f"= {results['consumer']:,.0f}/s (includes the group join)",
                flush=True,
            )
    finally:
        close_transports()
        broker.stop()
    print(json.dumps({k: round(v) for k, v in results.items()}))


def measure_latency(args, broker) -> None:
    import statistics
    import threading

    from django.conf import settings
    from django.db import connection

    from outbox.consumer import ConsumerLoop
    from outbox.models import OutboxEvent
    from outbox.relay import StopFlag, relay_loop
    from outbox.services import enqueue

    OutboxEvent.objects.all().delete()
    topic = f"bench.latency.{uuid.uuid4().hex[:6]}"
    settings.OUTBOX_CONSUMER_GROUP_PREFIX = f"bench.{uuid.uuid4().hex[:6]}."
    stop = StopFlag()
    loop = ConsumerLoop(service="bench", topics=[topic])

    def relay():
        try:
            relay_loop(stop=stop)
        finally:
            connection.close()

    def consume():
        try:
            loop.run(stop=stop)
        finally:
            connection.close()

    enqueue(biz_type="bench.noop", topic=topic, message_key="warm-up", data={})
    threads = [threading.Thread(target=relay), threading.Thread(target=consume)]
    for t in threads:
        t.start()
    while OutboxEvent.objects.exclude(status="consumed").exists():  # group joined, producer warm
        time.sleep(0.2)
    OutboxEvent.objects.all().delete()
    total = args.rate * args.seconds
    started = time.perf_counter()
    for i in range(total):
        enqueue(biz_type="bench.noop", topic=topic, message_key=f"bench:{i % args.keys}", data={"i": i})
        delay = started + (i + 1) / args.rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    deadline = time.monotonic() + 120
    while OutboxEvent.objects.exclude(status="consumed").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.event.set()
    for t in threads:
        t.join(30)
    rows = OutboxEvent.objects.filter(status="consumed").values_list("created_at", "consumed_at")
    latencies = sorted((done - made).total_seconds() * 1000 for made, done in rows)
    q = statistics.quantiles(latencies, n=100)
    print(
        f"latency over {len(latencies)} of {total} events at {args.rate}/s: "
        f"p50 {q[49]:.0f} ms, p95 {q[94]:.0f} ms, p99 {q[98]:.0f} ms, max {latencies[-1]:.0f} ms "
        f"(relay idle sleep {settings.OUTBOX_RELAY_IDLE_SECONDS} s)",
        flush=True,
    )


if __name__ == "__main__":
    main()
