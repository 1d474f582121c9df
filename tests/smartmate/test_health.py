"""/healthz, start-up fail-fast and check_services against real and dead parts."""

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connections

from tests.conftest import free_port, production_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dead_port():
    return free_port()  # nothing listens there


@pytest.fixture
def silent_server():
    """Accepts TCP connections and never answers: a hanging part."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_healthz_is_ok_on_the_real_parts(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["cache"] == "ok"
    assert body["checks"]["kafka"] == "disabled"
    assert body["version"]


@pytest.mark.postgres
@pytest.mark.django_db
def test_healthz_is_503_naming_postgresql_when_the_database_is_down(client, monkeypatch, dead_port, caplog):
    monkeypatch.setitem(connections.settings["default"], "PORT", str(dead_port))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("PostgreSQL is unreachable")
    # The host is for operators (the log), not for whoever calls /healthz.
    assert "127.0.0.1" not in response.content.decode() and str(dead_port) not in response.content.decode()
    assert f"PostgreSQL at 127.0.0.1:{dead_port}" in caplog.text
    assert "password" not in response.content.decode().lower()


@pytest.mark.django_db
def test_healthz_is_503_naming_redis_when_the_cache_is_down(client, settings, dead_port, caplog):
    settings.REDIS_URL = f"redis://127.0.0.1:{dead_port}/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "Redis cache is unreachable: connection refused"
    assert f"Redis cache at 127.0.0.1:{dead_port}" in caplog.text


@pytest.mark.django_db
def test_healthz_answers_within_two_seconds_when_a_part_hangs(client, settings, silent_server):
    settings.REDIS_URL = f"redis://127.0.0.1:{silent_server}/0"
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{silent_server}"
    started = time.monotonic()
    response = client.get("/healthz")
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert response.status_code == 503
    assert "Redis cache" in response.json()["checks"]["cache"]


@pytest.mark.django_db
def test_healthz_names_kafka_when_the_broker_accepts_connections_but_never_answers(client, settings, silent_server):
    # A SIGSTOPped broker (bench/failure_injection.py, broker-hang): its kernel still completes
    # the TCP handshake, so the probe must wait for a Kafka answer, not a connect.
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{silent_server}"
    started = time.monotonic()
    response = client.get("/healthz")
    assert time.monotonic() - started < 2.0
    assert response.status_code == 503
    assert response.json()["checks"]["kafka"].startswith("Kafka ")
    assert str(silent_server) not in response.json()["checks"]["kafka"]


@pytest.mark.kafka
def test_kafka_probe_passes_on_a_real_broker(kafka_bootstrap, settings):
    from smartmate.health import probe_parts

    settings.KAFKA_BOOTSTRAP_SERVERS = kafka_bootstrap
    assert probe_parts(parts=("kafka",)) == {"kafka": "ok"}


def run_python(args, env_overrides, timeout=60):
    env = production_env(**env_overrides)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_web_start_up_with_a_dead_database_exits_with_one_line_naming_it(dead_port):
    result = run_python(
        ["-W", "ignore", "-c", "import smartmate.wsgi"],
        {"DATABASE_URL": f"postgres://postgres:hunter2@127.0.0.1:{dead_port}/smartmate"},
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"PostgreSQL at 127.0.0.1:{dead_port}" in lines[0]
    assert "hunter2" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_gunicorn_refuses_to_start_when_redis_is_down(dead_port):
    result = run_python(
        [
            "-m",
            "gunicorn",
            "-c",
            "python:smartmate.gunicorn_conf",
            "smartmate.asgi:application",
            "--bind",
            f"127.0.0.1:{free_port()}",
        ],
        {"REDIS_URL": f"redis://127.0.0.1:{dead_port}/0", "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode != 0
    assert f"cannot start: Redis cache at 127.0.0.1:{dead_port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_services_reports_each_part(dead_port):
    result = run_python(
        ["manage.py", "check_services", "--timeout", "1"],
        {"REDIS_URL": f"redis://127.0.0.1:{dead_port}/0", "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 1
    assert "database  up" in result.stdout
    assert "cache     down" in result.stdout and f"127.0.0.1:{dead_port}" in result.stdout
    assert "kafka     disabled" in result.stdout


@pytest.mark.parametrize("entry", [["manage.py", "check"], ["-c", "import smartmate.wsgi"]])
def test_refuses_to_start_without_secret_key_outside_debug(entry):
    result = run_python(entry, {"SECRET_KEY": "", "DEBUG": "0"})
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "SECRET_KEY is not set" in lines[0]


def test_start_up_refuses_an_unreachable_llm_endpoint(dead_port):
    result = run_python(
        ["-W", "ignore", "-c", "import smartmate.wsgi"],
        {"LLM_BASE_URL": f"http://127.0.0.1:{dead_port}/v1", "LLM_API_KEY": "sk-secret-value"},
    )
    assert result.returncode == 1
    assert f"LLM endpoint at 127.0.0.1:{dead_port}" in result.stderr
    assert "sk-secret-value" not in result.stderr
