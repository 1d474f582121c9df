import pytest

pytestmark = pytest.mark.django_db


def register(client, username="bob", password="Correct-Horse-9", **extra):
    return client.post("/api/v1/auth/register/", {"username": username, "password": password, **extra}, format="json")


def test_register_returns_user_and_tokens_with_semester_on_a_monday(api_client):
    response = register(api_client, timezone="Europe/Berlin")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user"]["username"] == "bob"
    assert body["user"]["timezone"] == "Europe/Berlin"
    import datetime

    assert datetime.date.fromisoformat(body["user"]["semester_start"]).weekday() == 0
    assert body["access"] and body["refresh"]


def test_me_requires_a_token(api_client):
    response = api_client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_login_then_me(api_client):
    register(api_client)
    response = api_client.post("/api/v1/auth/login/", {"username": "bob", "password": "Correct-Horse-9"}, format="json")
    assert response.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION="Bearer " + response.json()["access"])
    me = api_client.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "bob"
