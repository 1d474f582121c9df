"""The connection pool in the web process (smartmate/db/pool.py), on real PostgreSQL.

The Procfile's web line runs against the test database through a `FreezableProxy`, which
counts the connections the server opens: with the pool a handful serve every request; a
frozen database still answers 503 within the query deadline (the pool's checkout check is
under it too), and the pool recovers when the database does, without a restart.
"""

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.db import connection

from tests.conftest import production_env, serve_procfile_web
from tests.faults import FreezableProxy

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a-long-passphrase-9"
QUIET_THROTTLES = {
    "THROTTLE_AUTH_RATE": "1000/min",
    "THROTTLE_USER_BURST": "100000",
    "THROTTLE_USER_REFILL_PER_SECOND": "100000",
}


@pytest.fixture
def database_proxy():
    params = connection.settings_dict
    proxy = FreezableProxy(params["HOST"] or "127.0.0.1", int(params["PORT"] or 5432))
    user = params["USER"] or "postgres"
    password = f":{params['PASSWORD']}" if params["PASSWORD"] else ""
    proxy.url = f"postgres://{user}{password}@127.0.0.1:{proxy.port}/{params['NAME']}"
    yield proxy
    proxy.close()


def signed_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    assert client.post("/api/v1/auth/register/", json={"username": "pooled", "password": PASSWORD}).status_code == 201
    login = client.post("/api/v1/auth/login/", json={"username": "pooled", "password": PASSWORD})
    client.headers["Authorization"] = f"Bearer {login.json()['access']}"
    return client


# A read that always asks the database: a filtered list (the default first page and the login
# check are served from the cache, docs/DOMAIN.md §13).
TASKS = "/api/v1/tasks/?status=todo"


def read_tasks_concurrently(client: httpx.Client, requests: int) -> list[int]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda _: client.get(TASKS).status_code, range(requests)))


@pytest.mark.parametrize(("pool_size", "most_connections"), [("3", 2 * 3 + 2), ("0", None)])
def test_requests_share_the_pooled_connections(tmp_path, database_proxy, pool_size, most_connections):
    env = {"DATABASE_URL": database_proxy.url, "WEB_CONCURRENCY": "2", "DB_POOL_MAX_SIZE": pool_size}
    with serve_procfile_web(tmp_path, **env, **QUIET_THROTTLES) as port:
        client = signed_in(f"http://127.0.0.1:{port}")
        before, _ = database_proxy.counts()
        assert read_tasks_concurrently(client, 60) == [200] * 60
        opened = database_proxy.counts()[0] - before
    if most_connections is None:  # without the pool: a new backend for every request
        assert opened >= 60
    else:  # two workers, three each at most (and the master's start-up probe, outside the pool)
        assert database_proxy.counts()[0] <= most_connections
        assert opened <= 6


def test_a_frozen_database_answers_503_within_the_deadline_and_the_pool_recovers(tmp_path, database_proxy):
    env = {
        "DATABASE_URL": database_proxy.url,
        "DB_POOL_MAX_SIZE": "2",
        "DB_QUERY_DEADLINE_SECONDS": "5",
        "DB_POOL_TIMEOUT_SECONDS": "1",
    }
    with serve_procfile_web(tmp_path, **env, **QUIET_THROTTLES) as port:
        client = signed_in(f"http://127.0.0.1:{port}")
        assert read_tasks_concurrently(client, 8) == [200] * 8  # the pool holds its connections now

        database_proxy.freeze()
        started = time.monotonic()
        frozen = [client.get(TASKS) for _ in range(3)]
        waited = time.monotonic() - started
        assert [r.status_code for r in frozen] == [503] * 3
        assert {r.json()["error"]["code"] for r in frozen} == {"service_unavailable"}
        # Each within the pool's wait (the checkout check gets no more), not the 5 s statement
        # deadline, let alone held to the thaw.
        assert waited < 3 * 2.5

        database_proxy.thaw()
        started = time.monotonic()
        while (status := client.get(TASKS).status_code) != 200:
            assert status == 503
            assert time.monotonic() - started < 15, "the pool did not recover"
            time.sleep(0.2)
        recovered_after = time.monotonic() - started
        assert read_tasks_concurrently(client, 8) == [200] * 8
    print(f"frozen requests took {waited:.2f} s for 3; the pool recovered {recovered_after:.2f} s after the thaw")


FORK_SCRIPT = """
import os, django
django.setup()
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper

def query(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = [row[0] for row in cursor.fetchall()]
    connection.close()  # back to the pool, which keeps it
    return rows

open_at_fork = set(query("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))
child = os.fork()
if child == 0:  # as a gunicorn or Celery prefork child: its own pool, never the parent's sockets
    fresh = not DatabaseWrapper._connection_pools
    os._exit(0 if fresh and query("SELECT pg_backend_pid()")[0] not in open_at_fork else 1)
_, status = os.waitpid(child, 0)
print(os.waitstatus_to_exitcode(status), query("SELECT 1") == [1])
"""


def test_a_forked_child_opens_its_own_pool_and_leaves_its_parents_connections_alone(database_proxy):
    env = production_env(DATABASE_URL=database_proxy.url, DB_POOL_MAX_SIZE="2", DB_POOL_MIN_SIZE="1")
    result = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # The child used a backend of its own, not one its parent had open; the parent's pool still serves.
    assert result.stdout.split() == ["0", "True"]
