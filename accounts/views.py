from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import quota, services
from accounts.serializers import (
    CalendarTokenSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    QuotaSerializer,
    RefreshSerializer,
    RegisterSerializer,
    SessionSerializer,
    TokenPairSerializer,
    UserSerializer,
    UserUpdateSerializer,
    calendar_url,
)
from smartmate.api import validated
from smartmate.idempotency import idempotent
from smartmate.throttling import AuthRateThrottle, UserTokenBucketThrottle

# Register, login, refresh and password reset take no access token and are limited per client IP.
ANONYMOUS = {"authentication_classes": [], "permission_classes": [AllowAny], "throttle_classes": [AuthRateThrottle]}


def _session(user, pair):
    return {"user": UserSerializer(user).data, **pair}


class AuthViewSet(viewsets.ViewSet):
    """Register, log in, rotate and revoke tokens."""

    @extend_schema(request=RegisterSerializer, responses={201: SessionSerializer})
    @action(detail=False, methods=["post"], **ANONYMOUS)
    def register(self, request):
        """Create an account and log in"""
        services.registration_open_check()  # before validation: a closed door says nothing of names taken
        data = validated(RegisterSerializer, request)
        user = services.user_register(
            username=data["username"],
            password=data["password"],
            email=data.get("email", ""),
            timezone_name=data.get("timezone"),
        )
        return Response(_session(user, services.session_start(user=user)), status=status.HTTP_201_CREATED)

    @extend_schema(request=LoginSerializer, responses={200: SessionSerializer})
    @action(detail=False, methods=["post"], **ANONYMOUS)
    def login(self, request):
        """Log in: a new token pair"""
        data = validated(LoginSerializer, request)
        user, pair = services.user_login(username=data["username"], password=data["password"])
        return Response(_session(user, pair))

    @extend_schema(request=RefreshSerializer, responses={200: TokenPairSerializer})
    @action(detail=False, methods=["post"], **ANONYMOUS)
    def refresh(self, request):
        """Rotate the refresh token: a new pair; the old refresh is dead"""
        data = validated(RefreshSerializer, request)
        return Response(services.token_refresh(refresh=data["refresh"]))

    @extend_schema(request=PasswordResetSerializer, responses={202: None})
    @action(detail=False, methods=["post"], url_path="password-reset", **ANONYMOUS)
    def password_reset(self, request):
        data = validated(PasswordResetSerializer, request)
        services.password_reset_request(email=data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=PasswordResetConfirmSerializer, responses={204: None})
    @action(detail=False, methods=["post"], url_path="password-reset/confirm", **ANONYMOUS)
    def password_reset_confirm(self, request):
        data = validated(PasswordResetConfirmSerializer, request)
        services.password_reset_confirm(uid=data["uid"], token=data["token"], new_password=data["new_password"])
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=RefreshSerializer, responses={204: None})
    @action(detail=False, methods=["post"])
    def logout(self, request):
        """Log out: this login's tokens are revoked"""
        data = validated(RefreshSerializer, request)
        services.user_logout(user=request.user, refresh=data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeViewSet(viewsets.ViewSet):
    """The signed-in user: profile, LLM quota, calendar feed token."""

    @extend_schema(responses=UserSerializer)
    def retrieve(self, request):
        """The signed-in user"""
        return Response(UserSerializer(request.user).data)

    @extend_schema(request=UserUpdateSerializer, responses=UserSerializer)
    def partial_update(self, request):
        """Change the signed-in user's profile"""
        data = validated(UserUpdateSerializer, request)
        user = services.user_update(user=request.user, **data)
        return Response(UserSerializer(user).data)

    @extend_schema(request=PasswordChangeSerializer, responses={200: TokenPairSerializer})
    @action(
        detail=False,
        methods=["post"],
        url_path="password",
        throttle_classes=[UserTokenBucketThrottle, AuthRateThrottle],  # like login: per address too
    )
    def password(self, request):
        data = validated(PasswordChangeSerializer, request)
        pair = services.password_change(
            user=request.user, current_password=data["current_password"], new_password=data["new_password"]
        )
        return Response(pair)

    @extend_schema(responses=QuotaSerializer)
    @action(detail=False, methods=["get"], url_path="quota")
    def quota(self, request):
        """The LLM token quota: limit, used, when it resets"""
        current = quota.quota_status(user=request.user)
        return Response(QuotaSerializer(current).data)

    @extend_schema(request=None, responses={201: CalendarTokenSerializer})
    @action(detail=False, methods=["post"], url_path="calendar-token")
    @idempotent()
    def calendar_token(self, request):
        """A new calendar feed URL (the old one stops working)"""
        secret = services.calendar_token_rotate(user=request.user)
        return Response({"url": calendar_url(secret)}, status=status.HTTP_201_CREATED)
