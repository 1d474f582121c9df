from django.conf import settings
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from agent.models import (
    ActionKind,
    ActionReason,
    ActionStatus,
    Conversation,
    MemoryItem,
    MemoryKind,
    MemorySettings,
    Message,
    PlanStatus,
    TimelineEntry,
)
from agent.providers.choices import model_choices
from scheduling.serializers_active import CandidateSerializer
from smartmate.api import StrictModelSerializer, StrictSerializer


class ConversationSerializer(StrictModelSerializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    archived = serializers.BooleanField(required=False, help_text="Archived conversations leave the default list.")

    class Meta:
        model = Conversation
        fields = ("id", "title", "archived", "created_at", "updated_at", "last_message_at")
        read_only_fields = ("id", "created_at", "updated_at", "last_message_at")


class ConversationListQuerySerializer(serializers.Serializer):  # beside page and page_size
    archived = serializers.BooleanField(
        required=False, default=False, help_text="true: only archived conversations; false (default): the others."
    )


class ChatInputSerializer(StrictSerializer):
    message = serializers.CharField(min_length=1, max_length=settings.AGENT_MESSAGE_MAX_CHARS, trim_whitespace=False)
    model = serializers.CharField(required=False, max_length=100, help_text="An id of GET agent/models/")

    def validate_message(self, value):
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate_model(self, value):
        if value not in {choice.id for choice in model_choices()}:
            raise serializers.ValidationError("Unknown model: GET agent/models/ lists the models to choose from.")
        return value


class PendingActionSerializer(serializers.Serializer):
    """A write the agent proposes and holds until `agent/actions/{id}/confirm/` (or reject/)."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ActionKind.choices)
    summary = serializers.CharField()
    payload = serializers.DictField(
        help_text="What the write will do: `task` (create_task), `plan_id` and `candidate` (apply_plan), "
        "`event_id`, `from`, `to` (move_event)"
    )
    expires_at = serializers.DateTimeField()
    reason = serializers.ChoiceField(
        choices=ActionReason.choices,
        required=False,
        help_text="Why it asks: the user's `confirm_writes`, a model's tool call, or a time it could not read",
    )


class ChatOutputSerializer(serializers.Serializer):
    conversation_id = serializers.IntegerField()
    reply = serializers.CharField(allow_blank=True)
    intent = serializers.ChoiceField(choices=["quick_note", "task_query", "schedule_plan", "schedule_refine", "chat"])
    actions = serializers.ListField(child=serializers.DictField())
    pending_action = PendingActionSerializer(
        allow_null=True, help_text="The turn's first write waiting for a confirm (null: none)"
    )
    pending_actions = PendingActionSerializer(
        many=True, help_text="Every write the turn proposed (at most 5), in order"
    )
    usage = serializers.DictField(child=serializers.IntegerField())


class ActionResultSerializer(serializers.Serializer):
    """A decided action: its state and, once confirmed, what the write gave."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ActionKind.choices)
    status = serializers.ChoiceField(choices=ActionStatus.choices)
    summary = serializers.CharField()
    payload = serializers.DictField()
    result = serializers.DictField(
        allow_null=True, help_text="task_created (with `task`), plan_applied (`applied_event_ids`) or event_moved"
    )
    expires_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)


class ModelChoiceSerializer(serializers.Serializer):
    id = serializers.CharField()
    label = serializers.CharField()
    prompt_per_1k = serializers.FloatField(help_text="Credits per 1,000 prompt tokens")
    completion_per_1k = serializers.FloatField(help_text="Credits per 1,000 completion tokens")
    default = serializers.BooleanField()


class AgentPlanSerializer(CandidateSerializer):
    """The conversation's draft plan: a Preview candidate, with its state."""

    status = serializers.ChoiceField(choices=PlanStatus.choices)
    base_version = serializers.IntegerField()
    applied_event_ids = serializers.ListField(child=serializers.IntegerField())


class AgentPlanAppliedSerializer(CandidateSerializer):
    status = serializers.ChoiceField(choices=PlanStatus.choices)
    applied_event_ids = serializers.ListField(child=serializers.IntegerField())


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ("seq", "role", "content", "created_at")


class TimelineSerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEntry
        fields = ("seq", "kind", "data", "created_at")


class ContextStatsSerializer(serializers.Serializer):
    messages = serializers.IntegerField()
    tokens = serializers.DictField(child=serializers.IntegerField())
    budget = serializers.IntegerField()


class MemoryItemSerializer(StrictModelSerializer):
    kind = serializers.ChoiceField(choices=MemoryKind.choices)
    content = serializers.CharField(min_length=1, max_length=500)
    importance = serializers.IntegerField(min_value=1, max_value=5, required=False)
    conversation_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = MemoryItem
        fields = ("id", "kind", "content", "source", "conversation_id", "importance", "created_at")
        read_only_fields = ("id", "source", "conversation_id", "created_at")


class MemorySettingsSerializer(StrictModelSerializer):
    confirm_writes = serializers.BooleanField(
        required=False, help_text="Every write the agent would make waits for agent/actions/{id}/confirm/"
    )

    class Meta:
        model = MemorySettings
        fields = ("enabled", "auto_extract", "confirm_writes")


# --- the SSE chunk (a `data:` line of the chat stream; docs in smartmate/schema.py conventions) ---------

INTENTS = ["quick_note", "task_query", "schedule_plan", "schedule_refine", "chat"]


def _literal(value: str):
    """A string field that is always `value` (the chunk kinds), documented as a one-value enum."""

    @extend_schema_field({"type": "string", "enum": [value]})
    class Literal(serializers.CharField):
        pass

    return Literal()


class ChunkDeltaSerializer(serializers.Serializer):
    role = serializers.CharField(required=False, help_text="`assistant`, on the first chunk only")
    content = serializers.CharField(required=False, help_text="Reply text of this chunk")


class ChunkChoiceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    delta = ChunkDeltaSerializer()
    finish_reason = serializers.CharField(allow_null=True, help_text="`stop` or `error` on the closing chunk")


class UsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()


class ChunkTextSerializer(serializers.Serializer):
    kind = _literal("text")
    intent = serializers.CharField(required=False, help_text="On the closing chunk: the turn's intent")
    usage = UsageSerializer(required=False, help_text="On the closing chunk: tokens used")


class ChunkIntentSerializer(serializers.Serializer):
    kind = _literal("intent")
    intent = serializers.CharField(help_text=" | ".join(INTENTS))


class ChunkActionSerializer(serializers.Serializer):
    kind = _literal("action")
    action = serializers.DictField(help_text="What the turn did: task_created, task_list, ask, pending_action, ...")
    pending_action = PendingActionSerializer(
        required=False, help_text="When the turn proposes a write instead of making it: confirm or reject it"
    )


class ChunkPreviewSerializer(serializers.Serializer):
    kind = _literal("preview")
    preview = serializers.DictField(help_text="The draft plan: a Preview candidate")


class ChunkErrorSerializer(serializers.Serializer):
    kind = _literal("error")
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField(required=False)


class ChatChunkSerializer(serializers.Serializer):
    """One event of the chat stream, `data: <this JSON>` (an OpenAI chat.completion.chunk plus
    `extra`); the stream starts with `retry:`, each event has an `id:`, and it ends with one
    `data: [DONE]`."""

    id = serializers.CharField()
    object = _literal("chat.completion.chunk")
    created = serializers.IntegerField()
    model = serializers.CharField()
    conversation_id = serializers.IntegerField()
    choices = ChunkChoiceSerializer(many=True)
    extra = PolymorphicProxySerializer(
        component_name="ChatChunkExtra",
        serializers={
            "text": ChunkTextSerializer,
            "intent": ChunkIntentSerializer,
            "action": ChunkActionSerializer,
            "preview": ChunkPreviewSerializer,
            "error": ChunkErrorSerializer,
        },
        resource_type_field_name="kind",
    )
