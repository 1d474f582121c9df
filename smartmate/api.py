"""Small pieces every app's API layer shares."""

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


def validated(serializer_class, request_or_data, **kwargs):
    """Validate input with `serializer_class` (400 on failure) and return validated_data."""
    data = getattr(request_or_data, "data", request_or_data)
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
