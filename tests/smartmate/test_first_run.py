"""The first run of `make run` (docs/ARCHITECTURE.md §9): text logs on a terminal and JSON
elsewhere, beat's routine task lines at DEBUG so an idle run is quiet, the filesystem
broker's control folder under var/."""

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run_recipe_log_format_line() -> str:
    recipe = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    (line,) = [line.strip() for line in recipe.splitlines() if "LOG_FORMAT=" in line]
    # The make line as the shell sees it: $$ is $, and the continuation names what it starts.
    return line.replace("$$", "$").rstrip("\\").strip()


def _log_format(*, terminal: bool, env_format: str | None = None) -> str:
    script = _run_recipe_log_format_line() + ' sh -c \'printf "%s" "$LOG_FORMAT"\' >&2'
    env = {k: v for k, v in os.environ.items() if k != "LOG_FORMAT"}
    if env_format:
        env["LOG_FORMAT"] = env_format
    if not terminal:
        return subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, check=True).stderr
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(["sh", "-c", script], env=env, stdout=follower, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(follower)
        os.close(leader)
    return done.stderr


def test_make_run_logs_text_on_a_terminal_and_json_when_its_output_goes_elsewhere():
    assert _log_format(terminal=True) == "text"
    assert _log_format(terminal=False) == "json"


def test_log_format_set_by_the_operator_wins_over_the_terminal_check():
    assert _log_format(terminal=True, env_format="json") == "json"


def test_json_stays_the_default_outside_make_run():
    env = {k: v for k, v in os.environ.items() if k not in ("LOG_FORMAT", "DJANGO_SETTINGS_MODULE")}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.LOG_FORMAT)",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "smartmate.settings", "SECRET_KEY": "x" * 50, "DEBUG": "1"},
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "json", out.stderr


_CELERY_LINES = """
import django
django.setup()
import logging
from celery.app import trace
from celery.worker import strategy
for name in ("outbox.tasks.relay", "smartmate.tests.adhoc"):
    logging.getLogger(strategy.__name__).info(trace.LOG_RECEIVED, {"name": name, "id": "1"})
    ok = {"name": name, "id": "1", "runtime": 0.01, "return_value": "{}", "args": "", "kwargs": ""}
    trace.info(trace.LOG_SUCCESS, ok)
logging.getLogger("celery.beat").info("Scheduler: Sending due task %s (%s)", "outbox-relay", "outbox.tasks.relay")
failed = {"name": "outbox.tasks.relay", "id": "2", "description": "raised", "exc": "boom"}
logging.getLogger("celery.app.trace").error(trace.LOG_FAILURE, failed)
"""


def _celery_log(level: str) -> list[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "smartmate.settings_test", "LOG_FORMAT": "text", "LOG_LEVEL": level}
    done = subprocess.run([sys.executable, "-c", _CELERY_LINES], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stderr.splitlines() if re.search(r" (DEBUG|INFO|ERROR) celery", line)]


def test_routine_task_lines_of_the_beat_schedule_are_debug_so_an_idle_run_is_quiet():
    lines = _celery_log("INFO")
    assert not [line for line in lines if "outbox.tasks.relay" in line and "ERROR" not in line], lines
    assert sum("smartmate.tests.adhoc" in line and " INFO " in line for line in lines) == 2  # other tasks keep INFO
    assert any(" ERROR " in line and "outbox.tasks.relay" in line for line in lines)  # a failure still shows


def test_routine_task_lines_show_at_debug_when_asked():
    lines = _celery_log("DEBUG")
    routine = [line for line in lines if "outbox.tasks.relay" in line and " DEBUG " in line]
    assert len(routine) == 3, lines  # received, succeeded, beat's sending


_BROKER = """
import django
django.setup()
from django.conf import settings
from kombu import Connection, Exchange, Queue
options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
with Connection("filesystem://", transport_options=options) as connection:
    Queue("smartmate-first-run", Exchange("smartmate-first-run", type="fanout"))(connection.default_channel).declare()
print(options["control_folder"])
"""


def test_the_filesystem_broker_keeps_its_exchange_tables_under_var(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "smartmate.settings_test", "CELERY_BROKER_URL": "filesystem://"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", _BROKER], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    control = Path(done.stdout.strip())
    table = control / "smartmate-first-run.exchange"
    try:
        assert not (tmp_path / "control").exists()  # kombu's default: the working directory
        assert control.parent == ROOT / "var" and table.exists()
        ignored = subprocess.run(["git", "check-ignore", "-q", str(table)], cwd=ROOT)
        assert ignored.returncode == 0
    finally:
        table.unlink(missing_ok=True)
