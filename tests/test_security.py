"""Security review (docs/RELIABILITY.md): deploy checks on the production settings,
password hashing and validators, the pinned JWT algorithm and key, security headers, body
limits, no secrets in logs, and no SQL built from strings."""

import base64
import json
import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_SECRET = secrets.token_urlsafe(64)


def production_env(**extra):
    """The environment of a production deployment: no DEBUG, behind HTTPS, a long key, named hosts."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "smartmate.settings",
        "DEBUG": "0",
        "HTTPS": "1",
        "SECRET_KEY": PRODUCTION_SECRET,
        "ALLOWED_HOSTS": "api.smartmate.example",
        "SQLITE_PATH": str(ROOT / "var" / "deploy-check.sqlite3"),
    }
    env.update(extra)
    return env


def _run(args, env):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_check_deploy_is_clean_with_the_production_settings():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout, result.stdout + result.stderr


def test_production_settings_hash_passwords_and_pin_the_jwt_algorithm_and_key():
    probe = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'hasher': s.PASSWORD_HASHERS[0], 'validators': [v['NAME'] for v in "
        "s.AUTH_PASSWORD_VALIDATORS], 'alg': s.SIMPLE_JWT['ALGORITHM'], 'key': s.SIMPLE_JWT['SIGNING_KEY'], "
        "'secure': [s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS], "
        "'max_body': s.DATA_UPLOAD_MAX_MEMORY_SIZE}))"
    )
    result = _run(["-c", probe], production_env())
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["hasher"] == "django.contrib.auth.hashers.PBKDF2PasswordHasher"
    assert len(got["validators"]) == 4 and any("CommonPassword" in v for v in got["validators"])
    assert got["alg"] == "HS256"
    assert got["key"] == PRODUCTION_SECRET  # the deployment's own key, never a built-in default
    assert got["secure"][:3] == [True, True, True] and got["secure"][3] >= 31536000
    assert got["max_body"] == 1024 * 1024


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = production_env()
    del env["SECRET_KEY"]
    result = _run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_a_separate_jwt_signing_key_is_taken_from_the_environment():
    key = secrets.token_urlsafe(48)
    probe = "import django; django.setup(); from django.conf import settings as s; print(s.SIMPLE_JWT['SIGNING_KEY'])"
    result = _run(["-c", probe], production_env(JWT_SIGNING_KEY=key))
    assert result.stdout.strip().splitlines()[-1] == key


# --- tokens ------------------------------------------------------------------------------------


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.django_db
def test_a_token_with_another_algorithm_is_refused(user, api_client):
    from accounts.services import session_start

    access = session_start(user=user)["access"]
    _header, payload, _ = access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    api_client.credentials(HTTP_AUTHORIZATION="Bearer " + unsigned)
    response = api_client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"


@pytest.mark.django_db
def test_passwords_are_validated_and_never_stored_in_clear(api_client):
    weak = api_client.post("/api/v1/auth/register/", {"username": "weak", "password": "password"}, format="json")
    assert weak.status_code == 400 and "password" in weak.json()["error"]["fields"]
    numeric = api_client.post("/api/v1/auth/register/", {"username": "num", "password": "83920174"}, format="json")
    assert numeric.status_code == 400
    ok = api_client.post("/api/v1/auth/register/", {"username": "okay", "password": "Tall-Orange-42"}, format="json")
    assert ok.status_code == 201
    from accounts.models import User

    stored = User.objects.get(username="okay").password
    assert "Tall-Orange-42" not in stored and stored.count("$") >= 2  # algorithm$...$hash


# --- headers, limits -------------------------------------------------------------------------


@pytest.mark.django_db
def test_responses_carry_the_security_headers(auth_api):
    response = auth_api.get("/api/v1/me/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    # No CORS: no browser client is in the contract, so other origins get no Allow-Origin.
    preflight = auth_api.options("/api/v1/me/", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in preflight


@pytest.mark.django_db
def test_an_oversize_body_is_refused_before_it_is_read(auth_api):
    body = b'{"title": "' + b"x" * (1024 * 1024) + b'"}'
    response = auth_api.generic("POST", "/api/v1/tasks/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


# --- logs ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_secret_reaches_the_logs(api_client, caplog, settings):
    """Register, login (right and wrong), refresh (fresh and reused) and a channel PUT carrying
    a password, tokens, a webhook secret and an API key, every logger at DEBUG: none of those
    strings may appear in any record (message, arguments or extras)."""
    settings.NOTIFICATIONS_ALLOWED_HOSTS = ["127.0.0.1"]
    password = "Secret-Passw0rd-" + secrets.token_hex(6)
    webhook_secret = "whsec-" + secrets.token_hex(12)
    api_key = "sk-" + secrets.token_hex(16)
    leaked = []
    from django.db import connection

    connection.force_debug_cursor = True  # as DEBUG=1 does: SQL and its parameters go to django.db.backends
    with caplog.at_level(logging.DEBUG):
        logging.getLogger().setLevel(logging.DEBUG)
        for name in ("django", "django.request", "django.server", "smartmate", "accounts", "notifications"):
            logging.getLogger(name).setLevel(logging.DEBUG)  # django.db.backends keeps its configured level
        body = {"username": "leaky", "password": password}
        registered = api_client.post("/api/v1/auth/register/", body, format="json").json()
        api_client.post("/api/v1/auth/login/", {"username": "leaky", "password": password + "x"}, format="json")
        login = api_client.post("/api/v1/auth/login/", body, format="json").json()
        first = api_client.post("/api/v1/auth/refresh/", {"refresh": registered["refresh"]}, format="json").json()
        reused = api_client.post("/api/v1/auth/refresh/", {"refresh": registered["refresh"]}, format="json")
        assert reused.status_code == 401  # token_reused: the register family is revoked
        refreshed = api_client.post("/api/v1/auth/refresh/", {"refresh": login["refresh"]}, format="json").json()
        api_client.credentials(HTTP_AUTHORIZATION="Bearer " + refreshed["access"], HTTP_X_API_KEY=api_key)
        channel = {"webhook_url": f"http://127.0.0.1:9/hook/{api_key}", "secret": webhook_secret, "enabled": True}
        assert api_client.put("/api/v1/notification-channels/webhook/", channel, format="json").status_code == 200
        bad = {**channel, "webhook_url": f"ftp://127.0.0.1/{api_key}"}
        assert api_client.put("/api/v1/notification-channels/feishu/", bad, format="json").status_code == 400
    connection.force_debug_cursor = False
    needles = {
        "password": password,
        "webhook secret": webhook_secret,
        "api key": api_key,
        "register access": registered["access"],
        "register refresh": registered["refresh"],
        "login access": login["access"],
        "login refresh": login["refresh"],
        "first refreshed refresh": first["refresh"],
        "refreshed access": refreshed["access"],
        "refreshed refresh": refreshed["refresh"],
    }
    assert caplog.records, "nothing was logged: the capture did not work"
    for record in caplog.records:
        text = record.getMessage() + " " + repr(record.__dict__)
        leaked += [f"{what} in {record.name}: {record.getMessage()[:120]}" for what, s in needles.items() if s in text]
    assert not leaked, leaked


# --- SQL -------------------------------------------------------------------------------------------

# Every way around the ORM: raw querysets, extra(), RawSQL, cursors, and SQL text built with an
# f-string, % or .format() passed to execute().
RAW_SQL = re.compile(r"\.raw\(|\.extra\(|RawSQL\(|\.cursor\(\)|\.execute\(\s*(f[\"']|[\"'][^\"']*[\"']\s*(%|\.format))")

# Reviewed uses: file → why it is safe. A new one fails the test until it is reviewed here.
REVIEWED = {
    "smartmate/health.py": "a constant SELECT 1 on a probe connection",
    "outbox/admin.py": "a constant query on pg_class, the table name passed as a parameter",
    "outbox/services.py": "the inbox's INSERT ... ON CONFLICT DO NOTHING; "
    "only the table name (from the model's _meta) and fixed fragments are formatted in, every value is a parameter",
    "outbox/states.py": "the settle's UPDATE ... FROM unnest (moved from outbox/services.py with the state machine); "
    "only the table name (from the model's _meta) and fixed fragments are formatted in, every value is a parameter",
    "outbox/relay.py": "the claim's UPDATE ... RETURNING; only the table name (from the model's _meta) is formatted "
    "in, every value is a parameter",
    "outbox/wakeup.py": "LISTEN on a constant channel name (outbox.models.PENDING_CHANNEL)",
}


def test_no_sql_is_built_from_strings_outside_the_orm():
    found = {}
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in (".venv", "tests", "bench", "var") or "migrations" in relative.parts:
            continue
        hits = [m.group(0) for m in RAW_SQL.finditer(path.read_text())]
        if hits:
            found[relative.as_posix()] = hits
    unreviewed = {path: hits for path, hits in found.items() if path not in REVIEWED}
    assert not unreviewed, f"SQL outside the ORM: use the ORM or parameters, then review it in REVIEWED: {unreviewed}"
    assert set(REVIEWED) <= set(found), "reviewed files no longer use raw SQL: take them off REVIEWED"
