"""Active scheduling's input and output shapes: previews and their candidates, triggers,
apply and feedback bodies. They shape only; the rules are the services' (scheduling.services)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scheduling.models.active import (
    ActiveSchedulePreview,
    ActiveScheduleTrigger,
    PreviewStatus,
    TargetType,
    TriggerType,
)
from smartmate.api import BoundedDateTimeField, StrictSerializer


class PositionSerializer(serializers.Serializer):
    week = serializers.IntegerField()
    day = serializers.IntegerField()
    start_section = serializers.IntegerField()
    end_section = serializers.IntegerField()


class ChangeSerializer(serializers.Serializer):
    op = serializers.ChoiceField(choices=["create", "move"])
    event_id = serializers.IntegerField(required=False)
    title = serializers.CharField()
    kind = serializers.ChoiceField(choices=["task", "task_item"])
    task_id = serializers.IntegerField(required=False)
    task_item_id = serializers.IntegerField(required=False)
    to = PositionSerializer()
    # "from" is a keyword: declared below.


ChangeSerializer._declared_fields["from"] = PositionSerializer(required=False)


class CandidateSerializer(serializers.Serializer):
    id = serializers.CharField()
    summary = serializers.CharField()
    score = serializers.IntegerField()
    start_at = serializers.DateTimeField(required=False)
    end_at = serializers.DateTimeField(required=False)
    changes = ChangeSerializer(many=True)


class TriggerBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ActiveScheduleTrigger
        fields = ["id", "trigger_type", "source", "target_type", "target_id"]


class PreviewSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    trigger = TriggerBriefSerializer(read_only=True)
    candidates = CandidateSerializer(many=True, read_only=True)
    applied_candidate_id = serializers.SerializerMethodField()
    applied_event_ids = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    dry_run = serializers.BooleanField(source="is_dry_run", read_only=True)

    class Meta:
        model = ActiveSchedulePreview
        fields = [
            "id",
            "status",
            "apply_status",
            "trigger",
            "summary",
            "candidates",
            "base_version",
            "expires_at",
            "applied_candidate_id",
            "applied_event_ids",
            "dry_run",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=PreviewStatus.choices))
    def get_status(self, preview):
        return preview.effective_status()

    @extend_schema_field({"type": "string", "nullable": True})
    def get_applied_candidate_id(self, preview):
        return preview.applied_candidate_id or None


class TriggerSerializer(serializers.ModelSerializer):
    dedupe_hit = serializers.SerializerMethodField()
    dry_run = serializers.BooleanField(source="is_dry_run", read_only=True)
    preview_id = serializers.SerializerMethodField()

    class Meta:
        model = ActiveScheduleTrigger
        fields = [
            "id",
            "trigger_type",
            "source",
            "target_type",
            "target_id",
            "status",
            "dedupe_hit",
            "dry_run",
            "error_code",
            "error",
            "requested_at",
            "completed_at",
            "created_at",
            "preview_id",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_dedupe_hit(self, trigger):
        return bool(self.context.get("dedupe_hit", False))

    @extend_schema_field({"type": "string", "format": "uuid", "nullable": True})
    def get_preview_id(self, trigger):
        preview = ActiveSchedulePreview.objects.filter(trigger=trigger).values_list("pk", flat=True).first()
        return str(preview) if preview else None


class TriggerCreateSerializer(StrictSerializer):
    trigger_type = serializers.ChoiceField(choices=TriggerType.choices)
    target_type = serializers.ChoiceField(choices=TargetType.choices)
    target_id = serializers.IntegerField(min_value=1, max_value=2**53)
    dry_run = serializers.BooleanField(default=False)
    now = BoundedDateTimeField(required=False)


class TriggerResultSerializer(serializers.Serializer):
    trigger = TriggerSerializer()
    preview = PreviewSerializer(allow_null=True)


class ApplySerializer(StrictSerializer):
    candidate_id = serializers.CharField(max_length=32)


class FeedbackSerializer(StrictSerializer):
    event_id = serializers.IntegerField(min_value=1, max_value=2**53)
    kind = serializers.ChoiceField(choices=["unfinished"])
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True)
