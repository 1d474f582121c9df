#!/usr/bin/env python
"""Week view: the project's per-request cost as shares of a minimal Django view in the same run,
and the cost of the cache-invalidation receivers on a task write.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sm_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/week_view.py [--seconds 10] [--connections 8] [--workers 2] \\
        [--worker-class gthread|sync|asgi] [--threads 4] [--writes 800] [--only http|writes]

Rows: `floor-sync`, the minimal Django project of bench/week_view_floor.py (no apps, no
middleware, no database) under gunicorn sync workers; `floor`, the same under the chosen worker
class; then the project (`smartmate.wsgi:application`, or `smartmate.asgi` under UvicornWorker
for `asgi`) with `bench/bare/` (the project's middleware, no DRF), `bench/auth-floor/` (DRF with
the project's authentication and throttle), the cached week, the week answered 304 to its ETag,
`GET tasks/`, `/healthz`, and the uncached week (BENCH_CACHE=dummy: no cache at all, so the
login check asks PostgreSQL too). Every row is one wrk run (Debian's `wrk`; the bench refuses to
run without it), `-t1 -c<connections>` with keep-alive after a warm-up, on loopback, gunicorn
with --preload and the access log off, the same worker count for every server.
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
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


WRK = shutil.which("wrk")


class Server:
    """gunicorn on loopback serving `app` with `worker_class` (gthread: `threads` each)."""

    def __init__(self, app, *, worker_class, workers, threads, payload, cache_mode="redis", settings=None):
        self.port = free_port()
        env = {
            **os.environ,
            "BENCH_PAYLOAD": str(payload),
            "BENCH_CACHE": cache_mode,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH)]),
        }
        if settings:
            env["DJANGO_SETTINGS_MODULE"] = settings
        command = [str(ROOT / ".venv/bin/gunicorn"), app, "--bind", f"127.0.0.1:{self.port}"]
        command += ["--workers", str(workers), "--preload", "--timeout", "120", "--graceful-timeout", "5"]
        command += ["--log-level", "warning"]
        if worker_class == "asgi":
            command += ["--worker-class", "uvicorn_worker.UvicornWorker"]
        else:
            command += ["--worker-class", worker_class, "--keep-alive", "75"]
            if worker_class == "gthread":
                command += ["--threads", str(threads)]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:  # keep-alive connections outlasting the graceful stop
            self.process.kill()
            self.process.wait(10)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text):
    match = re.fullmatch(r"([0-9.]+)(us|ms|s)", text.strip())
    return float(match[1]) * _UNITS[match[2]]


def probe(url, headers):
    """(status, headers) of one request: a bench row must measure the answer it claims to."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers


def load(url, headers, seconds, connections, expect=200):
    """wrk with keep-alive connections after a warm-up: req/s, p50, p99."""
    status, _ = probe(url, headers)
    if status != expect:
        raise RuntimeError(f"{url}: answered {status}, not {expect}")
    flags = [item for name, value in headers.items() for item in ("-H", f"{name}: {value}")]

    def run(duration):
        command = [WRK, "-t1", f"-c{connections}", f"-d{duration}s", "--latency", *flags, url]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    run(max(2, int(seconds / 4)))  # warm-up: workers, pools, caches
    out = run(int(seconds))
    errors = re.search(r"Socket errors: (.*)$", out, re.M)
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    if set(latency) != {"50", "99"}:
        raise RuntimeError(f"{url}: no latency figures in wrk's output\n{out}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([0-9.]+)", out)[1]),
        "p50_ms": _ms(latency["50"]),
        "p99_ms": _ms(latency["99"]),
        "socket_errors": errors[1] if errors else "",
        "failed": int(failed[1]) if failed else 0,  # answers of 400 or more
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
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 2)))
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync", "asgi"])
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--writes", type=int, default=800)
    parser.add_argument("--only", choices=["http", "writes"], help="run one half of the bench")
    args = parser.parse_args()
    if args.only != "writes" and not WRK:
        sys.exit("wrk is needed for the HTTP figures: apt-get install wrk (Debian's package)")

    ensure_database()
    user, token, payload = prepare()
    if args.only == "writes":
        for name, (with_ms, without_ms) in write_latency(user, token, args.writes).items():
            print(
                f"task write ({name}) with {with_ms:.2f} ms  without {without_ms:.2f} ms  {with_ms / without_ms:.2f}x"
            )
        return
    week = "/api/v1/schedule/week/?week=1"
    auth = {"Accept": "application/json", "Authorization": f"Bearer {token}"}
    plain = {"Accept": "application/json"}
    kind = {"worker_class": args.worker_class, "workers": args.workers, "threads": args.threads, "payload": payload}
    seconds, connections = args.seconds, args.connections
    results = {}

    def serve(app, rows, **options):
        server = Server(app, **{**kind, **options})
        try:
            for name, path, headers, expect in rows:
                results[name] = load(server.url(path), headers, seconds, connections, expect)
        finally:
            server.stop()

    floor_app = "week_view_floor:application"
    serve(floor_app, [("floor-sync", "/bench/floor/", plain, 200)], settings="week_view_floor", worker_class="sync")
    if args.worker_class != "sync":
        serve(floor_app, [("floor", "/bench/floor/", plain, 200)], settings="week_view_floor")
    else:
        results["floor"] = results["floor-sync"]
    project = "smartmate.asgi:application" if args.worker_class == "asgi" else "smartmate.wsgi:application"
    server = Server(project, **kind)
    try:
        _status, week_headers = probe(server.url(week), auth)
        etag = week_headers.get("ETag")
        rows = [
            ("bare", "/bench/bare/", plain, 200),
            ("auth-floor", "/bench/auth-floor/", auth, 200),
            ("cached", week, auth, 200),
            ("GET tasks", "/api/v1/tasks/", auth, 200),
            ("healthz", "/healthz", plain, 200),
        ]
        if etag:
            rows.insert(3, ("week 304", week, {**auth, "If-None-Match": etag}, 304))
        for name, path, headers, expect in rows:
            results[name] = load(server.url(path), headers, seconds, connections, expect)
    finally:
        server.stop()
    serve(project, [("uncached", week, auth, 200)], cache_mode="dummy")
    writes = write_latency(user, token, args.writes) if args.only != "http" else {}

    floor, floor_sync = results["floor"]["rps"], results["floor-sync"]["rps"]
    print(
        f"server={args.worker_class} workers={args.workers} threads={args.threads} connections={connections} "
        f"seconds={seconds} payload={payload.stat().st_size} bytes load={os.getloadavg()[0]:.1f}"
    )
    for name, r in results.items():
        print(
            f"{name:11s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  "
            f"{r['rps'] / floor:6.1%} of floor  {r['rps'] / floor_sync:6.1%} of floor-sync"
            + (f"  socket errors: {r['socket_errors']}" if r["socket_errors"] else "")
            + (f"  {r['failed']} answers >= 400" if r["failed"] else "")
        )
    if results.get("uncached", {}).get("rps"):
        print(f"cached / uncached: {results['cached']['rps'] / results['uncached']['rps']:.2f}x")
    for name, (with_ms, without_ms) in writes.items():
        print(
            f"task write ({name}) with receivers {with_ms:.2f} ms  without {without_ms:.2f} ms  "
            f"ratio {with_ms / without_ms:.2f}x"
        )
    print(json.dumps({"http": results, "write_ms": writes}))


if __name__ == "__main__":
    main()
