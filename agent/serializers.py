from django.conf import settings
from rest_framework import serializers

from agent.models import Conversation, MemoryItem, MemoryKind, MemorySettings, Message, TimelineEntry
from agent.providers.choices import model_choices
from smartmate.api import StrictModelSerializer, StrictSerializer


class ConversationSerializer(StrictModelSerializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)

    class Meta:
        model = Conversation
        fields = ("id", "title", "created_at", "updated_at", "last_message_at")
        read_only_fields = ("id", "created_at", "updated_at", "last_message_at")


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


class ChatOutputSerializer(serializers.Serializer):
    conversation_id = serializers.IntegerField()
    reply = serializers.CharField()
    intent = serializers.ChoiceField(choices=["quick_note", "task_query", "schedule_plan", "schedule_refine", "chat"])
    actions = serializers.ListField(child=serializers.DictField())
    usage = serializers.DictField(child=serializers.IntegerField())


class ModelChoiceSerializer(serializers.Serializer):
    id = serializers.CharField()
    label = serializers.CharField()
    prompt_per_1k = serializers.FloatField(help_text="Credits per 1,000 prompt tokens")
    completion_per_1k = serializers.FloatField(help_text="Credits per 1,000 completion tokens")
    default = serializers.BooleanField()


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
    class Meta:
        model = MemorySettings
        fields = ("enabled", "auto_extract")
