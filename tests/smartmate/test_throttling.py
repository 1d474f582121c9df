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


LOGIN = "/api/v1/auth/login/"
WRONG = {"username": "nobody", "password": "x"}


def test_a_forged_x_forwarded_for_does_not_give_a_client_a_fresh_login_limit(client, settings):
    settings.THROTTLE_AUTH_RATE = "3/min"
    statuses = [
        client.post(LOGIN, WRONG, content_type="application/json", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(client, settings):
    settings.THROTTLE_AUTH_RATE = "2/min"
    settings.TRUSTED_PROXIES = ["127.0.0.0/8"]  # the test client's REMOTE_ADDR is 127.0.0.1

    def login(forwarded):
        return client.post(LOGIN, WRONG, content_type="application/json", HTTP_X_FORWARDED_FOR=forwarded).status_code

    # The proxy appends the peer it saw: the right-most untrusted hop is the client.
    assert [login("198.51.100.7, 203.0.113.1") for _ in range(3)] == [401, 401, 429]
    assert login("198.51.100.7, 203.0.113.2") == 401  # what the client itself wrote is not trusted
    assert login("203.0.113.1, 127.0.0.1") == 429  # trusted hops are skipped


def test_an_untrusted_peer_cannot_pose_as_the_trusted_proxy(client, settings):
    settings.THROTTLE_AUTH_RATE = "2/min"
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    statuses = [
        client.post(LOGIN, WRONG, content_type="application/json", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(3)
    ]
    assert statuses == [401, 401, 429]


@pytest.mark.timeout(90)
def test_the_web_server_takes_the_client_address_from_the_socket_not_the_header(tmp_path):
    """gunicorn's and uvicorn's default trusts X-Forwarded-For from 127.0.0.1; the Procfile's web
    process must not (TRUSTED_PROXIES is empty), or a local caller picks its own address."""
    import httpx

    from tests.conftest import serve_procfile_web

    with serve_procfile_web(tmp_path, THROTTLE_AUTH_RATE="3/min") as port:
        statuses = [
            httpx.post(
                f"http://127.0.0.1:{port}{LOGIN}",
                json=WRONG,
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
                timeout=30,  # a worker's first request loads the URLconf: seconds on a busy machine
            ).status_code
            for n in range(5)
        ]
    # Earlier runs may have left hits on 127.0.0.1 in the file cache: only the tail is certain.
    assert statuses[3:] == [429, 429], statuses


def test_the_web_server_config_trusts_only_the_configured_proxies():
    import subprocess
    import sys

    def allowed(**env):
        code = "import smartmate.gunicorn_conf as c; print(repr(c.forwarded_allow_ips))"
        base = {k: v for k, v in __import__("os").environ.items() if k != "TRUSTED_PROXIES"}
        return subprocess.run(
            [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, check=True
        ).stdout.strip()

    assert allowed() == "''"
    assert allowed(TRUSTED_PROXIES="10.0.0.1,10.1.0.0/16") == "'10.0.0.1,10.1.0.0/16'"


def test_guesses_at_one_account_are_limited_whatever_address_they_come_from(client, make_user, settings):
    settings.THROTTLE_LOGIN_USERNAME_RATE = "3/min"
    make_user("carol", password="Correct-Horse-9")

    def login(password, address, username="carol"):
        return client.post(
            LOGIN, {"username": username, "password": password}, content_type="application/json", REMOTE_ADDR=address
        )

    assert [login("guess", f"203.0.113.{n}").status_code for n in range(3)] == [401, 401, 401]
    refused = login("Correct-Horse-9", "198.51.100.1")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "throttled"
    assert login("guess", "198.51.100.2", username="CAROL").status_code == 429  # one account, any spelling
    assert login("guess", "198.51.100.3", username="dave").status_code == 401  # other accounts unaffected


def test_right_passwords_do_not_use_up_the_accounts_guesses(client, make_user, settings):
    settings.THROTTLE_LOGIN_USERNAME_RATE = "2/min"
    make_user("erin", password="Correct-Horse-9")
    body = {"username": "erin", "password": "Correct-Horse-9"}
    assert {client.post(LOGIN, body, content_type="application/json").status_code for _ in range(5)} == {200}


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_login_limit_holds_under_concurrent_requests(settings):
    from rest_framework.test import APIClient

    settings.THROTTLE_AUTH_RATE = "5/min"
    statuses = run_concurrently(16, lambda i: APIClient().post(LOGIN, WRONG, format="json").status_code)
    assert sorted(statuses) == [401] * 5 + [429] * 11


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_chat_limit_holds_under_concurrent_requests(user, settings):
    from rest_framework.test import APIClient

    settings.AGENT_PROVIDER = "offline"
    settings.THROTTLE_CHAT_RATE = "10/min"
    access = session_start(user=user)["access"]

    def chat(index):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Bearer " + access)
        return client.post("/api/v1/agent/chat/", {"message": "hello"}, format="json").status_code

    statuses = run_concurrently(16, chat)
    assert sorted(statuses) == [200] * 10 + [429] * 6
