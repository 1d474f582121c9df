"""Active scheduling API: previews (apply, ignore), triggers (incl. dry run), unfinished feedback."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from scheduling.models.active import (
    ActiveSchedulePreview,
    ActiveScheduleTrigger,
    PreviewStatus,
    TargetType,
    TriggerType,
)
from scheduling.serializers import edited_changes_field
from scheduling.services import active
from smartmate.api import BoundedDateTimeField, StrictSerializer, validated
from smartmate.idempotency import idempotency_key, idempotent


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
    changes = edited_changes_field(
        required=False,
        help_text="The chosen candidate's changes with new places: the same tasks and "
        "items, each once, on free sections inside the horizon and before the deadline; else 422 invalid_changes",
    )


class FeedbackSerializer(StrictSerializer):
    event_id = serializers.IntegerField(min_value=1, max_value=2**53)
    kind = serializers.ChoiceField(choices=["unfinished"])
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True)


def _preview_queryset(view):
    if getattr(view, "swagger_fake_view", False):  # schema generation has no user
        return ActiveSchedulePreview.objects.none()
    return ActiveSchedulePreview.objects.filter(user=view.request.user).select_related("trigger")


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=PreviewStatus.values),
            OpenApiParameter("dry_run", OpenApiTypes.BOOL, description="true: the dry-run previews instead"),
        ]
    )
)
class PreviewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Rescheduling previews: list, read, apply one candidate, or ignore."""

    serializer_class = PreviewSerializer
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"

    def get_queryset(self):
        queryset = _preview_queryset(self)
        if self.action != "list":
            return queryset
        dry_run = self.request.query_params.get("dry_run", "false").lower()
        if dry_run not in ("true", "false", "1", "0"):
            raise serializers.ValidationError({"dry_run": ["Must be true or false."]})
        queryset = queryset.filter(is_dry_run=dry_run in ("true", "1"))
        wanted = self.request.query_params.get("status")
        if wanted:
            if wanted not in PreviewStatus.values:
                raise serializers.ValidationError({"status": [f"Must be one of {', '.join(PreviewStatus.values)}."]})
            # Filter on the status a client reads: ready past expiry is expired.
            queryset = queryset.reading(wanted)
        return queryset

    @extend_schema(request=ApplySerializer, responses=PreviewSerializer)
    @action(detail=True, methods=["post"])
    @idempotent(required=True)
    def apply(self, request, pk=None):
        """Apply one candidate, as proposed or edited: its events are written, or nothing on any refusal"""
        data = validated(ApplySerializer, request)
        preview = active.preview_apply(
            user=request.user,
            preview_id=pk,
            candidate_id=data["candidate_id"],
            changes=data.get("changes"),
            idempotency_key=idempotency_key(request) or "",
        )
        return Response(PreviewSerializer(preview).data)

    @extend_schema(request=None, responses=PreviewSerializer)
    @action(detail=True, methods=["post"])
    def ignore(self, request, pk=None):
        """Ignore a preview"""
        preview = active.preview_ignore(user=request.user, preview_id=pk)
        return Response(PreviewSerializer(preview).data)


class TriggerViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Ask for a rescheduling proposal now (or simulate one with dry_run)."""

    serializer_class = TriggerSerializer
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ActiveScheduleTrigger.objects.none()
        return ActiveScheduleTrigger.objects.filter(user=self.request.user)

    @extend_schema(
        request=TriggerCreateSerializer, responses={201: TriggerResultSerializer, 200: TriggerResultSerializer}
    )
    @idempotent()
    def create(self, request):
        """Ask for a rescheduling proposal (or simulate one with dry_run)"""
        data = validated(TriggerCreateSerializer, request)
        outcome = active.trigger_create(
            user=request.user,
            trigger_type=data["trigger_type"],
            target_type=data["target_type"],
            target_id=data["target_id"],
            dry_run=data["dry_run"],
            now=data.get("now"),
        )
        body = {
            "trigger": TriggerSerializer(outcome.trigger, context={"dedupe_hit": outcome.dedupe_hit}).data,
            "preview": PreviewSerializer(outcome.preview).data if outcome.preview else None,
        }
        return Response(body, status=status.HTTP_200_OK if outcome.dedupe_hit else status.HTTP_201_CREATED)


class FeedbackViewSet(viewsets.GenericViewSet):
    """Report that a scheduled task block was not finished; the worker proposes a make-up block."""

    serializer_class = FeedbackSerializer

    @extend_schema(request=FeedbackSerializer, responses={201: TriggerResultSerializer})
    @idempotent()
    def create(self, request):
        """Report a task block as unfinished: a make-up block is proposed"""
        data = validated(FeedbackSerializer, request)
        trigger = active.feedback_create(
            user=request.user, event_id=data["event_id"], kind=data["kind"], note=data.get("note", "")
        )
        return Response({"trigger": TriggerSerializer(trigger).data, "preview": None}, status=status.HTTP_201_CREATED)
