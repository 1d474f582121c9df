import pytest

from accounts.services import session_start
from tests.concurrency import run_concurrently

pytestmark = pytest.mark.django_db


def test_anonymous_auth_endpoints_are_limited_per_ip(client, settings):
    settings.THROTTLE_AUTH_RATE = "3/min"
    body = {"username": "nobody", "password": "x"}
    statuses = [client.post("/api/v1/auth/login/", body, content_type="application/json").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    response = client.post("/api/v1/auth/login/", body, content_type="application/json")
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1


@pytest.mark.redis
def test_authenticated_users_get_a_token_bucket(auth_api, settings):
    settings.THROTTLE_USER_BURST = 5
    settings.THROTTLE_USER_REFILL_PER_SECOND = 0.5
    statuses = [auth_api.get("/api/v1/me/").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    response = auth_api.get("/api/v1/me/")
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_bucket_is_atomic_under_concurrent_requests(user, settings):
    from rest_framework.test import APIClient

    settings.THROTTLE_USER_BURST = 5
    settings.THROTTLE_USER_REFILL_PER_SECOND = 0.01
    access = session_start(user=user)["access"]

    def call(index):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Bearer " + access)
        return client.get("/api/v1/me/").status_code

    statuses = run_concurrently(20, call)
    assert statuses.count(200) == 5
    assert statuses.count(429) == 15


@pytest.mark.redis
def test_a_redis_outage_does_not_fail_requests(auth_api, settings):
    settings.THROTTLE_USER_BURST = 5
    settings.THROTTLE_AUTH_RATE = "3/min"
    dead = {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}
    settings.CACHES = {"default": dead}
    assert [auth_api.get("/api/v1/me/").status_code for _ in range(7)] == [200] * 7
    login = {"username": "nobody", "password": "x"}
    assert {auth_api.post("/api/v1/auth/login/", login, format="json").status_code for _ in range(5)} == {401}
