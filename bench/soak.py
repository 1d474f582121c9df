"""Soak: `.venv/bin/python bench/soak.py [--minutes 30] [--rate 22]`.

The production process set, exactly as the Procfile starts it (every line, `exec`-ed by bash,
with PORT set; beat's schedule file moved into the run's temp dir), on a private PostgreSQL
cluster and a private Redis (bench/_stack.py), under a steady load: bench/load.py's simulated
users (the same weighted actions: week, today, task list, create, complete, chat, dry-run
trigger, apply) paced by one shared limiter to --rate requests/s — by default 22, half of
load.py's sustained 44.4 req/s (docs/RELIABILITY.md, "Load"). Throttles are raised as in
load.py (LOAD_ENV), and the LLM quota so that chat never runs out within the run.

Every minute it samples the resident memory (RSS) of every process of each Procfile line
(gunicorn master and workers, Celery worker and its pool, beat), the PostgreSQL connections
(pg_stat_activity), Redis's used_memory, the outbox backlog (rows not yet consumed or dead) and
the errors of that minute (load.py's rule: a 5xx, no answer, or a 4xx other than a 409 on
apply). After --minutes the load stops; the outbox is given --drain s to empty. Loopback only,
bounded in time; every process and the temp dir go at exit.

Verdict (exit 1 if any fails): RSS of each line grew < 10 % from the first sample after
--warmup-minutes to the last; PostgreSQL connections never above --max-pg-connections; Redis
memory < 2x its post-warm-up sample (and under 64 MiB); the outbox drained; 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._stack import (
    ROOT,
    AppProcess,
    PrivatePostgres,
    PrivateRedis,
    Workdir,
    _children,
    app_env,
    free_port,
    loadavg,
    migrate,
    wait_for_port,
)
from bench.load import LOAD_ENV, Stats, User, is_error, pct, register_users

SOAK_ENV = {**LOAD_ENV, "LLM_TOKEN_QUOTA": "1000000000", "LOG_LEVEL": "WARNING"}


def procfile_lines() -> dict[str, str]:
    lines = {}
    for raw in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = raw.partition(":")
        if sep and name.strip() and not name.startswith("#"):
            lines[name.strip()] = command.strip()
    return lines


def start_procfile(workdir: Workdir, env: dict[str, str], port: int) -> dict[str, AppProcess]:
    apps = {}
    for name, command in procfile_lines().items():
        if re.search(r"\bcelery\b.*\bbeat\b", command) and "--schedule" not in command:
            command += f" --schedule {workdir.path / 'celerybeat-schedule'}"  # not the repository's var/
        apps[name] = AppProcess(workdir, name, ["bash", "-c", f"exec {command}"], {**env, "PORT": str(port)})
    if not wait_for_port(port, 60):
        raise RuntimeError("web did not listen:\n" + "\n".join(app.tail() for app in apps.values()))
    return apps


def rss_mib(root: int) -> float:
    """Resident memory of a process and all its descendants (VmRSS, from /proc)."""
    total_kib = 0
    for pid in {root, *_children(root)}:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
    return total_kib / 1024


def redis_used_memory(redis: PrivateRedis) -> int:
    import redis as redis_lib

    client = redis_lib.Redis.from_url(redis.url)
    try:
        return int(client.info("memory")["used_memory"])
    finally:
        client.close()


class Pacer:
    """One limiter for every simulated user: at most `rate` requests start per second."""

    def __init__(self, rate: float):
        self.interval, self.next_at, self.lock = 1.0 / rate, time.monotonic(), asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            now = time.monotonic()
            self.next_at = max(self.next_at + self.interval, now)
            delay = self.next_at - now
        if delay > 0:
            await asyncio.sleep(delay)


class PacedUser(User):
    pacer: Pacer
    # A login hashes a password (a few hundred ms of a worker's CPU): 16 users logging in at once
    # is a burst that exhausts the pool on a busy machine, not the steady state this run measures.
    logins = asyncio.Semaphore(2)

    async def login(self):
        async with self.logins:
            await super().login()

    async def call(self, method, path, **kwargs):
        await self.pacer.wait()
        return await super().call(method, path, **kwargs)


def sample(minute, apps, pg, redis, stats, since) -> dict:
    window = [s for s in stats.samples if s[0] >= since]
    return {
        "minute": minute,
        "rss": {name: rss_mib(app.pid) for name, app in apps.items()},
        "pg_connections": int(pg.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'smartmate'")),
        "redis_bytes": redis_used_memory(redis),
        "backlog": outbox_backlog(pg),
        "requests": len(window),
        "errors": sum(1 for s in window if is_error(s[1], s[2])),
        "error_kinds": sorted({f"{s[1]} {s[2]}" for s in window if is_error(s[1], s[2])})[:5],
        "p99_ms": pct([s[3] * 1000 for s in window], 99),
        "loadavg": loadavg(),
    }


def outbox_backlog(pg: PrivatePostgres) -> int:
    return int(pg.psql("SELECT count(*) FROM outbox_outboxevent WHERE status IN ('pending', 'published')"))


def print_row(row: dict) -> None:
    rss = " ".join(f"{name} {mib:6.1f}" for name, mib in row["rss"].items())
    kinds = f" {row['error_kinds']}" if row["errors"] else ""
    print(
        f"min {row['minute']:3d}: {row['requests'] / 60:5.1f} req/s  p99 {row['p99_ms']:6.1f} ms  "
        f"errors {row['errors']}{kinds}  RSS MiB: {rss}  PG conns {row['pg_connections']}  "
        f"Redis {row['redis_bytes'] / 2**20:5.1f} MiB  outbox backlog {row['backlog']}  load {row['loadavg']}",
        flush=True,
    )


async def soak(base, args, apps, pg, redis) -> list[dict]:
    stats, stop = Stats(), asyncio.Event()
    PacedUser.pacer = Pacer(args.rate)
    stamp = int(time.time())
    names = [f"soak{stamp}u{i}" for i in range(args.users)]
    await register_users(base, names)
    limits = httpx.Limits(max_connections=args.users + 10, keepalive_expiry=3.0)
    rows = []
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        people = [PacedUser(client, stats, name, args.think, random.Random(i)) for i, name in enumerate(names)]
        tasks = [asyncio.create_task(person.run(stop)) for person in people]
        while not all(p.logged_in for p in people) and not any(t.done() for t in tasks):
            await asyncio.sleep(0.2)
        stats.recording = True
        started = time.monotonic()
        for minute in range(1, int(args.minutes) + 1):
            since = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, started + minute * 60 - time.monotonic()))
            if any(task.done() for task in tasks):
                print("a simulated user stopped early:", next(t for t in tasks if t.done()).exception())
                break
            rows.append(sample(minute, apps, pg, redis, stats, since))
            print_row(rows[-1])
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    if stats.failures:
        print(f"no answer, by client exception: {stats.failures}")
    return rows


def verdict(rows: list[dict], args, drained_in: float | None) -> int:
    warm = [r for r in rows if r["minute"] > args.warmup_minutes] or rows[-1:]
    first, last = warm[0], rows[-1]
    checks = []
    for name in first["rss"]:
        growth = last["rss"][name] / first["rss"][name] - 1 if first["rss"][name] else 0.0
        checks.append((f"RSS {name}: {first['rss'][name]:.1f} -> {last['rss'][name]:.1f} MiB", growth < 0.10))
    peak_pg = max(r["pg_connections"] for r in rows)
    checks.append((f"PostgreSQL connections at most {peak_pg}", peak_pg <= args.max_pg_connections))
    redis_ok = last["redis_bytes"] < max(2 * first["redis_bytes"], 1) and last["redis_bytes"] < 64 * 2**20
    checks.append(
        (f"Redis used_memory {first['redis_bytes'] / 2**20:.1f} -> {last['redis_bytes'] / 2**20:.1f} MiB", redis_ok)
    )
    checks.append(
        (
            "outbox drained" + (f" {drained_in:.0f} s after the load stopped" if drained_in is not None else ": NO"),
            drained_in is not None,
        )
    )
    errors = sum(r["errors"] for r in rows)
    checks.append((f"errors {errors} of {sum(r['requests'] for r in rows)} requests", errors == 0))
    print(f"\nverdict (growth measured from minute {first['minute']}):")
    for text, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
    return 0 if all(ok for _, ok in checks) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=22.0, help="requests/s (half of load.py's sustained rate)")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--think", type=float, default=0.5)
    parser.add_argument("--warmup-minutes", type=float, default=5, help="RSS growth is measured after this")
    parser.add_argument("--drain", type=float, default=120, help="seconds the outbox gets to empty afterwards")
    parser.add_argument("--max-pg-connections", type=int, default=60)
    args = parser.parse_args()
    args.minutes = max(1, min(args.minutes, 240))  # bounded whatever is asked

    workdir = Workdir("sm-soak-")
    try:
        pg = PrivatePostgres(workdir, max_connections=200).init()
        redis = PrivateRedis(workdir).start()
        env = app_env(database_url=pg.url, redis_url=redis.url, kafka="", workdir=workdir, **SOAK_ENV)
        env.pop("KAFKA_BOOTSTRAP_SERVERS")  # the Procfile's set has no consumer: the local outbox transport
        migrate(env)
        port = free_port()
        apps = start_procfile(workdir, env, port)
        print(
            f"soak: {', '.join(apps)} from the Procfile on 127.0.0.1:{port}, PostgreSQL {pg.url}, Redis {redis.url}; "
            f"{args.users} users paced to {args.rate:g} req/s for {args.minutes:g} min; load {loadavg()}",
            flush=True,
        )
        rows = asyncio.run(soak(f"http://127.0.0.1:{port}", args, apps, pg, redis))
        if not rows:
            print("no sample taken")
            return 1
        stopped, drained_in = time.monotonic(), None
        while time.monotonic() - stopped < args.drain:
            if outbox_backlog(pg) == 0:
                drained_in = time.monotonic() - stopped
                break
            time.sleep(1)
        dead = [name for name, app in apps.items() if not app.alive()]
        if dead:
            print(f"processes that died during the run: {dead}")
        return verdict(rows, args, drained_in) or (1 if dead else 0)
    finally:
        workdir.close()


if __name__ == "__main__":
    sys.exit(main())
