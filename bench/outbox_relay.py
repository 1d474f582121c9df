"""Outbox pipeline benchmark: `.venv/bin/python bench/outbox_relay.py [--events N] [--runs R]`.

On PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/sm_outbox_bench,
created and migrated if needed) and a Tansu broker the script starts on a free port.
Every figure is compared with the floor measured in the same run:

1. raw producer: one kafka-python KafkaProducer with the relay's own settings
   (`outbox.transports.kafka.producer_settings`, plus any `--producer k=v`) sends the N
   envelopes (same payloads, keys and headers) asynchronously and flushes once;
2. relay: N pending rows are inserted, then `drain` relays them (one claim statement,
   send the batch, flush once, one settle statement; the next batch claimed while the
   broker acknowledges this one) — the loop of `outbox_relay --loop` and of the beat
   task. Per-key order on the topic is checked afterwards.
   `--curve 50,100,…` repeats this at each batch size;
3. consumer (`--consume noop,batch,real`; `none` skips): one group member applies the
   events of a topic in batches (a poll per transaction): `noop` the per-event no-op
   handler, `batch` the same no-op in the batch form, `real` the product's own handlers
   (`active_schedule.trigger.created` building previews, then the `notification.requested`
   those enqueue). Timed from the group's join to the end of the topic.

`--latency`: commit-to-handler latency instead. `outbox_relay --loop` and `outbox_consume`
run as processes of their own while this one enqueues events (autocommit, one per
transaction, from `--producers` threads) at each of `--rates` per second for `--seconds`; `--wake on|off|both`: the
relay waits on LISTEN/NOTIFY (on) or polls every OUTBOX_RELAY_IDLE_SECONDS (off). The
figure is consumed_at - created_at (the business transaction's commit to the consumer's
commit): p50 / p95 / p99 / max.

`--profile relay|consumer` writes a pyinstrument profile of that stage (bench/requirements.txt).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
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


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def envelope(i: int, biz_type: str = "bench.noop") -> tuple[uuid.UUID, dict]:
    """An event id and the ≈200-byte payload every outbox bench sends."""
    from django.utils import timezone

    from outbox.models import new_event_id

    event_id = new_event_id()
    return event_id, {
        "event_id": str(event_id),
        "biz_type": biz_type,
        "occurred_at": timezone.now().isoformat(),
        "data": {"i": i, "text": "a chat message of a typical length, some sixty characters"},
    }


def parse_overrides(pairs: list[str]) -> dict:
    overrides = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        overrides[key] = int(value) if value.lstrip("-").isdigit() else (None if value == "none" else value)
    return overrides


def measure_raw(bootstrap: str, n: int, *, topic: str, keys: int, overrides: dict) -> float:
    from kafka import KafkaProducer

    from outbox.transports.kafka import producer_settings

    messages = []
    for i in range(n):
        event_id, payload = envelope(i)
        headers = [("event_id", str(event_id).encode()), ("biz_type", b"bench.noop"), ("service", b"bench")]
        messages.append((f"bench:{i % keys}".encode(), json.dumps(payload, separators=(",", ":")).encode(), headers))
    producer = KafkaProducer(bootstrap_servers=bootstrap, **{**producer_settings(), **overrides})
    producer.partitions_for(topic)  # metadata outside the timing
    started = time.perf_counter()
    futures = [producer.send(topic, key=k, value=v, headers=h) for k, v, h in messages]
    producer.flush()
    elapsed = time.perf_counter() - started
    assert all(f.succeeded() for f in futures)
    producer.close()
    return n / elapsed


def insert_pending(n: int, *, topic: str, keys: int, biz_type: str = "bench.noop", service: str = "bench") -> None:
    """`n` fresh pending rows (the outbox table is emptied first)."""
    from django.db import connection

    from outbox.models import OutboxEvent

    OutboxEvent.objects.all()._raw_delete(OutboxEvent.objects.db)
    rows = []
    for i in range(n):
        event_id, payload = envelope(i, biz_type)
        rows.append(
            OutboxEvent(
                id=event_id,
                biz_type=biz_type,
                service_name=service,
                topic=topic,
                message_key=f"bench:{i % keys}",
                payload=payload,
            )
        )
    OutboxEvent.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE outbox_outboxevent")


def measure_relay(n: int, *, topic: str, keys: int, batch_size: int, transport, profile=None) -> tuple[float, int]:
    """Our relay over `n` fresh pending rows: `drain`, the batches-back-to-back loop of
    `outbox_relay --loop` and of the beat task. The first row is relayed alone as a warm-up
    (producer, connection); returns (events/s, passes)."""
    from outbox.models import OutboxEvent
    from outbox.relay import drain, relay_once

    insert_pending(n, topic=topic, keys=keys)
    relay_once(batch_size=1, transport=transport)
    if profile:
        profile.start()
    started = time.perf_counter()
    result = drain(batch_size=batch_size, transport=transport)
    elapsed = time.perf_counter() - started
    if profile:
        profile.stop()
    published = OutboxEvent.objects.filter(status="published").count()
    assert published == n, published
    return (n - 1) / elapsed, -(-result.claimed // batch_size)


def check_key_order(bootstrap: str, topic: str, n: int) -> int:
    """Read the topic back: within each key the events must be in enqueue order (data.i rising)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=5000, group_id=None
    )
    last: dict[bytes, int] = {}
    seen = 0
    for message in consumer:
        i = json.loads(message.value)["data"]["i"]
        assert last.get(message.key, -1) < i, f"key {message.key!r}: {i} after {last[message.key]}"
        last[message.key] = i
        seen += 1
        if seen == n:
            break
    consumer.close()
    return seen


def measure_consumer(topic: str, *, service: str = "bench", profile=None) -> tuple[float, dict]:
    """One group member reads `topic` to its end; timed from the completed join."""
    from django.conf import settings

    from outbox.consumer import ConsumerLoop
    from outbox.relay import StopFlag

    settings.OUTBOX_CONSUMER_GROUP_PREFIX = f"bench.{uuid.uuid4().hex[:6]}."
    loop = ConsumerLoop(service=service, topics=[topic])
    while not loop.consumer.assignment():
        loop.consumer.poll(timeout_ms=200)
    loop.consumer.seek_to_beginning()
    if profile:
        profile.start()
    started = time.perf_counter()
    counts = loop.run(stop=StopFlag(), once=True, max_seconds=3600)
    elapsed = time.perf_counter() - started
    if profile:
        profile.stop()
    return counts["applied"] / elapsed, counts


def reset_consumed(service: str) -> None:
    from outbox.models import InboxRecord

    InboxRecord.objects.filter(service_name=service)._raw_delete(InboxRecord.objects.db)


def real_handler_events(n_triggers: int) -> None:
    """`n_triggers` due tasks of 50 users, turned into `active_schedule.trigger.created` rows by the
    real due-job scan (each preview the handler builds then enqueues a `notification.requested`)."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from notifications.models import NotificationChannel
    from scheduling.services import task_create
    from scheduling.services.active import due_jobs_scan

    users = []
    User = get_user_model()
    run = uuid.uuid4().hex[:6]
    for u in range(50):
        user = User.objects.create_user(username=f"bench-{run}-{u}", password="bench-password-1", timezone="UTC")
        NotificationChannel.objects.create(user=user, kind="webhook", webhook_url="https://hooks.example.com/x")
        users.append(user)
    now = timezone.now()
    for t in range(n_triggers):
        task_create(
            user=users[t % len(users)],
            title=f"Problem set {t}",
            priority=2,
            estimated_sections=2,
            deadline_at=now + timedelta(days=3),
            urgency_threshold_at=now - timedelta(minutes=1),
        )
    due_jobs_scan(batch_size=500)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=1, help="repeat the producer and relay measurements")
    parser.add_argument("--batch-size", type=int, default=None, help="relay batch (default OUTBOX_BATCH_SIZE)")
    parser.add_argument("--curve", default="", help="relay batch sizes to measure, e.g. 50,100,200,500,1000")
    parser.add_argument("--keys", type=int, default=10_000, help="distinct message keys")
    parser.add_argument("--producer", action="append", default=[], help="producer setting override, k=v")
    parser.add_argument("--consume", default="noop,batch", help="noop,batch,real or none")
    parser.add_argument("--real-events", type=int, default=2000, help="triggers for --consume real")
    parser.add_argument("--latency", action="store_true", help="measure commit-to-handler latency instead")
    parser.add_argument("--rate", type=int, default=500, help="--latency: events enqueued per second")
    parser.add_argument("--rates", default="", help="--latency: several rates, e.g. 50,500,2000")
    parser.add_argument("--seconds", type=int, default=20, help="--latency: how long to enqueue at each rate")
    parser.add_argument("--wake", choices=["on", "off", "both"], default="on", help="--latency: LISTEN/NOTIFY")
    parser.add_argument("--producers", type=int, default=4, help="--latency: enqueuing threads")
    parser.add_argument("--profile", choices=["relay", "consumer"], help="write a pyinstrument profile")
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bench._outbox_child import register
    from tests.conftest import TansuBroker

    register()
    broker = TansuBroker().start()
    settings.OUTBOX_TRANSPORT = "kafka"
    settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap
    print(f"load average before: {loadavg()}", flush=True)
    try:
        if args.latency:
            rates = [int(r) for r in args.rates.split(",")] if args.rates else [args.rate]
            wakes = ["on", "off"] if args.wake == "both" else [args.wake]
            for rate in rates:
                for wake in wakes:
                    measure_latency(
                        broker,
                        rate=rate,
                        seconds=args.seconds,
                        keys=args.keys,
                        wake=wake == "on",
                        producers=args.producers,
                    )
        else:
            throughput(args, broker)
    finally:
        from outbox.transports import close_transports

        close_transports()
        broker.stop()
    print(f"load average after: {loadavg()}", flush=True)


def _profiler(args, stage):
    if args.profile != stage:
        return None
    from pyinstrument import Profiler

    return Profiler(interval=0.0005)


def _write_profile(profiler, stage: str) -> None:
    if profiler is None:
        return
    path = ROOT / "var" / f"outbox_{stage}_profile.txt"
    path.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    print(f"profile of the {stage}: {path}", flush=True)


def throughput(args, broker) -> None:
    from django.conf import settings
    from kafka.admin import KafkaAdminClient, NewTopic

    from outbox.relay import relay_until_idle
    from outbox.transports.kafka import KafkaTransport

    n = args.events
    overrides = parse_overrides(args.producer)
    batch = args.batch_size or settings.OUTBOX_BATCH_SIZE
    curve = [int(b) for b in args.curve.split(",")] if args.curve else [batch]
    consume = [] if args.consume == "none" else args.consume.split(",")
    topics = [f"bench.raw.{r}" for r in range(args.runs)]
    topics += [f"bench.relay.{r}.{b}" for r in range(args.runs) for b in curve]
    topics += ["bench.consume.batch", "smartmate.scheduling", "smartmate.notifications"]
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.create_topics([NewTopic(t, num_partitions=3, replication_factor=1) for t in topics])
    admin.close()
    transport = KafkaTransport(bootstrap_servers=broker.bootstrap, overrides=overrides)
    print(f"{n} events, {args.keys} keys, producer overrides {overrides or 'none'}", flush=True)
    results: dict[str, float] = {}
    relay_profile = _profiler(args, "relay")
    for run in range(args.runs):
        for b in curve:  # a raw measurement beside each relay one: the machine's load drifts
            raw = measure_raw(broker.bootstrap, n, topic=f"bench.raw.{run}", keys=args.keys, overrides=overrides)
            results["raw"] = max(results.get("raw", 0.0), raw)
            topic = f"bench.relay.{run}.{b}"
            rate, passes = measure_relay(
                n, topic=topic, keys=args.keys, batch_size=b, transport=transport, profile=relay_profile
            )
            results[f"relay@{b}"] = max(results.get(f"relay@{b}", 0.0), rate)
            print(
                f"run {run + 1}: raw {raw:,.0f}/s, relay batch {b}: {rate:,.0f}/s = {rate / raw:.0%} of the raw "
                f"beside it ({passes} passes; load {loadavg()})",
                flush=True,
            )
    for b in curve:
        print(
            f"relay batch {b}: best {results[f'relay@{b}']:,.0f}/s = {results[f'relay@{b}'] / results['raw']:.0%} "
            f"of the best raw ({results['raw']:,.0f}/s)"
        )
    last_topic = f"bench.relay.{args.runs - 1}.{curve[-1]}"
    print(f"per-key order on {last_topic}: {check_key_order(broker.bootstrap, last_topic, n)} messages in order")
    _write_profile(relay_profile, "relay")
    consumer_profile = _profiler(args, "consumer")
    if "noop" in consume:
        rate, counts = measure_consumer(last_topic, profile=consumer_profile)
        results["consumer noop"] = rate
        print(f"consumer, no-op handler: {rate:,.0f}/s = {rate / results['raw']:.0%} of raw; {counts}", flush=True)
    if "batch" in consume:
        reset_consumed("bench")
        insert_pending(n, topic="bench.consume.batch", keys=args.keys, biz_type="bench.noop_batch")
        relay_until_idle(transport=transport)
        rate, counts = measure_consumer("bench.consume.batch")
        results["consumer noop batch form"] = rate
        print(f"consumer, no-op batch form: {rate:,.0f}/s = {rate / results['raw']:.0%} of raw; {counts}", flush=True)
    if "real" in consume:
        from outbox.models import OutboxEvent

        OutboxEvent.objects.all()._raw_delete(OutboxEvent.objects.db)
        real_handler_events(args.real_events)
        relay_until_idle(transport=transport)
        rate, counts = measure_consumer("smartmate.scheduling", service="scheduling", profile=consumer_profile)
        results["consumer trigger.created"] = rate
        print(f"consumer, active_schedule.trigger.created: {rate:,.0f}/s; {counts}", flush=True)
        relay_until_idle(transport=transport)  # the notification.requested the previews enqueued
        rate, counts = measure_consumer("smartmate.notifications", service="notifications")
        results["consumer notification.requested"] = rate
        print(f"consumer, notification.requested: {rate:,.0f}/s; {counts}", flush=True)
    _write_profile(consumer_profile, "consumer")
    transport.close()
    print(json.dumps({k: round(v) for k, v in results.items()}))


def _child(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sys.stderr, start_new_session=True
    )


def enqueue_at(rate: int, total: int, *, topic: str, keys: int, producers: int) -> float:
    """`total` events at `rate` per second, one per transaction, from `producers` threads (as web
    workers would: one thread cannot commit faster than the WAL flushes); returns the rate achieved."""
    import threading

    from django.db import connection

    from outbox.services import enqueue

    started = time.perf_counter()

    def produce(first: int) -> None:
        try:
            for i in range(first, total, producers):
                enqueue(biz_type="bench.noop", topic=topic, message_key=f"bench:{i % keys}", data={"i": i})
                delay = started + (i + 1) / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
        finally:
            connection.close()

    threads = [threading.Thread(target=produce, args=(first,)) for first in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return total / (time.perf_counter() - started)


def measure_latency(broker, *, rate: int, seconds: int, keys: int, wake: bool, producers: int) -> None:
    from django.conf import settings

    from outbox.models import OutboxEvent
    from outbox.services import enqueue

    OutboxEvent.objects.all()._raw_delete(OutboxEvent.objects.db)
    topic = f"bench.latency.{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "OUTBOX_TRANSPORT": "kafka",
        "OUTBOX_RELAY_LISTEN": "1" if wake else "0",
        "OUTBOX_CONSUMER_GROUP_PREFIX": f"bench.{uuid.uuid4().hex[:6]}.",
    }
    relay = _child(["manage.py", "outbox_relay", "--loop"], env)
    consumer = _child(["bench/_outbox_child.py", "--service", "bench", "--topic", topic], env)
    try:
        enqueue(biz_type="bench.noop", topic=topic, message_key="warm-up", data={})
        deadline = time.monotonic() + 60
        while OutboxEvent.objects.exclude(status="consumed").exists():  # group joined, producer warm
            assert time.monotonic() < deadline, "the warm-up event was not consumed within 60 s"
            time.sleep(0.2)
        OutboxEvent.objects.all()._raw_delete(OutboxEvent.objects.db)
        total = rate * seconds
        achieved = enqueue_at(rate, total, topic=topic, keys=keys, producers=producers)
        deadline = time.monotonic() + 120
        while OutboxEvent.objects.exclude(status="consumed").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for process in (relay, consumer):
            process.send_signal(signal.SIGTERM)
        for process in (relay, consumer):
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
    rows = list(OutboxEvent.objects.filter(status="consumed").values_list("created_at", "published_at", "consumed_at"))
    latencies = sorted((done - made).total_seconds() * 1000 for made, _sent, done in rows)
    q = statistics.quantiles(latencies, n=100)
    # Where the time goes: commit → the relay's settle, and the settle → the consumer's commit
    # (a row the consumer settled before the relay did keeps no published_at).
    to_relay = [(sent - made).total_seconds() * 1000 for made, sent, _done in rows if sent]
    to_consumer = [(done - sent).total_seconds() * 1000 for _made, sent, done in rows if sent]
    mode = "LISTEN/NOTIFY" if wake else f"poll every {settings.OUTBOX_RELAY_IDLE_SECONDS} s"
    print(
        f"latency at {rate}/s (achieved {achieved:,.0f}/s) for {seconds} s, relay {mode}: {len(latencies)} of {total} "
        f"consumed; p50 {q[49]:.0f} ms, p95 {q[94]:.0f} ms, p99 {q[98]:.0f} ms, max {latencies[-1]:.0f} ms "
        f"(load {loadavg()})",
        flush=True,
    )
    if to_relay:
        print(
            f"  medians: commit -> relay settled {statistics.median(to_relay):.0f} ms, relay settled -> consumer "
            f"committed {statistics.median(to_consumer):.0f} ms; {len(rows) - len(to_relay)} rows consumed before "
            f"the relay had settled them",
            flush=True,
        )


if __name__ == "__main__":
    main()
