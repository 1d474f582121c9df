"""Idempotency-Key for POSTs that create or apply something (docs/DOMAIN.md §5).

Decorate a viewset action with `@idempotent()` (or `@idempotent(required=True)`).
The first response below 500 is stored per (user, key) in the database and replayed
byte for byte for a repeat with the same body; a repeat while the first is in
flight → 409 `idempotency_in_progress`; the same key with another body → 422
`idempotency_key_reused`. Records live in the database, not the cache, because the
embedded file cache has no atomic add across processes.
"""

import functools
import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException

from accounts.models import IdempotencyRecord
from smartmate.errors import ApiError

logger = logging.getLogger("smartmate.idempotency")

HEADERS = ("HTTP_IDEMPOTENCY_KEY", "HTTP_X_IDEMPOTENCY_KEY")
MAX_KEY_LENGTH = 255


def idempotency_key(request):
    for header in HEADERS:
        value = request.META.get(header)
        if value is not None:
            value = value.strip()
            if not value or len(value) > MAX_KEY_LENGTH or not value.isprintable():
                raise ApiError(
                    "Idempotency-Key must be 1-255 printable characters.",
                    code="validation_error",
                    fields={"Idempotency-Key": ["Must be 1-255 printable characters."]},
                )
            return value
    return None


def _request_hash(request):
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0" + request.path.encode() + b"\0")
    digest.update(request.body or b"")
    return digest.hexdigest()


def _claim(user, key, request_hash):
    """Insert the in-flight record, or return the existing one for the caller to judge."""
    now = timezone.now()
    fresh = dict(
        request_hash=request_hash,
        state=IdempotencyRecord.State.IN_PROGRESS,
        response_status=None,
        response_body=None,
        response_content_type="",
        locked_until=now + timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS),
        expires_at=now + timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS),
    )
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(user=user, key=key, **fresh), True
    except IntegrityError:
        pass
    # Expired, or in flight past its lock (the process died): take it over atomically.
    reclaimable = Q(expires_at__lte=now) | Q(state=IdempotencyRecord.State.IN_PROGRESS, locked_until__lte=now)
    taken = IdempotencyRecord.objects.filter(reclaimable, user=user, key=key).update(**fresh)
    record = IdempotencyRecord.objects.get(user=user, key=key)
    return record, bool(taken)


def _refuse_unless_replayable(record, request_hash):
    """A key already claimed: 422 for another body, 409 while the first is still running."""
    if record.request_hash != request_hash:
        raise ApiError(
            "This Idempotency-Key was already used with a different request.",
            code="idempotency_key_reused",
            status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    if record.state == IdempotencyRecord.State.IN_PROGRESS:
        raise ApiError(
            "A request with this Idempotency-Key is still being processed.",
            code="idempotency_in_progress",
            status_code=status.HTTP_409_CONFLICT,
        )


def idempotency_claim(request):
    """For a view that stores its own outcome (chat, whose answer may be a stream): None without
    a key; the record in progress to fill with `idempotency_complete` (or free with
    `idempotency_release`); or a DONE record whose outcome to replay. 409/422 as above."""
    key = idempotency_key(request)
    if key is None or not request.user.is_authenticated:
        return None
    request_hash = _request_hash(request)
    record, claimed = _claim(request.user, key, request_hash)
    if not claimed:
        _refuse_unless_replayable(record, request_hash)
    return record


def idempotency_complete(record, *, status_code: int, body: bytes, content_type: str = "application/json") -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyRecord.State.DONE,
        response_status=status_code,
        response_body=body,
        response_content_type=content_type,
    )


def idempotency_release(record) -> None:
    _release(record)


def replay_response(record):
    response = HttpResponse(bytes(record.response_body or b""), status=record.response_status)
    response["Content-Type"] = record.response_content_type or "application/json"
    response["Idempotent-Replayed"] = "true"
    return response


def _run_and_record(view, request, handler, record, args, kwargs):
    try:
        response = handler(view, request, *args, **kwargs)
    except APIException as exc:
        response = view.handle_exception(exc)
    response = view.finalize_response(request, response, *args, **kwargs)
    response.render()
    if response.status_code >= 500:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
    else:
        idempotency_complete(
            record,
            status_code=response.status_code,
            body=response.content,
            content_type=response.get("Content-Type", "application/json"),
        )
    return response


def _release(record):
    """Free the key after a failed attempt so a retry need not wait out the lock.

    Only while still in progress: if the failed attempt's commit did land, the record says
    DONE and must stay, or the retry would do the work twice.
    """
    if not connection.in_atomic_block and connection.errors_occurred and not connection.is_usable():
        connection.close()  # the attempt's connection was cut; the delete needs a fresh one
    try:
        IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.IN_PROGRESS).delete()
    except DatabaseError:
        logger.warning("could not release Idempotency-Key record %s; it frees when its lock expires", record.pk)


def idempotent(required=False):
    def decorator(handler):
        @functools.wraps(handler)
        def wrapper(view, request, *args, **kwargs):
            key = idempotency_key(request)
            if key is None:
                if required:
                    raise ApiError(
                        "This operation requires an Idempotency-Key header.",
                        code="validation_error",
                        fields={"Idempotency-Key": ["This header is required."]},
                    )
                return handler(view, request, *args, **kwargs)
            if not request.user.is_authenticated:
                return handler(view, request, *args, **kwargs)
            request_hash = _request_hash(request)
            record, claimed = _claim(request.user, key, request_hash)
            if not claimed:
                _refuse_unless_replayable(record, request_hash)
                return replay_response(record)
            try:
                # The effect and the stored answer commit together: if the commit's outcome is
                # lost (a cut connection), a retry either replays the answer or finds the record
                # still in progress, never the effect without its record.
                with transaction.atomic():
                    return _run_and_record(view, request, handler, record, args, kwargs)
            except Exception:
                _release(record)
                raise

        wrapper.idempotent = True
        wrapper.idempotency_required = required  # read by the schema (smartmate/schema.py)
        return wrapper

    return decorator
