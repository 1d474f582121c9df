#!/usr/bin/env python
"""Week view: cached and uncached req/s against a bare Django JSON view, and the cost of the
cache-invalidation receivers on a task write.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sm_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/week_view.py [--seconds 10] [--connections 32] [--workers 2] [--writes 400]

Each HTTP figure runs gunicorn exactly as the Procfile does (ASGI, UvicornWorker, --preload,
same worker count; access log off) on loopback, with the same settings except BENCH_CACHE=dummy
for the uncached run. The load generator is one asyncio process with keep-alive connections,
on the same machine.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sm_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-not-for-production")
os.environ.setdefault("ACCESS_TOKEN_SECONDS", "7200")
# Under ASGI every request runs its sync code in a fresh thread, so a persistent connection
# (DB_CONN_MAX_AGE > 0) is never reused and piles up until PostgreSQL refuses clients (503s).
os.environ.setdefault("DB_CONN_MAX_AGE", "0")
os.environ["DJANGO_SETTINGS_MODULE"] = "week_view_settings"
sys.path[:0] = [str(ROOT), str(BENCH)]


def ensure_database():
    from urllib.parse import urlsplit

    import psycopg

    url = urlsplit(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def prepare():
    """Migrate, seed the bench user with the demo week, return (token, week payload path)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import User
    from accounts.services import session_start, user_register
    from scheduling.demo import DEMO_STEPS

    call_command("migrate", verbosity=0)
    user = User.objects.filter(username="bench").first() or user_register(
        username="bench", password="bench-password-2026"
    )
    for _label, step in DEMO_STEPS:
        step(user)
    token = session_start(user=user)["access"]
    response = Client(HTTP_HOST="127.0.0.1").get("/api/v1/schedule/week/?week=1", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    payload = Path(tempfile.gettempdir()) / "sm_bench_week.json"
    payload.write_bytes(response.content)
    return user, token, payload


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, workers, payload, cache_mode):
        self.port = free_port()
        env = {
            **os.environ,
            "BENCH_PAYLOAD": str(payload),
            "BENCH_CACHE": cache_mode,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH)]),
        }
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/gunicorn"),
                "smartmate.asgi:application",
                "--worker-class",
                "uvicorn_worker.UvicornWorker",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--preload",
                "--timeout",
                "120",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                asyncio.run(self._probe())
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start")

    async def _probe(self):
        _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.close()

    def stop(self):
        self.process.terminate()
        self.process.wait(20)


async def _client(port, request, stop_at, latencies, statuses):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


def load(port, path, token, seconds, connections):
    headers = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
    if token:
        headers += f"Authorization: Bearer {token}\r\n"
    request = (headers + "\r\n").encode()
    latencies, statuses = [], {}

    async def run(duration):
        stop_at = time.perf_counter() + duration
        await asyncio.gather(*(_client(port, request, stop_at, latencies, statuses) for _ in range(connections)))

    asyncio.run(run(min(2.0, seconds / 4)))  # warm-up (workers, connections, cache)
    latencies.clear()
    statuses.clear()
    started = time.perf_counter()
    asyncio.run(run(seconds))
    elapsed = time.perf_counter() - started
    if set(statuses) != {200}:
        raise RuntimeError(f"{path}: unexpected statuses {statuses}")
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def write_latency(user, token, writes):
    """Median task-write latency with the cache receivers connected and disconnected, alternating
    write by write: the bare service call (each its own committed transaction) and the
    full request (PATCH /api/v1/tasks/{id}/ through the middleware, in-process)."""
    from django.db.models.signals import post_delete, post_save
    from django.test import Client

    from scheduling import services, signals
    from scheduling.models import Task

    task = Task.objects.filter(user=user).first()
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")

    def service(i):
        services.task_update(user=user, task=task, description=f"bench {i}")

    def request(i):
        response = client.patch(f"/api/v1/tasks/{task.pk}/", {"description": f"bench {i}"}, "application/json")
        assert response.status_code == 200, response.content

    def disconnect():
        for model in signals.CACHED:
            uid = f"scheduling.cache.{model.__name__}"
            post_save.disconnect(sender=model, dispatch_uid=uid + ".save")
            post_delete.disconnect(sender=model, dispatch_uid=uid + ".delete")

    def timed(write, i):
        started = time.perf_counter()
        write(i)
        return time.perf_counter() - started

    figures = {}
    for name, write in (("service", service), ("request", request)):
        for i in range(50):  # warm-up
            write(i)
        with_receivers, without = [], []
        for i in range(writes):  # alternate every write, so load from other processes hits both alike
            signals.connect()
            with_receivers.append(timed(write, i))
            disconnect()
            without.append(timed(write, i))
        signals.connect()
        figures[name] = (statistics.median(with_receivers) * 1000, statistics.median(without) * 1000)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    # Each in-flight ASGI request holds its own database connection: keep well under max_connections.
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 2)))
    parser.add_argument("--writes", type=int, default=800)
    parser.add_argument("--only", choices=["http", "writes"], help="run one half of the bench")
    args = parser.parse_args()

    ensure_database()
    user, token, payload = prepare()
    week = "/api/v1/schedule/week/?week=1"
    results = {}
    if args.only == "writes":
        for name, (with_ms, without_ms) in write_latency(user, token, args.writes).items():
            print(
                f"task write ({name}) with {with_ms:.2f} ms  without {without_ms:.2f} ms  {with_ms / without_ms:.2f}x"
            )
        return
    server = Server(args.workers, payload, "redis")
    try:
        results["bare"] = load(server.port, "/bench/bare/", None, args.seconds, args.connections)
        results["auth-floor"] = load(server.port, "/bench/auth-floor/", token, args.seconds, args.connections)
        results["cached"] = load(server.port, week, token, args.seconds, args.connections)
    finally:
        server.stop()
    server = Server(args.workers, payload, "dummy")
    try:
        results["uncached"] = load(server.port, week, token, args.seconds, args.connections)
    finally:
        server.stop()
    writes = write_latency(user, token, args.writes) if args.only != "http" else {}

    bare, floor = results["bare"]["rps"], results["auth-floor"]["rps"]
    print(
        f"workers={args.workers} connections={args.connections} seconds={args.seconds} "
        f"payload={payload.stat().st_size} bytes"
    )
    for name, r in results.items():
        print(
            f"{name:10s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
            f"{r['rps'] / bare:6.1%} of bare  {r['rps'] / floor:6.1%} of auth-floor"
        )
    for name, (with_ms, without_ms) in writes.items():
        print(
            f"task write ({name}) with receivers {with_ms:.2f} ms  without {without_ms:.2f} ms  "
            f"ratio {with_ms / without_ms:.2f}x"
        )
    print(json.dumps({"http": results, "write_ms": writes}))


if __name__ == "__main__":
    main()
