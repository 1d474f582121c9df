"""Load (docs/BENCHMARKS.md): `.venv/bin/python bench/load.py [--steps 4,8,16,...] [--step-seconds 30]`.

An asyncio + httpx load generator (one process, every sample kept, so each step's p99 is
exact, not a histogram estimate) against the production process set on PRIVATE parts:
gunicorn with uvicorn workers (WEB_CONCURRENCY=2) on a private PostgreSQL cluster
(fsync on, as shipped) and a private Redis, with Celery worker + beat,
`outbox_relay --loop`, `outbox_consume` on a private Tansu broker, and
`scan_due_jobs --loop --interval 5` so urgent tasks become previews users can apply
while the step lasts.

Users are closed loops with a think time (exponential, mean --think s): each logs in
once, then picks weighted actions: read the week / today / the task list, create a task
(a third of them urgent with the threshold passed, so previews appear), complete one of
its tasks, chat with the offline agent (JSON), run a dry-run trigger, list ready
previews and apply the newest one. The user count steps up; each step reports req/s,
p50/p95/p99 and errors, and the highest step with p99 <= --p99-ms and no error is the
sustained figure. Logins are reported apart (PBKDF2 is meant to be slow).

Throttles are raised by env vars for this run: THROTTLE_AUTH_RATE, THROTTLE_CHAT_RATE,
THROTTLE_USER_BURST, THROTTLE_USER_REFILL_PER_SECOND (see `LOAD_ENV`).
`--shared-db` uses the machine's PostgreSQL/Redis with a dedicated database
(sm_load_bench) and Redis db 13 only when private ones cannot be started.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import contextlib

from bench._stack import (
    VENV_BIN,
    AppProcess,
    PrivatePostgres,
    PrivateRedis,
    PrivateTansu,
    Workdir,
    app_env,
    cpu_seconds,
    free_port,
    loadavg,
    migrate,
    start_apps,
)

LOAD_ENV = {
    "THROTTLE_AUTH_RATE": "100000/min",
    "THROTTLE_CHAT_RATE": "100000/min",
    "THROTTLE_USER_BURST": "100000",
    "THROTTLE_USER_REFILL_PER_SECOND": "100000",
    "LOG_LEVEL": "ERROR",
}
PASSWORD = "a-long-passphrase-9"
CHAT_LINES = (
    "明天下午三点前交数学作业",
    "remind me to review chapter 3 by friday evening",
    "what is due this week?",
    "周四晚上复习英语单词",
)
ID = re.compile(r"/(\d+|[0-9a-f]{8}-[0-9a-f-]{27})/")


def label(method: str, path: str) -> str:
    return f"{method} {ID.sub('/{id}/', path.split('?')[0])}"


@dataclass
class Stats:
    samples: list[tuple[float, str, int | None, float]] = field(default_factory=list)  # (t, label, status, s)
    recording: bool = False
    failures: dict[str, int] = field(default_factory=dict)  # no answer, by httpx exception

    def add(self, t: float, name: str, status: int | None, seconds: float) -> None:
        if self.recording:
            self.samples.append((t, name, status, seconds))


def is_error(name: str, status: int | None) -> bool:
    """5xx, no answer, or a 4xx the workload never provokes. A 409 on apply is a legitimate
    contract answer (the schedule moved since the preview: stale_version / slot_conflict)."""
    if status is None or status >= 500:
        return True
    if status >= 400:
        return not (status == 409 and name.endswith("/apply/"))
    return False


class User:
    def __init__(self, client: httpx.AsyncClient, stats: Stats, username: str, think: float, rng: random.Random):
        self.client, self.stats, self.username, self.think, self.rng = client, stats, username, think, rng
        self.headers: dict[str, str] = {}
        self.todo: list[int] = []
        self.last_apply = ""  # created_at of previews already made stale by our own apply
        self.n = 0
        self.logged_in = False
        self.refresh_token = ""
        self.access_exp = 0.0  # the access token's `exp`: refreshed shortly before, as a real client does

    async def call(self, method: str, path: str, **kwargs) -> httpx.Response | None:
        if self.access_exp and time.time() > self.access_exp - 30 and not path.startswith("/api/v1/auth/"):
            await self.refresh()
        headers = {**self.headers, **kwargs.pop("headers", {})}
        started = time.perf_counter()
        try:
            response = await self.client.request(method, path, headers=headers, **kwargs)
            await response.aread()
        except httpx.HTTPError as exc:
            self.stats.add(time.monotonic(), label(method, path), None, time.perf_counter() - started)
            self.stats.failures[type(exc).__name__] = self.stats.failures.get(type(exc).__name__, 0) + 1
            return None
        self.stats.add(time.monotonic(), label(method, path), response.status_code, time.perf_counter() - started)
        return response

    async def login(self) -> None:
        self.headers = {}
        response = await self.call(
            "POST", "/api/v1/auth/login/", json={"username": self.username, "password": PASSWORD}
        )
        if response is None or response.status_code != 200:
            raise RuntimeError(f"login failed for {self.username}: {response and response.text[:200]}")
        self.take_tokens(response.json())
        self.logged_in = True

    async def refresh(self) -> None:
        response = await self.call("POST", "/api/v1/auth/refresh/", json={"refresh": self.refresh_token})
        if response is not None and response.status_code == 200:
            self.take_tokens(response.json())
        else:
            await self.login()

    def take_tokens(self, body: dict) -> None:
        self.headers = {"Authorization": f"Bearer {body['access']}"}
        self.refresh_token = body.get("refresh", self.refresh_token)
        claims = body["access"].split(".")[1]
        self.access_exp = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["exp"]

    async def create_task(self) -> None:
        now = datetime.now(UTC)
        urgent = self.n % 3 == 0
        body = {
            "title": f"load task {self.n}",
            "priority": 1 if urgent else self.rng.choice((2, 3, 4)),
            "deadline_at": (now + timedelta(days=4)).isoformat(),
            "estimated_sections": 1,
        }
        if urgent:
            body["urgency_threshold_at"] = (now - timedelta(minutes=1)).isoformat()
        response = await self.call("POST", "/api/v1/tasks/", json=body)
        if response is not None and response.status_code == 201:
            self.todo.append(response.json()["id"])

    async def complete_task(self) -> None:
        if not self.todo:
            return await self.create_task()
        task_id = self.todo.pop(self.rng.randrange(len(self.todo)))
        await self.call("POST", f"/api/v1/tasks/{task_id}/complete/")

    async def dry_run(self) -> None:
        if not self.todo:
            return await self.create_task()
        await self.call(
            "POST",
            "/api/v1/active-schedule/triggers/",
            json={
                "trigger_type": "important_urgent_task",
                "target_type": "task_pool",
                "target_id": self.rng.choice(self.todo),
                "dry_run": True,
            },
        )

    async def apply_preview(self) -> None:
        response = await self.call("GET", "/api/v1/active-schedule/previews/?status=ready")
        if response is None or response.status_code != 200:
            return
        fresh = [p for p in response.json().get("results", []) if p["created_at"] > self.last_apply]
        if not fresh:
            return
        preview = max(fresh, key=lambda p: p["created_at"])
        self.last_apply = max(p["created_at"] for p in response.json()["results"])
        await self.call(
            "POST",
            f"/api/v1/active-schedule/previews/{preview['id']}/apply/",
            json={"candidate_id": preview["candidates"][0]["id"]},
            headers={"Idempotency-Key": f"{self.username}-{preview['id']}"},
        )

    async def chat(self) -> None:
        await self.call("POST", "/api/v1/agent/chat/", json={"message": self.rng.choice(CHAT_LINES)})

    def actions(self):
        return (
            (25, lambda: self.call("GET", "/api/v1/schedule/week/")),
            (20, lambda: self.call("GET", "/api/v1/schedule/today/")),
            (15, lambda: self.call("GET", "/api/v1/tasks/?status=todo")),
            (12, self.create_task),
            (8, self.complete_task),
            (6, self.chat),
            (6, self.dry_run),
            (8, self.apply_preview),
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self.login()
        actions = self.actions()
        weights = [w for w, _ in actions]
        while not stop.is_set():
            self.n += 1
            _weight, action = self.rng.choices(actions, weights=weights)[0]
            await action()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.rng.expovariate(1 / self.think))


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


async def register_users(base: str, names: list[str]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        sem = asyncio.Semaphore(4)

        async def one(name):
            async with sem:
                r = await client.post("/api/v1/auth/register/", json={"username": name, "password": PASSWORD})
                if r.status_code != 201:
                    raise RuntimeError(f"register {name}: {r.status_code} {r.text[:200]}")

        await asyncio.gather(*(one(n) for n in names))


def cpu_snapshot(groups: dict[str, list[int]]) -> dict[str, float]:
    return {name: cpu_seconds(pids) for name, pids in groups.items()}


async def run_steps(
    base: str,
    steps: list[int],
    step_seconds: float,
    warmup: float,
    think: float,
    p99_ms: float,
    groups: dict[str, list[int]],
):
    stats = Stats()
    stop = asyncio.Event()
    # Idle connections are dropped long before the server's keep-alive (WEB_KEEPALIVE_SECONDS,
    # 75 s) closes them: a request sent just as the server closes gets a reset.
    limits = httpx.Limits(
        max_connections=max(steps) + 10, max_keepalive_connections=max(steps) + 10, keepalive_expiry=3.0
    )
    rows = []
    tasks: list[asyncio.Task] = []
    stamp = int(time.time())
    names = [f"load{stamp}u{i}" for i in range(max(steps))]
    print(f"registering {len(names)} users", flush=True)
    await register_users(base, names)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        people: list[User] = []
        for users in steps:
            while len(tasks) < users:
                i = len(tasks)
                people.append(User(client, stats, names[i], think, random.Random(i)))
                tasks.append(asyncio.create_task(people[-1].run(stop)))
            # New users log in (PBKDF2: CPU-heavy, not measured), then the step settles.
            while not all(p.logged_in for p in people) and not any(t.done() for t in tasks):
                await asyncio.sleep(0.2)
            await asyncio.sleep(warmup)
            stats.samples.clear()
            stats.recording = True
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            procs0 = cpu_snapshot(groups)
            t0 = time.monotonic()
            await asyncio.sleep(step_seconds)
            stats.recording = False
            elapsed = time.monotonic() - t0
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            procs1 = cpu_snapshot(groups)
            cores = {name: (procs1[name] - procs0[name]) / elapsed for name in groups}
            cores["load client"] = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / elapsed
            client_cpu = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / elapsed
            samples = [s for s in stats.samples if not s[1].endswith("/auth/login/")]
            lat = [s[3] * 1000 for s in samples]
            errors = [s for s in stats.samples if is_error(s[1], s[2])]
            conflicts = sum(1 for s in stats.samples if s[2] == 409)
            row = {
                "users": users,
                "rps": len(samples) / elapsed,
                "p50": pct(lat, 50),
                "p95": pct(lat, 95),
                "p99": pct(lat, 99),
                "max": max(lat, default=0.0),
                "requests": len(samples),
                "errors": len(errors),
                "error_kinds": sorted({f"{s[1]} {s[2]}" for s in errors})[:5],
                "conflicts": conflicts,
                "client_cpu": client_cpu,
                "loadavg": loadavg(),
                "cores": cores,
                "samples": list(stats.samples),
            }
            rows.append(row)
            print(
                f"{users:4d} users: {row['rps']:7.1f} req/s  p50 {row['p50']:6.1f}  p95 {row['p95']:6.1f}  "
                f"p99 {row['p99']:6.1f} ms  errors {row['errors']}  409 {conflicts}  "
                f"client CPU {client_cpu:.0%}  load {row['loadavg']}  cores: "
                + " ".join(f"{k} {v:.2f}" for k, v in cores.items()),
                flush=True,
            )
            if row["p99"] > 3 * p99_ms:
                break  # well past the target: higher steps only add queueing
        stop.set()
        ended = [r for r in await asyncio.gather(*tasks, return_exceptions=True) if isinstance(r, BaseException)]
    if ended:
        print(f"{len(ended)} user(s) stopped early: {ended[0]!r}")
    if stats.failures:
        print(f"no answer, by client exception (all steps, logins included): {stats.failures}")
    return rows


def report(rows, p99_ms: float) -> int:
    print("\n| users | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | 409 on apply | client CPU | load avg |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print(
            f"| {r['users']} | {r['rps']:.1f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | {r['max']:.0f} | "
            f"{r['errors']} | {r['conflicts']} | {r['client_cpu']:.0%} | {r['loadavg']} |"
        )
    passing = [r for r in rows if r["p99"] <= p99_ms and r["errors"] == 0]
    best = max(passing, key=lambda r: r["rps"]) if passing else None
    all_samples = [s for r in rows for s in r["samples"]]
    total_errors = sum(r["errors"] for r in rows)
    print(
        f"\nsustained: {best['rps']:.1f} req/s at {best['users']} users (p99 {best['p99']:.1f} ms <= {p99_ms:.0f} ms)"
        if best
        else f"\nno step met p99 <= {p99_ms:.0f} ms with 0 errors"
    )
    print(
        f"errors: {total_errors} of {len(all_samples)} requests ({total_errors / max(len(all_samples), 1):.3%})"
        + (f": {sorted({k for r in rows for k in r['error_kinds']})}" if total_errors else "")
    )
    names = list(rows[0]["cores"])
    print("\nCPU by process group, in cores (of 2), per step:\n| users | " + " | ".join(names) + " | total |")
    print("| ---: |" + " ---: |" * (len(names) + 1))
    for r in rows:
        print(
            f"| {r['users']} | "
            + " | ".join(f"{r['cores'][n]:.2f}" for n in names)
            + f" | {sum(r['cores'].values()):.2f} |"
        )
    endpoint_table(rows[0]["samples"], f"per endpoint at {rows[0]['users']} users (the cost of each, little queueing)")
    if best and best is not rows[0]:
        endpoint_table(best["samples"], f"per endpoint at {best['users']} users (the sustained step)")
    endpoint_table(all_samples, "per endpoint, all steps")
    return 0 if best else 1


def endpoint_table(samples, title: str) -> None:
    by_label: dict[str, list[float]] = {}
    for _t, name, _status, seconds in samples:
        by_label.setdefault(name, []).append(seconds * 1000)
    print(f"\n{title}, slowest p99 first:\n| endpoint | requests | p50 ms | p99 ms | mean ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, lat in sorted(by_label.items(), key=lambda kv: -pct(kv[1], 99)):
        print(f"| {name} | {len(lat)} | {pct(lat, 50):.1f} | {pct(lat, 99):.1f} | {statistics.fmean(lat):.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="4,8,12,16,24,32,40,48,64")
    parser.add_argument("--step-seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--think", type=float, default=0.5, help="mean think time between a user's actions, s")
    parser.add_argument("--p99-ms", type=float, default=200.0)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--shared-db", action="store_true", help="use the shared PostgreSQL/Redis (dedicated db)")
    args = parser.parse_args()
    steps = [int(x) for x in args.steps.split(",")]

    workdir = Workdir("sm-load-")
    pg = redis = None
    if args.shared_db:
        database_url = "postgres://postgres@127.0.0.1:5432/sm_load_bench"
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "CREATE DATABASE sm_load_bench"], check=False
        )
        redis_url = "redis://127.0.0.1:6379/13"
    else:
        pg = PrivatePostgres(workdir, max_connections=200).init()
        database_url = pg.url
        redis = PrivateRedis(workdir).start()
        redis_url = redis.url
    kafka = PrivateTansu(workdir).start()
    env = app_env(database_url=database_url, redis_url=redis_url, kafka=kafka.bootstrap, workdir=workdir, **LOAD_ENV)
    migrate(env)
    port = free_port()
    apps = start_apps(workdir, env, port=port, web_workers=args.web_workers)
    apps["scan"] = AppProcess(
        workdir, "scan", [str(VENV_BIN / "python"), "manage.py", "scan_due_jobs", "--loop", "--interval", "5"], env
    )
    groups = {
        "web": [apps["web"].pid],
        "background": [apps[name].pid for name in ("worker", "beat", "relay", "consume", "scan")],
        "postgres": [pg.pid()] if pg else [],
        "redis": [redis.process.pid] if redis else [],
        "tansu": [kafka.process.pid],
    }
    base = f"http://127.0.0.1:{port}"
    print(
        f"web {base} (gunicorn, {args.web_workers} uvicorn workers) on {database_url}, {redis_url}; "
        f"throttles raised: {', '.join(f'{k}={v}' for k, v in LOAD_ENV.items() if k.startswith('THROTTLE'))}; "
        f"load average before: {loadavg()}",
        flush=True,
    )
    rows = asyncio.run(run_steps(base, steps, args.step_seconds, args.warmup, args.think, args.p99_ms, groups))
    return report(rows, args.p99_ms)


if __name__ == "__main__":
    sys.exit(main())
