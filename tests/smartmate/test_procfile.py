"""`make run`'s supervisor (honcho) and the Procfile's processes, for real: a SIGTERM to honcho
stops every process of every line within honcho's graceful timeout (it SIGKILLs what is left
after that), and nothing is left behind.

Each Procfile line starts with `exec`, so no shell stands between honcho and the server:
without it the shell takes the signal, and the Celery worker, whose pool children die first,
respawns them until honcho kills the lot.

On a Redis broker (production) everything stops on its own within the 5 s. On the embedded
default's filesystem broker the Celery worker's warm shutdown alone takes 7-8 s on this
2-core machine under load (kombu's polling transport has no event loop to wake), so there
honcho's SIGKILL ends it: the test then asserts only that nothing is left behind.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import database_url, free_port, production_env, wait_for_port

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
HONCHO_KILL_WAIT = 5.0  # honcho.manager.KILL_WAIT: SIGTERM, then SIGKILL to what is left after 5 s


def process_table() -> dict[int, tuple[int, int, str]]:
    """pid → (parent pid, session id, command line), from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        state, ppid, _pgrp, sid = stat.rsplit(")", 1)[1].split()[:4]
        if state != "Z":  # a zombie has ended; only its parent's wait is missing
            table[int(entry.name)] = (int(ppid), int(sid), cmdline)
    return table


def descendants(root: int, table) -> dict[int, tuple[int, int, str]]:
    found, todo = {}, [root]
    while todo:
        parent = todo.pop()
        for pid, row in table.items():
            if row[0] == parent and pid not in found:
                found[pid] = row
                todo.append(pid)
    return found


def is_shell(row) -> bool:
    return row[2].startswith(("/bin/sh -c", "sh -c"))


def children_of(table, tree, needle: str) -> int:
    """How many children the first process of `tree` whose command line contains needle has."""
    parents = [pid for pid, row in tree.items() if needle in row[2] and not is_shell(row)]
    if not parents:
        return 0
    return sum(1 for row in tree.values() if row[0] == parents[0])


@pytest.fixture
def private_redis():
    """A redis-server of the test's own (the broker's keys never touch the shared one)."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    assert wait_for_port(port)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(10)


def test_sigterm_to_the_supervisor_stops_every_process_within_its_graceful_timeout(tmp_path, private_redis):
    took = run_and_stop(tmp_path, DATABASE_URL=database_url(), REDIS_URL=private_redis)
    assert took < HONCHO_KILL_WAIT + 1  # no SIGKILL was needed (checked); honcho polls its children


def test_on_the_embedded_broker_nothing_is_left_behind_either(tmp_path):
    took = run_and_stop(tmp_path, strict=False, DATABASE_URL=database_url())
    assert took < HONCHO_KILL_WAIT + 3  # honcho's SIGKILL at 5 s, then its own exit


def run_and_stop(tmp_path, *, strict=True, **parts):
    """Start `honcho start -f Procfile` as `make run` does, wait for every process, SIGTERM
    honcho; returns how long until honcho exited, after checking no process is left."""
    port = free_port()
    env = production_env(
        **parts,
        PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        WEB_CONCURRENCY="2",
        WORKER_CONCURRENCY="2",
        PYTHONWARNINGS="ignore",
    )
    log = tmp_path / "honcho.log"
    with open(log, "wb") as out:
        honcho = subprocess.Popen(
            [str(ROOT / ".venv/bin/honcho"), "start", "-f", "Procfile"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    sessions = {honcho.pid}
    try:
        assert wait_for_port(port, timeout=60), log.read_text()
        deadline = time.monotonic() + 60
        while True:  # every line up: gunicorn with its 2 workers, the Celery worker with its 2, beat
            table = process_table()
            tree = descendants(honcho.pid, table)
            sessions |= {row[1] for row in tree.values()}  # to clean up after a failure too
            if (
                children_of(table, tree, "gunicorn") == 2
                and children_of(table, tree, "celery -A smartmate worker") == 2
                and any("celery -A smartmate beat" in row[2] for row in tree.values())
            ):
                break
            assert honcho.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"not all up: {tree}\n{log.read_text()}"
            time.sleep(0.3)
        time.sleep(1.0)  # past start-up, as a user's Ctrl-C or a platform's stop would be
        tree = descendants(honcho.pid, process_table())
        assert not [row for row in tree.values() if is_shell(row)], tree
        sessions |= {row[1] for row in tree.values()}

        started = time.monotonic()
        honcho.send_signal(signal.SIGTERM)
        honcho.wait(HONCHO_KILL_WAIT + 15)
        took = time.monotonic() - started
        output = log.read_text()
        if strict:
            assert "SIGKILL" not in output, output

        time.sleep(0.5)
        left = {pid: row for pid, row in process_table().items() if pid in tree or row[1] in sessions}
        assert not left, f"left behind: {left}"
        print(f"SIGTERM → every process stopped in {took:.2f} s")
        return took
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait(10)
        for pid, row in process_table().items():
            if row[1] in sessions:
                os.kill(pid, signal.SIGKILL)
