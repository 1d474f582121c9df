from django.contrib import admin

from agent.models import Conversation, MemoryItem, MemorySettings, Message, PlanDraft, TimelineEntry


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "title", "last_message_at", "created_at")
    search_fields = ("title", "user__username")
    list_select_related = ("user",)
    readonly_fields = ("next_message_seq", "next_timeline_seq", "created_at", "updated_at", "last_message_at")
    show_full_result_count = False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "conversation", "seq", "role", "tokens", "created_at")
    list_filter = ("role",)
    search_fields = ("content", "request_id")
    readonly_fields = ("conversation", "seq", "role", "content", "request_id", "tokens", "created_at")
    show_full_result_count = False


@admin.register(TimelineEntry)
class TimelineEntryAdmin(admin.ModelAdmin):
    list_display = ("id", "conversation", "seq", "kind", "created_at")
    list_filter = ("kind",)
    readonly_fields = ("conversation", "seq", "kind", "data", "created_at")
    show_full_result_count = False


@admin.register(PlanDraft)
class PlanDraftAdmin(admin.ModelAdmin):
    list_display = ("id", "conversation", "user", "status", "base_version", "created_at")
    list_filter = ("status",)
    readonly_fields = (
        "conversation",
        "user",
        "candidate",
        "base_version",
        "applied_event_ids",
        "created_at",
        "updated_at",
    )


@admin.register(MemoryItem)
class MemoryItemAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "kind", "content", "source", "importance", "deleted_at", "created_at")
    list_filter = ("kind", "source")
    search_fields = ("content", "user__username")
    readonly_fields = ("content_hash", "created_at", "updated_at")


@admin.register(MemorySettings)
class MemorySettingsAdmin(admin.ModelAdmin):
    list_display = ("user", "enabled", "auto_extract", "updated_at")
    list_filter = ("enabled", "auto_extract")
    readonly_fields = ("updated_at",)
