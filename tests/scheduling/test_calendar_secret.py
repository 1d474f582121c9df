"""The calendar feed's secret is a credential: only its hash is stored, it never reaches an
access log, and the feed is limited per client address and per secret."""

import importlib
import logging

import httpx
import pytest

from accounts.models import User, calendar_secret_digest
from accounts.services import calendar_token_rotate
from tests.conftest import serve_procfile_web

pytestmark = pytest.mark.django_db


def feed(client, secret, **extra):
    return client.get(f"/api/v1/calendar/{secret}.ics", **extra)


def test_only_a_hash_of_the_secret_is_stored_and_the_feed_still_opens(api_client, user):
    secret = calendar_token_rotate(user=user)
    stored = User.objects.filter(pk=user.pk).values_list("calendar_secret_hash", flat=True).get()
    assert stored == calendar_secret_digest(secret) and secret not in stored
    assert feed(api_client, secret).status_code == 200
    assert feed(api_client, stored).status_code == 404  # the stored value is no key to the feed


def test_a_new_token_ends_the_old_url(api_client, user):
    old = calendar_token_rotate(user=user)
    new = calendar_token_rotate(user=user)
    assert feed(api_client, old).status_code == 404
    assert feed(api_client, new).status_code == 200


def test_the_migration_hashes_existing_secrets_so_their_urls_keep_working(api_client, user):
    migration = importlib.import_module("accounts.migrations.0002_calendar_secret_hash")
    legacy = "legacy-secret-made-before-hashing-0123456789abc"
    User.objects.filter(pk=user.pk).update(calendar_secret_hash=legacy)  # as the old column held it
    from django.apps import apps

    migration.hash_secrets(apps, None)
    assert feed(api_client, legacy).status_code == 200


def test_the_feed_is_limited_per_client_address(api_client, user, settings):
    settings.THROTTLE_CALENDAR_RATE = "3/min"
    statuses = [feed(api_client, f"unknown-{n}").status_code for n in range(4)]
    assert statuses == [404, 404, 404, 429]


def test_the_feed_is_limited_per_secret_from_any_address(api_client, user, settings):
    settings.THROTTLE_CALENDAR_SECRET_RATE = "2/min"
    secret = calendar_token_rotate(user=user)
    statuses = [feed(api_client, secret, REMOTE_ADDR=f"203.0.113.{n}").status_code for n in range(3)]
    assert statuses == [200, 200, 429]
    assert feed(api_client, calendar_token_rotate(user=user)).status_code == 200  # a new secret, a new limit


def test_the_access_log_filter_masks_gunicorn_and_uvicorn_records():
    from smartmate.observability import AccessLogSecretFilter

    gunicorn = logging.LogRecord("gunicorn.access", 20, "", 0, "%(r)s %(s)s", None, None)
    gunicorn.args = {"r": "GET /api/v1/calendar/s3cr3t.ics HTTP/1.1", "s": "200"}
    args = ("1.2.3.4", "GET", "/api/v1/calendar/s3cr3t.ics", "1.1", 200)
    uvicorn = logging.LogRecord("uvicorn.access", 20, "", 0, '%s - "%s %s HTTP/%s" %d', args, None)
    for record in (gunicorn, uvicorn):
        AccessLogSecretFilter().filter(record)
        assert "s3cr3t" not in record.getMessage() and "/api/v1/calendar/***.ics" in record.getMessage()
    assert isinstance(uvicorn.args, tuple) and len(uvicorn.args) == 5  # uvicorn's formatter unpacks it


@pytest.mark.timeout(90)
def test_the_web_process_access_log_never_shows_the_secret(tmp_path):
    secret = "Zm9vYmFyLXNlY3JldC10aGF0LW11c3Qtbm90LWxlYWs"
    with serve_procfile_web(tmp_path) as port:
        # Any answer will do (the embedded default here has no tables): the log line is the point.
        httpx.get(f"http://127.0.0.1:{port}/api/v1/calendar/{secret}.ics", timeout=30)
    log = (tmp_path / "web.log").read_text()
    assert "/api/v1/calendar/***.ics" in log, log[-2000:]
    assert secret not in log
