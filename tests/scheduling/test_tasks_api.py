"""Tasks: CRUD, filters, ordering on the effective priority, complete/reopen, validation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduling.models import Task
from scheduling.selectors import task_list

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/api/v1/tasks/"


def create(api, **body):
    response = api.post(URL, {"title": "Read", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_task_round_trips_with_times_in_the_users_zone(api):
    deadline = "2026-12-01T10:00:00Z"
    task = create(api, title="Essay", description="2k words", priority=1, deadline_at=deadline, estimated_sections=3)
    assert task["deadline_at"] == "2026-12-01T18:00:00+08:00"
    assert task["status"] == "todo" and task["completed_at"] is None
    got = api.get(f"{URL}{task['id']}/").json()
    assert got == task


def test_a_naive_time_is_read_in_the_users_zone(api):
    task = create(api, deadline_at="2026-12-01T10:00:00")
    assert task["deadline_at"] == "2026-12-01T10:00:00+08:00"


def test_update_patch_and_delete(api):
    task = create(api)
    response = api.put(f"{URL}{task['id']}/", {"title": "Rewritten", "priority": 3}, format="json")
    assert response.status_code == 200 and response.json()["title"] == "Rewritten"
    response = api.patch(f"{URL}{task['id']}/", {"description": "more"}, format="json")
    assert response.json()["description"] == "more" and response.json()["priority"] == 3
    assert api.delete(f"{URL}{task['id']}/").status_code == 204
    assert api.get(f"{URL}{task['id']}/").status_code == 404


def test_complete_is_idempotent_and_reopen_clears_it(api):
    task = create(api)
    done = api.post(f"{URL}{task['id']}/complete/").json()
    assert done["status"] == "done" and done["completed_at"]
    again = api.post(f"{URL}{task['id']}/complete/").json()
    assert again["completed_at"] == done["completed_at"]
    reopened = api.post(f"{URL}{task['id']}/reopen/").json()
    assert reopened["status"] == "todo" and reopened["completed_at"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x" * 201}, "title"),
        ({"title": ""}, "title"),
        ({"title": "t", "priority": 5}, "priority"),
        ({"title": "t", "estimated_sections": 5}, "estimated_sections"),
        ({"title": "t", "description": "x" * 5001}, "description"),
        (
            {"title": "t", "deadline_at": "2026-12-01T10:00:00Z", "urgency_threshold_at": "2026-12-02T10:00:00Z"},
            "urgency_threshold_at",
        ),
        ({"title": "t", "colour": "red"}, "colour"),
        ({"title": "t", "task_class_id": 999999}, "task_class_id"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api, body, field):
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["fields"]
    assert not Task.objects.exists()


def test_patching_the_threshold_past_the_stored_deadline_is_refused(api):
    task = create(api, deadline_at="2026-12-01T10:00:00Z")
    response = api.patch(f"{URL}{task['id']}/", {"urgency_threshold_at": "2026-12-05T10:00:00Z"}, format="json")
    assert response.status_code == 400 and "urgency_threshold_at" in response.json()["error"]["fields"]


def test_another_users_task_is_a_404_everywhere(api, other_api):
    task = create(api)
    for method, suffix in [
        ("get", ""),
        ("patch", ""),
        ("put", ""),
        ("delete", ""),
        ("post", "complete/"),
        ("post", "reopen/"),
    ]:
        response = getattr(other_api, method)(f"{URL}{task['id']}/{suffix}", {"title": "x"}, format="json")
        assert response.status_code == 404, (method, suffix)
        assert response.json()["error"]["code"] == "not_found"
    assert other_api.get(URL).json()["count"] == 0


def test_filters_status_q_deadline_and_priority_list(api):
    now = timezone.now()
    a = create(api, title="Alpha report", priority=1, deadline_at=(now + timedelta(days=1)).isoformat())
    b = create(
        api, title="Beta", description="alpha inside", priority=3, deadline_at=(now + timedelta(days=5)).isoformat()
    )
    c = create(api, title="Gamma", priority=4)
    api.post(f"{URL}{c['id']}/complete/")

    def ids(query):
        response = api.get(URL + query)
        assert response.status_code == 200, response.content
        return [t["id"] for t in response.json()["results"]]

    assert ids("?status=done") == [c["id"]]
    assert set(ids("?q=alpha")) == {a["id"], b["id"]}
    assert ids("?priority=1,4&ordering=priority") == [a["id"], c["id"]]
    before = (now + timedelta(days=2)).isoformat().replace("+", "%2B")
    assert ids(f"?deadline_before={before}") == [a["id"]]
    assert ids(f"?deadline_after={before}") == [b["id"]]
    assert ids("?ordering=-deadline_at&status=todo") == [b["id"], a["id"]]


@pytest.mark.parametrize(
    "query", ["?priority=5", "?priority=x", "?status=doing", "?ordering=title", "?deadline_before=tomorrow"]
)
def test_bad_filters_are_400s_naming_the_parameter(api, query):
    response = api.get(URL + query)
    assert response.status_code == 400
    assert query[1:].split("=")[0] in response.json()["error"]["fields"]


def test_urgency_promotion_shows_at_once_in_reads_filters_and_ordering(api, user):
    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    future = (timezone.now() + timedelta(days=1)).isoformat()
    promoted = create(api, title="P2 due", priority=2, urgency_threshold_at=past)
    waiting = create(api, title="P2 waiting", priority=2, urgency_threshold_at=future)
    minor = create(api, title="P4 due", priority=4, urgency_threshold_at=past)
    assert promoted["priority"] == 1 and waiting["priority"] == 2 and minor["priority"] == 3
    assert Task.objects.get(pk=promoted["id"]).priority == 2  # the stored value is untouched

    listed = {t["id"]: t["priority"] for t in api.get(URL).json()["results"]}
    assert listed == {promoted["id"]: 1, waiting["id"]: 2, minor["id"]: 3}
    assert [t["id"] for t in api.get(URL + "?priority=1").json()["results"]] == [promoted["id"]]
    assert [t["id"] for t in api.get(URL + "?priority=3").json()["results"]] == [minor["id"]]
    ordered = [t["id"] for t in api.get(URL + "?ordering=priority").json()["results"]]
    assert ordered == [promoted["id"], waiting["id"], minor["id"]]


def test_promotion_is_computed_by_the_database(user):
    """The filter runs as SQL: the CASE on NOW() is in the query, not Python after it."""
    sql = str(task_list(user=user, filters={"priority": "1"}).query)
    assert "CASE WHEN" in sql and "STATEMENT_TIMESTAMP()" in sql.upper()


def test_list_is_paginated(api):
    for i in range(23):
        create(api, title=f"t{i}")
    first = api.get(URL).json()
    assert first["count"] == 23 and len(first["results"]) == 20 and first["next"]
    second = api.get(URL + "?page=2").json()
    assert len(second["results"]) == 3 and second["previous"] is not None
    assert len(api.get(URL + "?page_size=5").json()["results"]) == 5


def test_unauthenticated_requests_are_refused(api_client):
    assert api_client.get(URL).status_code == 401
