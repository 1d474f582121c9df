"""The web process exactly as the Procfile starts it (gunicorn + uvicorn workers).

Found by bench/load.py: a few requests per run got no answer (a connection reset). gunicorn's
default keep-alive is 2 s, so a client reusing a connection that had been idle about 2 s
could send its request just as the server closed it. The server now keeps idle connections
for WEB_KEEPALIVE_SECONDS (75 s), so the client or the proxy in front closes first.
"""

import os
import re
import signal
import socket
import subprocess
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
REQUEST = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def procfile_command(name: str) -> str:
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith(f"{name}:"))
    return line.split(":", 1)[1].strip()


@contextmanager
def procfile_web(tmp_path, **env_overrides):
    port = free_port()
    # The embedded default: keep-alive is the web server's own, whatever parts sit behind it.
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "KAFKA_"))},
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "DJANGO_SETTINGS_MODULE": "smartmate.settings",
        "SECRET_KEY": "x" * 50,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "PYTHONWARNINGS": "ignore",
        **env_overrides,
    }
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {procfile_command('web')}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield port
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def read_response(sock: socket.socket) -> bytes:
    """One HTTP/1.1 response framed by Content-Length; b"" when the server had closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(body) < length:
        body += sock.recv(65536)
    return head


def answered_after_idle(port: int, idle: float) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(REQUEST)
        assert read_response(sock).startswith(b"HTTP/1.1 200")
        time.sleep(idle)
        try:
            sock.sendall(REQUEST)
            return read_response(sock).startswith(b"HTTP/1.1 200")
        except ConnectionError:
            return False


@pytest.mark.timeout(90)
def test_an_idle_keep_alive_connection_outlives_gunicorns_two_second_default(tmp_path):
    with procfile_web(tmp_path) as port:
        assert answered_after_idle(port, idle=3.0)


@pytest.mark.timeout(90)
def test_the_server_closes_idle_connections_after_web_keepalive_seconds(tmp_path):
    with procfile_web(tmp_path, WEB_KEEPALIVE_SECONDS="1") as port:
        assert answered_after_idle(port, idle=0.3)
        assert not answered_after_idle(port, idle=2.0)
