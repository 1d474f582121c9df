from django.contrib import admin, messages

from notifications import channels, services
from notifications.models import NotificationChannel, NotificationRecord
from smartmate.admin import AuditAdmin, ServiceAdmin, truncated


@admin.register(NotificationChannel)
class NotificationChannelAdmin(ServiceAdmin):
    """URLs masked after the host, addresses before the @, secrets never shown; staff may only switch a
    channel on or off."""

    list_display = ("user", "kind", "masked_target", "has_secret", "enabled", "last_test_status", "last_test_at")
    list_filter = ("kind", "enabled", "last_test_status")
    search_fields = ("user__username",)
    list_select_related = ("user",)
    fields = (
        "user",
        "kind",
        "masked_target",
        "has_secret",
        "enabled",
        "last_test_status",
        "last_test_error",
        "last_test_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = tuple(f for f in fields if f != "enabled")
    show_full_result_count = False

    @admin.display(description="sends to")
    def masked_target(self, channel):
        return channels.get(channel.kind).mask(channel.target)

    @admin.display(boolean=True, description="secret set")
    def has_secret(self, channel):
        return channel.has_secret

    def has_add_permission(self, request):
        return False

    def service_save(self, request, obj, form, change):
        return services.channel_set_enabled(channel=obj, enabled=obj.enabled)

    def service_delete(self, request, obj):
        services.channel_delete(user=obj.user, kind=obj.kind)


@admin.register(NotificationRecord)
class NotificationRecordAdmin(AuditAdmin):
    list_display = ("id", "user", "channel", "event", "status", "attempts", "next_retry_at", "short_error")
    list_filter = ("status", "channel", "event")
    search_fields = ("user__username", "dedupe_key", "preview_id", "trigger_id")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    actions = ["retry_now"]
    short_error = truncated("last_error", 40)

    @admin.action(description="Retry now (failed, dead or pending rows)", permissions=["change"])
    def retry_now(self, request, queryset):
        count = services.notifications_retry_now(record_ids=queryset.values_list("id", flat=True))
        self.message_user(
            request, f"{count} notification(s) queued; the delivery sweep sends them within a minute.", messages.INFO
        )
