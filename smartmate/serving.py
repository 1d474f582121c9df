"""How the web process serves: request/response through Django's WSGI handler, streams through
its ASGI handler, on one port (docs/ARCHITECTURE.md, "Serving").

The agent's chat streams (server-sent events) must hold no thread while a model is slow,
so they need ASGI. Every other request is a short synchronous Django view, and under
Django's ASGIHandler such a view pays for the async machinery around it (a thread hop per
sync middleware adapter, the body spooled to a temporary file, a fresh thread per request so
no connection is reused): several times its cost under plain WSGI. So one ASGI server
(uvicorn workers under gunicorn) hands requests to one of two apps by path:

- `STREAMING_PATHS` (the two chat endpoints, JSON or SSE) → Django's ASGIHandler, as before;
- every other path → Django's WSGIHandler through `WSGIBridge`: the body is read on the event
  loop, then the whole request runs in one thread of a fixed pool (one hop there, one back),
  and the response goes out as one message.

A proxy in front may split the same way: `STREAMING_PATHS` to processes that serve streams,
the rest to any web process (README.md, "Serving").
"""

from __future__ import annotations

import asyncio
import io
import re
import sys
from concurrent.futures import ThreadPoolExecutor

# The paths that may stream: POST /api/v1/agent/chat/ and /api/v1/agent/conversations/{id}/chat/.
STREAMING_PATHS = re.compile(r"/api/v1/agent/(?:conversations/[^/]+/)?chat/")

_NO_BODY_STATUSES = frozenset({204, 304})


class WSGIBridge:
    """A WSGI application served from ASGI: the request's body first, read on the loop, then
    the application in a pool thread, its response collected and sent as one message.

    Only for responses that end: a streaming WSGI body is collected whole before it is sent
    (the streams are routed to ASGI instead). The body is capped before it gets here
    (smartmate/body_limit.py), so reading it into memory is bounded.
    """

    def __init__(self, app, *, threads: int):
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wsgi")

    async def __call__(self, scope, receive, send):
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # gone before the body ended: nothing to answer
            body += message.get("body", b"")
            more = message.get("more_body", False)
        environ = wsgi_environ(scope, body)
        loop = asyncio.get_running_loop()
        status, headers, content = await loop.run_in_executor(self.executor, self._run, environ)
        framed = any(name == b"content-length" for name, _ in headers)
        if not framed and scope["method"] != "HEAD" and status >= 200 and status not in _NO_BODY_STATUSES:
            headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _run(self, environ):
        started = []
        chunks = []

        def start_response(status, headers, exc_info=None):
            # Nothing is sent before the application returns, so a later call (with exc_info)
            # simply replaces the first.
            started[:] = [int(status[:3]), [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in headers]]
            return chunks.append  # the legacy write() callable

        result = self.app(environ, start_response)
        try:
            for chunk in result:
                if chunk:
                    chunks.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()  # Django's request_finished: the connection goes back to the pool
        return started[0], started[1], b"".join(chunks)

    def shutdown(self):
        self.executor.shutdown(wait=False, cancel_futures=True)


def wsgi_environ(scope, body: bytes) -> dict:
    """PEP 3333's environ for an ASGI HTTP scope (strings are latin-1 "bytes as text")."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode().decode("latin1"),
        "PATH_INFO": scope["path"].encode().decode("latin1"),
        "QUERY_STRING": scope["query_string"].decode("latin1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] or 80),
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": str(client[1]),
        "SERVER_PROTOCOL": "HTTP/" + scope.get("http_version", "1.1"),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in scope["headers"]:
        key = name.decode("latin1").upper().replace("-", "_")
        if key not in ("CONTENT_LENGTH", "CONTENT_TYPE"):
            key = "HTTP_" + key
        value = value.decode("latin1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


class PathRouter:
    """`STREAMING_PATHS` to the streaming (ASGI) app, every other HTTP request to the WSGI
    bridge; the lifespan protocol is answered here (neither Django handler speaks it)."""

    def __init__(self, *, streaming, default: WSGIBridge):
        self.streaming = streaming
        self.default = default

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind == "http":
            if STREAMING_PATHS.fullmatch(scope["path"]):
                return await self.streaming(scope, receive, send)
            return await self.default(scope, receive, send)
        if kind == "lifespan":
            return await self._lifespan(receive, send)
        return await self.streaming(scope, receive, send)  # websocket: Django refuses it

    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.default.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
