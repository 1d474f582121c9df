"""The served OpenAPI document covers the contract (../shared/tools/check-contract)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT.parent / "shared" / "tools" / "check-contract"

# Operations of the contract not served yet, each owned by an open issue. This list
# only shrinks: a served operation must be taken off it (the test fails otherwise).
NOT_YET_SERVED: set[str] = {
    "DELETE /api/v1/agent/conversations/{id}/",
    "DELETE /api/v1/agent/memory/items/{id}/",
    "DELETE /api/v1/courses/{id}/",
    "DELETE /api/v1/notification-channels/{id}/",
    "DELETE /api/v1/schedule/events/{id}/",
    "DELETE /api/v1/task-classes/{id}/",
    "DELETE /api/v1/task-classes/{id}/items/{id}/",
    "DELETE /api/v1/tasks/{id}/",
    "GET /api/v1/active-schedule/previews/",
    "GET /api/v1/active-schedule/previews/{id}/",
    "GET /api/v1/active-schedule/triggers/{id}/",
    "GET /api/v1/agent/conversations/",
    "GET /api/v1/agent/conversations/{id}/",
    "GET /api/v1/agent/conversations/{id}/context-stats/",
    "GET /api/v1/agent/conversations/{id}/messages/",
    "GET /api/v1/agent/conversations/{id}/schedule-preview/",
    "GET /api/v1/agent/conversations/{id}/timeline/",
    "GET /api/v1/agent/memory/items/",
    "GET /api/v1/agent/memory/items/{id}/",
    "GET /api/v1/agent/memory/settings/",
    "GET /api/v1/calendar/{id}.ics",
    "GET /api/v1/courses/",
    "GET /api/v1/courses/{id}/",
    "GET /api/v1/notification-channels/",
    "GET /api/v1/notifications/",
    "GET /api/v1/schedule/events/",
    "GET /api/v1/schedule/events/{id}/",
    "GET /api/v1/schedule/free-slots/",
    "GET /api/v1/schedule/ongoing/",
    "GET /api/v1/schedule/recent-completed/",
    "GET /api/v1/schedule/today/",
    "GET /api/v1/schedule/week/",
    "GET /api/v1/task-classes/",
    "GET /api/v1/task-classes/{id}/",
    "GET /api/v1/task-classes/{id}/items/",
    "GET /api/v1/task-classes/{id}/items/{id}/",
    "GET /api/v1/tasks/",
    "GET /api/v1/tasks/{id}/",
    "PATCH /api/v1/agent/conversations/{id}/",
    "PATCH /api/v1/agent/memory/items/{id}/",
    "PATCH /api/v1/courses/{id}/",
    "PATCH /api/v1/schedule/events/{id}/",
    "PATCH /api/v1/task-classes/{id}/",
    "PATCH /api/v1/task-classes/{id}/items/{id}/",
    "PATCH /api/v1/tasks/{id}/",
    "POST /api/v1/active-schedule/feedback/",
    "POST /api/v1/active-schedule/previews/{id}/apply/",
    "POST /api/v1/active-schedule/previews/{id}/ignore/",
    "POST /api/v1/active-schedule/triggers/",
    "POST /api/v1/agent/chat/",
    "POST /api/v1/agent/conversations/",
    "POST /api/v1/agent/conversations/{id}/chat/",
    "POST /api/v1/agent/conversations/{id}/schedule-preview/apply/",
    "POST /api/v1/agent/memory/items/",
    "POST /api/v1/agent/memory/items/{id}/restore/",
    "POST /api/v1/courses/",
    "POST /api/v1/courses/import/",
    "POST /api/v1/notification-channels/{id}/test/",
    "POST /api/v1/schedule/events/",
    "POST /api/v1/task-classes/",
    "POST /api/v1/task-classes/plan/",
    "POST /api/v1/task-classes/plans/{id}/apply/",
    "POST /api/v1/task-classes/{id}/items/",
    "POST /api/v1/task-classes/{id}/items/{id}/unschedule/",
    "POST /api/v1/tasks/",
    "POST /api/v1/tasks/{id}/complete/",
    "POST /api/v1/tasks/{id}/reopen/",
    "PUT /api/v1/agent/memory/settings/",
    "PUT /api/v1/courses/{id}/",
    "PUT /api/v1/notification-channels/{id}/",
    "PUT /api/v1/task-classes/{id}/",
    "PUT /api/v1/tasks/{id}/",
}


@pytest.mark.django_db(transaction=True)
def test_every_contract_operation_is_served(live_server):
    if not CHECK.exists():
        pytest.skip(f"{CHECK} not found (shared/ is checked out beside the repo in CI)")
    result = subprocess.run(
        [sys.executable, str(CHECK), live_server.url], capture_output=True, text=True, timeout=120, check=False
    )
    missing = set(re.findall(r"^missing\s+(\S+ \S+)", result.stdout, re.M))
    extra = set(re.findall(r"^extra\s+(\S+ \S+)", result.stdout, re.M))
    assert extra == set(), result.stdout
    assert missing - NOT_YET_SERVED == set(), result.stdout
    assert NOT_YET_SERVED - missing == set(), "served now; take these off NOT_YET_SERVED"


@pytest.mark.django_db
def test_schema_generates_without_warnings(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")
    assert client.get("/api/docs/").status_code == 200
