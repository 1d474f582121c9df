"""Small pieces every app's API layer shares."""

from datetime import UTC, datetime

from rest_framework import serializers


class StrictFieldsMixin:
    """Refuses fields the serializer does not know, so a typo is a 400 rather than ignored."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            known = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - known)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class StrictSerializer(StrictFieldsMixin, serializers.Serializer):
    pass


class StrictModelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    pass


# Stored date-times lie in 1970-2100. Older instants render in a zone's local mean time, whose
# offset has seconds (+08:05:43 in Asia/Shanghai before 1901), which is no RFC 3339 date-time;
# far-future ones overflow when converted to the user's zone (year 9999 in UTC+14).
DATETIME_LOWEST = datetime(1970, 1, 1, tzinfo=UTC)
DATETIME_HIGHEST = datetime(2101, 1, 1, tzinfo=UTC)
DATETIME_RANGE_MESSAGE = "Must be between 1970 and 2100."


def datetime_in_range(value: datetime | None) -> bool:
    """None, or an instant in 1970-2100 (the rule every stored date-time follows)."""
    if value is None:
        return True
    return DATETIME_LOWEST <= (value if value.tzinfo else value.replace(tzinfo=UTC)) < DATETIME_HIGHEST


class BoundedDateTimeField(serializers.DateTimeField):
    """A date-time in 1970-2100 (`datetime_in_range`): refused as input here, and again by the
    services for writes that do not come through a serializer (chat, LLM tool calls, imports)."""

    def to_internal_value(self, value):
        result = super().to_internal_value(value)
        if not datetime_in_range(result):
            raise serializers.ValidationError(DATETIME_RANGE_MESSAGE)
        return result


def validated(serializer_class, request_or_data, **kwargs):
    """Validate input with `serializer_class` (400 on failure) and return validated_data."""
    data = getattr(request_or_data, "data", request_or_data)
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
