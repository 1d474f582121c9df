"""The OpenAPI document as a contract for code generators (docs/ARCHITECTURE.md, "API schema
conventions"). Everything here applies to every view by default, so a new view conforms
without hand work:

- `AutoSchema` (DEFAULT_SCHEMA_CLASS): one tag per app (the view's top-level package), a
  summary from the handler's docstring (first line) or made from the action and the path,
  operation ids without `v1_` and with nothing but [a-z0-9_], `security: []` on operations
  anyone may call, the `Idempotency-Key` header on every handler under `@idempotent`
  (required when the decorator says so), and on every conditional read
  (`scheduling.etags.conditional`) the `If-None-Match` header, the 200's `ETag` and a 304.
- `postprocess` (a POSTPROCESSING_HOOK): the error answers of every operation as shared
  `components/responses` over one `Error` schema whose `code` is an enum of the documented
  codes (smartmate.errors.ERROR_CODES) and whose `details` are typed per code;
  `x-enum-varnames` on every enum; no `nullable` beside `allOf`/`oneOf` without a type; and
  the plain Django endpoints (`/healthz`) described too.
"""

from __future__ import annotations

import re

from drf_spectacular import openapi
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import AllowAny

from scheduling.edits import MESSAGES as EDIT_REASONS
from smartmate.errors import ERROR_CODES

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Repeat-safe retries: the first answer (below 500) is replayed for 24 h to a repeat "
    "with the same key and body; 409 while the first is in flight, 422 for another body. "
    "Also accepted as X-Idempotency-Key.",
)

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The ETag of an earlier answer: 304 with no body while it is still current.",
)
ETAG_HEADER = {
    "ETag": {
        "schema": {"type": "string"},
        "description": "Send it back as If-None-Match: 304 while the answer has not changed",
    }
}

STANDARD_ACTIONS = {
    "list": "List {plural}",
    "create": "Create a {singular}",
    "retrieve": "Get a {singular}",
    "update": "Replace a {singular}",
    "partial_update": "Update a {singular}",
    "destroy": "Delete a {singular}",
}


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _first_line(doc: str | None) -> str:
    for line in (doc or "").strip().splitlines():
        line = line.strip()
        if line:
            return line.rstrip(".")
    return ""


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema with the conventions above."""

    def _handler(self):
        action = getattr(self.view, "action", None)
        return getattr(self.view, action or self.method.lower(), None)

    def get_tags(self):
        return [type(self.view).__module__.split(".")[0]]

    def get_summary(self):
        summary = super().get_summary()  # extend_schema(summary=...) wins
        if summary:
            return summary
        handler = self._handler()
        own = getattr(handler, "__doc__", None)
        if own and not getattr(handler, "__module__", "").startswith("rest_framework"):  # not a DRF mixin's
            return _first_line(own)
        return self._made_summary()

    def _made_summary(self) -> str:
        tokens = [t for t in self.path.strip("/").split("/") if t not in ("api", "v1") and not t.startswith("{")]
        action = getattr(self.view, "action", None) or self.method.lower()
        if action == "retrieve" and self._is_list_view():
            action = "list"
        if action not in STANDARD_ACTIONS:
            url_path = getattr(self._handler(), "url_path", action) or action
            steps = len(url_path.strip("/").split("/"))
            resource = " ".join(tokens[:-steps] or tokens).replace("-", " ")
            words = url_path.replace("/", " ").replace("-", " ").replace("_", " ")
            return f"{resource.capitalize()}: {words}" if resource else words.capitalize()
        plural = tokens[-1].replace("-", " ") if tokens else "items"
        singular = _singular(plural)
        text = STANDARD_ACTIONS[action].format(plural=plural, singular=singular)
        return text.replace(" a ", " an ", 1) if singular[:1] in "aeiou" else text

    def get_operation_id(self):
        operation_id = super().get_operation_id()
        if getattr(self.view, "action", None) == "list" and operation_id.endswith("_retrieve"):
            operation_id = operation_id.removesuffix("_retrieve") + "_list"  # a list without pagination
        return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", operation_id)).strip("_")

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        handler = self._handler()
        if getattr(handler, "idempotent", False):
            required = getattr(handler, "idempotency_required", False)
            parameters.append(
                OpenApiParameter(
                    IDEMPOTENCY_KEY.name,
                    IDEMPOTENCY_KEY.type,
                    IDEMPOTENCY_KEY.location,
                    required=required,
                    description=("Required. " if required else "") + IDEMPOTENCY_KEY.description,
                )
            )
        if getattr(handler, "conditional_read", False):
            parameters.append(IF_NONE_MATCH)
        return parameters

    def _is_public(self) -> bool:
        return all(isinstance(permission, AllowAny) for permission in self.view.get_permissions())

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None and self._is_public():
            operation["security"] = []  # anyone may call it: no token needed
        if operation is not None and getattr(self._handler(), "conditional_read", False):
            responses = operation.setdefault("responses", {})
            if "200" in responses:
                responses["200"].setdefault("headers", {}).update(ETAG_HEADER)
            responses["304"] = {"$ref": "#/components/responses/NotModified"}
        return operation


# --- errors -------------------------------------------------------------------------------------

REF = "#/components/schemas/{}"

# Codes whose `details` have a documented shape, each with its own component.
DETAILS = {
    "slot_conflict": (
        "SlotConflictDetails",
        {
            "type": "object",
            "properties": {
                "conflicts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "event_id": {"type": "integer", "nullable": True},
                            "week": {"type": "integer"},
                            "day": {"type": "integer"},
                            "start_section": {"type": "integer"},
                            "end_section": {"type": "integer"},
                            "title": {"type": "string"},
                        },
                        "required": ["event_id", "week", "day", "start_section", "end_section", "title"],
                    },
                }
            },
            "required": ["conflicts"],
        },
    ),
    "quota_exceeded": (
        "QuotaExceededDetails",
        {
            "type": "object",
            "properties": {
                "resets_at": {"type": "string", "format": "date-time"},
                "limit": {"type": "integer"},
                "used": {"type": "integer"},
            },
            "required": ["resets_at"],
        },
    ),
    "insufficient_credits": (
        "InsufficientCreditsDetails",
        {
            "type": "object",
            "properties": {
                "balance": {"type": "integer", "description": "the credit balance (0 or less)"},
                "free_allowance": {
                    "type": "object",
                    "properties": {
                        "limit": {"type": "integer"},
                        "used": {"type": "integer"},
                        "resets_at": {"type": "string", "format": "date-time", "nullable": True},
                    },
                },
                "resets_at": {"type": "string", "format": "date-time", "nullable": True},
            },
            "required": ["balance", "free_allowance"],
        },
    ),
    "not_enough_time": (
        "NotEnoughTimeDetails",
        {
            "type": "object",
            "properties": {"needed_sections": {"type": "integer"}, "free_sections": {"type": "integer"}},
            "required": ["needed_sections", "free_sections"],
        },
    ),
    "upstream_error": (
        "UpstreamErrorDetails",
        {
            "type": "object",
            "properties": {
                "status": {"type": "integer", "nullable": True, "description": "the endpoint's HTTP status"},
                "code": {"description": "the endpoint's own error code (Feishu's `code`)"},
            },
        },
    ),
    "invalid_changes": (
        "InvalidChangesDetails",
        {
            "type": "object",
            "properties": {
                "changes": {
                    "type": "array",
                    "description": "which edited change breaks which placement rule, in edit order; "
                    "a task or item of the candidate that the edit leaves out comes last with `index` null",
                    "items": {
                        "type": "object",
                        "properties": {
                            "index": {"type": "integer", "nullable": True, "description": "its place in `changes`"},
                            "kind": {"type": "string", "enum": ["task", "task_item"]},
                            "task_id": {"type": "integer"},
                            "task_item_id": {"type": "integer"},
                            "reasons": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "code": {"type": "string", "enum": list(EDIT_REASONS)},
                                        "message": {"type": "string"},
                                    },
                                    "required": ["code", "message"],
                                },
                            },
                        },
                        "required": ["index", "kind", "reasons"],
                    },
                }
            },
            "required": ["changes"],
        },
    ),
}
FIELDS_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "description": "Per field (dotted paths for nested ones): what is wrong with it",
}


def _body(codes: list[str], *, details: dict | None = None, fields: bool = False, description: str = "") -> dict:
    properties = {
        "code": {"type": "string", "enum": codes},
        "message": {"type": "string", "description": "A sentence for people; never parse it"},
    }
    required = ["code", "message"]
    if fields:
        properties["fields"] = FIELDS_SCHEMA
    if details is not None:
        properties["details"] = details
    return {"type": "object", "description": description, "properties": properties, "required": required}


def error_components() -> dict:
    """The Error schema and its parts: one body variant per code with typed details, the rest
    sharing one variant; `code` tells them apart (a discriminator)."""
    schemas = {}
    variants = {}
    typed = {code: name for code, (name, _) in DETAILS.items()}
    for code, (name, details) in DETAILS.items():
        schemas[name] = details
        body_name = name.replace("Details", "ErrorBody")
        schemas[body_name] = _body([code], details={"$ref": REF.format(name)}, description=ERROR_CODES[code])
        variants[code] = body_name
    schemas["ValidationErrorBody"] = _body(
        ["validation_error"], fields=True, description=ERROR_CODES["validation_error"]
    )
    variants["validation_error"] = "ValidationErrorBody"
    others = [code for code in ERROR_CODES if code not in typed and code != "validation_error"]
    schemas["PlainErrorBody"] = _body(
        others, details={"type": "object", "additionalProperties": True}, description="Any other documented code"
    )
    for code in others:
        variants[code] = "PlainErrorBody"
    unique = list(dict.fromkeys(variants.values()))
    schemas["ErrorBody"] = {
        "description": "`code` is one of:\n" + "\n".join(f"* `{code}` - {text}" for code, text in ERROR_CODES.items()),
        "oneOf": [{"$ref": REF.format(name)} for name in unique],
        "discriminator": {"propertyName": "code", "mapping": {c: REF.format(n) for c, n in variants.items()}},
    }
    schemas["Error"] = {
        "type": "object",
        "description": 'Every error answer: `{"error": {"code", "message", "fields"?, "details"?}}`; '
        "the body's `code` tells which (ErrorBody).",
        "properties": {"error": {"$ref": REF.format("ErrorBody")}},
        "required": ["error"],
    }
    return schemas


# Status → (response component, description). Every operation can be refused for a bad query,
# credentials, a missing object, a throttle or a backing service that is down.
ALWAYS = {
    "400": ("BadRequest", "validation_error: bad body or query"),
    "401": ("Unauthenticated", "not_authenticated / token_invalid / token_reused"),
    "403": ("PermissionDenied", "permission_denied"),
    "404": ("NotFound", "not_found: no such object, another user's object, or a page past the end"),
    "405": ("MethodNotAllowed", "method_not_allowed"),
    "406": ("NotAcceptable", "not_acceptable"),
    "429": ("Throttled", "throttled (Retry-After set)"),
    "503": ("ServiceUnavailable", "service_unavailable: a configured database, cache or broker is down"),
}
# Operations that take a body or change state.
WRITES = {
    "409": ("Conflict", "slot_conflict, stale_version, preview state, idempotency_in_progress, ..."),
    "413": ("PayloadTooLarge", "payload_too_large"),
    "415": ("UnsupportedMediaType", "unsupported_media_type"),
    "422": ("Unprocessable", "idempotency_key_reused, invalid_changes"),
    "502": ("UpstreamError", "upstream_error: a webhook or LLM endpoint answered with an error"),
}
# Operations that run a model call (the chats, the timetable photo) may be refused for credits
# (docs/DOMAIN.md §9).
LLM_CALLS = {
    "402": ("InsufficientCredits", "insufficient_credits: the free allowance is used up and the balance is ≤ 0")
}
LLM_CALL_PATH = re.compile(r"/agent/(conversations/\{[^}]+\}/)?chat/$|/courses/parse-image/$")
# Statuses only some operations answer: listed where the view declares them (any body; the
# shared component replaces it).
DECLARED = {
    "501": ("NotConfigured", "not_configured: the feature needs a part this deployment has not set up"),
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}


def error_responses() -> dict:
    out = {}
    for name, description in (*ALWAYS.values(), *WRITES.values(), *LLM_CALLS.values(), *DECLARED.values()):
        out[name] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": REF.format("Error")}}},
        }
    for name in ("Throttled", "ServiceUnavailable"):
        out[name]["headers"] = RETRY_AFTER
    out["NotModified"] = {
        "description": "Not modified: the If-None-Match tag is still current (no body)",
        "headers": ETAG_HEADER,
    }
    return out


def _add_error_responses(result) -> None:
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            errors = dict(ALWAYS)
            if method != "get":
                errors.update(WRITES)
            if method == "post" and LLM_CALL_PATH.search(path):
                errors.update(LLM_CALLS)
            responses = operation.setdefault("responses", {})
            for status, (name, _) in errors.items():
                responses.setdefault(status, {"$ref": f"#/components/responses/{name}"})
            for status, (name, _) in DECLARED.items():
                if status in responses:
                    responses[status] = {"$ref": f"#/components/responses/{name}"}


# --- enums and nullables --------------------------------------------------------------------------

CHOICE_LINE = re.compile(r"^\* `(?P<value>[^`]*)` - (?P<label>.+)$")


def _varname(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9]+", "_", str(text)).strip("_").upper()
    return name if name and not name[0].isdigit() else f"VALUE_{name}"


def _enum_varnames(schemas: dict) -> None:
    """Generators name enum members from x-enum-varnames (else VALUE_1, VALUE_2, ...): the
    label of an integer choice (1 → IMPORTANT_AND_URGENT), the value of a string one."""
    for schema in schemas.values():
        values = schema.get("enum")
        if not values or "x-enum-varnames" in schema or None in values:
            continue
        labels = {}
        for line in (schema.get("description") or "").splitlines():
            match = CHOICE_LINE.match(line.strip())
            if match:
                labels[match["value"]] = match["label"]
        if schema.get("type") == "integer":
            names = [_varname(labels.get(str(v), v)) for v in values]
        else:
            names = [_varname(v) for v in values]
        if len(set(names)) == len(names):
            schema["x-enum-varnames"] = names


NULL_ONLY = {"type": "object", "nullable": True, "enum": [None], "description": "null"}


def _fix_nullables(node) -> None:
    """`{"nullable": true, "allOf": [X]}` without a type allows no null in OpenAPI 3.0.3 (nullable
    only widens a `type` beside it); say "X or null" as a oneOf with a null-only branch."""
    if isinstance(node, dict):
        for value in node.values():
            _fix_nullables(value)
        if node.get("nullable") and "type" not in node and ("allOf" in node or "oneOf" in node):
            del node["nullable"]
            branches = node.pop("oneOf", None) or (
                node.pop("allOf") if len(node["allOf"]) == 1 else [{"allOf": node.pop("allOf")}]
            )
            node["oneOf"] = [*branches, {"$ref": REF.format("Null")}]
    elif isinstance(node, list):
        for value in node:
            _fix_nullables(value)


def _typed_path_parameters(result) -> None:
    """A lookup regex reads as a string pattern; the ids are integers or UUIDs (docs/DOMAIN.md)."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                if parameter.get("in") != "path" or schema.get("type") != "string":
                    continue
                if schema.get("pattern") == r"^\d+$":
                    parameter["schema"] = {"type": "integer"}
                elif schema.get("pattern") == "^[0-9a-fA-F-]{32,36}$":
                    parameter["schema"] = {"type": "string", "format": "uuid"}


# --- the plain Django endpoints -------------------------------------------------------------------------

HEALTH_SCHEMA = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unavailable"]},
        "version": {"type": "string"},
        "checks": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Per part: `ok`, `disabled`, or a sentence saying what is wrong",
        },
    },
    "required": ["status", "version", "checks"],
}


def _plain_endpoints(result) -> None:
    health = {"application/json": {"schema": {"$ref": REF.format("Health")}}}
    result["components"]["schemas"]["Health"] = HEALTH_SCHEMA
    result.setdefault("paths", {})["/healthz"] = {
        "get": {
            "operationId": "healthz_retrieve",
            "summary": "Health of the service and each configured part",
            "description": "Answers within 2 s even when a part hangs.",
            "tags": ["health"],
            "security": [],
            "responses": {
                "200": {"description": "Every configured part answers", "content": health},
                "503": {"description": "A configured part is down (its check names it)", "content": health},
            },
        }
    }


def postprocess(result, generator, request, public):
    components = result.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(error_components())
    schemas["Null"] = NULL_ONLY
    components.setdefault("responses", {}).update(error_responses())
    _add_error_responses(result)
    _plain_endpoints(result)
    _typed_path_parameters(result)
    _enum_varnames(schemas)
    _fix_nullables(result)
    result["tags"] = [
        {"name": name, "description": description}
        for name, description in (
            ("accounts", "Registration, login and tokens; the signed-in user"),
            ("scheduling", "Tasks, study plans, courses, the timetable and active scheduling"),
            ("notifications", "Notification channels and delivery records"),
            ("agent", "The chat agent, its conversations and memory"),
            ("health", "Probes for operators"),
        )
    ]
    return result
