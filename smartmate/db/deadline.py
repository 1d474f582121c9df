"""A client-side deadline for PostgreSQL statements issued while serving a request.

Why not `statement_timeout`: a server that is frozen (a stopped host, a hung process, a network
partition that drops packets silently) never fires its own timeout, and psycopg waits on the
socket for ever; TCP keepalive does not help while the peer's kernel still acknowledges. The
failure-injection run saw requests wait out a 15 s PostgreSQL hang and answer after it.

So one watchdog thread per process keeps the armed statements' deadlines. When one passes, it
shuts the connection's socket down: psycopg's wait returns at once with an error, the request
answers 503 `service_unavailable`, and Django drops the connection (it is unusable). The server
sees the connection close and rolls back its open transaction, so nothing is half-written;
only a COMMIT that reached the server before it froze stays ambiguous, as for any client.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import OperationalError, connections

logger = logging.getLogger("smartmate.db")


class QueryDeadlineExceeded(OperationalError):
    """The statement outlived its deadline and its connection was cut."""


class _Watchdog:
    """Checks the armed statements a few times a second.

    A tick, not a wake-up per statement: arming is then a dict insert under a lock, while
    waking a thread for each statement cost the web workers measurable CPU under load.
    """

    TICK_SECONDS = 0.1

    def __init__(self):
        self._reset()

    def _reset(self):
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, int, str]] = {}  # token -> (due, socket fd, what)
        self._fired: set[int] = set()
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, fd: int, seconds: float, what: str) -> int:
        token = next(self._tokens)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="db-deadline", daemon=True)
                self._thread.start()
            self._armed[token] = (time.monotonic() + seconds, fd, what)
        return token

    def disarm(self, token: int) -> bool:
        """Forget the statement; True when the watchdog had already cut its connection."""
        with self._lock:
            if self._armed.pop(token, None) is None and token in self._fired:
                self._fired.discard(token)
                return True
            return False

    @property
    def armed_count(self) -> int:
        with self._lock:
            return len(self._armed)

    def _run(self):
        while True:
            time.sleep(self.TICK_SECONDS)
            now = time.monotonic()
            with self._lock:
                for token in [token for token, (due, _, _) in self._armed.items() if due <= now]:
                    _due, fd, what = self._armed.pop(token)
                    self._fired.add(token)
                    # Under the lock, so the statement cannot have finished and its fd been reused.
                    _cut(fd, what)


def _cut(fd: int, what: str) -> None:
    logger.warning("database statement passed its deadline; cutting the connection: %s", what[:80])
    try:
        # shutdown() acts on the socket, not the descriptor, so a duplicate is enough and
        # psycopg keeps owning (and later closing) its own.
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        logger.debug("connection already closed", exc_info=True)


watchdog = _Watchdog()
# gunicorn forks after import: a child starts with no watchdog thread and a fresh lock.
os.register_at_fork(after_in_child=watchdog._reset)


@contextmanager
def within_deadline(wrapper, what: str):
    """A statement on this Django connection, under its `query_deadline`."""
    with guarded(wrapper.connection, wrapper.query_deadline, what):
        yield


@contextmanager
def guarded(conn, seconds: float | None, what: str):
    """Cut psycopg connection `conn` if the block has not finished within `seconds` (None: no limit)."""
    if not seconds or conn is None or conn.closed:
        yield
        return
    token = watchdog.arm(conn.fileno(), seconds, what)
    try:
        yield
    except Exception as exc:
        if watchdog.disarm(token):
            raise QueryDeadlineExceeded(f"no answer from the database within {seconds:g} s") from exc
        raise
    else:
        # Cut just after the answer arrived: the statement stands, and the next one on this
        # connection fails and drops it.
        watchdog.disarm(token)


class QueryDeadlineMiddleware:
    """Arms the deadline (settings.DB_QUERY_DEADLINE_SECONDS) for this request's statements."""

    # Sync only, stated: under WSGI nothing adapts it; under ASGI (the SSE process) Django adapts
    # the chain of sync middleware at its ends only, as for any sync middleware.
    sync_capable, async_capable = True, False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        wrapper = connections["default"]
        if not hasattr(wrapper, "query_deadline"):  # SQLite: a local file cannot hang that way
            return self.get_response(request)
        wrapper.query_deadline = settings.DB_QUERY_DEADLINE_SECONDS or None
        try:
            return self.get_response(request)
        finally:
            wrapper.query_deadline = None
