"""The URLs handed out point at the deployment that serves them: PUBLIC_BASE_URL follows the
serving PORT under `make run`, and calendar UIDs carry the deployment's host."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from icalendar import Calendar

from tests.conftest import production_env

ROOT = Path(__file__).resolve().parents[2]
PRINT_URL = "from django.conf import settings; import django; django.setup(); print(settings.PUBLIC_BASE_URL)"


def _settings_url(**env):
    base = {k: v for k, v in production_env().items() if k not in ("PUBLIC_BASE_URL", "PORT")}
    result = subprocess.run(
        [sys.executable, "-c", PRINT_URL], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_public_base_url_defaults_to_the_serving_port():
    assert _settings_url(PORT="8123") == "http://127.0.0.1:8123"
    assert _settings_url() == "http://127.0.0.1:8000"
    assert _settings_url(PORT="8123", PUBLIC_BASE_URL="https://plan.example.edu/") == "https://plan.example.edu"


def test_make_run_hands_every_process_the_url_of_its_port():
    """honcho gives each Procfile process a PORT of its own (5000, 5100, ...): the worker, which
    writes notification links, must still get the web port's URL."""
    outer = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}  # under `make test`
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", "PORT=8123"],
        cwd=ROOT,
        env=outer,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    lines = [line for line in dry.replace("\\\n", " ").splitlines() if "honcho start" in line]
    assert len(lines) == 1, dry
    line = lines[0]
    command = re.sub(r"\S*honcho start -f Procfile", f"{sys.executable} -c '{PRINT_URL}'", line)
    env = {k: v for k, v in production_env().items() if k != "PUBLIC_BASE_URL"}
    env["PORT"] = "5100"  # what honcho would give the second process
    result = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "http://127.0.0.1:8123"


@pytest.mark.django_db
def test_calendar_uids_name_the_deployment_host(settings, user, api_client):
    from accounts.services import calendar_token_rotate
    from scheduling import services
    from scheduling.services import EventSpec

    settings.PUBLIC_BASE_URL = "https://plan.example.edu"
    services.events_create(user=user, events=[EventSpec(title="Lab", week=1, day=1, start_section=1, end_section=2)])
    secret = calendar_token_rotate(user=user)
    calendar = Calendar.from_ical(api_client.get(f"/api/v1/calendar/{secret}.ics").content)
    (uid,) = [str(v["UID"]) for v in calendar.walk("VEVENT")]
    assert re.fullmatch(r"event-\d+@plan\.example\.edu", uid), uid
