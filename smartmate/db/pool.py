"""The PostgreSQL connection pool (Django's `OPTIONS["pool"]`, psycopg_pool), made safe here.

Why a pool: under ASGI every request runs in a thread of its own, so Django's persistent
connections (`CONN_MAX_AGE`) would pile up, and without them each request opened and
authenticated a new PostgreSQL backend (bench/load.py: about half of the database's CPU).
The pool keeps `DB_POOL_MAX_SIZE` connections per process and lends one to each request.

Three things the stock setup gets wrong for us:

- The health check on checkout runs before any statement, so the query deadline never saw
  it: against a frozen server it would wait for ever. `check_connection` runs it under the
  request's deadline (none in workers and commands, as for their statements).
- A pool is per process, with worker threads and open sockets: a forked child (gunicorn
  with --preload, Celery's prefork pool) must not use, or even garbage-collect, its parent's
  (`_forget_inherited_pools`).
- /healthz and start-up must test the server, not the pool (`unpooled_connection`).
"""

from __future__ import annotations

import os
import sys

_inherited = []  # parents' pools, kept referenced so their sockets are never closed in a child


def check_connection(conn) -> None:
    """psycopg_pool's check on checkout, cut like a statement when the request's deadline passes.

    An empty query answers in a millisecond, so the check gets no more than the pool's own
    wait: a request on a frozen server then costs about DB_POOL_TIMEOUT_SECONDS, as a new
    connection's connect_timeout did before the pool, not the statement deadline on top.
    """
    from django.db import connections
    from psycopg_pool import ConnectionPool

    from .deadline import guarded

    wrapper = connections["default"]
    seconds = getattr(wrapper, "query_deadline", None)
    if seconds:
        seconds = min(seconds, wrapper.settings_dict["OPTIONS"]["pool"]["timeout"])
    with guarded(conn, seconds, "pool health check"):
        ConnectionPool.check_connection(conn)


def pool_options(max_size: int, min_size: int, timeout: float) -> dict:
    return {
        "min_size": min(min_size, max_size),
        "max_size": max_size,
        "timeout": timeout,  # waiting for a free connection; then PoolTimeout, answered 503
        "max_idle": 300,
        "name": "smartmate",
    }


def unpooled_connection(alias: str = "default"):
    """A new Django connection of its own, outside the pool: a probe must reach the server."""
    from django.db import connections

    wrapper = connections.create_connection(alias)
    options = wrapper.settings_dict.get("OPTIONS", {})
    if "pool" in options:
        wrapper.settings_dict = {
            **wrapper.settings_dict,
            "OPTIONS": {key: value for key, value in options.items() if key != "pool"},
        }
    return wrapper


def _forget_inherited_pools() -> None:
    backend = sys.modules.get("django.db.backends.postgresql.base")
    if backend is None:  # nothing imported it: no pool can exist yet
        return
    pools = backend.DatabaseWrapper._connection_pools
    _inherited.extend(pools.values())
    pools.clear()  # the child opens its own on first use


os.register_at_fork(after_in_child=_forget_inherited_pools)


def release_connection(alias: str = "default") -> None:
    """Hand this thread's connection back to the pool while the caller waits on something
    else: a chat stream waiting on its model must not keep one of the DB_POOL_MAX_SIZE
    connections every other request of the process shares (tests/smartmate/test_serving.py).
    The next query takes one again. Never inside a transaction; without a pool (DB_POOL_MAX_SIZE=0)
    nothing is done, as closing would only make the next query open a new server connection."""
    from django.db import connections

    connection = connections[alias]
    pooled = bool(connection.settings_dict.get("OPTIONS", {}).get("pool"))
    if pooled and connection.connection is not None and not connection.in_atomic_block:
        connection.close()
