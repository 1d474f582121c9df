"""Account writes: registration, login, token rotation with reuse detection, logout."""

import secrets
import zoneinfo
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import IdempotencyRecord, TokenFamily, UsedRefreshToken, User
from accounts.tokens import decode_refresh, expires_at, family_id, issue_pair
from smartmate.errors import ApiError


class TokenInvalid(ApiError):
    status_code = 401
    default_code = "token_invalid"
    default_detail = "Token is invalid or expired."


class TokenReused(ApiError):
    status_code = 401
    default_code = "token_reused"
    default_detail = "This refresh token was already used; every token of this login is now revoked."


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def user_register(*, username: str, password: str, email: str = "", timezone_name: str | None = None) -> User:
    tz_name = timezone_name or settings.TIME_ZONE
    today = timezone.localdate(timezone=zoneinfo.ZoneInfo(tz_name))
    try:
        with transaction.atomic():
            user = User(username=username, email=email or "", timezone=tz_name, semester_start=monday_of(today))
            user.set_password(password)
            user.save()
    except IntegrityError:
        raise ApiError(
            "A user with that username already exists.",
            code="validation_error",
            fields={"username": ["A user with that username already exists."]},
        ) from None
    return user


def session_start(*, user: User) -> dict:
    """A new login family and its first token pair."""
    family = TokenFamily.objects.create(user=user)
    return issue_pair(user, family)


def user_login(*, username: str, password: str) -> tuple[User, dict]:
    user = authenticate(username=username, password=password)
    if user is None:  # the same answer for an unknown user and a wrong password
        raise ApiError("Invalid username or password.", code="not_authenticated", status_code=401)
    return user, session_start(user=user)


def family_revoke(*, family_pk, reason: str) -> None:
    TokenFamily.objects.filter(pk=family_pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason
    )


def token_refresh(*, refresh: str) -> dict:
    """Rotate: the presented refresh dies, a new pair of the same family is issued.

    The used-token row is inserted first under a unique jti, so of N concurrent
    refreshes exactly one commits; any later presentation is a reuse.
    """
    token = decode_refresh(refresh)
    if token is None:
        raise TokenInvalid()
    family_pk = family_id(token)
    try:
        with transaction.atomic():
            UsedRefreshToken.objects.create(
                jti=token["jti"],
                family_id=family_pk,
                reason=UsedRefreshToken.Reason.ROTATED,
                expires_at=expires_at(token),
            )
            family = TokenFamily.objects.select_related("user").filter(pk=family_pk, revoked_at__isnull=True).first()
            if family is None or not family.user.is_active:
                raise TokenInvalid()
            return issue_pair(family.user, family)
    except IntegrityError:
        pass
    used = UsedRefreshToken.objects.filter(jti=token["jti"]).first()
    if used is None or used.reason == UsedRefreshToken.Reason.LOGOUT:
        raise TokenInvalid()
    grace = settings.REFRESH_REUSE_GRACE_SECONDS
    if grace and timezone.now() - used.created_at <= timedelta(seconds=grace):
        raise TokenInvalid("This refresh token was just rotated; use the new one.")
    family_revoke(family_pk=family_pk, reason="reuse")
    raise TokenReused()


def user_logout(*, user: User, refresh: str) -> None:
    """Revoke the login family of `refresh` (and so the access token sent with it)."""
    token = decode_refresh(refresh)
    if token is None or str(token.get("user_id")) != str(user.pk):
        raise TokenInvalid()
    with transaction.atomic():
        UsedRefreshToken.objects.get_or_create(
            jti=token["jti"],
            defaults={
                "family_id": family_id(token),
                "reason": UsedRefreshToken.Reason.LOGOUT,
                "expires_at": expires_at(token),
            },
        )
        family_revoke(family_pk=family_id(token), reason="logout")


def user_update(*, user: User, **fields) -> User:
    for name, value in fields.items():
        setattr(user, name, value)
    user.save(update_fields=list(fields))
    return user


def calendar_token_rotate(*, user: User) -> str:
    user.calendar_secret = secrets.token_urlsafe(32)
    user.save(update_fields=["calendar_secret"])
    return user.calendar_secret


def idempotency_records_purge(*, now=None) -> int:
    """Drop Idempotency-Key records past their 24 h replay window."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted


def tokens_flush_expired(*, now=None) -> int:
    """Drop used-token rows whose token has expired anyway (they can never be presented again)."""
    deleted, _ = UsedRefreshToken.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted
