"""Wake a waiting relay when enqueued rows commit: PostgreSQL LISTEN on one channel.

The outbox table's INSERT trigger notifies PENDING_CHANNEL from the enqueuing
transaction, so a notification arrives only once that transaction has committed.
A wake-up is a hint, never a unit of work: `wait` returns on the first notification
and swallows every other one already received, and the relay then claims full batches
until a claim comes back short. So a burst of a thousand commits costs a few claims,
not a thousand one-row batches.

Rules the relay relies on (docs/DOMAIN.md §1):
- drain BEFORE claiming: a notification that arrives during a claim stays queued and
  makes the next wait return at once, so no commit is missed between claim and wait;
- a notification whose row is not visible yet (it cannot happen with the trigger, but
  any session may NOTIFY) costs one empty claim;
- the listening connection is its own (autocommit, outside Django's), and when it
  drops, the relay polls until it is back; the first wait after a (re)connect returns
  at once, since commits in the gap were not heard.
"""

import logging
import threading
import time

from django.db import connection

from outbox.models import PENDING_CHANNEL

logger = logging.getLogger(__name__)
# A wait is cut into slices so SIGTERM (which only sets a flag) is seen within one.
_SLICE_SECONDS = 0.5
_RECONNECT_SECONDS = 5.0


class PendingListener:
    def __init__(self, conninfo: dict):
        self._conninfo = conninfo
        self._conn = None
        self._next_connect = 0.0
        self._fresh = False
        self.wakeups = 0  # waits ended by a notification (for tests and benches)

    @classmethod
    def for_default_database(cls) -> "PendingListener | None":
        """A listener on Django's default database when it is PostgreSQL; None elsewhere (the relay polls)."""
        if connection.vendor != "postgresql":
            return None
        params = connection.get_connection_params()
        conninfo = {k: v for k, v in params.items() if k not in {"cursor_factory", "context", "prepare_threshold"}}
        listener = cls(conninfo)
        listener.ready()
        return listener

    def ready(self) -> bool:
        """Listening now; reconnects (at most every few seconds) after the connection dropped."""
        if self._conn is not None and not self._conn.closed:
            return True
        if time.monotonic() < self._next_connect:
            return False
        self._next_connect = time.monotonic() + _RECONNECT_SECONDS
        try:
            import psycopg

            self._conn = psycopg.connect(**self._conninfo, autocommit=True)
            self._conn.execute(f"LISTEN {PENDING_CHANNEL}")
        except Exception as exc:
            logger.warning("outbox: cannot LISTEN for new rows (polling meanwhile): %s", exc)
            self.close()
            return False
        self._fresh = True
        return True

    def wait(self, *, timeout: float, stop: threading.Event | None = None) -> bool:
        """Until a notification, `timeout` or `stop`; True when woken by a notification.

        Every notification received by then is consumed: one wake-up stands for all of them.
        """
        if self._fresh:
            self._fresh = False
            return True
        deadline = time.monotonic() + timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (stop is not None and stop.is_set()):
                    return False
                woken = False
                for _ in self._conn.notifies(timeout=min(remaining, _SLICE_SECONDS), stop_after=1):
                    woken = True
                if woken:
                    self.drain()
                    self.wakeups += 1
                    return True
        except Exception as exc:  # the connection dropped: poll until it is back
            logger.warning("outbox: lost the LISTEN connection: %s", exc)
            self.close()
            return False

    def drain(self) -> int:
        """Consume the notifications already received, without waiting; returns how many."""
        return sum(1 for _ in self._conn.notifies(timeout=0))

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                logger.debug("outbox: closing the LISTEN connection raised", exc_info=True)
