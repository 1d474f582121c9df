"""POST tasks/status/: the status of up to 100 tasks at once, in the order asked."""

import pytest

from scheduling.selectors import task_statuses
from scheduling.services import task_complete, task_create

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/api/v1/tasks/status/"


def post(api, body):
    return api.post(URL, body, format="json")


def test_statuses_come_back_in_the_order_asked_with_completed_at(api, user):
    first, second, third = (task_create(user=user, title=f"Task {n}") for n in range(3))
    task_complete(user=user, task=second)
    response = post(api, {"ids": [third.pk, first.pk, second.pk]})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["id"] for r in results] == [third.pk, first.pk, second.pk]
    assert [r["status"] for r in results] == ["todo", "todo", "done"]
    assert results[0]["completed_at"] is None and results[1]["completed_at"] is None
    assert results[2]["completed_at"] == api.get(f"/api/v1/tasks/{second.pk}/").json()["completed_at"]
    assert set(results[0]) == {"id", "status", "completed_at"}


def test_other_users_and_missing_ids_are_left_out(api, user, other):
    mine = task_create(user=user, title="Mine")
    theirs = task_create(user=other, title="Theirs")
    response = post(api, {"ids": [theirs.pk, mine.pk, 999_999_999]})
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [mine.pk]
    assert post(api, {"ids": [theirs.pk]}).json() == {"results": []}


def test_a_repeated_id_is_answered_once_at_its_first_place(api, user):
    a, b = task_create(user=user, title="A"), task_create(user=user, title="B")
    response = post(api, {"ids": [b.pk, a.pk, b.pk]})
    assert [r["id"] for r in response.json()["results"]] == [b.pk, a.pk]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ids": []},
        {"ids": list(range(1, 102))},
        {"ids": "1,2"},
        {"ids": ["x"]},
        {"ids": [0]},
        {"ids": [2**63]},  # past bigint: refused, not an overflow in the query
        {"ids": [1], "extra": True},
    ],
)
def test_a_bad_id_list_is_a_validation_error(api, body):
    response = post(api, body)
    assert response.status_code == 400, (body, response.content)
    assert response.json()["error"]["code"] == "validation_error"
    fields = response.json()["error"]["fields"]
    assert any(name.split(".")[0] in ("ids", "extra") for name in fields), fields


def test_a_hundred_ids_are_allowed(api, user):
    task = task_create(user=user, title="Only one exists")
    response = post(api, {"ids": [task.pk, *range(10**9, 10**9 + 99)]})
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [task.pk]


def test_the_statuses_are_read_in_one_query(user, django_assert_num_queries):
    ids = [task_create(user=user, title=f"T{n}").pk for n in range(30)]
    with django_assert_num_queries(1):
        results = task_statuses(user=user, ids=list(reversed(ids)))
    assert [r["id"] for r in results] == list(reversed(ids))


def test_anonymous_callers_are_refused(api_client):
    response = api_client.post(URL, {"ids": [1]}, format="json")
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"
