"""Outbox cost against history: `.venv/bin/python bench/outbox_history.py [--sizes 1000000,10000000]`.

For each size N it fills a scratch PostgreSQL database (`sm_outbox_history` on DATABASE_URL's
server, created and migrated if absent) with N outbox rows already consumed (≈200-byte
payloads, 10,000 keys, consumed over the past week) and an inbox as large (their N event
ids), plus `--due` pending rows and `--batch` published rows waiting for their consumer.
Then it times, `--runs` times each, in a transaction rolled back so every run does the
same work:

- the relay's claim: `outbox.relay.claim_batch` (one statement: due rows, per-key order,
  FOR UPDATE SKIP LOCKED, lease, RETURNING), a batch of `--batch`;
- the consumer's batch bookkeeping for `--batch` published events: lock the rows (with
  the per-key check), the inbox check-and-record (`inbox_add`), the settle statement.

It prints p50/p95 per size, the ratio between the largest and smallest size, and
`EXPLAIN (ANALYZE, BUFFERS)` of the claim at the largest size. `--ids v4` fills with random
event ids instead of the product's time-ordered ones (UUIDv7), to show the difference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_server = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x"))
os.environ["DATABASE_URL"] = _server._replace(path="/sm_outbox_history").geturl()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartmate.settings_test")
os.environ.setdefault("LOG_LEVEL", "WARNING")

SERVICE = "bench"


# Event ids as the product makes them (UUIDv7: a millisecond timestamp, then random bits), or
# random (v4) as it did before, to show what time-ordered ids are for.
_V7 = (
    "(lpad(to_hex(floor(extract(epoch FROM {t}) * 1000)::bigint), 12, '0') || '7' || substr(md5(random()::text), 1, 3)"
    " || '8' || substr(md5(random()::text), 1, 15))::uuid"
)
HISTORY_ID = {"v7": _V7.format(t="t"), "v4": "gen_random_uuid()"}
TODAY_ID = {"v7": _V7.format(t="clock_timestamp()"), "v4": "gen_random_uuid()"}


def fill(size: int, *, due: int, batch: int, ids: str) -> None:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE outbox_outboxevent, outbox_inboxrecord")
        # History: consumed rows, oldest first, with their inbox records.
        cursor.execute(
            """
            INSERT INTO outbox_outboxevent (id, biz_type, service_name, topic, message_key, payload, status,
                retry_count, max_retry, next_retry_at, last_error, published_at, consumed_at, created_at, updated_at)
            SELECT {history_id}, 'bench.noop', %(service)s, 'bench.history', 'bench:' || (g %% 10000),
                   jsonb_build_object('event_id', 'x', 'biz_type', 'bench.noop', 'occurred_at', now()::text,
                                      'data', jsonb_build_object('i', g, 'text',
                                      'a chat message of a typical length, some sixty characters')),
                   'consumed', 0, 20, NULL, '', t, t, t, t
            FROM generate_series(1, %(size)s) AS g,
                 LATERAL (SELECT now() - interval '7 days' * (1 - g::float / %(size)s) AS t) AS at
            """.replace("{history_id}", HISTORY_ID[ids]),
            {"service": SERVICE, "size": size},
        )
        cursor.execute(
            "INSERT INTO outbox_inboxrecord (service_name, event_id, processed_at) "
            "SELECT service_name, id, consumed_at FROM outbox_outboxevent"
        )
        # Today's work: due rows for the relay, published rows for the consumer.
        for status, count in (("pending", due), ("published", batch)):
            cursor.execute(
                """
                INSERT INTO outbox_outboxevent (id, biz_type, service_name, topic, message_key, payload, status,
                    retry_count, max_retry, next_retry_at, last_error, published_at, consumed_at, created_at,
                    updated_at)
                SELECT {today_id}, 'bench.noop', %(service)s, 'bench.today', %(status)s || ':' || g,
                       '{"data": {}}'::jsonb, %(status)s, 0, 20,
                       CASE WHEN %(status)s = 'pending' THEN now() END, '',
                       CASE WHEN %(status)s = 'published' THEN now() END, NULL, now(), now()
                FROM generate_series(1, %(count)s) AS g
                """.replace("{today_id}", TODAY_ID[ids]),
                {"service": SERVICE, "status": status, "count": count},
            )
        cursor.execute("VACUUM ANALYZE outbox_outboxevent")
        cursor.execute("VACUUM ANALYZE outbox_inboxrecord")
    print(f"  filled {size:,} consumed rows + inbox in {time.perf_counter() - started:.0f} s", flush=True)


def time_claims(runs: int, batch: int) -> list[float]:
    from django.db import transaction

    from outbox.relay import claim_batch

    samples = []
    for _ in range(runs):
        with transaction.atomic():
            started = time.perf_counter()
            rows = claim_batch(batch_size=batch)
            samples.append((time.perf_counter() - started) * 1000)
            assert len(rows) == batch, len(rows)
            transaction.set_rollback(True)
    return samples


def time_inbox(runs: int, ids: list) -> list[float]:
    from django.db import transaction

    from outbox.consumer import _lock_rows
    from outbox.services import LIVE, after_consume, inbox_add, settle

    samples = []
    for _ in range(runs):
        with transaction.atomic():
            started = time.perf_counter()
            rows = _lock_rows(SERVICE, ids)
            fresh = inbox_add(service_name=SERVICE, event_ids=ids)
            settle([after_consume(i) for i in ids], expect=LIVE)
            samples.append((time.perf_counter() - started) * 1000)
            assert len(rows) == len(fresh) == len(ids), (len(rows), len(fresh))
            transaction.set_rollback(True)
    return samples


def explain(batch: int, ids: list) -> None:
    import uuid
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from outbox.relay import _CLAIM_SQL
    from outbox.services import inbox_add

    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + _CLAIM_SQL.format(table="outbox_outboxevent"),
            {"now": now, "limit": batch, "until": now + timedelta(seconds=30), "lease": uuid.uuid4()},
        )
        print("claim:\n" + "\n".join("  " + r[0] for r in cursor.fetchall()))
        transaction.set_rollback(True)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL track_io_timing = on")
        started = time.perf_counter()
        inbox_add(service_name=SERVICE, event_ids=ids)
        print(f"inbox check-and-record of {len(ids)}: {(time.perf_counter() - started) * 1000:.2f} ms")
        transaction.set_rollback(True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--ids", choices=["v7", "v4"], default="v7", help="time-ordered (the product's) or random ids")
    args = parser.parse_args()

    from bench.outbox_relay import ensure_database, loadavg

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from outbox.models import OutboxEvent

    results = {}
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"{size:,} rows of history (load {loadavg()})", flush=True)
        fill(size, due=args.due, batch=args.batch, ids=args.ids)
        ids = list(OutboxEvent.objects.filter(status="published").values_list("id", flat=True)[: args.batch])
        time_claims(3, args.batch), time_inbox(3, ids)  # warm the caches
        claims, inbox = time_claims(args.runs, args.batch), time_inbox(args.runs, ids)
        results[size] = (statistics.median(claims), statistics.median(inbox))
        q = lambda xs: f"p50 {statistics.median(xs):.2f} ms, p95 {statistics.quantiles(xs, n=20)[18]:.2f} ms"  # noqa: E731
        print(f"  relay claim of {args.batch}: {q(claims)}", flush=True)
        print(f"  consumer batch bookkeeping of {args.batch}: {q(inbox)} (load {loadavg()})", flush=True)
    sizes = sorted(results)
    lo, hi = results[sizes[0]], results[sizes[-1]]
    print(
        f"{sizes[-1]:,} / {sizes[0]:,}: claim {hi[0] / lo[0]:.2f}x, consumer bookkeeping {hi[1] / lo[1]:.2f}x",
        flush=True,
    )
    explain(args.batch, ids)


if __name__ == "__main__":
    main()
