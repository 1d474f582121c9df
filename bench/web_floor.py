#!/usr/bin/env python
"""The web tier against its physical floor, in one run: `.venv/bin/python bench/web_floor.py`.

    .venv/bin/python bench/web_floor.py [--seconds 8] [--connections 8,32] [--workers 2]

One C load generator (wrk, Debian's package: `apt-get install wrk`; the bench refuses to run
without it), keep-alive, loopback, after a warm-up per row, at each --connections level:

- `raw ASGI`: an ASGI app returning the week JSON bytes (gunicorn + uvicorn workers);
- `floor`: a minimal Django project (no middleware, no apps, no database) whose view returns
  the same JSON as a JsonResponse, on gunicorn **sync** workers (WSGI): the floor every other
  row is a share of;
- `floor, bridged` / `floor, ASGIHandler`: that same view behind the project's serving layer
  (uvicorn workers + smartmate/serving.py's WSGI bridge) and behind Django's ASGIHandler (the
  design before it): what the serving layer itself costs;
- the project's endpoints served by the Procfile's `web` line exactly (smartmate.asgi, its
  gunicorn settings, access log on) with bench/week_view_settings.py (the project's settings
  plus the two reference views, no per-user rate limit): `bench/bare/`, `bench/auth-floor/`,
  the cached week, `GET /api/v1/tasks/`, `POST /api/v1/tasks/` (each request a new task, a
  wrk Lua script), `/healthz`, the week with `If-None-Match` (a 304 when the server sends
  ETags, else the row says "no ETag yet"), and the uncached week (Django's DummyCache).

Private PostgreSQL (fsync on) and Redis (bench/_stack.py), the demo week seeded for one user.
Prints req/s, p50, p99, server CPU per request (the server's processes, from /proc) and each
row's share of the same-run floor at the same concurrency: of its req/s ("of floor") and of its
CPU per request ("CPU share", the floor's CPU per request over the row's). On a machine shared
with other work the CPU share is the steadier of the two: a sync worker answers one connection
at a time and waits for the scheduler on each, so the floor's req/s drops more than the rest
when other processes queue for the cores. Then the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT), str(BENCH)]

from bench._stack import (  # noqa: E402
    VENV_BIN,
    PrivatePostgres,
    PrivateRedis,
    Workdir,
    cpu_seconds,
    free_port,
    loadavg,
    wait_for_port,
)

WEEK = "/api/v1/schedule/week/?week=1"
FLOOR = "floor (Django view, WSGI sync)"
HEAD = " ".join(
    f"{name:>{width}s}"
    for name, width in (("req/s", 9), ("p50 ms", 8), ("p99 ms", 8), ("CPU ms/req", 10), ("errors", 6), ("of floor", 8),
                        ("CPU share", 9))
)  # fmt: skip
POST_TASK_LUA = """
local n = 0
local prefix = tostring(math.random(1, 1000000000))
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local body = '{"title":"bench ' .. prefix .. '-' .. n ..
    '","deadline_at":"2030-01-07T12:00:00Z","estimated_sections":1}'
  return wrk.format("POST", "/api/v1/tasks/", nil, body)
end
"""


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if not wrk:
        sys.exit("bench/web_floor.py needs wrk, the C load generator: apt-get install wrk")
    return wrk


class Server:
    """A server process in its own session, on a free port; stopped with its workers."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.warm = False
        self.port = free_port()
        env = {**env, "PORT": str(self.port)}
        argv = [part.replace("{port}", str(self.port)) for part in argv]
        self.log = log_dir / f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}.log"
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        if not wait_for_port(self.port, 60):
            self.stop()
            raise RuntimeError(f"{name} did not listen:\n{self.log.read_text()[-3000:]}")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(5)


def gunicorn(app: str, workers: int, *extra: str) -> list[str]:
    return [str(VENV_BIN / "gunicorn"), app, "--bind", "127.0.0.1:{port}", "--workers", str(workers),
            "--log-level", "warning", *extra]  # fmt: skip


def procfile_web() -> list[str]:
    """The Procfile's web line, as honcho runs it (a shell that execs it)."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    return ["bash", "-c", line.split(":", 1)[1].strip()]


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNIT[unit]


def wrk_run(wrk: str, url: str, *, connections: int, seconds: int, headers=(), script: str | None = None) -> dict:
    argv = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for header in headers:
        argv += ["-H", header]
    if script:
        argv += ["-s", script]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    result = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99_ms": _ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "errors": 0,
    }
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        result["errors"] += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        result["errors"] += sum(int(n) for n in match.groups())
    return result


def measure(wrk, server: Server, path: str, levels, seconds, **options) -> dict:
    rows = {}
    if not server.warm:  # each worker's first requests import and build what the rest reuse
        wrk_run(wrk, server.base + path, connections=max(levels), seconds=5, **options)
        server.warm = True
    for connections in levels:
        wrk_run(wrk, server.base + path, connections=connections, seconds=2, **options)
        cpu = cpu_seconds([server.process.pid])
        result = wrk_run(wrk, server.base + path, connections=connections, seconds=seconds, **options)
        result["cpu_ms_per_request"] = (cpu_seconds([server.process.pid]) - cpu) * 1000 / max(result["requests"], 1)
        rows[connections] = result
    return rows


def prepare(env: dict[str, str]) -> dict:
    """Migrate the private database, seed the demo week for one user; returns the token, the
    week payload's path and the week's ETag (None when the server sends none)."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from accounts.services import session_start, user_register
    from scheduling.demo import DEMO_STEPS

    call_command("migrate", verbosity=0)
    user = user_register(username="bench", password="bench-password-2026")
    for _label, step in DEMO_STEPS:
        step(user)
    token = session_start(user=user)["access"]
    response = Client(HTTP_HOST="127.0.0.1").get(WEEK, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    payload = Path(env["BENCH_WORKDIR"]) / "week.json"
    payload.write_bytes(response.content)
    return {"token": token, "payload": str(payload)}


def check(server: Server, path: str, headers: dict, want: int) -> int:
    import httpx

    status = httpx.get(server.base + path, headers=headers, timeout=30).status_code
    if status != want:
        raise RuntimeError(f"{server.name} {path}: {status}, expected {want}")
    return status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", default="8,32")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    levels = [int(c) for c in args.connections.split(",")]
    wrk = require_wrk()

    workdir = Workdir("sm-web-floor-")
    postgres = PrivatePostgres(workdir, max_connections=200).init()
    redis = PrivateRedis(workdir).start()
    prom = workdir.path / "prometheus"
    prom.mkdir()
    env = {
        **os.environ,
        "BENCH_WORKDIR": str(workdir.path),
        "DJANGO_SETTINGS_MODULE": "week_view_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH)]),
        "SECRET_KEY": "bench-only-secret-key-0123456789-not-for-production",
        "DATABASE_URL": postgres.url,
        "REDIS_URL": redis.url,
        "CELERY_BROKER_URL": redis.url,
        "ACCESS_TOKEN_SECONDS": "7200",
        "PROMETHEUS_MULTIPROC_DIR": str(prom),
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": str(args.workers),
        "PYTHONWARNINGS": "ignore",
    }
    seeded = prepare(env)
    env["BENCH_PAYLOAD"] = seeded["payload"]
    auth = f"Authorization: Bearer {seeded['token']}"
    lua = Path(tempfile.mkstemp(suffix=".lua", dir=workdir.path)[1])
    lua.write_text(POST_TASK_LUA)

    rows: dict[str, dict] = {}
    notes: dict[str, str] = {}
    uvicorn = ("-k", "uvicorn_worker.UvicornWorker")
    plan = [
        ("raw ASGI", gunicorn("web_floor_apps:raw", args.workers, *uvicorn), "/floor/"),
        (FLOOR, gunicorn("web_floor_apps:floor", args.workers), "/floor/"),
        ("floor, bridged", gunicorn("web_floor_apps:floor_bridged", args.workers, *uvicorn), "/floor/"),
        ("floor, ASGIHandler", gunicorn("web_floor_apps:floor_asgi", args.workers, *uvicorn), "/floor/"),
    ]
    for name, argv, path in plan:
        server = Server(name, argv, env, workdir.path)
        try:
            check(server, path, {}, 200)
            rows[name] = measure(wrk, server, path, levels, args.seconds)
        finally:
            server.stop()

    bearer = {"Authorization": f"Bearer {seeded['token']}"}
    server = Server("project", procfile_web(), env, workdir.path)
    try:
        for name, path, headers in (
            ("bench/bare/", "/bench/bare/", {}),
            ("auth floor", "/bench/auth-floor/", bearer),
            ("week, cached", WEEK, bearer),
            ("GET tasks/", "/api/v1/tasks/", bearer),
            ("/healthz", "/healthz", {}),
        ):
            check(server, path, headers, 200)
            lines = [f"{k}: {v}" for k, v in headers.items()]
            rows[name] = measure(wrk, server, path, levels, args.seconds, headers=lines)
        rows["POST tasks/ (new task each)"] = measure(
            wrk, server, "/api/v1/tasks/", levels, args.seconds, headers=[auth], script=str(lua)
        )
        import httpx

        etag = httpx.get(server.base + WEEK, headers=bearer, timeout=30).headers.get("etag")
        if etag:
            check(server, WEEK, {**bearer, "If-None-Match": etag}, 304)
            rows["week, If-None-Match → 304"] = measure(
                wrk, server, WEEK, levels, args.seconds, headers=[auth, f"If-None-Match: {etag}"]
            )
        else:
            notes["week, If-None-Match → 304"] = "no ETag yet"
    finally:
        server.stop()
    server = Server("project, uncached", procfile_web(), {**env, "BENCH_CACHE": "dummy"}, workdir.path)
    try:
        check(server, WEEK, bearer, 200)
        rows["week, uncached"] = measure(wrk, server, WEEK, levels, args.seconds, headers=[auth])
    finally:
        server.stop()

    print(
        f"bench/web_floor.py --seconds {args.seconds} --connections {args.connections} --workers {args.workers}; "
        f"payload {Path(seeded['payload']).stat().st_size} bytes; load average after: {loadavg()}"
    )
    for connections in levels:
        floor = rows[FLOOR][connections]["rps"]
        floor_cpu = rows[FLOOR][connections]["cpu_ms_per_request"]
        print(f"\n-c{connections}  {'row':34s} {HEAD}")
        for name, result in rows.items():
            r = result[connections]
            print(
                f"      {name:34s} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                f"{r['cpu_ms_per_request']:10.2f} {r['errors']:6d} {r['rps'] / floor:8.1%} "
                f"{floor_cpu / max(r['cpu_ms_per_request'], 1e-9):9.1%}"
            )
        for name, note in notes.items():
            print(f"      {name:34s} {note}")
    print(json.dumps({"rows": rows, "notes": notes}))


if __name__ == "__main__":
    main()
