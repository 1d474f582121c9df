"""Contract fuzzing (docs/RELIABILITY.md): schemathesis generates requests for every operation of
/api/schema/ and sends them to a live server as a real user. No answer may be a 5xx, and
every answer must match the schema (status code documented, content type, body shape).

CI runs a bounded number of examples per operation and generation mode (FUZZ_EXAMPLES,
default 5) with a short deadline; `bench/fuzz.py` runs the same test with many more
examples. (schemathesis's own lazy `from_fixture` runner does not work under pytest 9, so
the operations are walked here with plain hypothesis.)
"""

import json
import os
from datetime import timedelta

import pytest
import schemathesis
import schemathesis.specs.openapi.schemas  # imported at collection: see below
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# schemathesis imports its OpenAPI modules lazily, inside `from_url`; imported there, deep in a
# fixture's stack, pytest's assertion rewriting of them hit CPython 3.11.7's "AST constructor
# recursion depth mismatch" SystemError. Imported at collection (above), the stack is shallow.
pytestmark = [pytest.mark.postgres, pytest.mark.timeout(int(os.environ.get("FUZZ_TIMEOUT", "600")))]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
DEADLINE = timedelta(seconds=float(os.environ.get("FUZZ_DEADLINE_SECONDS", "5")))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# Logout with the fuzzing user's own refresh token would revoke the access token every other
# operation uses; schemathesis never has that token, so logout is fuzzed with made-up ones.


@pytest.fixture
def fuzz_schema(transactional_db, live_server, httpserver, settings):
    from accounts.services import session_start, user_register
    from tests.agent import fake_llm

    # The photo import reads from a loopback vision model (without one it answers a 501), so what
    # the fuzzer uploads reaches the image checks and the answer's reading.
    answer = fake_llm.completion_response(
        '{"rows": [{"name": "Algebra", "location": "", "teacher": "", "day": 1, '
        '"start_section": 1, "end_section": 2, "weeks": "1-16", "confidence": 0.9}]}'
    )
    httpserver.expect_request(fake_llm.PATH, method="POST").respond_with_response(answer)
    settings.LLM_BASE_URL, settings.LLM_VISION_MODEL = httpserver.url_for("/v1"), "fake-vision-model"

    user = user_register(username="fuzzer", password="Fuzz-Correct-Horse-9")
    headers = {"Authorization": "Bearer " + session_start(user=user)["access"]}
    return schemathesis.openapi.from_url(live_server.url + "/api/schema/?format=json"), headers


def _fuzz_operation(operation, mode, headers, stats):
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=DEADLINE,
        suppress_health_check=list(HealthCheck),
        derandomize=os.environ.get("FUZZ_DERANDOMIZE", "1") == "1",
        database=None,
        report_multiple_bugs=False,
    )
    def run(case):
        stats["requests"] += 1
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def test_every_operation_answers_within_its_schema(fuzz_schema):
    schema, headers = fuzz_schema
    stats = {"operations": 0, "requests": 0}
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        stats["operations"] += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz_operation(operation, mode, headers, stats)
            except Unsatisfiable:  # no invalid request exists (e.g. a free-form string in the path)
                stats["unsatisfiable"] = stats.get("unsatisfiable", 0) + 1
            except (Exception, BaseExceptionGroup) as exc:  # one failing operation must not hide the others
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    stats["failures"] = len(failures)
    if os.environ.get("FUZZ_REPORT"):
        with open(os.environ["FUZZ_REPORT"], "w") as out:
            json.dump({**stats, "examples_per_mode": EXAMPLES, "failed": failures}, out, indent=1)
    assert stats["operations"] > 40, stats
    assert not failures, "\n\n".join(failures)


# --- regressions found by the fuzzer --------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/agent/conversations/j/",
        "/api/v1/agent/conversations/j/messages/",
        "/api/v1/agent/conversations/j/timeline/",
        "/api/v1/agent/memory/items/j/",
    ],
)
def test_a_non_integer_agent_id_is_a_404_not_a_500(auth_api, path):
    response = auth_api.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def _schema(client):
    return client.get("/api/schema/?format=json").json()


@pytest.mark.django_db
def test_every_operation_documents_the_error_shape(client):
    doc = _schema(client)
    assert "Error" in doc["components"]["schemas"]
    create = doc["paths"]["/api/v1/tasks/"]["post"]["responses"]
    for status in ("400", "401", "404", "409", "413", "429"):
        response = doc["components"]["responses"][create[status]["$ref"].rsplit("/", 1)[1]]
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


@pytest.mark.django_db
def test_user_email_is_not_declared_an_email_format_since_it_may_be_blank(client):
    user = _schema(client)["components"]["schemas"]["User"]["properties"]["email"]
    assert "format" not in user


@pytest.mark.django_db
def test_memory_item_create_documents_the_200_of_an_existing_item(client):
    responses = _schema(client)["paths"]["/api/v1/agent/memory/items/"]["post"]["responses"]
    assert {"200", "201"} <= set(responses)


@pytest.mark.django_db
@pytest.mark.parametrize("when", ["0129-01-17T00:48:34.6Z", "1900-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00"])
def test_a_task_time_outside_1970_to_2100_is_refused(auth_api, when):
    """Year 129 was stored and rendered as 0129-01-17T08:54:17.6+08:05:43 (local mean time),
    which is no RFC 3339 date-time (found by the fuzzer)."""
    response = auth_api.post("/api/v1/tasks/", {"title": "t", "urgency_threshold_at": when}, format="json")
    assert response.status_code == 400, response.content
    assert "urgency_threshold_at" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_a_task_time_inside_the_range_is_accepted(auth_api):
    response = auth_api.post("/api/v1/tasks/", {"title": "t", "deadline_at": "2030-05-01T10:00:00Z"}, format="json")
    assert response.status_code == 201, response.content
