"""The web process exactly as the Procfile starts it (gunicorn + uvicorn workers).

Found by bench/load.py: a few requests per run got no answer (a connection reset). gunicorn's
default keep-alive is 2 s, so a client reusing a connection that had been idle about 2 s
could send its request just as the server closed it. The server now keeps idle connections
for WEB_KEEPALIVE_SECONDS (75 s), so the client or the proxy in front closes first.
"""

import re
import socket
import time

import pytest

from tests.conftest import serve_procfile_web

REQUEST = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


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
    with serve_procfile_web(tmp_path) as port:
        assert answered_after_idle(port, idle=3.0)


@pytest.mark.timeout(90)
def test_the_server_closes_idle_connections_after_web_keepalive_seconds(tmp_path):
    with serve_procfile_web(tmp_path, WEB_KEEPALIVE_SECONDS="1") as port:
        assert answered_after_idle(port, idle=0.3)
        assert not answered_after_idle(port, idle=2.0)
