"""The served OpenAPI document as a contract for code generators: valid, public operations marked
public, every required header declared, one typed error shape, outputs typed like inputs,
per-action parameters, clean names, a summary and an app tag on every operation, errors as
shared components. (The tool gates — Redocly, openapi-typescript + tsc — are test_schema_tools.py.)"""

import json
import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from smartmate.errors import ERROR_CODES

ROOT = Path(__file__).resolve().parents[1]
APPS = {"accounts", "scheduling", "notifications", "agent", "health"}
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def doc(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operations(doc):
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_the_document_is_valid_openapi(doc):
    validate(doc)


@pytest.mark.parametrize(
    "path,method",
    [
        ("/api/v1/auth/register/", "post"),
        ("/api/v1/auth/login/", "post"),
        ("/api/v1/auth/refresh/", "post"),
        ("/api/v1/calendar/{secret}.ics", "get"),
        ("/healthz", "get"),
    ],
)
def test_public_operations_say_they_need_no_token(doc, path, method):
    assert doc["paths"][path][method]["security"] == []


def test_every_other_operation_needs_the_bearer_token(doc):
    public = [(p, m) for p, m, op in operations(doc) if op.get("security") == []]
    assert {p for p, _ in public} <= {
        "/api/v1/auth/register/",
        "/api/v1/auth/login/",
        "/api/v1/auth/refresh/",
        "/api/v1/auth/password-reset/",
        "/api/v1/auth/password-reset/confirm/",
        "/api/v1/calendar/{secret}.ics",
        "/healthz",
    }, public
    for path, method, operation in operations(doc):
        if operation.get("security") != []:
            assert operation["security"] == [{"jwtAuth": []}], (method, path)


def _header(operation, name="Idempotency-Key"):
    return next((p for p in operation.get("parameters", []) if p["in"] == "header" and p["name"] == name), None)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/active-schedule/previews/{id}/apply/",
        "/api/v1/task-classes/plans/{id}/apply/",
        "/api/v1/agent/conversations/{id}/schedule-preview/apply/",
    ],
)
def test_applies_declare_their_required_idempotency_key(doc, path):
    header = _header(doc["paths"][path]["post"])
    assert header is not None and header["required"] is True


def test_every_idempotent_handler_declares_the_header(doc):
    """Read from the code: each handler under @idempotent, wherever it is routed."""
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator()
    generator._initialise_endpoints()
    found = 0
    for path, _regex, method, view in generator._get_paths_and_endpoints():
        action = getattr(view, "action", None) or method.lower()
        handler = getattr(view, action, None)
        if not getattr(handler, "idempotent", False):
            continue
        found += 1
        operation = doc["paths"][path.replace("{pk}", "{id}")][method.lower()]
        header = _header(operation)
        assert header is not None, (method, path)
        assert header.get("required", False) == handler.idempotency_required, (method, path)
    assert found >= 10
    for path in ("/api/v1/agent/chat/", "/api/v1/agent/conversations/{id}/chat/"):
        assert _header(doc["paths"][path]["post"]) is not None


def test_error_code_is_an_enum_of_every_documented_code_with_typed_details(doc):
    schemas = doc["components"]["schemas"]
    body = schemas["ErrorBody"]
    mapping = body["discriminator"]["mapping"]
    assert body["discriminator"]["propertyName"] == "code"
    assert set(mapping) == set(ERROR_CODES)
    codes = []
    for ref in body["oneOf"]:
        variant = schemas[ref["$ref"].rsplit("/", 1)[1]]
        codes += variant["properties"]["code"]["enum"]
    assert sorted(codes) == sorted(ERROR_CODES), "each code in exactly one variant"
    details = {
        "slot_conflict": ("SlotConflictDetails", "conflicts"),
        "quota_exceeded": ("QuotaExceededDetails", "resets_at"),
        "insufficient_credits": ("InsufficientCreditsDetails", "balance"),
        "not_enough_time": ("NotEnoughTimeDetails", "needed_sections"),
        "upstream_error": ("UpstreamErrorDetails", "status"),
    }
    for code, (component, field) in details.items():
        variant = schemas[mapping[code].rsplit("/", 1)[1]]
        assert variant["properties"]["details"] == {"$ref": f"#/components/schemas/{component}"}
        assert field in schemas[component]["properties"]
    assert "fields" in schemas["ValidationErrorBody"]["properties"]


def test_every_error_code_the_code_uses_is_documented():
    used = set()
    for path in ROOT.glob("*/**/*.py"):
        if any(part in {".venv", "tests", "bench", "migrations", "var"} for part in path.parts):
            continue
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"""(?:\bcode=|default_code = )["']([a-z_]+)["']""", text))
    used -= {"scan_error", "no_free_slot"}  # job and trigger outcomes stored on rows, not error answers
    assert used - set(ERROR_CODES) == set(), "add these to smartmate.errors.ERROR_CODES"


def test_error_answers_are_shared_components(doc):
    responses = doc["components"]["responses"]
    for path, method, operation in operations(doc):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")) and path != "/healthz":
                assert set(response) == {"$ref"}, (method, path, status)
                assert response["$ref"].rsplit("/", 1)[1] in responses
    # About 1.85 KB per operation now, 2.54 KB with the errors inline: per operation, so new
    # endpoints do not trip it.
    per_operation = len(json.dumps(doc, separators=(",", ":"))) / len(list(operations(doc)))
    assert per_operation < 2_200, f"{per_operation:.0f} bytes per operation: errors inline again?"


def _ref(schema):
    if "allOf" in schema and len(schema["allOf"]) == 1:  # a read-only reference
        schema = schema["allOf"][0]
    return schema.get("$ref", "").rsplit("/", 1)[-1]


def test_outputs_are_typed_like_inputs(doc):
    schemas = doc["components"]["schemas"]
    assert _ref(schemas["Task"]["properties"]["priority"]) == _ref(
        schemas["TaskInputRequest"]["properties"]["priority"]
    )
    assert _ref(schemas["Task"]["properties"]["priority"]) == "PriorityEnum"
    for name in ("excluded_days", "excluded_sections"):
        assert schemas["TaskClass"]["properties"][name]["items"]["type"] == "integer"
    assert schemas["Course"]["properties"]["weeks"]["items"]["type"] == "integer"
    assert _ref(schemas["TaskClass"]["properties"]["items"]["items"]) == "TaskClassItem"
    preview = doc["paths"]["/api/v1/agent/conversations/{id}/schedule-preview/"]["get"]["responses"]["200"]
    applied = doc["paths"]["/api/v1/agent/conversations/{id}/schedule-preview/apply/"]["post"]["responses"]["200"]
    for response in (preview, applied):
        component = schemas[_ref(response["content"]["application/json"]["schema"])]
        assert {"changes", "status"} <= set(component["properties"])


def test_list_filters_are_on_lists_only(doc):
    for path in (
        "/api/v1/active-schedule/previews/{id}/",
        "/api/v1/active-schedule/previews/{id}/apply/",
        "/api/v1/active-schedule/previews/{id}/ignore/",
    ):
        for operation in doc["paths"][path].values():
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            assert not names & {"status", "dry_run", "page"}, (path, names)
    names = {p["name"] for p in doc["paths"]["/api/v1/active-schedule/previews/"]["get"]["parameters"]}
    assert {"status", "dry_run"} <= names


def test_operation_ids_and_enum_names_are_generator_friendly(doc):
    ids = [operation["operationId"] for _, _, operation in operations(doc)]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", operation_id), operation_id
    assert doc["paths"]["/api/v1/calendar/{secret}.ics"]["get"]["operationId"] == "calendar_feed_retrieve"
    for name, schema in doc["components"]["schemas"].items():
        if "enum" in schema and None not in schema["enum"]:
            assert not re.search(r"[0-9a-f]{3}Enum$", name), f"{name}: add it to ENUM_NAME_OVERRIDES"
            assert len(schema["x-enum-varnames"]) == len(schema["enum"]), name
    assert doc["components"]["schemas"]["PriorityEnum"]["x-enum-varnames"][0] == "IMPORTANT_AND_URGENT"


def test_every_operation_has_a_summary_and_the_tag_of_its_app(doc):
    declared = {tag["name"] for tag in doc["tags"]}
    assert declared == APPS
    for path, method, operation in operations(doc):
        assert operation.get("summary"), (method, path)
        assert len(operation["tags"]) == 1 and operation["tags"][0] in APPS, (method, path)
    assert doc["paths"]["/api/v1/tasks/{id}/complete/"]["post"]["tags"] == ["scheduling"]
    assert doc["paths"]["/api/v1/auth/login/"]["post"]["tags"] == ["accounts"]


def _walk(node, where="#"):
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{where}/{index}")


def test_no_nullable_beside_a_composition_without_a_type(doc):
    bad = [
        where
        for where, node in _walk(doc)
        if node.get("nullable") is True and "type" not in node and ({"allOf", "oneOf", "anyOf"} & set(node))
    ]
    assert bad == []
    ongoing = doc["components"]["schemas"]["Ongoing"]["properties"]["current"]
    assert {_ref(branch) for branch in ongoing["oneOf"]} == {"Event", "Null"}


def test_chat_documents_the_stream_and_its_chunks(doc):
    for path in ("/api/v1/agent/chat/", "/api/v1/agent/conversations/{id}/chat/"):
        content = doc["paths"][path]["post"]["responses"]["200"]["content"]
        assert _ref(content["application/json"]["schema"]) == "ChatOutput"
        assert _ref(content["text/event-stream"]["schema"]) == "ChatChunk"
    schemas = doc["components"]["schemas"]
    extra = schemas[_ref(schemas["ChatChunk"]["properties"]["extra"])]
    assert set(extra["discriminator"]["mapping"]) == {"text", "intent", "action", "preview", "error"}
    assert {"id", "object", "created", "model", "choices", "extra"} <= set(schemas["ChatChunk"]["properties"])


def test_the_chats_and_only_they_document_the_credits_refusal(doc):
    for path in ("/api/v1/agent/chat/", "/api/v1/agent/conversations/{id}/chat/"):
        assert doc["paths"][path]["post"]["responses"]["402"] == {"$ref": "#/components/responses/InsufficientCredits"}
    assert "402" not in doc["paths"]["/api/v1/tasks/"]["post"]["responses"]


def test_a_new_view_conforms_without_hand_work(doc):
    """The conventions come from the default AutoSchema: a plain view of any app gets them."""
    from django.urls import include, path
    from drf_spectacular.generators import SchemaGenerator
    from rest_framework.decorators import action
    from rest_framework.permissions import AllowAny
    from rest_framework.response import Response
    from rest_framework.routers import DefaultRouter
    from rest_framework.viewsets import ViewSet

    from smartmate.idempotency import idempotent

    class GadgetViewSet(ViewSet):
        def list(self, request):
            return Response([])

        @action(detail=False, methods=["post"], permission_classes=[AllowAny])
        @idempotent(required=True)
        def polish(self, request):
            """Polish every gadget"""
            return Response({})

    GadgetViewSet.__module__ = "notifications.gadgets"
    router = DefaultRouter()
    router.include_root_view = False
    router.register("gadgets", GadgetViewSet, basename="gadget")
    patterns = [path("api/v1/", include(router.urls))]
    schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    listing = schema["paths"]["/api/v1/gadgets/"]["get"]
    polish = schema["paths"]["/api/v1/gadgets/polish/"]["post"]
    assert (listing["tags"], listing["summary"], listing["operationId"]) == (
        ["notifications"],
        "List gadgets",
        "gadgets_list",
    )
    assert polish["summary"] == "Polish every gadget" and polish["security"] == []
    assert _header(polish)["required"] is True
    assert polish["responses"]["409"] == {"$ref": "#/components/responses/Conflict"}
