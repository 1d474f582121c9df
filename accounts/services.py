"""Account writes: registration, login, token rotation with reuse detection, logout, password
change and reset, and the one revocation of every login of a user (`family_revoke_all`)."""

import logging
import secrets
import zoneinfo
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts.logins import logins_changed
from accounts.models import IdempotencyRecord, TokenFamily, UsedRefreshToken, User, calendar_secret_digest
from accounts.selectors import live_family
from accounts.tokens import decode_refresh, expires_at, family_id, issue_pair
from smartmate import throttling
from smartmate.errors import ApiError

logger = logging.getLogger("smartmate.accounts")


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


class RegistrationClosed(ApiError):
    status_code = 403
    default_code = "registration_closed"
    default_detail = "Registration is closed on this server."


def registration_open_check() -> None:
    """403 registration_closed when REGISTRATION_OPEN is false (docs/DOMAIN.md §5)."""
    if not settings.REGISTRATION_OPEN:
        raise RegistrationClosed()


def user_register(*, username: str, password: str, email: str = "", timezone_name: str | None = None) -> User:
    registration_open_check()
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
    attempt = throttling.login_attempt(username=username)  # 429 once this account had its guesses
    user = authenticate(username=username, password=password)
    if user is None:  # the same answer for an unknown user and a wrong password
        raise ApiError("Invalid username or password.", code="not_authenticated", status_code=401)
    if attempt is not None:
        attempt.refund()  # only failures count against the account
    return user, session_start(user=user)


def family_revoke(*, family_pk, reason: str) -> None:
    users = list(TokenFamily.objects.filter(pk=family_pk, revoked_at__isnull=True).values_list("user_id", flat=True))
    TokenFamily.objects.filter(pk=family_pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason
    )
    for user_id in users:
        logins_changed(user_id)  # the per-request check's snapshot (accounts.logins)


def family_revoke_all(*, user, reason: str) -> int:
    """Revoke every live login family of `user` (their access tokens stop at once, their refresh
    tokens are refused). The one way a user's logins all end: password change or reset by any
    path, deactivation (accounts.signals), and anything else that must end them."""
    revoked = TokenFamily.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason[:32]
    )
    logins_changed(user.pk)  # the per-request check's snapshot (accounts.logins)
    return revoked


def _family_expired(family: TokenFamily, now) -> bool:
    return now - family.created_at >= timedelta(days=settings.LOGIN_MAX_AGE_DAYS)


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
            family = live_family(family_pk=family_pk)
            if family is None:
                raise TokenInvalid()
            if _family_expired(family, timezone.now()):  # rotation must not keep a login alive for ever
                raise TokenInvalid("This login is too old; log in again.")
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


# --- passwords ---------------------------------------------------------------------------


def _validated_new_password(user: User, password: str) -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ApiError(
            "Invalid input: new_password.", code="validation_error", fields={"new_password": list(exc.messages)}
        ) from None


def password_change(*, user: User, current_password: str, new_password: str) -> dict:
    """A new login for the caller; every other login of the user ends (through the save: see
    accounts.signals). A wrong current password counts against the account like a failed login."""
    attempt = throttling.login_attempt(username=user.get_username())
    if not user.check_password(current_password):
        raise ApiError(
            "Invalid input: current_password.",
            code="validation_error",
            fields={"current_password": ["The current password is wrong."]},
        )
    if attempt is not None:
        attempt.refund()
    _validated_new_password(user, new_password)
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        return session_start(user=user)


def _reset_candidates(email: str):
    """Django's PasswordResetForm rule: active users with that address and a usable password."""
    users = User.objects.filter(email__iexact=email.strip(), is_active=True)
    return [user for user in users if user.has_usable_password()]


def password_reset_request(*, email: str) -> None:
    """Mail a one-time link to each user with `email`; the same answer (and nothing else) whether
    or not one exists. The mail is sent by the worker, so the answer takes no longer either way."""
    address = email.strip().lower()
    throttling.window_hit(scope="password_reset", ident=address, rate=settings.THROTTLE_PASSWORD_RESET_RATE)
    for user in _reset_candidates(email):
        transaction.on_commit(lambda user_id=user.pk: _mail_later(user_id), robust=True)


def _mail_later(user_id: int) -> None:
    from accounts.tasks import send_password_reset_mail

    send_password_reset_mail.delay(user_id)


def password_reset_mail_send(*, user_id: int) -> bool:
    """The reset mail: a link with the user's id and a token from Django's token generator, which
    is valid PASSWORD_RESET_TIMEOUT seconds and dies with the password it was made for."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email or not user.has_usable_password():
        return False
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = settings.PASSWORD_RESET_URL.format(base=settings.PUBLIC_BASE_URL, uid=uid, token=token)
    hours = max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)
    body = (
        f"Someone asked to reset the SmartMate password of {user.get_username()}.\n\n"
        f"Open this link to choose a new one (valid for {hours} h, once):\n{link}\n\n"
        f"Or send POST /api/v1/auth/password-reset/confirm/ with uid {uid} and token {token}.\n\n"
        "If it was not you, ignore this mail: your password stays as it is."
    )
    send_mail("Reset your SmartMate password", body, None, [user.email])
    return True


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set the new password when the token is valid; the save revokes every login (accounts.signals),
    and the token cannot be used again (it was made from the old password's hash)."""
    try:
        user = User.objects.filter(pk=int(force_str(urlsafe_base64_decode(uid))), is_active=True).first()
    except (TypeError, ValueError, OverflowError):
        user = None
    if user is None or not default_token_generator.check_token(user, token):
        raise ApiError("This password reset link is invalid or was already used.", code="token_invalid")
    _validated_new_password(user, new_password)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    return user


def calendar_token_rotate(*, user: User) -> str:
    """A new feed secret; only its hash is stored, so the URL is shown this once."""
    secret = secrets.token_urlsafe(32)
    user.calendar_secret_hash = calendar_secret_digest(secret)
    user.save(update_fields=["calendar_secret_hash"])
    return secret


def idempotency_records_purge(*, now=None) -> int:
    """Drop Idempotency-Key records past their 24 h replay window."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted


def tokens_flush_expired(*, now=None) -> int:
    """Drop used-token rows whose token has expired anyway (they can never be presented again)."""
    deleted, _ = UsedRefreshToken.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted
