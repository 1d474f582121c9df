import time

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from accounts import logins
from accounts.tokens import family_id
from smartmate import request_reads, throttling

_VALIDATED_MAX = 10_000
_validated: dict[bytes, tuple] = {}  # raw access token → (validated token, its exp), per process


class FamilyJWTAuthentication(JWTAuthentication):
    """Bearer JWT whose login family must still be live; activates the user's time zone.

    Whether the family is live is accounts.logins' question: one cache round trip while the
    user's login snapshot is current, PostgreSQL otherwise (docs/DOMAIN.md §13). That round trip
    also brings what the view declared it reads first and takes the user's throttle token.

    The time zone is activated here, after authentication, because DRF parses input
    inside the view: a naive time in a body is then read in the user's zone.
    """

    def get_validated_token(self, raw_token):
        """simplejwt's validation, remembered per raw token until it expires: a client sends the
        same access token with every request, and decoding it (PyJWT checks each base64
        character in Python) was a tenth of a minimal request. The signature is the same bytes,
        so the answer is too; expiry is still checked on every use, and revocation is the login
        check's (below), never cached here."""
        hit = _validated.get(raw_token)
        if hit is not None and time.time() < hit[1]:
            return hit[0]
        token = super().get_validated_token(raw_token)
        if len(_validated) >= _VALIDATED_MAX:
            _validated.clear()  # crude but bounded; the next requests re-validate
        _validated[raw_token] = (token, token["exp"])
        return token

    def authenticate(self, request):
        header = self.get_header(request)
        if header is None:
            return None
        raw = self.get_raw_token(header)
        if raw is None:
            return None
        token = self.get_validated_token(raw)
        family = family_id(token)
        user_id = token.get(jwt_settings.USER_ID_CLAIM)
        user = self._live_user(request, family, user_id) if family and user_id else None
        if user is None:
            raise InvalidToken("Token has been revoked.")
        activate_user_timezone(user)
        return user, token

    @staticmethod
    def _live_user(request, family, user_id):
        """The login check, in one cache round trip with what the view reads first and the
        user's token bucket (smartmate.request_reads)."""
        view = (getattr(request, "parser_context", None) or {}).get("view")
        login_keys = logins.keys(user_id)
        extra = request_reads.declared_keys(view, user_id)
        bucket = throttling.bucket_args(view, user_id)
        found, verdict = request_reads.read(login_keys + extra, keep=extra, bucket=bucket)
        if verdict is not None:
            request.bucket_verdict = verdict  # UserTokenBucketThrottle uses it
        return logins.live_user(family_pk=family, user_id=user_id, found=found)


def activate_user_timezone(user):
    """The user's zone, found the one way (accounts.timezones, docs/DOMAIN.md §6), made current."""
    from accounts.timezones import activate_user_zone  # kept out of the imports above: they are the login check's

    activate_user_zone(user)
