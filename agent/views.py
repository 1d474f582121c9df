"""Thin DRF views for the agent (docs/DOMAIN.md §8)."""

import json

from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.credits.pricing import price_of
from accounts.credits.services import llm_call_check
from agent import actions, chat, memory, selectors, services
from agent.models import Conversation, MemoryItem
from agent.providers import get_provider
from agent.providers.choices import model_choices, model_default
from agent.serializers import (
    ActionResultSerializer,
    AgentPlanAppliedSerializer,
    AgentPlanSerializer,
    ChatChunkSerializer,
    ChatInputSerializer,
    ChatOutputSerializer,
    ContextStatsSerializer,
    ConversationListQuerySerializer,
    ConversationSerializer,
    MemoryItemSerializer,
    MemorySettingsSerializer,
    MessageSerializer,
    ModelChoiceSerializer,
    TimelineSerializer,
)
from agent.sse import event_stream, replay_stream
from scheduling.serializers_active import ScheduleEditSerializer
from smartmate.api import validated
from smartmate.errors import ApiError
from smartmate.idempotency import (
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
    idempotent,
    replay_response,
)
from smartmate.schema import IDEMPOTENCY_KEY
from smartmate.throttling import ChatRateThrottle


class EventStreamRenderer(BaseRenderer):
    """Lets `Accept: text/event-stream` through content negotiation; the stream itself is a StreamingHttpResponse."""

    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data)


def _chat_throttles():
    from rest_framework.settings import api_settings

    return [*api_settings.DEFAULT_THROTTLE_CLASSES, ChatRateThrottle]


CHAT = {
    "renderer_classes": [JSONRenderer, EventStreamRenderer],
    "throttle_classes": _chat_throttles(),
}
# JSON by default; `Accept: text/event-stream` or `?format=sse` → the stream of chunks.
CHAT_RESPONSES = {
    (200, "application/json"): ChatOutputSerializer,
    (200, "text/event-stream"): OpenApiResponse(
        ChatChunkSerializer,
        description="Server-sent events: `retry: 3000`, then per event `id: <id>` and `data: <ChatChunk JSON>`, "
        "`: ping` comments while the model is silent, and one closing `data: [DONE]`.",
    ),
}


def _wants_stream(request) -> bool:
    """`Accept: text/event-stream` or `?format=sse` (DRF's content negotiation reads both)."""
    renderer = getattr(request, "accepted_renderer", None)
    if renderer is not None:
        return renderer.format == EventStreamRenderer.format
    return "text/event-stream" in request.META.get("HTTP_ACCEPT", "")


def _stream_response(content, conversation_id) -> StreamingHttpResponse:
    response = StreamingHttpResponse(content, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    response["X-Conversation-ID"] = str(conversation_id)
    return response


def _store_outcome(record, turn) -> None:
    """After the turn: keep its outcome under the key, or free the key if nothing was done."""
    if chat.turn_did_something(turn):
        body = JSONRenderer().render(ChatOutputSerializer(chat.turn_result(turn)).data)
        idempotency_complete(record, status_code=status.HTTP_200_OK, body=body)
    else:
        idempotency_release(record)


def _replay(request, record):
    """A repeat with the same key and body: the stored outcome, as JSON or as a short stream."""
    if record.response_status != status.HTTP_200_OK:  # a stored refusal: byte for byte
        return replay_response(record)
    outcome = json.loads(bytes(record.response_body))
    if _wants_stream(request):
        stream = replay_stream(outcome, model=get_provider().model, replay_id=f"replay-{record.pk}")
        response = _stream_response(stream, outcome["conversation_id"])
    else:
        response = HttpResponse(bytes(record.response_body), content_type="application/json")
    response["Idempotent-Replayed"] = "true"
    response["X-Conversation-ID"] = str(outcome["conversation_id"])
    return response


class ChatMixin:
    def finalize_response(self, request, response, *args, **kwargs):
        # Errors are JSON even when the client asked for a stream: nothing was streamed yet.
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.status_code >= 400:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = "application/json"
            response.renderer_context = self.get_renderer_context()
        return response

    def _chat(self, request, conversation_for, record=None):
        """One turn. With an Idempotency-Key (`record`, claimed by the caller) its outcome is
        stored when the turn is finished, and a repeat replays it (docs/DOMAIN.md §8)."""
        try:
            conversation = conversation_for()
            data = validated(ChatInputSerializer, request)
            turn = chat.turn_start(
                user=request.user, conversation=conversation, text=data["message"], model=data.get("model")
            )
        except Exception:
            if record is not None:
                idempotency_release(record)
            raise
        provider = get_provider(turn.model)
        on_finished = (lambda finished: _store_outcome(record, finished)) if record is not None else None
        if _wants_stream(request):
            stream = event_stream(turn, provider, ping_seconds=settings.AGENT_SSE_PING_SECONDS, on_finished=on_finished)
            return _stream_response(stream, conversation.pk)
        try:
            result = async_to_sync(chat.turn_collect)(turn, provider)
        finally:
            if on_finished is not None:
                on_finished(turn)
        response = Response(ChatOutputSerializer(result).data, status=status.HTTP_200_OK)
        response["X-Conversation-ID"] = str(conversation.pk)
        return response

    def _claimed(self, request):
        """The key's record to fill, or a response replaying the first outcome."""
        record = idempotency_claim(request)
        if record is not None and record.state == record.State.DONE:
            return None, _replay(request, record)
        return record, None


class ConversationViewSet(ChatMixin, viewsets.ModelViewSet):
    serializer_class = ConversationSerializer
    queryset = Conversation.objects.none()  # for the schema; requests use get_queryset
    http_method_names = ["get", "post", "patch", "delete"]
    lookup_value_regex = r"\d+"  # ids are integers: anything else is a 404, not a 500 from the query

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Conversation.objects.none()
        archived = validated(ConversationListQuerySerializer, self.request.query_params)["archived"]
        return selectors.conversation_list(user=self.request.user, archived=archived)

    def get_object(self):
        return selectors.conversation_get(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(parameters=[ConversationListQuerySerializer])
    def list(self, request, *args, **kwargs):
        """The user's conversations, newest activity first: archived ones only with ?archived=true"""
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.conversation_create(
            user=self.request.user, title=data.get("title", ""), archived=data.get("archived", False)
        )

    def perform_update(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.conversation_update(
            conversation=serializer.instance, title=data.get("title"), archived=data.get("archived")
        )

    def perform_destroy(self, instance):
        services.conversation_delete(conversation=instance)

    @extend_schema(request=ChatInputSerializer, responses=CHAT_RESPONSES, parameters=[IDEMPOTENCY_KEY])
    @action(detail=True, methods=["post"], **CHAT)
    def chat(self, request, pk=None):
        """A chat turn in this conversation: JSON, or a stream with Accept: text/event-stream"""
        conversation = self.get_object()
        record, replay = self._claimed(request)
        return replay or self._chat(request, lambda: conversation, record)

    @extend_schema(responses={200: MessageSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def messages(self, request, pk=None):
        """The conversation's messages in order"""
        return self._page(selectors.message_list(conversation=self.get_object()), MessageSerializer)

    @extend_schema(responses={200: TimelineSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        """What happened in the conversation: messages, tool calls, tasks, previews, errors"""
        return self._page(selectors.timeline_list(conversation=self.get_object()), TimelineSerializer)

    @extend_schema(responses={200: ContextStatsSerializer})
    @action(detail=True, methods=["get"], url_path="context-stats")
    def context_stats(self, request, pk=None):
        """How the model's context is spent: tokens by part, against the budget"""
        ctx = selectors.prompt_context(user=request.user, conversation=self.get_object())
        return Response(ctx["stats"])

    @extend_schema(responses={200: AgentPlanSerializer})
    @action(detail=True, methods=["get"], url_path="schedule-preview")
    def schedule_preview(self, request, pk=None):
        """The conversation's latest draft plan (404 if there is none)"""
        preview = selectors.plan_preview(conversation=self.get_object())
        if preview is None:
            raise ApiError("This conversation has no schedule preview.", code="not_found", status_code=404)
        return Response(preview)

    @extend_schema(request=ScheduleEditSerializer, responses={200: AgentPlanSerializer})
    @schedule_preview.mapping.patch
    def schedule_preview_edit(self, request, pk=None):
        """Move the draft plan's blocks: the same placement rules as the planner, else 422 invalid_changes"""
        conversation = self.get_object()
        data = validated(ScheduleEditSerializer, request)
        draft = services.plan_edit(user=request.user, conversation=conversation, changes=data["changes"])
        return Response(selectors.plan_body(draft))

    @extend_schema(request=None, responses={200: AgentPlanAppliedSerializer})
    @action(detail=True, methods=["post"], url_path="schedule-preview/apply")
    @idempotent(required=True)
    def schedule_preview_apply(self, request, pk=None):
        """Apply the draft plan: its events are written like an active-schedule apply"""
        draft = services.plan_apply(user=request.user, conversation=self.get_object())
        return Response({**draft.candidate, "status": draft.status, "applied_event_ids": draft.applied_event_ids})

    def _page(self, queryset, serializer_class):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)


class ChatViewSet(ChatMixin, viewsets.ViewSet):
    """POST chat/: a turn in a new conversation (id in X-Conversation-ID and the JSON)."""

    @extend_schema(request=ChatInputSerializer, responses=CHAT_RESPONSES, parameters=[IDEMPOTENCY_KEY])
    def create(self, request):
        """A chat turn in a new conversation (its id in X-Conversation-ID)"""
        data = validated(ChatInputSerializer, request)  # refuse before creating anything
        record, replay = self._claimed(request)  # a repeat creates no second conversation
        if replay:
            return replay
        try:
            llm_call_check(user=request.user, model=data.get("model") or model_default())
        except Exception:
            if record is not None:
                idempotency_release(record)
            raise
        return self._chat(request, lambda: services.conversation_create(user=request.user), record)

    def get_renderers(self):
        return [JSONRenderer(), EventStreamRenderer()]

    def get_throttles(self):
        return [throttle() for throttle in _chat_throttles()]


class PendingActionViewSet(viewsets.ViewSet):
    """A write the agent proposed instead of making it (`pending_action` of a chat answer)."""

    lookup_value_regex = r"\d+"  # ids are integers: anything else is a 404, not a 500 from the query

    def _answer(self, action):
        return Response(ActionResultSerializer(selectors.pending_action_result(action=action)).data)

    @extend_schema(request=None, responses={200: ActionResultSerializer})
    @action(detail=True, methods=["post"])
    @idempotent()
    def confirm(self, request, pk=None):
        """Make the proposed write (once: a repeat answers the same result; 409 action_closed if rejected or expired)"""
        return self._answer(actions.pending_action_confirm(user=request.user, action_id=int(pk)))

    @extend_schema(request=None, responses={200: ActionResultSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Drop the proposed write (409 action_closed if already decided or expired)"""
        return self._answer(actions.pending_action_reject(user=request.user, action_id=int(pk)))


class MemoryItemViewSet(viewsets.ModelViewSet):
    serializer_class = MemoryItemSerializer
    queryset = MemoryItem.objects.none()
    http_method_names = ["get", "post", "patch", "delete"]
    lookup_value_regex = r"\d+"  # ids are integers: anything else is a 404, not a 500 from the query

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return MemoryItem.objects.none()
        return selectors.memory_item_list(user=self.request.user).order_by("-importance", "-updated_at", "-id")

    def get_object(self):
        include_deleted = self.action == "restore"
        queryset = selectors.memory_item_list(user=self.request.user, include_deleted=include_deleted)
        from django.shortcuts import get_object_or_404

        return get_object_or_404(queryset, pk=self.kwargs["pk"])

    @extend_schema(responses={201: MemoryItemSerializer, 200: MemoryItemSerializer})  # 200: an equal item existed
    def create(self, request, *args, **kwargs):
        data = validated(MemoryItemSerializer, request)
        item, created = memory.memory_item_create(
            user=request.user, kind=data["kind"], content=data["content"], importance=data.get("importance", 3)
        )
        return Response(
            MemoryItemSerializer(item).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    def update(self, request, *args, **kwargs):
        item = self.get_object()
        data = validated(MemoryItemSerializer, request, instance=item, partial=kwargs.get("partial", False))
        item = memory.memory_item_update(user=request.user, item=item, **data)
        return Response(MemoryItemSerializer(item).data)

    def destroy(self, request, *args, **kwargs):
        memory.memory_item_delete(user=request.user, item=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: MemoryItemSerializer})
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        """Bring a deleted memory item back"""
        item = memory.memory_item_restore(user=request.user, item=self.get_object())
        return Response(MemoryItemSerializer(item).data)


class MemorySettingsView(APIView):
    @extend_schema(responses={200: MemorySettingsSerializer})
    def get(self, request):
        """The user's memory settings"""
        return Response(MemorySettingsSerializer(memory.memory_settings_get(user=request.user)).data)

    @extend_schema(request=MemorySettingsSerializer, responses={200: MemorySettingsSerializer})
    def put(self, request):
        """Change the user's memory settings"""
        data = validated(MemorySettingsSerializer, request, partial=True)
        row = memory.memory_settings_update(user=request.user, **data)
        return Response(MemorySettingsSerializer(row).data)


class ModelListView(APIView):
    """The models a chat may choose (`model` on chat), each with its price in credits per 1,000
    tokens; `default` marks the one used when chat names none."""

    @extend_schema(responses={200: ModelChoiceSerializer(many=True)})
    def get(self, request):
        rows = [
            {
                "id": choice.id,
                "label": choice.label,
                "prompt_per_1k": price_of(choice.id).prompt_per_1k,
                "completion_per_1k": price_of(choice.id).completion_per_1k,
                "default": choice.default,
            }
            for choice in model_choices()
        ]
        return Response(ModelChoiceSerializer(rows, many=True).data)
