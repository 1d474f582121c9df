"""The long-running commands as real processes: SIGTERM finishes the batch and exits cleanly."""

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from outbox.models import OutboxEvent
from outbox.services import enqueue
from tests.outbox.conftest import effects

ROOT = Path(__file__).resolve().parents[2]
Status = OutboxEvent.Status


def command_env(**extra):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "smartmate.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "LOG_FORMAT": "text",
    }
    env.update(extra)
    return env


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_outbox_relay_loop_stops_cleanly_on_sigterm(effect_table):
    # The child does not import the test handlers: these rows end dead ("no handler") once relayed,
    # which is enough to see the loop work; the handler paths are covered in-process.
    events = [
        enqueue(biz_type="test.broadcast", topic="smartmate.test.p", message_key=f"p:{i}", data={}, service_name="x")
        for i in range(5)
    ]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "outbox_relay", "--loop"],
        cwd=ROOT,
        env=command_env(OUTBOX_TRANSPORT="local", OUTBOX_RELAY_IDLE_SECONDS="0.2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not OutboxEvent.objects.filter(id__in=[e.id for e in events], status=Status.PENDING).exists():
                break
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err.decode()
    assert b"published=5" in out
    OutboxEvent.objects.all().delete()


@pytest.mark.postgres
@pytest.mark.kafka
@pytest.mark.django_db(transaction=True)  # the command consumes in its own thread, on its own connection
def test_outbox_consume_once_applies_what_is_on_the_topic(kafka_settings):
    event = enqueue(biz_type="test.effect", topic=kafka_settings.topic, message_key="c:1", data={"key": "cmd"})
    call_command("outbox_relay", "--once", stdout=io.StringIO())
    out = io.StringIO()
    call_command("outbox_consume", "--once", "--service", "outbox_tests", "--topic", kafka_settings.topic, stdout=out)
    assert "outbox_tests: applied=1" in out.getvalue()
    assert OutboxEvent.objects.get(id=event.id).status == Status.CONSUMED
    assert effects() == [("cmd", str(event.id))]
    OutboxEvent.objects.all().delete()
