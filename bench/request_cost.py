#!/usr/bin/env python
"""CPU time per request inside one process, through Django's WSGI handler (every middleware,
DRF, authentication, throttle, cache), and a profile of where it goes: the load-independent
half of bench/week_view.py, for finding the milliseconds on a busy machine.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sm_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/request_cost.py [--requests 2000] [--profile cached] [--top 30]

Each row calls the WSGI application with a built environ (no socket, no server): `floor` is
bench/week_view_floor.py's minimal Django view in a handler of its own; the other rows are the
project's, as bench/week_view.py names them. CPU is process time (this thread), so other load on
the machine costs wall time, not these figures; Redis and PostgreSQL round trips are not CPU.
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]
import week_view  # noqa: E402  (sets the bench's environment and settings)


def environ(path, headers):
    raw_path, _, query = path.partition("?")
    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": raw_path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def call(app, path, headers):
    status = []
    body = app(environ(path, headers), lambda s, h, exc_info=None: status.append(s))
    b"".join(body)
    if hasattr(body, "close"):
        body.close()
    return status[0]


def cost(app, path, headers, requests):
    for _ in range(50):
        status = call(app, path, headers)
    started, wall = time.process_time(), time.perf_counter()
    for _ in range(requests):
        call(app, path, headers)
    return status, (time.process_time() - started) / requests * 1000, (time.perf_counter() - wall) / requests * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", help="profile this row")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    week_view.ensure_database()
    _user, token, payload = week_view.prepare()
    os.environ["BENCH_PAYLOAD"] = str(payload)
    import week_view_urls
    from django.core.handlers.wsgi import WSGIHandler

    week_view_urls.PAYLOAD = week_view.json.loads(payload.read_text())
    project = WSGIHandler()
    auth = {"Accept": "application/json", "Authorization": f"Bearer {token}"}
    plain = {"Accept": "application/json"}
    week = "/api/v1/schedule/week/?week=1"
    rows = {
        "bare": ("/bench/bare/", plain),
        "auth-floor": ("/bench/auth-floor/", auth),
        "cached": (week, auth),
        "GET tasks": ("/api/v1/tasks/", auth),
        "healthz": ("/healthz", plain),
    }
    _status, headers = None, {}
    probe = []
    b"".join(project(environ(week, auth), lambda s, h, exc_info=None: probe.append(dict(h))))
    etag = probe[0].get("ETag")
    if etag:
        rows["week 304"] = (week, {**auth, "If-None-Match": etag})
    if args.profile:
        path, headers = rows[args.profile]
        cost(project, path, headers, 50)
        profiler = cProfile.Profile(time.process_time)  # CPU, not the waits for other processes
        profiler.enable()
        cost(project, path, headers, args.requests)
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
        return
    for name, (path, headers) in rows.items():
        status, cpu, wall = cost(project, path, headers, args.requests)
        print(f"{name:11s} {status:24s} cpu {cpu:6.3f} ms  wall {wall:6.3f} ms")


if __name__ == "__main__":
    main()
