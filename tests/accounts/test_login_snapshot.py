"""The per-request login check (accounts.logins, docs/DOMAIN.md §13) on real Redis and PostgreSQL:
no database round trip while the user's snapshot is current, every revocation stops the next
request at once, and with Redis hung or gone the database still refuses a revoked login."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts import logins
from accounts.models import TokenFamily
from accounts.services import family_revoke, session_start
from smartmate import redis_breaker
from tests.smartmate.test_redis_breaker import fresh_breakers, hung_redis  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

ME = "/api/v1/me/"


def client_with(pair):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + pair["access"])
    return client


def login_queries(client):
    """(status, statements on the login tables) of one authenticated GET."""
    with CaptureQueriesContext(connection) as queries:
        status = client.get(ME).status_code
    return status, [q["sql"] for q in queries if "accounts_tokenfamily" in q["sql"] or "accounts_user" in q["sql"]]


@pytest.fixture
def redis_proxy(request):
    """The default cache through a loopback proxy to the real Redis, answering until frozen."""
    proxy = request.getfixturevalue("hung_redis")
    proxy.thaw()
    return proxy


def logged_out(client, pair):
    """Log `pair` out through the API; the same client then asks with its access token."""
    response = client.post("/api/v1/auth/logout/", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code in (200, 204), response.content
    return client


def test_a_current_snapshot_costs_no_database_round_trip(user):
    client = client_with(session_start(user=user))
    assert login_queries(client)[0] == 200  # the first request reads PostgreSQL and stores the snapshot
    status, statements = login_queries(client)
    assert status == 200
    assert statements == []


def test_the_snapshot_user_loads_what_it_left_out_and_saves_only_what_it_has(user):
    family = TokenFamily.objects.create(user=user)
    assert logins.live_user(family_pk=family.pk, user_id=user.pk) is not None  # stores the snapshot
    cached = logins.live_user(family_pk=family.pk, user_id=user.pk)
    assert "password" in cached.get_deferred_fields()
    assert cached.check_password("Correct-Horse-9")  # loads the hash on demand
    cached.first_name = "Alice"
    cached.save()  # only the loaded columns: the hash is never written back from the cache
    user.refresh_from_db()
    assert user.first_name == "Alice" and user.check_password("Correct-Horse-9")


def test_logout_stops_the_access_token_at_once(user):
    pair = session_start(user=user)
    client = client_with(pair)
    assert client.get(ME).status_code == 200
    assert logged_out(client, pair).get(ME).status_code == 401


def test_a_password_change_deactivation_and_family_revoke_stop_other_logins_at_once(user, make_user):
    other_login = client_with(session_start(user=user))
    caller = client_with(session_start(user=user))
    assert other_login.get(ME).status_code == 200
    changed = caller.post(
        "/api/v1/me/password/",
        {"current_password": "Correct-Horse-9", "new_password": "Another-Horse-77"},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert other_login.get(ME).status_code == 401
    fresh = client_with(changed.json())
    assert fresh.get(ME).status_code == 200

    family = TokenFamily.objects.filter(user=user, revoked_at__isnull=True).get()
    family_revoke(family_pk=family.pk, reason="admin")
    assert fresh.get(ME).status_code == 401

    bob = make_user("bob")
    bobs = client_with(session_start(user=bob))
    assert bobs.get(ME).status_code == 200
    bob.is_active = False
    bob.save()
    assert bobs.get(ME).status_code == 401


def test_a_profile_change_is_read_by_the_next_request(auth_api):
    assert auth_api.get(ME).json()["timezone"] == "Asia/Shanghai"
    assert auth_api.patch(ME, {"timezone": "Europe/Berlin"}, format="json").status_code == 200
    assert auth_api.get(ME).json()["timezone"] == "Europe/Berlin"


def test_a_snapshot_raced_by_a_revoker_is_never_served(user):
    """A reader stamps what it read with the generation it read before PostgreSQL: when a
    revocation commits in between, the stamp is already stale."""
    family = TokenFamily.objects.create(user=user)
    assert logins.live_user(family_pk=family.pk, user_id=user.pk) is not None
    from django.core.cache import cache

    before = cache.get(logins.generation_key(user.pk))
    stale = cache.get(logins.snapshot_key(user.pk))
    family_revoke(family_pk=family.pk, reason="logout")  # commits, bumps the generation
    cache.set(logins.snapshot_key(user.pk), (before, stale[1], stale[2]), 60)  # the racing reader's write
    assert logins.live_user(family_pk=family.pk, user_id=user.pk) is None


def test_with_redis_hung_the_database_still_refuses_a_revoked_login(user, redis_proxy):
    live = client_with(session_start(user=user))
    revoked_pair = session_start(user=user)
    revoked = client_with(revoked_pair)
    assert live.get(ME).status_code == 200 and revoked.get(ME).status_code == 200  # snapshots stored
    redis_proxy.freeze()
    logged_out(revoked, revoked_pair)
    started = time.monotonic()
    assert revoked.get(ME).status_code == 401
    assert live.get(ME).status_code == 200
    status, statements = login_queries(live)
    assert status == 200 and statements  # asked PostgreSQL
    assert time.monotonic() - started < 2  # the breaker is open: no timeout per call


def test_a_revocation_made_while_redis_was_down_holds_within_the_snapshot_life(user, redis_proxy, settings):
    """The documented bound: the bump of a revocation made while Redis was unreachable is lost,
    so once Redis answers again the old snapshot may serve until LOGIN_SNAPSHOT_SECONDS."""
    settings.LOGIN_SNAPSHOT_SECONDS = 1
    pair = session_start(user=user)
    client = client_with(pair)
    assert client.get(ME).status_code == 200
    redis_proxy.freeze()
    assert logged_out(client, pair).get(ME).status_code == 401  # Redis down: PostgreSQL answers
    redis_proxy.thaw()
    redis_breaker.reset()
    time.sleep(1.2)
    assert client.get(ME).status_code == 401


def test_without_redis_every_request_asks_the_database(user, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 0.2},
        }
    }
    pair = session_start(user=user)
    client = client_with(pair)
    assert client.get(ME).status_code == 200
    assert logged_out(client, pair).get(ME).status_code == 401


def test_a_remembered_token_is_still_refused_once_expired(user, settings):
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.tokens import FAMILY_CLAIM

    family = TokenFamily.objects.create(user=user)
    token = AccessToken.for_user(user)
    token[FAMILY_CLAIM] = str(family.pk)
    token.set_exp(lifetime=timedelta(seconds=1))
    client = client_with({"access": str(token)})
    assert client.get(ME).status_code == 200
    assert client.get(ME).status_code == 200  # from the per-process memo
    time.sleep(1.2)
    assert client.get(ME).status_code == 401
