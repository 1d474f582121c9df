"""One rule for every way a task is written: its date-times lie in 1970-2100. Outside it a
deadline renders in local mean time (+08:05:43), or overflows in a far-east zone, and then every
task list of that user failed."""

from datetime import UTC, datetime

import pytest

from scheduling.models import Task
from scheduling.services.tasks import task_create, task_update
from smartmate.errors import ApiError
from tests.agent import fake_llm

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = "/api/v1/agent/chat/"


@pytest.mark.parametrize(
    "instant",
    [datetime(1, 1, 1, tzinfo=UTC), datetime(1900, 1, 5, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)],
)
@pytest.mark.parametrize("field", ["deadline_at", "urgency_threshold_at"])
def test_the_task_service_refuses_date_times_outside_1970_to_2100(user, instant, field):
    with pytest.raises(ApiError) as refused:
        task_create(user=user, title="x", **{field: instant})
    assert refused.value.error_code == "validation_error" and field in refused.value.fields
    task = task_create(user=user, title="y")
    with pytest.raises(ApiError):
        task_update(user=user, task=task, **{field: instant})
    assert Task.objects.get(pk=task.pk).deadline_at is None


def test_the_bounds_themselves_are_accepted(user):
    task_create(user=user, title="a", deadline_at=datetime(1970, 1, 1, tzinfo=UTC))
    task_create(user=user, title="b", deadline_at=datetime(2100, 12, 31, 23, 59, tzinfo=UTC))
    assert Task.objects.filter(user=user).count() == 2


@pytest.mark.parametrize("message", ["1900-01-05前交数学作业", "0001-01-01前交作业", "9999-12-31前交作业"])
def test_a_chat_note_with_an_out_of_range_date_asks_and_stores_nothing(auth_api, user, settings, message):
    settings.AGENT_PROVIDER = "offline"
    response = auth_api.post(CHAT, {"message": message}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["actions"][0]["type"] == "ask"
    assert not Task.objects.filter(user=user).exists()


def test_task_lists_keep_working_in_a_far_east_zone_after_such_a_chat(auth_api, user, settings):
    settings.AGENT_PROVIDER = "offline"
    auth_api.post(CHAT, {"message": "9999-12-31前交作业"}, format="json")
    user.timezone = "Pacific/Kiritimati"
    user.save()
    assert auth_api.get("/api/v1/tasks/").status_code == 200


def test_an_llm_tool_call_with_an_out_of_range_deadline_stores_nothing(auth_api, user, settings, httpserver):
    settings.AGENT_PROVIDER = "openai"
    settings.LLM_BASE_URL = httpserver.url_for("/v1")
    settings.LLM_MAX_RETRIES = 0
    args = {"title": "pay rent", "deadline": "9999-12-31T00:00:00+00:00"}
    httpserver.expect_request(fake_llm.PATH).respond_with_response(
        fake_llm.sse_response(fake_llm.tool_chunks("quick_note", args))
    )
    response = auth_api.post(CHAT, {"message": "add a task: pay rent"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["actions"][0]["type"] == "ask"
    assert not Task.objects.filter(user=user).exists()
