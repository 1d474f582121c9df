from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from accounts.models import TokenFamily
from accounts.tokens import family_id


class FamilyJWTAuthentication(JWTAuthentication):
    """Bearer JWT whose login family must still be live; activates the user's time zone.

    The time zone is activated here, after authentication, because DRF parses input
    inside the view: a naive time in a body is then read in the user's zone.
    """

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
        live = (
            TokenFamily.objects.select_related("user")
            .filter(pk=family, user_id=user_id, revoked_at__isnull=True)
            .first()
            if family and user_id
            else None
        )
        if live is None or not live.user.is_active:
            raise InvalidToken("Token has been revoked.")
        activate_user_timezone(live.user)
        return live.user, token


def activate_user_timezone(user):
    """The user's zone, found the one way (accounts.timezones, docs/DOMAIN.md §6), made current."""
    from accounts.timezones import activate_user_zone  # kept out of the imports above: they are the login check's

    activate_user_zone(user)
