"""The request-body cap at the ASGI layer, in front of Django (wrapped in smartmate/asgi.py).

Django's ASGIHandler reads the *whole* body into a temporary file before any middleware
runs, so JsonErrorMiddleware's Content-Length check comes too late under ASGI, and a body
sent with `Transfer-Encoding: chunked` (no Content-Length) is never checked at all. Here:

- a declared Content-Length over the path's cap → 413 at once, nothing read (the cap is
  MAX_BODY_BYTES, or a file upload route's own in UPLOAD_BODY_CAPS: `body_cap`);
- a declared Content-Length within the cap → passed through untouched (the HTTP server
  enforces the framing: it never delivers more than the declared length);
- no Content-Length (chunked) → read up to the cap as it arrives; one byte more and the
  client gets the 413 with `Connection: close`, the rest is never read and Django never
  sees the request. Within the cap the body is handed to Django as one message with a
  Content-Length it can trust, so a streamed JSON body works like any other (Django and
  DRF otherwise read a body without Content-Length as empty).

The 413 carries the same error JSON as JsonErrorMiddleware's (errors.payload_too_large),
which still guards WSGI and the test client. Unlike that middleware it also covers /admin/
(no admin form uploads files), and as it answers before Django it has no X-Request-ID and
is not in Django's request metrics; it is logged (without the path) on smartmate.errors.
"""

import json
import logging

logger = logging.getLogger("smartmate.errors")


def body_cap(path: str) -> int:
    """The most a request body to `path` may be: MAX_BODY_BYTES, or the larger cap of a file
    upload route (UPLOAD_BODY_CAPS). The one rule both guards apply."""
    from django.conf import settings

    return settings.UPLOAD_BODY_CAPS.get(path, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


class BodyLimitMiddleware:
    """Pure ASGI middleware: no request body over MAX_BODY_BYTES ever reaches `app`."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        max_body = body_cap(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None:
            if declared.strip().isdigit() and int(declared) > max_body:
                return await self._refuse(scope, send, "declared", max_body)
            return await self.app(scope, receive, send)  # within the cap, or not a number (Django: 400)

        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None  # the client left before the body ended: nothing to answer (as Django does)
            body += message.get("body", b"")
            if len(body) > max_body:
                return await self._refuse(scope, send, "chunked", max_body)
            if not message.get("more_body", False):
                break
        if body:
            scope = _with_content_length(scope, len(body))
        return await self.app(scope, _replay(bytes(body), receive), send)

    async def _refuse(self, scope, send, framing, max_body):
        from smartmate.errors import error_body, payload_too_large

        # No path: a calendar feed's secret is in its URL.
        logger.warning("%s request with a %s body over %d bytes refused", scope["method"], framing, max_body)
        content = json.dumps(error_body(*payload_too_large(max_body))).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                    (b"x-content-type-options", b"nosniff"),
                    # The rest of the body is never read, so the connection cannot be reused.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content, "more_body": False})


def _header(scope, name):
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value
    return None


def _with_content_length(scope, length):
    """The same scope, its body now framed by Content-Length instead of chunked."""
    headers = [(k, v) for k, v in scope["headers"] if k.lower() not in (b"content-length", b"transfer-encoding")]
    return {**scope, "headers": [*headers, (b"content-length", str(length).encode())]}


def _replay(body, receive):
    """A receive that gives the buffered body as one message, then the server's own
    (so Django still hears http.disconnect while it answers)."""
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
