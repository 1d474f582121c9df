"""Handlers of the test service `outbox_tests`: each effect is a row with a unique key."""

import os
import signal

from django.db import connection, transaction

from outbox.registry import Envelope, handles, publish_only

SERVICE = "outbox_tests"
FLAKY: dict[str, int] = {}  # key -> failures still to raise
ALWAYS_FAIL = "always-fail"
WRITE_THEN_FAIL = "write-then-fail"  # writes its effect, then raises: the write must be undone
# With OUTBOX_TEST_KILL_AFTER_COMMIT=1 in its environment, the process applying this key's
# event SIGKILLs itself once the batch's transaction has committed, before anything else runs
# (the consumer's offset commit included).
KILL_AFTER_COMMIT = "kill-after-commit"
BATCH_CALLS: list[int] = []  # sizes of the lists the batch-form handler was called with


def _insert(key: str, event_id: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO outbox_test_effect (key, event_id) VALUES (%s, %s)", [key, event_id])


@handles("test.effect", service=SERVICE)
def apply_effect(event: Envelope) -> None:
    key = event.data["key"]
    if key == ALWAYS_FAIL:
        raise RuntimeError("this handler always fails")
    if FLAKY.get(key, 0) > 0:
        FLAKY[key] -= 1
        raise RuntimeError(f"flaky handler for {key}")
    _insert(key, event.event_id)
    if key == WRITE_THEN_FAIL:
        raise RuntimeError("failed after writing its effect")
    if key == KILL_AFTER_COMMIT and os.environ.get("OUTBOX_TEST_KILL_AFTER_COMMIT") == "1":
        transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))


@handles("test.effects", service=SERVICE, many=True)
def apply_effects(events: list[Envelope]) -> None:
    """The batch form: one INSERT for every event of the call."""
    BATCH_CALLS.append(len(events))
    rows = [(event.data["key"], event.event_id) for event in events]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO outbox_test_effect (key, event_id) VALUES " + ", ".join(["(%s, %s)"] * len(rows)),
            [value for row in rows for value in row],
        )
    if any(key == ALWAYS_FAIL for key, _ in rows):
        raise RuntimeError("this batch holds an event that always fails")


@handles("test.noop", service=SERVICE)
def do_nothing(event: Envelope) -> None:
    pass


publish_only("test.broadcast")
