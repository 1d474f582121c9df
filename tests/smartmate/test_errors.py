"""Every error path answers the contract's JSON, never HTML, a stack or SQL."""

import pytest

pytestmark = pytest.mark.django_db


def assert_error(response, status, code):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    text = response.content.decode()
    assert "Traceback" not in text and "SELECT" not in text and "<html" not in text.lower()
    return body["error"]


def test_malformed_json_is_a_validation_error(client):
    response = client.post("/api/v1/auth/login/", data="{not json", content_type="application/json")
    assert_error(response, 400, "validation_error")


def test_wrong_types_name_the_field(client):
    response = client.post(
        "/api/v1/auth/register/", data={"username": ["x"], "password": 5}, content_type="application/json"
    )
    error = assert_error(response, 400, "validation_error")
    assert "username" in error["fields"]


def test_unknown_fields_are_refused(client):
    response = client.post(
        "/api/v1/auth/login/",
        data={"username": "a", "password": "b", "is_staff": True},
        content_type="application/json",
    )
    error = assert_error(response, 400, "validation_error")
    assert error["fields"] == {"is_staff": ["Unknown field."]}


def test_a_body_over_one_mebibyte_is_413(client):
    body = '{"username": "' + "a" * (1024 * 1024) + '"}'
    response = client.post("/api/v1/auth/login/", data=body, content_type="application/json")
    assert_error(response, 413, "payload_too_large")


def test_wrong_method_is_405(auth_api):
    response = auth_api.delete("/api/v1/me/quota/")
    assert_error(response, 405, "method_not_allowed")


def test_unknown_path_is_json_404(client):
    assert_error(client.get("/api/v1/nothing-here/"), 404, "not_found")


def test_post_without_trailing_slash_is_a_json_404_not_a_redirect(client):
    error = assert_error(client.post("/api/v1/auth/login", data={}, content_type="application/json"), 404, "not_found")
    assert "slash" in error["message"]


def test_non_json_content_type_is_415(client):
    response = client.post("/api/v1/auth/login/", data="username=a", content_type="application/x-www-form-urlencoded")
    assert_error(response, 415, "unsupported_media_type")


def test_duplicate_username_is_a_400_on_username(client, make_user):
    make_user("taken")
    response = client.post(
        "/api/v1/auth/register/",
        data={"username": "taken", "password": "Correct-Horse-9"},
        content_type="application/json",
    )
    error = assert_error(response, 400, "validation_error")
    assert "username" in error["fields"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"username": "ab", "password": "Correct-Horse-9"}, "username"),
        ({"username": "has space", "password": "Correct-Horse-9"}, "username"),
        ({"username": "okname", "password": "123"}, "password"),
        ({"username": "okname", "password": "Correct-Horse-9", "timezone": "Mars/Olympus"}, "timezone"),
        ({"username": "okname", "password": "Correct-Horse-9", "email": "nope"}, "email"),
    ],
)
def test_register_rejects_bad_input_and_writes_nothing(client, payload, field):
    from accounts.models import User

    response = client.post("/api/v1/auth/register/", data=payload, content_type="application/json")
    error = assert_error(response, 400, "validation_error")
    assert field in error["fields"]
    assert not User.objects.exists()


def test_login_says_the_same_for_unknown_user_and_wrong_password(client, make_user):
    make_user("carol", password="Correct-Horse-9")
    unknown = assert_error(
        client.post("/api/v1/auth/login/", {"username": "nobody", "password": "x"}, content_type="application/json"),
        401,
        "not_authenticated",
    )
    wrong = assert_error(
        client.post("/api/v1/auth/login/", {"username": "carol", "password": "x"}, content_type="application/json"),
        401,
        "not_authenticated",
    )
    assert unknown["message"] == wrong["message"]


def test_patch_me_refuses_a_semester_start_that_is_not_a_monday(auth_api):
    error = assert_error(
        auth_api.patch("/api/v1/me/", {"semester_start": "2026-11-24"}, format="json"), 400, "validation_error"
    )
    assert "semester_start" in error["fields"]
    ok = auth_api.patch("/api/v1/me/", {"semester_start": "2026-11-23", "timezone": "UTC"}, format="json")
    assert ok.status_code == 200
    assert ok.json()["semester_start"] == "2026-11-23"
    assert ok.json()["timezone"] == "UTC"


def test_uncaught_exceptions_become_a_json_500(client, settings, monkeypatch):
    from accounts import views

    def boom(self, request):
        raise RuntimeError("secret internals: SELECT password FROM users")

    monkeypatch.setattr(views.MeViewSet, "quota", boom, raising=True)
    from accounts.services import session_start, user_register

    user = user_register(username="dave", password="Correct-Horse-9")
    client.defaults["HTTP_AUTHORIZATION"] = "Bearer " + session_start(user=user)["access"]
    response = client.get("/api/v1/me/quota/")
    error = assert_error(response, 500, "server_error")
    assert "secret" not in error["message"]


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/tasks/", "/api/v1/agent/chat/", "/api/v1/me/password/"])
def test_a_deeply_nested_body_is_a_400_not_a_500(auth_api, path):
    response = auth_api.post(path, DEEP, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/auth/login/", "/api/v1/auth/register/", "/api/v1/auth/password-reset/"])
def test_anonymous_endpoints_refuse_deep_nesting_too(api_client, path):
    response = api_client.post(path, DEEP, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.django_db
def test_nesting_past_the_depth_limit_is_refused_below_the_recursion_limit(auth_api):
    from smartmate.parsers import JSON_MAX_DEPTH

    def nested(depth):
        return '{"title": "x", "description": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"

    too_deep = auth_api.post("/api/v1/tasks/", nested(JSON_MAX_DEPTH + 1), content_type="application/json")
    assert too_deep.status_code == 400 and "nested deeper" in too_deep.json()["error"]["message"]
    within = auth_api.post("/api/v1/tasks/", nested(JSON_MAX_DEPTH), content_type="application/json")
    assert within.status_code == 400 and "nested deeper" not in within.json()["error"]["message"]  # a field error
