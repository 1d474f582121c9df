"""Handlers of the test service `outbox_tests`: each effect is a row with a unique key."""

from django.db import connection

from outbox.registry import Envelope, handles, publish_only

SERVICE = "outbox_tests"
FLAKY: dict[str, int] = {}  # key -> failures still to raise
ALWAYS_FAIL = "always-fail"


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


publish_only("test.broadcast")
