"""The one error shape: {"error": {"code", "message", "fields"?, "details"?}}.

Every way a request can fail ends here: DRF exceptions (api_exception_handler),
Django's own 4xx/5xx pages and uncaught exceptions (JsonErrorMiddleware), CSRF
failures, and oversize bodies. No stack, no SQL, no HTML ever reaches a client.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions as drf
from rest_framework import status
from rest_framework.views import exception_handler as drf_exception_handler

from smartmate.body_limit import body_cap

logger = logging.getLogger("smartmate.errors")


class ApiError(drf.APIException):
    """An error with a contract code. Subclass or instantiate with code/status."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"
    default_detail = "The request could not be processed."

    def __init__(self, message=None, *, code=None, status_code=None, details=None, fields=None):
        super().__init__(message or self.default_detail, code or self.default_code)
        if status_code is not None:
            self.status_code = status_code
        self.error_code = code or self.default_code
        self.message = str(message or self.default_detail)
        self.details = details
        self.fields = fields


class Conflict(ApiError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state."


class ServiceUnavailable(ApiError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"
    default_detail = "A backing service is unavailable; try again shortly."


class UpstreamError(ApiError):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "upstream_error"
    default_detail = "An upstream service answered with an error."


# Every code an error answer may carry, with when. The OpenAPI `ErrorCode` enum is this list
# (smartmate/schema.py), and tests/smartmate/test_schema.py fails for a code used in the
# source but missing here: add a new code here, with its sentence.
ERROR_CODES = {
    "validation_error": "bad body or query (types, ranges, unknown enum value, malformed JSON)",
    "bad_request": "the request could not be processed",
    "not_authenticated": "no or malformed credentials, or wrong username or password",
    "token_invalid": "expired, tampered, blacklisted or wrong-type token",
    "token_reused": "a refresh token presented a second time (the whole login is revoked)",
    "permission_denied": "authenticated but not allowed",
    "registration_closed": "registration is closed on this deployment",
    "not_found": "no such object, or it belongs to another user",
    "method_not_allowed": "the path does not take this method",
    "not_acceptable": "no answer in a media type the Accept header allows",
    "unsupported_media_type": "the body is not JSON",
    "conflict": "the request conflicts with the current state",
    "slot_conflict": "a schedule slot (week, day, section) is already taken; details.conflicts",
    "stale_version": "the schedule changed since the preview or plan was made",
    "preview_expired": "the preview or plan is past expires_at",
    "preview_not_ready": "the preview cannot be applied (not ready, or a dry run)",
    "already_applied": "applied before, under another Idempotency-Key",
    "already_ignored": "the preview was ignored",
    "not_enough_time": "the study plan does not fit; details.needed_sections, details.free_sections",
    "already_imported": "this user imported this post before",
    "own_post": "importing (or being rewarded for) one's own post",
    "action_closed": "the agent action was already confirmed, rejected or expired",
    "idempotency_in_progress": "a request with this Idempotency-Key is still being processed",
    "idempotency_key_reused": "this Idempotency-Key was used with another body",
    "invalid_changes": "edited changes break a placement rule; details.changes",
    "payload_too_large": "the body is over MAX_BODY_BYTES",
    "throttled": "rate limit; Retry-After says when to try again",
    "quota_exceeded": "the LLM token quota is used up; details.resets_at",
    "insufficient_credits": "an LLM call needs credits and the balance is 0 or less",
    "upstream_error": "a webhook or LLM endpoint answered with an error; details.status",
    "not_configured": "the feature needs a part that is not configured",
    "service_unavailable": "a configured database, cache or broker is down",
    "server_error": "a bug: the request failed on our side",
    "error": "any other HTTP error",
}


def error_body(code, message, *, fields=None, details=None):
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    if details:
        body["details"] = details
    return {"error": body}


PAYLOAD_TOO_LARGE = "payload_too_large"


def payload_too_large(max_body):
    """(code, message) for a body over MAX_BODY_BYTES: one wording whether it is refused on its
    declared Content-Length (JsonErrorMiddleware) or while it streams in (smartmate.body_limit)."""
    return PAYLOAD_TOO_LARGE, f"Request body is over {max_body} bytes."


def error_response(status_code, code, message, *, fields=None, details=None, headers=None):
    response = JsonResponse(error_body(code, message, fields=fields, details=details), status=status_code)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _flatten_fields(detail, prefix=""):
    """DRF's nested ValidationError detail → {"field": ["msg", ...]} with dotted paths."""
    fields = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            whole = key == "non_field_errors" and prefix  # a nested serializer refusing its whole value
            name = prefix if whole else (f"{prefix}.{key}" if prefix else str(key))
            nested = isinstance(value, dict) or (isinstance(value, list) and not all(isinstance(v, str) for v in value))
            if value and nested:
                fields.update(_flatten_fields(value, name))
            else:
                fields[name] = [str(v) for v in (value if isinstance(value, list) else [value])]
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                fields.update(_flatten_fields(value, f"{prefix}[{index}]" if prefix else str(index)))
            elif value:
                fields.setdefault(prefix or "non_field_errors", []).append(str(value))
    return fields


def _validation_payload(detail):
    fields = _flatten_fields(detail if isinstance(detail, (dict, list)) else [detail])
    if list(fields) == ["non_field_errors"]:
        message = fields["non_field_errors"][0]
    else:
        message = "Invalid input: " + ", ".join(sorted(fields)) + "." if fields else "Invalid input."
    return message, fields


_AUTH_CODES = {"token_not_valid": "token_invalid", "user_not_found": "token_invalid", "user_inactive": "token_invalid"}


def api_exception_handler(exc, context):
    """DRF EXCEPTION_HANDLER: map every exception to the contract's error JSON."""
    if isinstance(exc, ApiError):
        headers = {}
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        return _drf_response(
            exc.status_code, exc.error_code, exc.message, fields=exc.fields, details=exc.details, headers=headers
        )
    if isinstance(exc, (Http404, drf.NotFound)):
        return _drf_response(404, "not_found", "Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        exc = drf.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, drf.ParseError):
        return _drf_response(400, "validation_error", "Malformed request body: " + _plain(exc.detail))
    if isinstance(exc, drf.ValidationError):
        message, fields = _validation_payload(exc.detail)
        return _drf_response(400, "validation_error", message, fields=fields)
    if isinstance(exc, drf.NotAuthenticated):
        return _drf_response(401, "not_authenticated", "Authentication credentials were not provided.")
    if isinstance(exc, drf.AuthenticationFailed):
        code = _auth_code(exc)
        return _drf_response(
            401, code, _plain(exc.detail) if code != "token_invalid" else "Token is invalid or expired."
        )
    if isinstance(exc, drf.PermissionDenied):
        return _drf_response(403, "permission_denied", _plain(exc.detail))
    if isinstance(exc, drf.MethodNotAllowed):
        return _drf_response(405, "method_not_allowed", _plain(exc.detail))
    if isinstance(exc, drf.Throttled):
        wait = int(exc.wait or 1)
        return _drf_response(
            429, "throttled", f"Too many requests; retry in {wait} s.", headers={"Retry-After": str(wait)}
        )
    if isinstance(exc, drf.UnsupportedMediaType):
        return _drf_response(415, "unsupported_media_type", _plain(exc.detail))
    if isinstance(exc, drf.NotAcceptable):
        return _drf_response(406, "not_acceptable", _plain(exc.detail))
    if isinstance(exc, RequestDataTooBig):
        return _drf_response(413, PAYLOAD_TOO_LARGE, "Request body is too large.")
    if isinstance(exc, IntegrityError):
        logger.warning("integrity error mapped to 409: %s", type(exc).__name__)
        return _drf_response(409, "conflict", "The request conflicts with existing data.")
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("database unavailable: %s", type(exc).__name__)
        return _drf_response(503, "service_unavailable", "The database is unavailable; try again shortly.")
    if isinstance(exc, DatabaseError):
        logger.exception("database error")
        return _drf_response(400, "validation_error", "The request could not be stored.")
    response = drf_exception_handler(exc, context)
    if response is not None:
        code = getattr(exc, "default_code", "error")
        return _drf_response(response.status_code, code, _plain(getattr(exc, "detail", "Error.")))
    logger.exception("unhandled error in %s", context.get("view").__class__.__name__ if context else "?")
    return _drf_response(500, "server_error", "Internal server error.")


def _auth_code(exc):
    """simplejwt's codes (token_not_valid, user_not_found, ...) → the contract's."""
    codes = exc.get_codes()
    if isinstance(codes, dict):
        codes = codes.get("code") or codes.get("detail")
    if isinstance(codes, list):
        codes = codes[0] if codes else None
    return _AUTH_CODES.get(codes, "not_authenticated")


def _plain(detail):
    if isinstance(detail, dict):
        detail = detail.get("detail", next(iter(detail.values()), ""))
    if isinstance(detail, list):
        detail = detail[0] if detail else ""
    return str(detail)


def _drf_response(status_code, code, message, *, fields=None, details=None, headers=None):
    from rest_framework.response import Response

    response = Response(error_body(code, message, fields=fields, details=details), status=status_code)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


_STATUS_CODES = {
    400: ("validation_error", "Bad request."),
    401: ("not_authenticated", "Authentication credentials were not provided."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    413: (PAYLOAD_TOO_LARGE, "Request body is too large."),
    500: ("server_error", "Internal server error."),
}


class JsonErrorMiddleware:
    """Outermost guard: oversize bodies → 413, and any non-JSON error page or uncaught
    exception outside /admin/ → the error JSON (also under DEBUG). Under ASGI an oversize
    body never gets here: smartmate.body_limit refuses it before Django reads it."""

    # Sync only, stated: under WSGI nothing adapts it; under ASGI (the SSE process) Django adapts
    # the chain of sync middleware at its ends only, as for any sync middleware.
    sync_capable, async_capable = True, False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = request.META.get("CONTENT_LENGTH")
        if length:
            max_body = body_cap(request.path)
            try:
                too_big = int(length) > max_body
            except ValueError:
                return error_response(400, "validation_error", "Invalid Content-Length header.")
            if too_big and not _is_admin(request):
                return error_response(413, *payload_too_large(max_body))
        response = self.get_response(request)
        if response.status_code >= 400 and not _is_json(response) and not _is_admin(request):
            code, message = _STATUS_CODES.get(response.status_code, ("error", response.reason_phrase or "Error."))
            if response.status_code == 404:
                message = _not_found_message(request)
            replaced = error_response(response.status_code, code, message)
            for header in ("Allow", "Retry-After", "X-Request-ID"):
                if response.has_header(header):
                    replaced[header] = response[header]
            return replaced
        return response

    def process_exception(self, request, exception):
        if _is_admin(request):
            return None  # Django's handlers: the admin's own HTML pages (handler500 etc. below)
        if isinstance(exception, RequestDataTooBig):
            return error_response(413, PAYLOAD_TOO_LARGE, "Request body is too large.")
        if isinstance(exception, Http404):
            return error_response(404, "not_found", "Not found.")
        if isinstance(exception, DjangoPermissionDenied):
            return error_response(403, "permission_denied", "You do not have permission to perform this action.")
        if isinstance(exception, (OperationalError, InterfaceError)):
            logger.error("database unavailable: %s", type(exception).__name__)
            return error_response(503, "service_unavailable", "The database is unavailable; try again shortly.")
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "server_error", "Internal server error.")


def _is_json(response):
    return response.get("Content-Type", "").startswith(("application/json", "application/problem+json"))


ADMIN_PREFIX = "/admin/"


def _is_admin(request) -> bool:
    """Staff in the admin get Django's HTML pages; the JSON error shape is the API's."""
    return request.path.startswith(ADMIN_PREFIX)


def csrf_failure(request, reason=""):
    if _is_admin(request):
        from django.views.csrf import csrf_failure as html_csrf_failure

        return html_csrf_failure(request, reason)
    return error_response(403, "permission_denied", "CSRF verification failed.")


def handler400(request, exception=None):
    if _is_admin(request):
        return defaults.bad_request(request, exception)
    return error_response(400, "validation_error", "Bad request.")


def handler403(request, exception=None):
    if _is_admin(request):
        return defaults.permission_denied(request, exception)
    return error_response(403, "permission_denied", "You do not have permission to perform this action.")


def _not_found_message(request):
    if request.path.startswith("/api/") and not request.path.endswith(("/", ".ics")):
        return f"Not found. API paths end with a slash: did you mean {request.path}/ ?"
    return "Not found."


def handler404(request, exception=None):
    if _is_admin(request):
        return defaults.page_not_found(request, exception)
    return error_response(404, "not_found", _not_found_message(request))


def handler500(request):
    if _is_admin(request):
        return defaults.server_error(request)
    return error_response(500, "server_error", "Internal server error.")
