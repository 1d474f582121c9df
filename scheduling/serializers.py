"""Input serializers validate (400 naming the field); output serializers render.

Events are rendered from raw rows (cached or not) by `EventSerializer.to_representation`,
which derives `start_at`/`end_at` from the user's clock on every read.
"""

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scheduling.models import Course, StudyPlan, Task, TaskClass, TaskClassItem
from scheduling.models.planning import PlanStatus
from scheduling.models.tasks import Priority, Status, Strategy
from scheduling.models.timetable import EventKind, EventSource
from scheduling.photo import WARNING_CODES
from scheduling.services.courses import COURSE_FIELDS
from scheduling.services.tasks import CLASS_FIELDS, ITEM_FIELDS
from scheduling.timetable import DAYS, MAX_WEEKS, SECTIONS, expand_weeks
from smartmate.api import BoundedDateTimeField, StrictSerializer


def _week(**kwargs):
    return serializers.IntegerField(min_value=1, max_value=MAX_WEEKS, **kwargs)


def _day(**kwargs):
    return serializers.IntegerField(min_value=1, max_value=DAYS, **kwargs)


def _section(**kwargs):
    return serializers.IntegerField(min_value=1, max_value=SECTIONS, **kwargs)


def _position(high: int) -> type[serializers.IntegerField]:
    """An integer of a position whose range (1-high) the event service checks for every write
    (`validate_position`); the schema still shows the range."""

    @extend_schema_field({"type": "integer", "minimum": 1, "maximum": high})
    class Position(serializers.IntegerField):
        pass

    return Position


WeekPosition, DayPosition, SectionPosition = _position(MAX_WEEKS), _position(DAYS), _position(SECTIONS)


def _sections_ordered(attrs, instance=None):
    start = attrs.get("start_section", getattr(instance, "start_section", None))
    end = attrs.get("end_section", getattr(instance, "end_section", None))
    if start is not None and end is not None and start > end:
        raise serializers.ValidationError({"end_section": ["Must not be before start_section."]})


# --- tasks ---------------------------------------------------------------------------------


class TaskSerializer(serializers.ModelSerializer):
    priority = serializers.ChoiceField(choices=Priority.choices, source="effective_priority", read_only=True)
    task_class_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Task
        fields = [
            "id",
            "title",
            "description",
            "priority",
            "deadline_at",
            "urgency_threshold_at",
            "estimated_sections",
            "status",
            "completed_at",
            "task_class_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TaskInputSerializer(StrictSerializer):
    title = serializers.CharField(min_length=1, max_length=200)
    description = serializers.CharField(max_length=5000, allow_blank=True, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    deadline_at = BoundedDateTimeField(allow_null=True, required=False)
    urgency_threshold_at = BoundedDateTimeField(allow_null=True, required=False)
    estimated_sections = serializers.IntegerField(min_value=1, max_value=4, required=False)
    task_class_id = serializers.IntegerField(allow_null=True, required=False)
    # The threshold is not after the deadline: the task service's rule (every write passes there).


# Ids are bigint in PostgreSQL: a larger number is a 400 here, not an overflow in the query.
ID_MAX = 2**63 - 1


class TaskStatusQuerySerializer(StrictSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=ID_MAX), min_length=1, max_length=100
    )


class TaskStatusSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Status.choices)
    completed_at = serializers.DateTimeField(allow_null=True)


class TaskStatusesSerializer(serializers.Serializer):
    results = TaskStatusSerializer(many=True)


# --- task classes -------------------------------------------------------------------------


class TaskClassItemSerializer(serializers.ModelSerializer):
    scheduled_event_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = TaskClassItem
        fields = ["id", *ITEM_FIELDS, "scheduled_event_id"]
        read_only_fields = fields


class TaskClassItemInputSerializer(StrictSerializer):
    title = serializers.CharField(min_length=1, max_length=200)
    order = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False)
    estimated_sections = serializers.IntegerField(min_value=1, max_value=4, required=False)
    status = serializers.ChoiceField(choices=Status.choices, required=False)


class TaskClassSerializer(serializers.ModelSerializer):
    items = serializers.SerializerMethodField()
    excluded_days = serializers.ListField(child=_day(), read_only=True)
    excluded_sections = serializers.ListField(child=_section(), read_only=True)

    class Meta:
        model = TaskClass
        fields = ["id", *CLASS_FIELDS, "items", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(TaskClassItemSerializer(many=True))
    def get_items(self, obj):
        items = obj.item_list if hasattr(obj, "item_list") else obj.items.all()
        return TaskClassItemSerializer(items, many=True).data


class TaskClassInputSerializer(StrictSerializer):
    name = serializers.CharField(min_length=1, max_length=100)
    description = serializers.CharField(max_length=5000, allow_blank=True, required=False)
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False, error_messages={"invalid": "Use #rrggbb."})
    start_date = serializers.DateField(allow_null=True, required=False)
    end_date = serializers.DateField(allow_null=True, required=False)
    strategy = serializers.ChoiceField(choices=Strategy.choices, required=False)
    excluded_days = serializers.ListField(child=_day(), max_length=7, required=False)
    excluded_sections = serializers.ListField(child=_section(), max_length=SECTIONS, required=False)
    daily_max_sections = serializers.IntegerField(min_value=1, max_value=SECTIONS, required=False)

    def validate(self, attrs):
        start = attrs.get("start_date", getattr(self.instance, "start_date", None))
        end = attrs.get("end_date", getattr(self.instance, "end_date", None))
        if start and end and start > end:
            raise serializers.ValidationError({"end_date": ["Must not be before start_date."]})
        for name in ("excluded_days", "excluded_sections"):
            if name in attrs:
                attrs[name] = sorted(set(attrs[name]))
        return attrs


class StudyPlanCreateSerializer(StrictSerializer):
    class_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**53), min_length=1, max_length=50
    )


class PlacementSerializer(serializers.Serializer):
    item_id = serializers.IntegerField()
    title = serializers.CharField()
    week = serializers.IntegerField()
    day = serializers.IntegerField()
    start_section = serializers.IntegerField()
    end_section = serializers.IntegerField()


class StudyPlanSerializer(serializers.ModelSerializer):
    class_ids = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    placements = PlacementSerializer(many=True, read_only=True)
    status = serializers.SerializerMethodField()
    applied_event_ids = serializers.ListField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = StudyPlan
        fields = [
            "id",
            "class_ids",
            "placements",
            "base_version",
            "expires_at",
            "status",
            "apply_status",
            "applied_event_ids",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=PlanStatus.choices))
    def get_status(self, plan):
        return plan.effective_status()


# --- courses -------------------------------------------------------------------------------


class CourseSerializer(serializers.ModelSerializer):
    weeks = serializers.ListField(child=_week(), read_only=True)

    class Meta:
        model = Course
        fields = ["id", *COURSE_FIELDS, "created_at", "updated_at"]
        read_only_fields = fields


class CourseInputSerializer(StrictSerializer):
    """`weeks`, or `start_week` + `end_week` (+ `week_type`) expanded by the server."""

    name = serializers.CharField(min_length=1, max_length=100)
    location = serializers.CharField(max_length=100, allow_blank=True, required=False)
    teacher = serializers.CharField(max_length=100, allow_blank=True, required=False)
    weeks = serializers.ListField(child=_week(), min_length=1, max_length=MAX_WEEKS, required=False)
    start_week = _week(required=False, write_only=True)
    end_week = _week(required=False, write_only=True)
    week_type = serializers.ChoiceField(choices=["all", "odd", "even"], required=False, write_only=True)
    day = _day()
    start_section = _section()
    end_section = _section()

    def validate(self, attrs):
        _sections_ordered(attrs, self.instance)
        span = {k: attrs.pop(k) for k in ("start_week", "end_week", "week_type") if k in attrs}
        if span:
            if "weeks" in attrs:
                raise serializers.ValidationError({"weeks": ["Give weeks or start_week/end_week, not both."]})
            if "start_week" not in span or "end_week" not in span:
                missing = "end_week" if "start_week" in span else "start_week"
                raise serializers.ValidationError({missing: ["This field is required with week_type."]})
            if span["start_week"] > span["end_week"]:
                raise serializers.ValidationError({"end_week": ["Must not be before start_week."]})
            attrs["weeks"] = expand_weeks(span["start_week"], span["end_week"], span.get("week_type", "all"))
            if not attrs["weeks"]:
                raise serializers.ValidationError({"week_type": ["No week of this type in the range."]})
        elif "weeks" in attrs:
            attrs["weeks"] = sorted(set(attrs["weeks"]))
        elif not self.partial:
            raise serializers.ValidationError({"weeks": ["Give weeks or start_week and end_week."]})
        return attrs


class CourseImportRowSerializer(CourseInputSerializer):
    """A course of an import; takes the rows of courses/parse-image/ as they come (their
    confidence is read and dropped)."""

    confidence = serializers.FloatField(min_value=0, max_value=1, required=False, write_only=True)

    def validate(self, attrs):
        attrs.pop("confidence", None)
        return super().validate(attrs)


class CourseImportSerializer(StrictSerializer):
    courses = CourseImportRowSerializer(many=True, allow_empty=False, max_length=200)


class TimetablePhotoInputSerializer(StrictSerializer):
    image = serializers.FileField(
        allow_empty_file=False, help_text="A JPEG, PNG or WebP image of at most 5 MB (the type is read from its bytes)."
    )


class PhotoRowSerializer(serializers.Serializer):
    """A course row as courses/import/ takes it, with how sure the model was of it."""

    name = serializers.CharField()
    location = serializers.CharField(allow_blank=True)
    teacher = serializers.CharField(allow_blank=True)
    weeks = serializers.ListField(child=_week())
    day = _day()
    start_section = _section()
    end_section = _section()
    confidence = serializers.FloatField(min_value=0, max_value=1)


class PhotoWarningSerializer(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True, help_text="Index of the row in the model's answer; null for all.")
    code = serializers.ChoiceField(choices=WARNING_CODES)
    message = serializers.CharField()


class TimetablePhotoSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success", "partial", "rejected"])
    confidence = serializers.FloatField(min_value=0, max_value=1)
    rows = PhotoRowSerializer(many=True)
    warnings = PhotoWarningSerializer(many=True)


# --- schedule ------------------------------------------------------------------------------


class EventSerializer(serializers.Serializer):
    """Renders a raw event row (dict) or a ScheduleEvent with the `clock` from the context."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=EventKind.choices)
    title = serializers.CharField()
    week = serializers.IntegerField()
    day = serializers.IntegerField()
    start_section = serializers.IntegerField()
    end_section = serializers.IntegerField()
    start_at = serializers.DateTimeField()
    end_at = serializers.DateTimeField()
    location = serializers.CharField()
    note = serializers.CharField()
    task_id = serializers.IntegerField(allow_null=True)
    task_item_id = serializers.IntegerField(allow_null=True)
    course_id = serializers.IntegerField(allow_null=True)
    source = serializers.ChoiceField(choices=EventSource.choices)
    done = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def to_representation(self, instance):
        return render_event(instance, self.context["clock"])


def render_event(row, clock) -> dict:
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    start, end = clock.span(get("week"), get("day"), get("start_section"), get("end_section"))
    return {
        "id": get("id"),
        "kind": get("kind"),
        "title": get("title"),
        "week": get("week"),
        "day": get("day"),
        "start_section": get("start_section"),
        "end_section": get("end_section"),
        "start_at": start.isoformat(),
        "end_at": end.isoformat(),
        "location": get("location"),
        "note": get("note"),
        "task_id": get("task_id"),
        "task_item_id": get("task_item_id"),
        "course_id": get("course_id"),
        "source": get("source"),
        "done": get("done"),
        "created_at": timezone.localtime(get("created_at"), clock.tz).isoformat(),
    }


def render_week(view, clock) -> dict:
    """A WeekView as WeekSerializer documents it, built directly: this is the hottest read."""
    return {
        "week": view.week,
        "start_date": view.start_date.isoformat(),
        "days": [
            {"day": d["day"], "date": d["date"].isoformat(), "events": [render_event(r, clock) for r in d["events"]]}
            for d in view.days
        ],
    }


def render_today(today, clock) -> dict:
    return {**today, "date": today["date"].isoformat(), "events": [render_event(r, clock) for r in today["events"]]}


def render_ongoing(ongoing, clock) -> dict:
    return {name: render_event(row, clock) if row else None for name, row in ongoing.items()}


class EventInputSerializer(StrictSerializer):
    kind = serializers.ChoiceField(
        choices=[EventKind.TASK, EventKind.TASK_ITEM, EventKind.CUSTOM], required=False, default=EventKind.CUSTOM
    )
    title = serializers.CharField(min_length=1, max_length=200)
    week = WeekPosition()
    day = DayPosition()
    start_section = SectionPosition()
    end_section = SectionPosition()
    location = serializers.CharField(max_length=100, allow_blank=True, required=False, default="")
    note = serializers.CharField(max_length=1000, allow_blank=True, required=False, default="")
    task_id = serializers.IntegerField(allow_null=True, required=False, default=None)
    task_item_id = serializers.IntegerField(allow_null=True, required=False, default=None)
    done = serializers.BooleanField(required=False, default=False)


class EventUpdateSerializer(StrictSerializer):
    title = serializers.CharField(min_length=1, max_length=200, required=False)
    week = WeekPosition(required=False)
    day = DayPosition(required=False)
    start_section = SectionPosition(required=False)
    end_section = SectionPosition(required=False)
    location = serializers.CharField(max_length=100, allow_blank=True, required=False)
    note = serializers.CharField(max_length=1000, allow_blank=True, required=False)
    done = serializers.BooleanField(required=False)


class WeekQuerySerializer(StrictSerializer):
    week = _week(required=False)


class RecentQuerySerializer(StrictSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=50, required=False, default=10)


class DaySerializer(serializers.Serializer):
    day = serializers.IntegerField()
    date = serializers.DateField()
    events = EventSerializer(many=True)


class WeekSerializer(serializers.Serializer):
    week = serializers.IntegerField()
    start_date = serializers.DateField()
    days = DaySerializer(many=True)


class TodaySerializer(serializers.Serializer):
    date = serializers.DateField()
    week = serializers.IntegerField(allow_null=True)
    day = serializers.IntegerField()
    events = EventSerializer(many=True)


class OngoingSerializer(serializers.Serializer):
    current = EventSerializer(allow_null=True)
    next = EventSerializer(allow_null=True)


class RecentItemSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["task", "event"])
    id = serializers.IntegerField()
    title = serializers.CharField()
    completed_at = serializers.DateTimeField()


class RecentSerializer(serializers.Serializer):
    results = RecentItemSerializer(many=True)


class FreeDaySerializer(serializers.Serializer):
    day = serializers.IntegerField()
    sections = serializers.ListField(child=serializers.IntegerField())


class FreeSlotsSerializer(serializers.Serializer):
    week = serializers.IntegerField()
    free = FreeDaySerializer(many=True)
