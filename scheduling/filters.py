"""Query-string filters of the list endpoints (django-filter: bad values → 400 naming the field)."""

import django_filters as filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q

from scheduling.models import ActiveSchedulePreview, ScheduleEvent, Task
from scheduling.models.active import PreviewStatus
from scheduling.models.tasks import Priority, Status
from scheduling.models.timetable import EventKind
from scheduling.timetable import DAYS, MAX_WEEKS
from smartmate.filtering import apply  # noqa: F401 - the selectors' import of it


class StableOrderingFilter(filters.OrderingFilter):
    """Orders as asked, then by id, so pages never swap rows that tie."""

    def filter(self, qs, value):
        qs = super().filter(qs, value)
        return qs.order_by(*qs.query.order_by, "-id") if value else qs


class TaskFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Status.choices)
    priority = filters.CharFilter(method="filter_priority", help_text="Comma list of 1-4 (effective priority).")
    deadline_before = filters.IsoDateTimeFilter(field_name="deadline_at", lookup_expr="lte")
    deadline_after = filters.IsoDateTimeFilter(field_name="deadline_at", lookup_expr="gte")
    q = filters.CharFilter(method="filter_q", max_length=200)
    ordering = StableOrderingFilter(
        fields=(("deadline_at", "deadline_at"), ("effective_priority", "priority"), ("created_at", "created_at"))
    )

    class Meta:
        model = Task
        fields = ["status"]

    def filter_priority(self, queryset, name, value):
        try:
            wanted = {int(part) for part in value.split(",") if part.strip()}
        except ValueError:
            wanted = {0}
        if not wanted or not wanted <= set(Priority.values):
            raise ValidationError({"priority": ["A comma list of priorities 1-4."]})
        return queryset.filter(effective_priority__in=sorted(wanted))

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))


class EventFilter(filters.FilterSet):
    week = filters.NumberFilter(min_value=1, max_value=MAX_WEEKS)
    day = filters.NumberFilter(min_value=1, max_value=DAYS)
    kind = filters.ChoiceFilter(choices=EventKind.choices)

    class Meta:
        model = ScheduleEvent
        fields = ["week", "day", "kind"]


class _CaselessChoiceField(forms.ChoiceField):
    def to_python(self, value):
        return super().to_python(value).lower()


class _CaselessChoiceFilter(filters.ChoiceFilter):
    field_class = _CaselessChoiceField


class PreviewFilter(filters.FilterSet):
    """The previews list: the live ones, or with `dry_run=true` the dry runs; `status` is the
    status a client reads (a ready preview past expiry is expired, `Applicable.reading`)."""

    dry_run = _CaselessChoiceFilter(
        choices=[(v, v) for v in ("true", "false", "1", "0")],
        method="filter_dry_run",
        required=True,
        error_messages={"required": "Must be true or false.", "invalid_choice": "Must be true or false."},
    )
    status = filters.ChoiceFilter(
        choices=PreviewStatus.choices,
        method="filter_status",
        error_messages={"invalid_choice": f"Must be one of {', '.join(PreviewStatus.values)}."},
    )

    class Meta:
        model = ActiveSchedulePreview
        fields = ["dry_run", "status"]

    def __init__(self, data=None, *args, **kwargs):
        data = data.copy() if data is not None else {}
        data.setdefault("dry_run", "false")  # left out: the live previews
        super().__init__(data, *args, **kwargs)

    def filter_dry_run(self, queryset, name, value):
        return queryset.filter(is_dry_run=value in ("true", "1"))

    def filter_status(self, queryset, name, value):
        return queryset.reading(value)
