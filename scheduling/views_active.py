"""Active scheduling API: previews (apply, ignore), triggers (incl. dry run), unfinished feedback."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from scheduling import selectors
from scheduling.models.active import ActiveSchedulePreview, ActiveScheduleTrigger, PreviewStatus
from scheduling.serializers_active import (
    ApplySerializer,
    FeedbackSerializer,
    PreviewSerializer,
    TriggerCreateSerializer,
    TriggerResultSerializer,
    TriggerSerializer,
)
from scheduling.services import active
from smartmate.api import validated
from smartmate.idempotency import idempotency_key, idempotent


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
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return ActiveSchedulePreview.objects.none()
        if self.action == "list":
            return selectors.preview_list(user=self.request.user, filters=self.request.query_params)
        return selectors.preview_queryset(user=self.request.user)

    @extend_schema(request=ApplySerializer, responses=PreviewSerializer)
    @action(detail=True, methods=["post"])
    @idempotent(required=True)
    def apply(self, request, pk=None):
        """Apply one candidate: its events are written, or nothing on any refusal"""
        data = validated(ApplySerializer, request)
        preview = active.preview_apply(
            user=request.user,
            preview_id=pk,
            candidate_id=data["candidate_id"],
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
