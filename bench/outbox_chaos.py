"""Outbox chaos run (issue 5, stretch): `.venv/bin/python bench/outbox_chaos.py [--events N] [--seconds S]`.

PostgreSQL (DATABASE_URL, default sm_outbox_bench) and a Tansu broker it starts. Two
`manage.py outbox_relay --loop` processes are SIGKILLed and restarted at random, the
broker is stopped and restarted (its log is in memory: it comes back empty, so rows
published before the outage return through the 15 s redelivery rule), and the consumer
group member is closed and replaced, while N events wait in the outbox. The consumer's handler appends one row per
application to an effect table without a unique constraint, so a duplicate application
would show. Passes when every event is consumed and applied exactly once.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=40.0, help="how long the chaos lasts")
    parser.add_argument("--no-broker-restart", action="store_true", help="only kill relays and swap consumers")
    args = parser.parse_args()

    from bench.outbox_relay import ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from outbox.consumer import ConsumerLoop
    from outbox.models import OutboxEvent
    from outbox.registry import handles
    from outbox.services import enqueue
    from tests.conftest import TansuBroker

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_chaos_effect")
        cursor.execute("CREATE TABLE bench_chaos_effect (n bigserial PRIMARY KEY, event_id uuid NOT NULL)")

    @handles("chaos.effect", service="chaos")
    def apply(event):
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_chaos_effect (event_id) VALUES (%s)", [event.event_id])

    OutboxEvent.objects.all().delete()
    broker = TansuBroker().start()
    settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap
    settings.OUTBOX_TRANSPORT = "kafka"
    settings.OUTBOX_CONSUMER_GROUP_PREFIX = f"chaos.{uuid.uuid4().hex[:6]}."
    settings.OUTBOX_REDELIVER_AFTER_SECONDS = 15  # the in-memory broker loses messages when it stops
    topic = f"chaos.{uuid.uuid4().hex[:6]}"
    for i in range(args.events):
        enqueue(biz_type="chaos.effect", topic=topic, message_key=f"chaos:{i % 500}", data={"i": i})

    child_env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "OUTBOX_TRANSPORT": "kafka",
        "OUTBOX_LEASE_SECONDS": "2",
        "OUTBOX_KAFKA_SEND_TIMEOUT_MS": "2000",
        "OUTBOX_RELAY_IDLE_SECONDS": "0.1",
    }

    def start_relay():
        return subprocess.Popen(
            [sys.executable, "manage.py", "outbox_relay", "--loop"],
            cwd=ROOT,
            env=child_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    stop = threading.Event()
    consumer_restarts = {"n": 0}

    swap = threading.Event()

    class Stop:
        """Swap a member only once it holds partitions: on Tansu, a member that leaves mid-join
        stalls the group (docs/BENCHMARKS.md); a real deployment restarts far less often."""

        def __init__(self, loop):
            self.loop = loop

        def __bool__(self):
            joined = self.loop._consumer is not None and bool(self.loop._consumer.assignment())
            return stop.is_set() or (swap.is_set() and joined)

    def consume():
        while not stop.is_set():
            swap.clear()
            try:
                loop = ConsumerLoop(service="chaos", topics=[topic])
                loop.run(stop=Stop(loop))
            except Exception as exc:  # broker down while joining: try again
                print(f"  consumer: {type(exc).__name__}", flush=True)
                time.sleep(1)
            consumer_restarts["n"] += 1
        connection.close()

    relays = [start_relay(), start_relay()]
    consumer = threading.Thread(target=consume)
    consumer.start()
    kills = broker_stops = 0
    started = time.monotonic()
    rng = random.Random(5)
    try:
        while time.monotonic() - started < args.seconds:
            time.sleep(rng.uniform(1.0, 3.0))
            action = rng.choice(["kill", "kill", "consumer"] + ([] if args.no_broker_restart else ["broker"]))
            if action == "kill":
                i = rng.randrange(len(relays))
                relays[i].send_signal(signal.SIGKILL)
                relays[i].wait()
                relays[i] = start_relay()
                kills += 1
            elif action == "broker" and broker_stops < 2:
                broker.stop()
                time.sleep(rng.uniform(1.0, 3.0))
                broker.start()
                broker_stops += 1
                # Tansu here keeps its log in memory: a restart is a new, empty cluster (a real
                # Kafka keeps its log and group offsets). Rows published before the outage are
                # sent again by the redelivery rule; the consumer joins as a new group, as an
                # operator would after losing the cluster.
                settings.OUTBOX_CONSUMER_GROUP_PREFIX = f"chaos.{uuid.uuid4().hex[:6]}."
                swap.set()
            else:
                swap.set()
        print(f"chaos over: {kills} relay kills, {broker_stops} broker restarts; draining", flush=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            for i, relay in enumerate(relays):
                if relay.poll() is not None:  # exited at start-up while the broker was down
                    relays[i] = start_relay()
            left = OutboxEvent.objects.exclude(status="consumed").count()
            if left == 0:
                break
            if OutboxEvent.objects.filter(status="published").exists():
                call_command("outbox_recover_leases", stdout=open(os.devnull, "w"))  # noqa: SIM115
            time.sleep(1)
    finally:
        stop.set()
        for relay in relays:
            relay.send_signal(signal.SIGTERM)
        for relay in relays:
            try:
                relay.wait(10)
            except subprocess.TimeoutExpired:
                relay.kill()
        consumer.join(30)
        broker.stop()

    by_status = dict(OutboxEvent.objects.values_list("status").annotate(n=django.db.models.Count("id")))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT event_id) FROM bench_chaos_effect")
        applied, distinct = cursor.fetchone()
    ok = by_status == {"consumed": args.events} and applied == distinct == args.events
    print(
        f"{args.events} events: rows {by_status}; effects applied {applied}, distinct {distinct}; "
        f"consumer restarts {consumer_restarts['n']} -> {'PASS' if ok else 'FAIL'}",
        flush=True,
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
