"""Due-job scan cost vs table size (docs/BENCHMARKS.md).

    .venv/bin/python bench/due_jobs.py [--sizes 10000,1000000] [--due 1000] [--runs 30]

For each size it fills `scheduling_activeschedulejob` of a scratch PostgreSQL database
(`smartmate_bench`, created if absent; DATABASE_URL's server) with `size` pending jobs
of which `--due` are due, then times the scan's claim — the same queryset as
`due_jobs_scan`: due pending rows, `FOR UPDATE SKIP LOCKED`, batch of 50 — each run in
a transaction rolled back, so every run claims a full batch. Prints p50/p95 per size,
the ratio between the largest and smallest size, and `EXPLAIN (ANALYZE)` of the claim.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
os.environ["DATABASE_URL"] = f"{SERVER}/smartmate_bench"
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-0123456789")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartmate.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def ensure_database():
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'smartmate_bench'").fetchone():
            conn.execute("CREATE DATABASE smartmate_bench")
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"], check=True, env=os.environ
    )


def fill(size, due):
    from django.db import connection

    from accounts.models import User

    user, _ = User.objects.get_or_create(username="bench", defaults={"timezone": "UTC"})
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE scheduling_activeschedulejob RESTART IDENTITY CASCADE")
        cursor.execute(
            """
            INSERT INTO scheduling_activeschedulejob
                (user_id, trigger_type, status, trigger_at, dedupe_key, last_error_code, last_error,
                 created_at, updated_at)
            SELECT %s, 'important_urgent_task',
                   CASE WHEN g %% 10 = 0 THEN 'triggered' ELSE 'pending' END,
                   CASE WHEN g <= %s THEN now() - interval '1 minute' * g
                        ELSE now() + interval '1 minute' * g END,
                   '', '', '', now(), now()
            FROM generate_series(1, %s) AS g
            """,
            [user.pk, due * 10 // 9 + 1, size],
        )
        cursor.execute("ANALYZE scheduling_activeschedulejob")


def claim_queryset():
    from django.utils import timezone

    from scheduling.models.active import ActiveScheduleJob, JobStatus

    return (
        ActiveScheduleJob.objects.select_for_update(skip_locked=True)
        .filter(status=JobStatus.PENDING, trigger_at__lte=timezone.now())
        .order_by("trigger_at", "pk")[:50]
    )


def time_claims(runs):
    from django.db import transaction

    samples = []
    for _ in range(runs):
        with transaction.atomic():
            started = time.perf_counter()
            claimed = list(claim_queryset())
            samples.append((time.perf_counter() - started) * 1000)
            assert len(claimed) == 50, len(claimed)
            transaction.set_rollback(True)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def explain():
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        sql, params = claim_queryset().query.sql_with_params()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    results = {}
    for size in (int(s) for s in args.sizes.split(",")):
        started = time.perf_counter()
        fill(size, args.due)
        filled = time.perf_counter() - started
        results[size] = time_claims(args.runs)
        print(
            f"{size:>10,} jobs ({args.due} due): claim of 50 p50 {results[size][0]:.2f} ms, "
            f"p95 {results[size][1]:.2f} ms  (fill {filled:.1f} s)"
        )
    small, large = min(results), max(results)
    print(f"ratio p50 {large:,} / {small:,} rows: {results[large][0] / results[small][0]:.2f}x")
    print("\nEXPLAIN (ANALYZE) of the claim at the largest size:\n" + explain())


if __name__ == "__main__":
    main()
