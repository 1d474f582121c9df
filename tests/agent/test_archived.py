"""Archived conversations: PATCH-able, out of the default list, listed alone with ?archived=true."""

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/api/v1/agent/conversations/"


def create(api, title, **extra):
    response = api.post(URL, {"title": title, **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def titles(response):
    assert response.status_code == 200, response.content
    return [c["title"] for c in response.json()["results"]]


def test_an_archived_conversation_leaves_the_default_list_until_asked_for(auth_api):
    kept, old = create(auth_api, "Finals"), create(auth_api, "Last term")
    assert kept["archived"] is False
    patched = auth_api.patch(f"{URL}{old['id']}/", {"archived": True}, format="json")
    assert patched.status_code == 200 and patched.json()["archived"] is True
    assert patched.json()["title"] == "Last term"  # a PATCH of one field leaves the other
    assert titles(auth_api.get(URL)) == ["Finals"]
    assert titles(auth_api.get(URL, {"archived": "false"})) == ["Finals"]
    assert titles(auth_api.get(URL, {"archived": "true"})) == ["Last term"]
    # Still there by its id, with its history and chat.
    assert auth_api.get(f"{URL}{old['id']}/").json()["archived"] is True
    assert auth_api.get(f"{URL}{old['id']}/messages/").status_code == 200


def test_unarchiving_brings_it_back_and_renaming_keeps_it_archived(auth_api):
    conversation = create(auth_api, "Draft", archived=True)
    assert conversation["archived"] is True
    assert titles(auth_api.get(URL)) == []
    renamed = auth_api.patch(f"{URL}{conversation['id']}/", {"title": "Renamed"}, format="json")
    assert renamed.json() | {"updated_at": None} == conversation | {"title": "Renamed", "updated_at": None}
    assert titles(auth_api.get(URL, {"archived": "true"})) == ["Renamed"]
    auth_api.patch(f"{URL}{conversation['id']}/", {"archived": False}, format="json")
    assert titles(auth_api.get(URL)) == ["Renamed"]
    assert titles(auth_api.get(URL, {"archived": "true"})) == []


def test_the_filter_pages_and_counts_only_what_it_lists(auth_api):
    for n in range(3):
        create(auth_api, f"Open {n}")
    for n in range(25):
        create(auth_api, f"Old {n}", archived=True)
    archived = auth_api.get(URL, {"archived": "true", "page": 2}).json()
    assert archived["count"] == 25 and len(archived["results"]) == 5
    assert auth_api.get(URL).json()["count"] == 3


def test_an_empty_archived_is_the_default(auth_api):
    create(auth_api, "Open")
    create(auth_api, "Old", archived=True)
    assert titles(auth_api.get(URL, {"archived": ""})) == ["Open"]


@pytest.mark.parametrize("value", ["all", "maybe", "2"])
def test_archived_takes_true_or_false_only(auth_api, value):
    response = auth_api.get(URL, {"archived": value})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "archived" in response.json()["error"]["fields"]


def test_archived_must_be_a_boolean_in_a_patch(auth_api):
    conversation = create(auth_api, "Typed")
    response = auth_api.patch(f"{URL}{conversation['id']}/", {"archived": "sometimes"}, format="json")
    assert response.status_code == 400 and "archived" in response.json()["error"]["fields"]


def test_another_users_archived_conversations_are_never_listed(auth_api, make_user, client_for):
    create(auth_api, "Alice's", archived=True)
    bob = client_for(make_user("bob"))
    assert titles(bob.get(URL, {"archived": "true"})) == []
    assert titles(bob.get(URL)) == []
