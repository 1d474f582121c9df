"""The loop skeleton every long-running command runs on (smartmate.loops, docs/ARCHITECTURE.md §5):
stop on SIGTERM/SIGINT after the pass in progress, survive a failing pass and report a run of
failures once, run the start-up checks first."""

import io
import logging
import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.db import OperationalError

from smartmate.loops import Stop, run_command_loop, run_passes
from tests.outbox.test_processes import ROOT, command_env


def test_a_run_of_failing_passes_is_reported_once_and_its_end_once(caplog):
    stop, passes, reported = Stop(), [], []

    def one_pass():
        passes.append(1)
        if len(passes) <= 3:
            raise OperationalError("connection to server failed: Connection refused")
        stop.set()
        return False

    with caplog.at_level(logging.DEBUG, logger="smartmate.loops"):
        run_passes(one_pass, stop=stop, idle=0.01, retry_seconds=0.01, report=reported.append, what="scan")
    assert len(passes) == 4
    assert reported == ["scan failed, retrying: OperationalError: connection to server failed: Connection refused"]
    assert [r.levelno for r in caplog.records if "failed again" in r.getMessage()] == [logging.DEBUG] * 2
    assert any("works again after 3 failed attempt(s)" in r.getMessage() for r in caplog.records)


def test_a_different_error_is_reported_again():
    stop, reported = Stop(), []
    errors = [OperationalError("down"), OperationalError("down"), ValueError("bad row")]

    def one_pass():
        if errors:
            raise errors.pop(0)
        stop.set()
        return False

    run_passes(one_pass, stop=stop, idle=0.01, retry_seconds=0.01, report=reported.append)
    assert reported == ["pass failed, retrying: OperationalError: down", "pass failed, retrying: ValueError: bad row"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_loop_after_the_pass_in_progress_and_puts_the_handler_back(sig, keep_signal_handlers):
    before = signal.getsignal(sig)
    passes = []

    def one_pass():
        passes.append(1)
        os.kill(os.getpid(), sig)
        return True  # "more work waiting": only the signal ends the loop

    run_command_loop("test", one_pass, checks=False, idle=60)
    assert passes == [1]
    assert signal.getsignal(sig) == before


@pytest.mark.parametrize(
    "command",
    [
        ["outbox_relay", "--loop"],
        ["outbox_consume", "--loop"],
        ["scan_due_jobs", "--loop"],
        ["deliver_notifications", "--loop"],
    ],
)
def test_every_long_running_command_runs_the_start_up_checks_first(command, monkeypatch, settings):
    checked = []

    def refuse(component):
        checked.append(component)
        raise SystemExit(1)

    settings.OUTBOX_TRANSPORT = "kafka"  # outbox_consume has nothing to do on the local transport
    monkeypatch.setattr("smartmate.health.exit_unless_parts_reachable", refuse)
    with pytest.raises(SystemExit):
        call_command(*command, stdout=io.StringIO(), stderr=io.StringIO())
    assert checked == [command[0]]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "command",
    [["scan_due_jobs", "--loop", "--interval", "0.2"], ["deliver_notifications", "--loop", "--interval", "0.2"]],
)
def test_a_long_running_command_process_exits_cleanly_on_sigterm(command):
    process = subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=command_env(PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        first = process.stdout.readline()  # after the start-up checks, with the handlers installed
        assert first, process.communicate()[1].decode()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=20)  # the pass in progress finishes, then it exits
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err.decode()  # not -15: the handler stopped it, not the signal
