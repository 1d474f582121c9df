"""The web process's split (smartmate/serving.py): the chat streams on Django's ASGI handler,
every other request on its WSGI handler in the worker's thread pool, one port.

Against the Procfile's web line on the test database: which handler answers which path,
bodies (declared and chunked) and HEAD through the WSGI side, and 100 real SSE streams held
open against a slow model while other API requests keep their speed.
"""

import asyncio
import json
import socket
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from smartmate.serving import STREAMING_PATHS
from tests.conftest import database_url, serve_procfile_web

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(420)]

QUIET_THROTTLES = {
    "THROTTLE_AUTH_RATE": "100000/min",
    "THROTTLE_CHAT_RATE": "100000/min",
    "THROTTLE_USER_BURST": "100000",
    "THROTTLE_USER_REFILL_PER_SECOND": "100000",
}


def tokens_for(count):
    from accounts.services import session_start, user_register

    return [
        session_start(user=user_register(username=f"serve{i}", password="a-long-passphrase-9"))["access"]
        for i in range(count)
    ]


def test_only_the_chat_paths_stream():
    assert STREAMING_PATHS.fullmatch("/api/v1/agent/chat/")
    assert STREAMING_PATHS.fullmatch("/api/v1/agent/conversations/42/chat/")
    for path in ("/api/v1/agent/conversations/42/", "/api/v1/agent/chat/x/", "/api/v1/tasks/", "/healthz"):
        assert not STREAMING_PATHS.fullmatch(path), path


def raw_request(port, head: bytes, body: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_the_wsgi_side_serves_bodies_head_and_request_ids(tmp_path):
    env = {"DATABASE_URL": database_url(), **QUIET_THROTTLES}
    with serve_procfile_web(tmp_path, **env) as port:
        base = f"http://127.0.0.1:{port}"
        http = httpx.Client(timeout=30)
        register = http.post(
            base + "/api/v1/auth/register/", json={"username": "wsgi", "password": "a-long-passphrase-9"}
        )
        assert register.status_code == 201, register.text
        assert register.headers["x-request-id"]
        # A chunked body (no Content-Length): the ASGI body cap frames it, Django reads it.
        body = json.dumps({"username": "wsgi", "password": "a-long-passphrase-9"}).encode()
        chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
        answer = raw_request(
            port,
            b"POST /api/v1/auth/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            chunked,
        )
        assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
        access = json.loads(answer.split(b"\r\n\r\n", 1)[1])["access"]
        headers = {"Authorization": f"Bearer {access}"}
        tasks = http.get(base + "/api/v1/tasks/", headers=headers)
        assert tasks.status_code == 200 and int(tasks.headers["content-length"]) == len(tasks.content)
        head = http.head(base + "/api/v1/tasks/", headers=headers)
        assert head.status_code == 200 and head.content == b""
        bad = http.post(
            base + "/api/v1/tasks/", content=b"{oops", headers={**headers, "Content-Type": "application/json"}
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"]
        # The JSON chat answers from the ASGI side, through the same port.
        chat = http.post(base + "/api/v1/agent/chat/", json={"message": "hello"}, headers=headers)
        assert chat.status_code == 200 and chat.headers["x-conversation-id"]


class SlowModel(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat-completions stream: `FIRST` tokens, then silence until the test
    sets `release` (so every stream is open at once however slowly they were opened), then the rest."""

    TOKENS = 40
    FIRST = 3
    DELAY = 0.05
    release = threading.Event()
    protocol_version = "HTTP/1.0"  # close-delimited body

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            for i in range(self.TOKENS):
                delta = {"role": "assistant", "content": f"t{i} "} if i == 0 else {"content": f"t{i} "}
                self._chunk({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
                time.sleep(self.DELAY)
                if i == self.FIRST - 1:
                    self.release.wait(120)
            self._chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            usage = {"prompt_tokens": 10, "completion_tokens": self.TOKENS, "total_tokens": 10 + self.TOKENS}
            self._chunk({"choices": [], "usage": usage})
            self.wfile.write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _chunk(self, body):
        body = {"id": "chatcmpl-slow", "object": "chat.completion.chunk", "created": 1, "model": "slow", **body}
        self.wfile.write(f"data: {json.dumps(body)}\n\n".encode())
        self.wfile.flush()

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_model():
    SlowModel.release.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowModel)
    server.daemon_threads = True
    server.request_queue_size = 256
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    SlowModel.release.set()
    server.shutdown()
    server.server_close()


async def timed_gets(client, token, count):
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = await client.get("/api/v1/tasks/", headers={"Authorization": f"Bearer {token}"})
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return samples


async def open_stream(client, token, opened: asyncio.Event, counter: dict, starting: asyncio.Semaphore):
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    await starting.acquire()  # turns start a few at a time (each takes a pooled connection to start)
    async with client.stream("POST", "/api/v1/agent/chat/", json={"message": "hello"}, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        raw = ""
        counted = False
        async for text in response.aiter_text():
            raw += text
            if not counted and '"content"' in raw:
                counted = True
                starting.release()
                counter["open"] += 1
                if counter["open"] == counter["want"]:
                    opened.set()
    return raw


async def streams_and_requests(base, tokens, reader_token, streams):
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        await timed_gets(client, reader_token, 10)  # warm-up
        before = await timed_gets(client, reader_token, 30)
        opened, counter = asyncio.Event(), {"open": 0, "want": streams}
        started = time.monotonic()
        starting = asyncio.Semaphore(10)
        tasks = [
            asyncio.create_task(open_stream(client, tokens[i % len(tokens)], opened, counter, starting))
            for i in range(streams)
        ]
        # A stream refused at its start fails its task: stop waiting at once, not after the timeout.
        waiter = asyncio.create_task(opened.wait())
        done, _ = await asyncio.wait([waiter, *tasks], timeout=240, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            SlowModel.release.set()
            for task in done:
                task.result()
            raise AssertionError(f"only {counter['open']} of {streams} streams opened in 240 s")
        all_open_after = time.monotonic() - started
        during = await timed_gets(client, reader_token, 30)
        still_open = sum(not task.done() for task in tasks)
        SlowModel.release.set()
        bodies = await asyncio.gather(*tasks)
    return before, during, still_open, all_open_after, bodies


@pytest.mark.xfail(
    strict=False,
    reason="known defect, docs/RELIABILITY.md 'Open streams and the pool': with ~90 streams open a new "
    "chat turn can wait past the pool's 3 s and answer 503 (seen on an idle machine too)",
)
def test_a_hundred_open_streams_do_not_slow_other_requests(tmp_path, slow_model, settings):
    from tests.agent.conftest import parse_sse

    streams = 100
    tokens = tokens_for(11)
    reader, writers = tokens[0], tokens[1:]
    env = {
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,  # the tokens are signed here
        "LLM_BASE_URL": slow_model,
        "LLM_API_KEY": "test-key",
        "LLM_MODEL": "slow",
        "LLM_TOKEN_QUOTA": "100000000",
        "LLM_MAX_COMPLETION_TOKENS": "64",
        "WEB_CONCURRENCY": "2",
        **QUIET_THROTTLES,
    }
    with serve_procfile_web(tmp_path, **env) as port:
        before, during, still_open, all_open_after, bodies = asyncio.run(
            streams_and_requests(f"http://127.0.0.1:{port}", writers, reader, streams)
        )
    p50_before, p50_during = statistics.median(before) * 1000, statistics.median(during) * 1000
    print(
        f"{streams} streams open after {all_open_after:.1f} s; GET /api/v1/tasks/ p50 {p50_before:.1f} ms alone, "
        f"{p50_during:.1f} ms beside them (max {max(during) * 1000:.0f} ms); {still_open} still open after"
    )
    assert still_open == streams  # the requests ran while every stream was open
    for raw in bodies:
        events = parse_sse(raw)
        assert events.count("[DONE]") == 1 and events[-1] == "[DONE]"
        text = "".join(e["choices"][0]["delta"].get("content", "") for e in events if isinstance(e, dict))
        assert text.split() == [f"t{i}" for i in range(SlowModel.TOKENS)]  # token by token, all of them
    # Not blocked (a stream holding a pooled connection or a thread would queue them for seconds)
    # and not slowed beyond the streams' own work on these 2 shared cores.
    assert max(during) < 1.5
    assert p50_during < 3 * p50_before + 30
