"""OpenAPI post-processing: document the error answers every operation can give.

drf-spectacular only lists the success status of each operation, so the served schema
claimed that, say, `POST tasks/` can only answer 201, while it answers 400 for a bad
body, 401 without a token and 429 when throttled, all in the one error shape
(errors.py, API.md Conventions). Contract fuzzing (tests/test_fuzz.py) reads that as the
schema lying; this hook adds the `Error` component and the statuses below.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Repeat-safe retries: the first answer (below 500) is replayed for 24 h to a repeat "
    "with the same key and body; 409 while the first is in flight, 422 for another body.",
)

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
                "details": {"type": "object"},
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}

# Status → description. Every operation can be refused for a bad query, credentials,
# a missing object, a throttle or a backing service that is down.
ALWAYS = {
    "400": "validation_error: bad body or query",
    "401": "not_authenticated / token_invalid / token_reused",
    "403": "permission_denied",
    "404": "not_found: no such object, another user's object, or a page past the end",
    "405": "method_not_allowed",
    "406": "not_acceptable",
    "429": "throttled / quota_exceeded (Retry-After set)",
    "503": "service_unavailable: a configured database, cache or broker is down",
}
# Operations that take a body or change state.
WRITES = {
    "409": "conflict: slot_conflict, stale_version, preview state, idempotency_in_progress, ...",
    "413": "payload_too_large",
    "415": "unsupported_media_type",
    "422": "idempotency_key_reused",
    "502": "upstream_error: a webhook or LLM endpoint answered with an error",
}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            errors = dict(ALWAYS)
            if method != "get":
                errors.update(WRITES)
            responses = operation.setdefault("responses", {})
            for status, description in errors.items():
                responses.setdefault(status, {"description": description, "content": ref})
    return result
