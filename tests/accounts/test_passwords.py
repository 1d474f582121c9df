"""Password change and reset, and what ends a user's logins: any password change, by any path,
and deactivation revoke every login family; a family lives at most LOGIN_MAX_AGE_DAYS."""

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import TokenFamily, User
from accounts.services import session_start

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
REFRESH = "/api/v1/auth/refresh/"
LOGIN = "/api/v1/auth/login/"
PASSWORD = "/api/v1/me/password/"
RESET = "/api/v1/auth/password-reset/"
CONFIRM = "/api/v1/auth/password-reset/confirm/"
OLD, NEW = "Correct-Horse-9", "Battery-Staple-42"


def bearer(access):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + access)
    return client


def assert_login_is_dead(api_client, pair):
    me = bearer(pair["access"]).get(ME)
    assert me.status_code == 401 and me.json()["error"]["code"] == "token_invalid"
    refreshed = api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert refreshed.status_code == 401 and refreshed.json()["error"]["code"] == "token_invalid"


def assert_login_works(api_client, pair):
    assert bearer(pair["access"]).get(ME).status_code == 200


# --- me/password/ -------------------------------------------------------------------------


def test_changing_the_password_gives_a_new_login_and_ends_every_other(api_client, user):
    phone, laptop = session_start(user=user), session_start(user=user)
    response = bearer(laptop["access"]).post(PASSWORD, {"current_password": OLD, "new_password": NEW}, format="json")
    assert response.status_code == 200, response.content
    fresh = response.json()
    assert set(fresh) == {"access", "refresh"}
    assert_login_is_dead(api_client, phone)
    assert_login_is_dead(api_client, laptop)  # the caller's own old login too: it has the new one
    assert_login_works(api_client, fresh)
    assert api_client.post(REFRESH, {"refresh": fresh["refresh"]}, format="json").status_code == 200
    assert api_client.post(LOGIN, {"username": "alice", "password": NEW}, format="json").status_code == 200
    assert api_client.post(LOGIN, {"username": "alice", "password": OLD}, format="json").status_code == 401


def test_a_wrong_current_password_is_a_400_on_that_field_and_changes_nothing(api_client, user):
    pair = session_start(user=user)
    response = bearer(pair["access"]).post(PASSWORD, {"current_password": "guess", "new_password": NEW}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "current_password" in response.json()["error"]["fields"]
    assert_login_works(api_client, pair)
    user.refresh_from_db()
    assert user.check_password(OLD)


def test_a_weak_new_password_is_refused_by_the_validators(api_client, user):
    pair = session_start(user=user)
    response = bearer(pair["access"]).post(PASSWORD, {"current_password": OLD, "new_password": "123"}, format="json")
    assert response.status_code == 400
    assert "new_password" in response.json()["error"]["fields"]
    assert_login_works(api_client, pair)


def test_wrong_current_passwords_are_throttled_like_logins(user, settings):
    settings.THROTTLE_LOGIN_USERNAME_RATE = "2/min"
    client = bearer(session_start(user=user)["access"])
    body = {"current_password": "guess", "new_password": NEW}
    assert [client.post(PASSWORD, body, format="json").status_code for _ in range(3)] == [400, 400, 429]


def test_password_change_needs_a_login(api_client):
    response = api_client.post(PASSWORD, {"current_password": OLD, "new_password": NEW}, format="json")
    assert response.status_code == 401


# --- every other path ----------------------------------------------------------------------


def test_set_password_then_save_ends_every_login(api_client, user):
    pair = session_start(user=user)
    user.set_password(NEW)
    user.save()
    assert_login_is_dead(api_client, pair)
    assert set(TokenFamily.objects.filter(user=user).values_list("revoked_reason", flat=True)) == {"password_changed"}


def test_manage_py_changepassword_ends_every_login(api_client, user, monkeypatch):
    from django.contrib.auth.management.commands import changepassword

    pair = session_start(user=user)
    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="Password: ": NEW)
    call_command("changepassword", "alice")
    assert_login_is_dead(api_client, pair)


def test_the_admin_password_form_ends_every_login(api_client, user, client):
    User.objects.create_superuser("root", "root@example.com", "Root-Pass-123")
    client.login(username="root", password="Root-Pass-123")
    pair = session_start(user=user)
    response = client.post(
        f"/admin/accounts/user/{user.pk}/password/", {"password1": NEW, "password2": NEW, "usable_password": "true"}
    )
    assert response.status_code == 302, response.content[:2000]
    assert_login_is_dead(api_client, pair)


def test_deactivation_ends_every_login_and_reactivation_does_not_revive_it(api_client, user):
    pair = session_start(user=user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    user.is_active = True
    user.save(update_fields=["is_active"])
    assert_login_is_dead(api_client, pair)
    assert api_client.post(LOGIN, {"username": "alice", "password": OLD}, format="json").status_code == 200


def test_saves_that_touch_neither_password_nor_is_active_end_nothing(api_client, user):
    pair = session_start(user=user)
    user.timezone = "Europe/Berlin"
    user.save()
    user.email = "alice@example.com"
    user.save(update_fields=["email"])
    assert_login_works(api_client, pair)


def test_a_hasher_upgrade_on_login_is_not_a_password_change(api_client, user, settings):
    pair = session_start(user=user)
    settings.PASSWORD_HASHERS = [
        "tests.accounts.hashers.FastPBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    assert api_client.post(LOGIN, {"username": "alice", "password": OLD}, format="json").status_code == 200
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")  # the stored hash was upgraded...
    assert_login_works(api_client, pair)  # ...and the logins stay


# --- family lifetime, registration switch --------------------------------------------------


def test_a_login_older_than_login_max_age_days_cannot_be_refreshed(api_client, user, settings):
    settings.LOGIN_MAX_AGE_DAYS = 30
    young, old = session_start(user=user), session_start(user=user)
    families = TokenFamily.objects.filter(user=user).order_by("created_at")
    TokenFamily.objects.filter(pk=families.last().pk).update(created_at=timezone.now() - timedelta(days=30, seconds=1))
    refused = api_client.post(REFRESH, {"refresh": old["refresh"]}, format="json")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_invalid"
    assert api_client.post(REFRESH, {"refresh": young["refresh"]}, format="json").status_code == 200


def test_registration_can_be_closed_while_logins_keep_working(api_client, user, settings):
    settings.REGISTRATION_OPEN = False
    response = api_client.post("/api/v1/auth/register/", {"username": "zed", "password": OLD}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "registration_closed"
    assert not User.objects.filter(username="zed").exists()
    login = api_client.post(LOGIN, {"username": "alice", "password": OLD}, format="json")
    assert login.status_code == 200
    assert api_client.post(REFRESH, {"refresh": login.json()["refresh"]}, format="json").status_code == 200


# --- password reset ------------------------------------------------------------------------


@pytest.fixture
def eager_celery():
    from smartmate.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def reset_link_of(mail):
    uid = re.search(r"uid (\S+) ", mail.body)[1]
    token = re.search(r"token (\S+)\.", mail.body)[1]
    return uid, token


def request_reset(api_client, email, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return api_client.post(RESET, {"email": email}, format="json")


def test_reset_answers_202_alike_for_known_and_unknown_addresses(
    api_client, make_user, mailoutbox, eager_celery, django_capture_on_commit_callbacks
):
    make_user("frank", email="frank@example.com")
    known = request_reset(api_client, "Frank@Example.com", django_capture_on_commit_callbacks)
    unknown = request_reset(api_client, "nobody@example.com", django_capture_on_commit_callbacks)
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert [mail.to for mail in mailoutbox] == [["frank@example.com"]]
    assert "/password-reset/?uid=" in mailoutbox[0].body


def test_a_reset_sets_the_password_ends_every_login_and_works_once(
    api_client, make_user, mailoutbox, eager_celery, django_capture_on_commit_callbacks
):
    frank = make_user("frank", email="frank@example.com")
    pair = session_start(user=frank)
    request_reset(api_client, "frank@example.com", django_capture_on_commit_callbacks)
    uid, token = reset_link_of(mailoutbox[0])
    body = {"uid": uid, "token": token, "new_password": NEW}
    assert api_client.post(CONFIRM, body, format="json").status_code == 204
    assert_login_is_dead(api_client, pair)
    assert api_client.post(LOGIN, {"username": "frank", "password": NEW}, format="json").status_code == 200
    again = api_client.post(CONFIRM, {**body, "new_password": "Another-Pass-77"}, format="json")
    assert again.status_code == 400 and again.json()["error"]["code"] == "token_invalid"


@pytest.mark.parametrize(
    "body",
    [
        {"uid": "MQ", "token": "bad-token", "new_password": NEW},
        {"uid": "not-base64!", "token": "x", "new_password": NEW},
        {"uid": "OTk5OTk5", "token": "x", "new_password": NEW},
    ],
)
def test_a_wrong_reset_token_is_a_400_token_invalid(api_client, user, body):
    response = api_client.post(CONFIRM, body, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "token_invalid"
    user.refresh_from_db()
    assert user.check_password(OLD)


def test_a_reset_with_a_weak_password_keeps_the_token_usable(
    api_client, make_user, mailoutbox, eager_celery, django_capture_on_commit_callbacks
):
    make_user("frank", email="frank@example.com")
    request_reset(api_client, "frank@example.com", django_capture_on_commit_callbacks)
    uid, token = reset_link_of(mailoutbox[0])
    weak = api_client.post(CONFIRM, {"uid": uid, "token": token, "new_password": "123"}, format="json")
    assert weak.status_code == 400 and "new_password" in weak.json()["error"]["fields"]
    assert api_client.post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW}, format="json").status_code == 204


def test_reset_requests_are_limited_per_address(api_client, make_user, settings):
    settings.THROTTLE_PASSWORD_RESET_RATE = "2/hour"
    make_user("frank", email="frank@example.com")
    statuses = [
        api_client.post(RESET, {"email": email}, format="json", REMOTE_ADDR=f"203.0.113.{n}").status_code
        for n, email in enumerate(["frank@example.com", "FRANK@example.com", "frank@example.com"])
    ]
    assert statuses == [202, 202, 429]
    assert api_client.post(RESET, {"email": "other@example.com"}, format="json").status_code == 202


def test_reset_requests_are_limited_per_client_address(api_client, settings):
    settings.THROTTLE_AUTH_RATE = "2/min"
    statuses = [api_client.post(RESET, {"email": f"u{n}@example.com"}, format="json").status_code for n in range(3)]
    assert statuses == [202, 202, 429]


def test_the_embedded_default_writes_mails_under_var(tmp_path, make_user, settings):
    from accounts.services import password_reset_mail_send

    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    frank = make_user("frank", email="frank@example.com")
    assert password_reset_mail_send(user_id=frank.pk)
    [written] = list(tmp_path.iterdir())
    assert "frank@example.com" in written.read_text()


@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice", "password": OLD},  # a name that is taken
        {"username": "zed", "password": "1"},  # a password the validators refuse
        {"username": ""},
    ],
)
def test_closed_registration_answers_403_whatever_the_body(api_client, user, settings, body):
    settings.REGISTRATION_OPEN = False
    response = api_client.post("/api/v1/auth/register/", body, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "registration_closed"
    settings.REGISTRATION_OPEN = True
    assert api_client.post("/api/v1/auth/register/", body, format="json").status_code == 400


@pytest.mark.parametrize(("value", "expected"), [("0", False), ("false", False), ("1", True), (None, True)])
def test_registration_open_is_read_from_the_environment(value, expected):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import production_env

    env = production_env()
    env.pop("REGISTRATION_OPEN", None)
    if value is not None:
        env["REGISTRATION_OPEN"] = value
    code = "import django; django.setup(); from django.conf import settings; print(settings.REGISTRATION_OPEN)"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(expected), os.linesep.join([out.stdout, out.stderr])
