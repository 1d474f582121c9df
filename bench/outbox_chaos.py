"""Outbox chaos run: `.venv/bin/python bench/outbox_chaos.py [--events N] [--seconds S]`.

PostgreSQL (DATABASE_URL, default sm_outbox_bench) and a Tansu broker it starts. N events
are enqueued at a steady rate over S seconds while, at random moments:

- one of two `manage.py outbox_relay --loop` processes is SIGKILLed and restarted;
- the consumer, `outbox_consume` in a process of its own (bench/_outbox_child.py), is
  SIGKILLed in the middle of a batch — the kill waits until its database session is inside
  the batch's transaction (pg_stat_activity), so the batch is cut between its first
  statement and its commit — and restarted;
- the broker is stopped and restarted (its log is in memory: it comes back empty, so rows
  published before the outage return through the redelivery rule, set to 15 s here, and
  the consumer joins a new group, as an operator would after losing the cluster).

The handler (`chaos.effect`) appends one row per application to a table without a unique
key and sleeps a little, so batches last long enough to be cut; an event applied twice
would show as two rows. Passes when every event is consumed and applied exactly once.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartmate.settings_test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sm_outbox_bench")
os.environ.setdefault("LOG_LEVEL", "ERROR")
CONSUMER_APP = "outbox-chaos-consumer"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=40.0, help="how long events arrive and the chaos lasts")
    parser.add_argument("--no-broker-restart", action="store_true", help="only kill relays and consumers")
    parser.add_argument("--handler-ms", type=float, default=2.0, help="time the handler spends per event")
    args = parser.parse_args()

    from bench.outbox_relay import ensure_database, loadavg

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count

    call_command("migrate", verbosity=0)
    from bench._outbox_child import register
    from outbox.models import InboxRecord, OutboxEvent
    from outbox.services import enqueue
    from tests.conftest import TansuBroker

    register()  # chaos.effect belongs to the consumer process; enqueue needs to know its service
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_chaos_effect")
        cursor.execute("CREATE TABLE bench_chaos_effect (n bigserial PRIMARY KEY, event_id uuid NOT NULL)")
    OutboxEvent.objects.all()._raw_delete(OutboxEvent.objects.db)
    InboxRecord.objects.filter(service_name="chaos")._raw_delete(InboxRecord.objects.db)
    broker = TansuBroker().start()
    settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap
    topic = f"chaos.{uuid.uuid4().hex[:6]}"
    group = {"prefix": f"chaos.{uuid.uuid4().hex[:6]}."}
    database_url = os.environ["DATABASE_URL"]

    def env(app_name: str) -> dict:
        return {
            **os.environ,
            "DATABASE_URL": f"{database_url}{'&' if '?' in database_url else '?'}application_name={app_name}",
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "OUTBOX_TRANSPORT": "kafka",
            "OUTBOX_LEASE_SECONDS": "2",
            "OUTBOX_KAFKA_SEND_TIMEOUT_MS": "2000",
            "OUTBOX_REDELIVER_AFTER_SECONDS": "15",  # the in-memory broker loses messages when it stops
            "OUTBOX_CONSUMER_GROUP_PREFIX": group["prefix"],
            "CHAOS_HANDLER_MS": str(args.handler_ms),
        }

    def start(command: list[str], app_name: str) -> subprocess.Popen:
        quiet = subprocess.DEVNULL
        return subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env(app_name), stdout=quiet, stderr=quiet)

    def start_relay():
        return start(["manage.py", "outbox_relay", "--loop"], "outbox-chaos-relay")

    def start_consumer():
        return start(["bench/_outbox_child.py", "--service", "chaos", "--topic", topic], CONSUMER_APP)

    def consumer_in_transaction() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND xact_start IS NOT NULL",
                [CONSUMER_APP],
            )
            return cursor.fetchone()[0] > 0

    enqueued = {"n": 0}

    def produce():
        started = time.perf_counter()
        for i in range(args.events):
            enqueue(biz_type="chaos.effect", topic=topic, message_key=f"chaos:{i % 500}", data={"i": i})
            enqueued["n"] += 1
            delay = started + (i + 1) * args.seconds / args.events - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        connection.close()

    relays = [start_relay(), start_relay()]
    consumer = start_consumer()
    producer = threading.Thread(target=produce)
    producer.start()
    relay_kills = broker_stops = consumer_kills = kills_mid_batch = 0
    started = time.monotonic()
    rng = random.Random(5)
    try:
        while time.monotonic() - started < args.seconds:
            time.sleep(rng.uniform(0.5, 2.0))
            for i, relay in enumerate(relays):
                if relay.poll() is not None:  # exited at start-up while the broker was down
                    relays[i] = start_relay()
            if consumer.poll() is not None:
                consumer = start_consumer()
            action = rng.choice(["relay", "consumer", "consumer"] + ([] if args.no_broker_restart else ["broker"]))
            if action == "relay":
                i = rng.randrange(len(relays))
                relays[i].send_signal(signal.SIGKILL)
                relays[i].wait()
                relays[i] = start_relay()
                relay_kills += 1
            elif action == "broker" and broker_stops < 2:
                broker.stop()
                time.sleep(rng.uniform(1.0, 3.0))
                broker.start()
                broker_stops += 1
                group["prefix"] = f"chaos.{uuid.uuid4().hex[:6]}."
                consumer.send_signal(signal.SIGKILL)
                consumer.wait()
                consumer = start_consumer()
            elif action == "consumer":
                deadline = time.monotonic() + 20  # a restarted member first rejoins its group (seconds on Tansu)
                while not consumer_in_transaction() and time.monotonic() < deadline:
                    time.sleep(0.002)
                kills_mid_batch += consumer_in_transaction()
                consumer.send_signal(signal.SIGKILL)
                consumer.wait()
                consumer_kills += 1
                consumer = start_consumer()
        producer.join()
        print(
            f"chaos over: {relay_kills} relay kills, {consumer_kills} consumer kills ({kills_mid_batch} inside a "
            f"batch's transaction), {broker_stops} broker restarts; {enqueued['n']} enqueued; draining",
            flush=True,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            for i, relay in enumerate(relays):
                if relay.poll() is not None:  # exited at start-up while the broker was down
                    relays[i] = start_relay()
            if consumer.poll() is not None:
                consumer = start_consumer()
            if not OutboxEvent.objects.exclude(status="consumed").exists():
                break
            time.sleep(1)
    finally:
        for process in [*relays, consumer]:
            process.send_signal(signal.SIGTERM)
        for process in [*relays, consumer]:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        producer.join(5)
        broker.stop()

    by_status = dict(OutboxEvent.objects.values_list("status").annotate(n=Count("id")))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT event_id) FROM bench_chaos_effect")
        applied, distinct = cursor.fetchone()
    ok = by_status == {"consumed": args.events} and applied == distinct == args.events
    print(
        f"{args.events} events: rows {by_status}; effects applied {applied}, distinct {distinct}; "
        f"drained {time.monotonic() - started:.0f} s after the start (load {loadavg()}) -> {'PASS' if ok else 'FAIL'}",
        flush=True,
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
