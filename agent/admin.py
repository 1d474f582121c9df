"""The agent in the admin: conversations, memory and its settings change through the agent's
services (the API's rules); history and plan drafts are written by turns only (view-only)."""

from django.contrib import admin

from agent import memory, services
from agent.models import Conversation, MemoryItem, MemorySettings, Message, PendingAction, PlanDraft, TimelineEntry
from smartmate.admin import AuditAdmin, ServiceAdmin, changed, truncated


@admin.register(Conversation)
class ConversationAdmin(ServiceAdmin):
    list_display = ("id", "short_title", "user", "archived", "last_message_at", "created_at")
    list_filter = ("archived",)
    search_fields = ("title", "user__username")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    fields = (
        "user",
        "title",
        "archived",
        "next_message_seq",
        "next_timeline_seq",
        "created_at",
        "updated_at",
        "last_message_at",
    )
    readonly_fields = ("next_message_seq", "next_timeline_seq", "created_at", "updated_at", "last_message_at")
    show_full_result_count = False
    short_title = truncated("title", 50)

    def service_save(self, request, obj, form, change):
        if change:
            return services.conversation_update(conversation=obj, title=obj.title, archived=obj.archived)
        return services.conversation_create(user=obj.user, title=obj.title, archived=obj.archived)

    def service_delete(self, request, obj):
        services.conversation_delete(conversation=obj)


@admin.register(Message)
class MessageAdmin(AuditAdmin):
    list_display = ("id", "conversation", "seq", "role", "short_content", "tokens", "created_at")
    list_filter = ("role",)
    search_fields = ("content", "request_id")
    short_content = truncated("content", 60)


@admin.register(TimelineEntry)
class TimelineEntryAdmin(AuditAdmin):
    list_display = ("id", "conversation", "seq", "kind", "created_at")
    list_filter = ("kind",)


@admin.register(PlanDraft)
class PlanDraftAdmin(AuditAdmin):
    list_display = ("id", "conversation", "user", "status", "base_version", "created_at")
    list_filter = ("status",)


@admin.register(PendingAction)
class PendingActionAdmin(AuditAdmin):
    """Proposed by turns, decided by their users through the API: read-only here."""

    list_display = (
        "id",
        "user",
        "conversation",
        "kind",
        "status",
        "reason",
        "short_summary",
        "expires_at",
        "created_at",
    )
    list_filter = ("kind", "status", "reason")
    search_fields = ("summary", "user__username", "request_id")
    list_select_related = ("user",)
    short_summary = truncated("summary", 60)


@admin.register(MemoryItem)
class MemoryItemAdmin(ServiceAdmin):
    list_display = ("id", "user", "kind", "short_content", "source", "importance", "deleted_at", "created_at")
    list_filter = ("kind", "source")
    search_fields = ("content", "user__username")
    raw_id_fields = ("user",)
    fields = ("user", "kind", "content", "importance", "source", "conversation", "deleted_at", "created_at")
    readonly_fields = ("source", "conversation", "deleted_at", "created_at", "updated_at")
    short_content = truncated("content", 50)

    def service_save(self, request, obj, form, change):
        if change:
            return memory.memory_item_update(user=obj.user, item=obj, **changed(form, "kind", "content", "importance"))
        fields = {"kind": obj.kind, "content": obj.content, "importance": obj.importance}
        item, _ = memory.memory_item_create(user=obj.user, **fields)
        return item

    def service_delete(self, request, obj):
        memory.memory_item_delete(user=obj.user, item=obj)  # a soft delete, as in the API


@admin.register(MemorySettings)
class MemorySettingsAdmin(ServiceAdmin):
    list_display = ("user", "enabled", "auto_extract", "confirm_writes", "updated_at")
    list_filter = ("enabled", "auto_extract", "confirm_writes")
    raw_id_fields = ("user",)
    readonly_fields = ("updated_at",)

    def service_save(self, request, obj, form, change):
        return memory.memory_settings_update(
            user=obj.user, enabled=obj.enabled, auto_extract=obj.auto_extract, confirm_writes=obj.confirm_writes
        )

    def service_delete(self, request, obj):
        MemorySettings.objects.filter(pk=obj.pk).delete()  # back to the defaults on next read
