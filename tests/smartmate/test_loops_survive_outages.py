"""The long-running loops outlive a database outage (bench/failure_injection.py): a pass that
fails on an unreachable database is logged and retried; the process does not exit."""

import io
import os
import signal

import pytest
from django.core.management import call_command
from django.db import OperationalError

from outbox import relay
from outbox.relay import RelayResult, StopFlag


def _down(*args, **kwargs):
    raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')


def test_relay_loop_keeps_running_when_lease_recovery_hits_a_database_outage(monkeypatch):
    stop = StopFlag()
    passes = []

    def drain(**kwargs):
        passes.append(1)
        stop.event.set()
        return RelayResult()

    monkeypatch.setattr(relay, "recover_leases", _down)
    monkeypatch.setattr(relay, "drain", drain)
    relay.relay_loop(stop=stop)  # before the fix the OperationalError ended the loop (and the process)
    assert passes == [1]


def test_scan_due_jobs_loop_keeps_running_through_a_database_outage(monkeypatch, keep_signal_handlers):
    from scheduling.management.commands import scan_due_jobs
    from scheduling.services.active import ScanResult

    calls = []

    def scan():
        calls.append(1)
        if len(calls) == 1:
            _down()
        os.kill(os.getpid(), signal.SIGTERM)  # the command's handler: stop after this pass
        return ScanResult(triggered=1)

    monkeypatch.setattr(scan_due_jobs, "due_jobs_scan", scan)
    monkeypatch.setattr("smartmate.health.exit_unless_parts_reachable", lambda component: None)
    out, err = io.StringIO(), io.StringIO()
    call_command("scan_due_jobs", "--loop", "--interval", "0.01", stdout=out, stderr=err)
    assert len(calls) == 2
    assert "scan failed, retrying: OperationalError" in err.getvalue()
    assert "triggered 1" in out.getvalue()


def test_scan_due_jobs_once_still_fails_loudly_on_a_database_outage(monkeypatch, keep_signal_handlers):
    from scheduling.management.commands import scan_due_jobs

    monkeypatch.setattr(scan_due_jobs, "due_jobs_scan", _down)
    with pytest.raises(OperationalError):
        call_command("scan_due_jobs", "--once", stdout=io.StringIO())


def test_deliver_notifications_loop_keeps_running_through_a_database_outage(monkeypatch, keep_signal_handlers):
    from notifications.management.commands import deliver_notifications

    calls = []

    def sweep():
        calls.append(1)
        if len(calls) == 1:
            _down()
        os.kill(os.getpid(), signal.SIGTERM)
        return {"sent": 1}

    monkeypatch.setattr(deliver_notifications, "notifications_sweep", sweep)
    monkeypatch.setattr("smartmate.health.exit_unless_parts_reachable", lambda component: None)
    out, err = io.StringIO(), io.StringIO()
    call_command("deliver_notifications", "--loop", "--interval", "0.01", stdout=out, stderr=err)
    assert len(calls) == 2
    assert "sweep failed, retrying: OperationalError" in err.getvalue()
    assert "notifications: sent 1" in out.getvalue()
