"""The one way lists are filtered (docs/ARCHITECTURE.md §2): a django-filter FilterSet per
list, next to the app's selectors; the selector applies it to the query string (`apply`),
the view passes `request.query_params` and declares the parameters for the schema
(`choice_parameter` for a choice field). A bad value is a 400 `validation_error` naming the
field, before any query runs.
"""

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter


def apply(filterset_class, data, queryset):
    """`queryset` filtered by `data` (a QueryDict or dict) through `filterset_class`."""
    filterset = filterset_class(data, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs


def choice_parameter(name: str, choices) -> OpenApiParameter:
    """A query parameter taking one of `choices` (Django `(value, label)` pairs), described the
    way drf-spectacular describes a choice field."""
    return OpenApiParameter(
        name,
        OpenApiTypes.STR,
        enum=sorted(str(value) for value, _label in choices),
        description="\n".join(f"* `{value}` - {label}" for value, label in choices),
    )
