"""JWT pairs that carry a login family (claim `fam`), so one revocation reaches every
token descended from that login — access tokens included, which simplejwt alone
never checks against a blacklist."""

import uuid
from datetime import UTC, datetime

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

FAMILY_CLAIM = "fam"


def issue_pair(user, family):
    refresh = RefreshToken.for_user(user)
    refresh[FAMILY_CLAIM] = str(family.pk)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def decode_refresh(raw):
    """The verified refresh token, or None (bad signature, expired, wrong type, no family)."""
    try:
        token = RefreshToken(raw)
    except TokenError:
        return None
    if family_id(token) is None:
        return None
    return token


def family_id(token):
    try:
        return uuid.UUID(str(token.get(FAMILY_CLAIM)))
    except (TypeError, ValueError):
        return None


def expires_at(token):
    return datetime.fromtimestamp(token["exp"], tz=UTC)
