import functools
import zoneinfo

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from accounts.models import User
from smartmate.api import StrictSerializer


@functools.cache
def _known_timezones():
    return frozenset(zoneinfo.available_timezones())


def validate_timezone_name(value):
    if value not in _known_timezones():
        raise serializers.ValidationError("Unknown IANA time zone.")
    return value


class UserSerializer(serializers.ModelSerializer):
    # A plain string: blank when the user gave none, which `format: email` would call invalid.
    email = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "timezone", "semester_start", "date_joined"]
        read_only_fields = fields


class UserUpdateSerializer(StrictSerializer):
    email = serializers.EmailField(required=False, allow_blank=True)
    timezone = serializers.CharField(required=False, validators=[validate_timezone_name])
    semester_start = serializers.DateField(required=False)

    def validate_semester_start(self, value):
        if value.weekday() != 0:
            raise serializers.ValidationError("semester_start must be a Monday.")
        return value


class RegisterSerializer(StrictSerializer):
    username = serializers.CharField(min_length=3, max_length=150, validators=[UnicodeUsernameValidator()])
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True)
    timezone = serializers.CharField(required=False, validators=[validate_timezone_name])

    def validate(self, attrs):
        candidate = User(username=attrs["username"], email=attrs.get("email", ""))
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class LoginSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class PasswordChangeSerializer(StrictSerializer):
    current_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class PasswordResetSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(StrictSerializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class RefreshSerializer(StrictSerializer):
    refresh = serializers.CharField(max_length=2000)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class SessionSerializer(TokenPairSerializer):
    user = UserSerializer()


class QuotaSerializer(serializers.Serializer):
    limit = serializers.IntegerField()
    used = serializers.IntegerField()
    remaining = serializers.IntegerField()
    window_started_at = serializers.DateTimeField(allow_null=True)
    resets_at = serializers.DateTimeField(allow_null=True)


class CalendarTokenSerializer(serializers.Serializer):
    url = serializers.URLField()


def calendar_url(secret):
    return f"{settings.PUBLIC_BASE_URL}/api/v1/calendar/{secret}.ics"
