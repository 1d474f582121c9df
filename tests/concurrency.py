"""Real threads released together, for concurrency claims on PostgreSQL."""

import random
import threading
import time

from django.db import OperationalError, connection


def _connect(deadline):
    """Open this thread's connection. A server that is full (other test runs share it) is waited
    for, so a claim about 100 concurrent operations is not failed by the machine's other clients;
    nothing has run yet when a connection is refused, so waiting changes no outcome."""
    while True:
        try:
            connection.ensure_connection()
            return
        except OperationalError as exc:
            if "too many clients" not in str(exc) or time.monotonic() > deadline:
                raise
            connection.close()
            time.sleep(0.05 + random.random() * 0.1)


def run_concurrently(count, work, *, timeout=60, close_caller_connection=False):
    """Run work(i) for i in range(count) in `count` threads released together by a barrier.

    Returns each call's return value, or the exception it raised, in index order. Every
    thread closes its own database connection. PostgreSQL's default max_connections is
    100: with `close_caller_connection` the calling thread's connection is closed first,
    so 100 threads can have every slot.
    """
    barrier = threading.Barrier(count)
    outcomes = [None] * count

    def run(index):
        try:
            barrier.wait(timeout=timeout)
            _connect(time.monotonic() + timeout / 2)
            outcomes[index] = work(index)
        except Exception as exc:  # returned to the caller, which asserts on it
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,), name=f"concurrent-{i}") for i in range(count)]
    if close_caller_connection:
        connection.close()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return outcomes


def errors_of(outcomes):
    return [outcome for outcome in outcomes if isinstance(outcome, Exception)]
