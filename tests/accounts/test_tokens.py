"""Refresh rotation, reuse detection and logout, on PostgreSQL with real threads."""

import pytest

from accounts.services import session_start
from tests.concurrency import errors_of, run_concurrently

ME = "/api/v1/me/"
REFRESH = "/api/v1/auth/refresh/"


def refresh(client, token):
    return client.post(REFRESH, {"refresh": token}, format="json")


def bearer(client, access):
    client.credentials(HTTP_AUTHORIZATION="Bearer " + access)
    return client


@pytest.mark.django_db
def test_refresh_rotates_and_the_old_refresh_is_dead(api_client, user):
    pair = session_start(user=user)
    first = refresh(api_client, pair["refresh"])
    assert first.status_code == 200
    assert set(first.json()) == {"access", "refresh"}
    assert first.json()["refresh"] != pair["refresh"]
    again = refresh(api_client, pair["refresh"])
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "token_reused"


@pytest.mark.django_db
def test_reusing_a_rotated_refresh_revokes_the_whole_family(api_client, user):
    pair = session_start(user=user)
    rotated = refresh(api_client, pair["refresh"]).json()
    other_login = session_start(user=user)
    assert refresh(api_client, pair["refresh"]).json()["error"]["code"] == "token_reused"
    # Every token descended from that login is dead, access tokens included...
    assert bearer(api_client, rotated["access"]).get(ME).json()["error"]["code"] == "token_invalid"
    assert bearer(api_client, pair["access"]).get(ME).status_code == 401
    assert refresh(api_client, rotated["refresh"]).status_code == 401
    # ...but another login of the same user is untouched.
    assert bearer(api_client, other_login["access"]).get(ME).status_code == 200


@pytest.mark.django_db
def test_reuse_inside_the_grace_window_is_refused_without_revoking(api_client, user, settings):
    settings.REFRESH_REUSE_GRACE_SECONDS = 30
    pair = session_start(user=user)
    rotated = refresh(api_client, pair["refresh"]).json()
    again = refresh(api_client, pair["refresh"])
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "token_invalid"
    assert bearer(api_client, rotated["access"]).get(ME).status_code == 200


@pytest.mark.django_db
def test_logout_kills_the_access_token_sent_with_it_and_its_refresh(api_client, user):
    pair = session_start(user=user)
    bearer(api_client, pair["access"])
    response = api_client.post("/api/v1/auth/logout/", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 204
    after = api_client.get(ME)
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "token_invalid"
    api_client.credentials()
    dead = refresh(api_client, pair["refresh"])
    assert dead.status_code == 401
    assert dead.json()["error"]["code"] == "token_invalid"


@pytest.mark.django_db
def test_tampered_and_wrong_type_tokens_are_token_invalid(api_client, user):
    pair = session_start(user=user)
    tampered = pair["access"][:-3] + ("aaa" if not pair["access"].endswith("aaa") else "bbb")
    assert bearer(api_client, tampered).get(ME).json()["error"]["code"] == "token_invalid"
    # A refresh token is not an access token, and vice versa.
    assert bearer(api_client, pair["refresh"]).get(ME).json()["error"]["code"] == "token_invalid"
    api_client.credentials()
    assert refresh(api_client, pair["access"]).json()["error"]["code"] == "token_invalid"


@pytest.mark.django_db
def test_malformed_authorization_header_is_not_authenticated(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer")
    response = api_client.get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db
def test_expired_access_token_is_token_invalid(api_client, user, settings):
    from datetime import timedelta

    from rest_framework_simplejwt.settings import api_settings
    from rest_framework_simplejwt.tokens import AccessToken

    pair = session_start(user=user)
    token = AccessToken(pair["access"])
    token.set_exp(lifetime=-timedelta(seconds=1))
    assert api_settings.ACCESS_TOKEN_LIFETIME  # the setting exists; the token is simply past it
    response = bearer(api_client, str(token)).get(ME)
    assert response.json()["error"]["code"] == "token_invalid"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_fifty_concurrent_refreshes_exactly_one_succeeds(user):
    from rest_framework.test import APIClient

    pair = session_start(user=user)
    responses = run_concurrently(50, lambda i: refresh(APIClient(), pair["refresh"]))
    assert errors_of(responses) == []
    statuses = [(r.status_code, r.json().get("error", {}).get("code")) for r in responses]
    assert sum(1 for status, _ in statuses if status == 200) == 1
    assert {code for status, code in statuses if status != 200} == {"token_reused"}
