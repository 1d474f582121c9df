"""The agent asks before it writes (docs/DOMAIN.md §8, "Confirm before write"): with
`confirm_writes` on, for a language model's tool call (against a real loopback OpenAI-compatible
server) and for a time it could not read, a turn proposes a `pending_action` instead of writing;
`agent/actions/{id}/confirm/` makes the write exactly once (also under concurrent confirms on
PostgreSQL), `reject/` closes it, a closed or expired action answers 409 `action_closed`."""

import json
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from agent.models import ActionStatus, PendingAction
from scheduling.models import ScheduleEvent, Task
from tests.agent import fake_llm
from tests.agent.conftest import parse_sse, read_stream

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "/api/v1/agent/"
NOTE = "remind me to submit the lab report tomorrow at 3pm"


def chat(api, text, path="chat/", **extra):
    response = api.post(BASE + path, {"message": text}, format="json", **extra)
    assert response.status_code == 200, response.content
    return response.json()


def confirm(api, action_id, **extra):
    return api.post(f"{BASE}actions/{action_id}/confirm/", format="json", **extra)


def reject(api, action_id):
    return api.post(f"{BASE}actions/{action_id}/reject/", format="json")


@pytest.fixture
def confirming(auth_api):
    response = auth_api.put(BASE + "memory/settings/", {"confirm_writes": True}, format="json")
    assert response.status_code == 200 and response.json()["confirm_writes"] is True
    return auth_api


# --- the setting ------------------------------------------------------------------------------------


def test_confirm_writes_is_off_by_default_and_a_memory_setting(auth_api):
    assert auth_api.get(BASE + "memory/settings/").json()["confirm_writes"] is False
    body = auth_api.put(BASE + "memory/settings/", {"confirm_writes": True}, format="json").json()
    assert body == {"enabled": True, "auto_extract": True, "confirm_writes": True}


def test_without_the_setting_the_rules_write_at_once_and_propose_nothing(auth_api, user):
    body = chat(auth_api, NOTE)
    assert body["actions"][0]["type"] == "task_created"
    assert body["pending_action"] is None and body["pending_actions"] == []
    assert Task.objects.filter(user=user).count() == 1 and not PendingAction.objects.exists()


# --- create_task: propose, confirm once, reject, expire -------------------------------------------


def test_with_confirm_writes_a_note_proposes_the_task_and_writes_nothing(confirming, user):
    before = timezone.now()
    body = chat(confirming, NOTE)
    pending = body["pending_action"]
    assert set(pending) >= {"id", "kind", "summary", "payload", "expires_at"}
    assert pending["kind"] == "create_task" and pending["reason"] == "confirm_writes"
    assert pending["payload"]["task"]["title"] == "submit the lab report"
    assert pending["payload"]["task"]["deadline_at"] is not None
    expires = datetime.fromisoformat(pending["expires_at"])
    assert timedelta(minutes=9) < expires - before <= timedelta(minutes=10, seconds=5)
    assert body["actions"] == [{"type": "pending_action", "pending_action": pending}]
    assert "Confirm or reject" in body["reply"]
    assert Task.objects.filter(user=user).count() == 0


def test_confirm_writes_the_task_once_and_a_second_confirm_answers_the_same_result(confirming, user):
    pending = chat(confirming, NOTE)["pending_action"]
    first = confirm(confirming, pending["id"])
    assert first.status_code == 200, first.content
    result = first.json()
    assert result["status"] == "confirmed" and result["result"]["type"] == "task_created"
    task = Task.objects.get(user=user)
    assert result["result"]["task"]["id"] == task.pk and task.title == "submit the lab report"
    assert task.deadline_at == datetime.fromisoformat(pending["payload"]["task"]["deadline_at"])
    again = confirm(confirming, pending["id"])
    assert again.status_code == 200 and again.json()["result"] == result["result"]
    assert Task.objects.filter(user=user).count() == 1
    closed = reject(confirming, pending["id"])
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "action_closed"


def test_a_repeat_with_the_same_idempotency_key_replays_the_first_answer(confirming, user):
    pending = chat(confirming, NOTE)["pending_action"]
    first = confirm(confirming, pending["id"], HTTP_IDEMPOTENCY_KEY="confirm-1")
    again = confirm(confirming, pending["id"], HTTP_IDEMPOTENCY_KEY="confirm-1")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert Task.objects.filter(user=user).count() == 1


def test_reject_closes_the_action_and_nothing_is_written(confirming, user):
    pending = chat(confirming, NOTE)["pending_action"]
    rejected = reject(confirming, pending["id"])
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    for call in (confirm, reject):
        closed = call(confirming, pending["id"])
        assert closed.status_code == 409 and closed.json()["error"]["code"] == "action_closed"
    assert Task.objects.filter(user=user).count() == 0


def test_an_expired_action_answers_action_closed_at_once_and_the_sweep_persists_it(confirming, user):
    from agent.actions import pending_actions_expire

    first = chat(confirming, NOTE)["pending_action"]
    second = chat(confirming, "remind me to buy milk")["pending_action"]
    PendingAction.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    closed = confirm(confirming, first["id"])
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "action_closed"
    assert PendingAction.objects.get(pk=first["id"]).status == ActionStatus.EXPIRED  # read as expired, persisted
    assert PendingAction.objects.get(pk=second["id"]).status == ActionStatus.PENDING
    assert pending_actions_expire() == 1
    assert PendingAction.objects.get(pk=second["id"]).status == ActionStatus.EXPIRED
    assert reject(confirming, second["id"]).json()["error"]["code"] == "action_closed"
    assert Task.objects.filter(user=user).count() == 0


def test_expiry_follows_the_setting(confirming, settings):
    settings.AGENT_ACTION_TTL_SECONDS = 60
    pending = chat(confirming, NOTE)["pending_action"]
    left = datetime.fromisoformat(pending["expires_at"]) - timezone.now()
    assert timedelta(seconds=50) < left <= timedelta(seconds=60)


def clients_for(user):
    """A maker of API clients signed in as `user` (one per thread: a client is not thread-safe)."""
    from rest_framework.test import APIClient

    from accounts.services import session_start

    access = session_start(user=user)["access"]

    def make():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Bearer " + access)
        return client

    return make


@pytest.mark.postgres
def test_concurrent_confirms_write_once_and_all_answer_the_same_task(confirming, user):
    from tests.concurrency import errors_of, run_concurrently

    pending = chat(confirming, NOTE)["pending_action"]
    client_of = clients_for(user)

    def work(_index):
        response = confirm(client_of(), pending["id"])
        return response.status_code, response.json()

    outcomes = run_concurrently(8, work)
    assert errors_of(outcomes) == []
    assert {status for status, _ in outcomes} == {200}
    assert len({json.dumps(body["result"], sort_keys=True) for _, body in outcomes}) == 1
    assert Task.objects.filter(user=user).count() == 1


@pytest.mark.postgres
def test_racing_confirms_and_rejects_decide_once(confirming, user):
    from tests.concurrency import errors_of, run_concurrently

    pending = chat(confirming, NOTE)["pending_action"]
    client_of = clients_for(user)

    def work(index):
        response = (confirm if index % 2 else reject)(client_of(), pending["id"])
        return index % 2, response.status_code

    outcomes = run_concurrently(8, work)
    assert errors_of(outcomes) == []
    status = PendingAction.objects.get(pk=pending["id"]).status
    written = Task.objects.filter(user=user).count()
    if status == ActionStatus.CONFIRMED:  # every confirm answers the write, every reject is refused
        assert written == 1 and {code for is_confirm, code in outcomes if is_confirm} == {200}
        assert {code for is_confirm, code in outcomes if not is_confirm} == {409}
    else:  # one reject won; the others and every confirm are refused, nothing written
        assert status == ActionStatus.REJECTED and written == 0
        assert sorted(code for _, code in outcomes) == [200] + [409] * 7


def test_another_users_action_is_a_404_for_both_routes(confirming, make_user, user):
    from tests.conftest import auth_client

    pending = chat(confirming, NOTE)["pending_action"]
    other = auth_client(make_user("bob"))
    for path in ("confirm", "reject"):
        response = other.post(f"{BASE}actions/{pending['id']}/{path}/", format="json")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert PendingAction.objects.get(pk=pending["id"]).status == ActionStatus.PENDING
    assert confirming.post(f"{BASE}actions/abc/confirm/").status_code == 404
    assert confirming.post(f"{BASE}actions/999999/confirm/").status_code == 404


# --- low confidence: an unread time, a model's tool call --------------------------------------------


def test_an_unread_time_asks_and_offers_the_task_without_a_deadline(auth_api, user):
    body = chat(auth_api, "remind me to call the dentist in a day or two")
    assert body["actions"][0]["type"] == "ask"
    pending = body["pending_action"]
    assert pending["kind"] == "create_task" and pending["reason"] == "unresolved_time"
    assert pending["payload"]["task"]["deadline_at"] is None
    assert "When is it due?" in body["reply"] and "without a deadline" in body["reply"]
    assert Task.objects.filter(user=user).count() == 0
    done = confirm(auth_api, pending["id"]).json()
    assert done["result"]["type"] == "task_created"
    assert Task.objects.get(user=user).deadline_at is None


def test_a_models_tool_call_that_would_write_waits_for_confirm_and_confirm_charges_nothing(llm, auth_api, user):
    deadline = (timezone.now() + timedelta(days=2)).replace(microsecond=0).isoformat()
    args = json.dumps({"title": "Pay rent", "deadline": deadline, "priority": 2})
    llm.expect_request(fake_llm.PATH).respond_with_response(fake_llm.tool_calls_response(("quick_note", args)))
    body = chat(auth_api, "please add a task to pay the rent")
    pending = body["pending_action"]
    assert pending["kind"] == "create_task" and pending["reason"] == "model_tool_call"
    assert pending["payload"]["task"]["title"] == "Pay rent"
    assert Task.objects.filter(user=user).count() == 0
    usage, balance = auth_api.get("/api/v1/credits/usage/").json(), auth_api.get("/api/v1/credits/balance/").json()
    ledger = auth_api.get("/api/v1/credits/ledger/").json()["count"]
    calls = len(llm.log)
    done = confirm(auth_api, pending["id"])
    assert done.status_code == 200 and done.json()["result"]["task"]["title"] == "Pay rent"
    assert Task.objects.get(user=user).deadline_at == datetime.fromisoformat(deadline)
    assert len(llm.log) == calls  # no model call
    assert auth_api.get("/api/v1/credits/usage/").json() == usage
    assert auth_api.get("/api/v1/credits/balance/").json()["free_allowance"] == balance["free_allowance"]
    assert auth_api.get("/api/v1/credits/ledger/").json()["count"] == ledger


def test_a_model_proposes_at_most_five_writes_per_turn(llm, auth_api, user):
    calls = [("quick_note", json.dumps({"title": f"Task {n}"})) for n in range(8)]
    llm.expect_request(fake_llm.PATH).respond_with_response(fake_llm.tool_calls_response(*calls))
    body = chat(auth_api, "add these tasks")
    assert len(body["pending_actions"]) == 5 and PendingAction.objects.filter(user=user).count() == 5
    assert [p["payload"]["task"]["title"] for p in body["pending_actions"]] == [f"Task {n}" for n in range(5)]
    assert "at most 5 changes" in body["reply"]
    assert Task.objects.filter(user=user).count() == 0
    for pending in body["pending_actions"]:
        assert confirm(auth_api, pending["id"]).status_code == 200
    assert Task.objects.filter(user=user).count() == 5


def test_the_stream_carries_the_pending_action_as_an_action_chunk(confirming, user):
    response = confirming.post(BASE + "chat/", {"message": NOTE}, format="json", HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 200
    events = parse_sse(read_stream(response))
    assert events[-1] == "[DONE]"
    [chunk] = [e for e in events if isinstance(e, dict) and e["extra"].get("pending_action")]
    assert chunk["extra"]["kind"] == "action"
    pending = chunk["extra"]["pending_action"]
    assert pending["kind"] == "create_task" and chunk["extra"]["action"]["type"] == "pending_action"
    assert Task.objects.filter(user=user).count() == 0
    assert confirm(confirming, pending["id"]).status_code == 200
    assert Task.objects.filter(user=user).count() == 1


def test_a_replayed_turn_returns_the_same_pending_action_and_proposes_no_second(confirming, user):
    key = {"HTTP_IDEMPOTENCY_KEY": "turn-1"}
    first = chat(confirming, NOTE, **key)
    again = chat(confirming, NOTE, **key)
    assert again["pending_action"] == first["pending_action"]
    assert PendingAction.objects.filter(user=user).count() == 1
    stream = confirming.post(BASE + "chat/", {"message": NOTE}, format="json", HTTP_ACCEPT="text/event-stream", **key)
    events = parse_sse(read_stream(stream) if stream.streaming else stream.content.decode())
    [chunk] = [e for e in events if isinstance(e, dict) and e["extra"].get("pending_action")]
    assert chunk["extra"]["pending_action"] == first["pending_action"]


# --- apply_plan -----------------------------------------------------------------------------------


PLAN = "帮我把这周的任务安排到空闲时间里"


def test_with_confirm_writes_a_plan_is_drafted_and_its_apply_is_proposed(confirming, user, tasks):
    body = chat(confirming, PLAN)
    assert body["actions"][0]["type"] == "preview"
    pending = body["pending_action"]
    assert pending["kind"] == "apply_plan" and pending["payload"]["candidate"] == body["actions"][0]["preview"]
    assert not ScheduleEvent.objects.filter(user=user).exists()
    done = confirm(confirming, pending["id"]).json()
    assert done["result"]["type"] == "plan_applied"
    events = ScheduleEvent.objects.filter(user=user)
    assert sorted(done["result"]["applied_event_ids"]) == sorted(e.pk for e in events)
    assert {e.task_id for e in events} == {t.pk for t in tasks}
    assert confirm(confirming, pending["id"]).json()["result"] == done["result"]
    assert ScheduleEvent.objects.filter(user=user).count() == len(events)


def test_a_refined_draft_closes_the_offer_to_apply_the_earlier_one(confirming, user, tasks):
    first = chat(confirming, PLAN)
    cid = first["conversation_id"]
    refined = chat(confirming, "把数学挪到周四晚上", path=f"conversations/{cid}/chat/")
    assert refined["intent"] == "schedule_refine" and refined["pending_action"]["kind"] == "apply_plan"
    closed = confirm(confirming, first["pending_action"]["id"])
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "action_closed"
    assert not ScheduleEvent.objects.filter(user=user).exists()
    assert confirm(confirming, refined["pending_action"]["id"]).status_code == 200
    math = ScheduleEvent.objects.get(user=user, title="数学作业")
    assert math.day == 4 and math.start_section >= 9


def test_a_plan_applied_meanwhile_cannot_be_applied_again_through_its_action(confirming, user, tasks):
    body = chat(confirming, PLAN)
    cid = body["conversation_id"]
    applied = confirming.post(f"{BASE}conversations/{cid}/schedule-preview/apply/", HTTP_IDEMPOTENCY_KEY="k1")
    assert applied.status_code == 200
    count = ScheduleEvent.objects.filter(user=user).count()
    refused = confirm(confirming, body["pending_action"]["id"])
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "already_applied"
    assert ScheduleEvent.objects.filter(user=user).count() == count
    assert PendingAction.objects.get(pk=body["pending_action"]["id"]).status == ActionStatus.EXPIRED
    assert confirm(confirming, body["pending_action"]["id"]).json()["error"]["code"] == "action_closed"


# --- move_event -------------------------------------------------------------------------------------


@pytest.fixture
def review(auth_api):
    body = {"title": "Math review", "week": 2, "day": 2, "start_section": 1, "end_section": 2}
    response = auth_api.post("/api/v1/schedule/events/", body, format="json")
    assert response.status_code == 201, response.content
    return ScheduleEvent.objects.get(pk=response.json()["id"])


MOVE = "move the math review to Thursday evening"


def test_with_confirm_writes_moving_an_event_is_proposed_and_confirm_moves_it(confirming, review):
    body = chat(confirming, MOVE)
    assert body["intent"] == "schedule_refine"
    pending = body["pending_action"]
    assert pending["kind"] == "move_event" and pending["payload"]["event_id"] == review.pk
    assert pending["payload"]["from"] == {"week": 2, "day": 2, "start_section": 1, "end_section": 2}
    review.refresh_from_db()
    assert (review.day, review.start_section) == (2, 1)  # not yet
    done = confirm(confirming, pending["id"]).json()
    assert done["result"]["type"] == "event_moved"
    review.refresh_from_db()
    assert review.week == 2 and review.day == 4 and review.start_section >= 9
    assert review.end_section - review.start_section == 1


def test_without_the_setting_the_rules_move_the_event_at_once(auth_api, review):
    body = chat(auth_api, MOVE)
    assert body["actions"][0]["type"] == "event_moved" and body["pending_action"] is None
    review.refresh_from_db()
    assert review.day == 4 and review.start_section >= 9


def test_an_event_moved_since_the_proposal_is_not_moved_again_and_the_offer_closes(confirming, review):
    pending = chat(confirming, MOVE)["pending_action"]
    moved = confirming.patch(f"/api/v1/schedule/events/{review.pk}/", {"day": 5}, format="json")
    assert moved.status_code == 200, moved.content
    refused = confirm(confirming, pending["id"])
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "stale_version"
    review.refresh_from_db()
    assert review.day == 5
    assert confirm(confirming, pending["id"]).json()["error"]["code"] == "action_closed"
