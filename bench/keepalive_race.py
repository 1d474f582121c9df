"""Requests lost to the server closing an idle keep-alive connection (the race behind the
unanswered requests in bench/load.py; docs/RELIABILITY.md).

Starts the web process with smartmate/gunicorn_conf.py (one uvicorn worker, embedded default)
and `WEB_KEEPALIVE_SECONDS` = --keepalive, keeps the worker busy with six clients reading
/api/schema/, and meanwhile reuses one connection after idling just around the keep-alive
(--keepalive ± 0.1 s in 4 ms steps, --rounds times). Prints how many reuses got no answer.

    .venv/bin/python bench/keepalive_race.py --keepalive 2    # gunicorn's own default: lost requests
    .venv/bin/python bench/keepalive_race.py                  # the shipped 75 s, idling 2 s: none
"""

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stack import ROOT, VENV_BIN, AppProcess, Workdir, free_port, wait_for_port


async def busy(base: str, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def reader():
            while not stop.is_set():
                await client.get("/api/schema/")

        await asyncio.gather(*(reader() for _ in range(6)))


async def sweep(base: str, centre: float, rounds: int) -> tuple[int, dict[str, list[float]]]:
    lost: dict[str, list[float]] = {}
    tries = 0
    limits = httpx.Limits(keepalive_expiry=centre + 60)  # the client never drops it first
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        for _ in range(rounds):
            for step in range(51):
                idle = centre - 0.1 + step * 0.004
                await client.get("/metrics")
                await asyncio.sleep(idle)
                tries += 1
                try:
                    await client.get("/metrics")
                except httpx.HTTPError as exc:
                    lost.setdefault(type(exc).__name__, []).append(round(idle, 3))
    return tries, lost


async def run(base: str, centre: float, rounds: int):
    stop = asyncio.Event()
    load = asyncio.create_task(busy(base, stop))
    await asyncio.sleep(1)
    try:
        return await sweep(base, centre, rounds)
    finally:
        stop.set()
        await load


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keepalive", type=int, default=75, help="the server's WEB_KEEPALIVE_SECONDS")
    parser.add_argument("--idle", type=float, default=2.0, help="idle around this many seconds (default 2)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    centre = args.idle if args.keepalive >= 10 else args.keepalive

    workdir = Workdir("sm-keepalive-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "KAFKA_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="smartmate.settings",
        SECRET_KEY="x" * 50,
        SQLITE_PATH=str(workdir.path / "db.sqlite3"),
        WEB_CONCURRENCY="1",
        WEB_KEEPALIVE_SECONDS=str(args.keepalive),
    )
    subprocess.run([str(VENV_BIN / "python"), "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    gunicorn = [str(VENV_BIN / "gunicorn"), "-c", "python:smartmate.gunicorn_conf", "smartmate.asgi:application"]
    web = AppProcess(workdir, "web", [*gunicorn, "--bind", f"127.0.0.1:{port}"], env)
    if not wait_for_port(port):
        print(f"the web process did not start:\n{web.tail()}", file=sys.stderr)
        return 1
    tries, lost = asyncio.run(run(f"http://127.0.0.1:{port}", centre, args.rounds))
    count = sum(len(v) for v in lost.values())
    print(
        f"keep-alive {args.keepalive:g} s, idle {centre - 0.1:.3f}-{centre + 0.1:.3f} s under load: "
        f"{count} of {tries} reused connections got no answer {lost or ''}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
