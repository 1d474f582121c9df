import json

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from django.utils.html import format_html

from outbox.models import InboxRecord, OutboxEvent
from outbox.services import mark_dead, requeue


class EstimatedCountPaginator(Paginator):
    """No COUNT(*) on the big table: PostgreSQL's planner estimate, or a capped count elsewhere."""

    CAP = 10_000

    @cached_property
    def count(self):
        query = self.object_list
        from django.db import connections

        conn = connections[query.db]
        if conn.vendor == "postgresql" and not query.query.where:
            with conn.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [query.model._meta.db_table]
                )
                row = cursor.fetchone()
                if row and row[0] > self.CAP:
                    return int(row[0])
        return query[: self.CAP + 1].count() if hasattr(query, "query") else len(query)


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = ("id", "biz_type", "topic", "message_key", "status", "retry_count", "next_retry_at", "created_at")
    list_filter = ("status", "topic", "biz_type")
    search_fields = ("=id", "=message_key")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50
    date_hierarchy = None
    actions = ("requeue_rows", "mark_rows_dead")
    readonly_fields = (
        "id",
        "biz_type",
        "service_name",
        "topic",
        "message_key",
        "pretty_payload",
        "status",
        "retry_count",
        "max_retry",
        "next_retry_at",
        "last_error",
        "locked_until",
        "published_at",
        "consumed_at",
        "created_at",
        "updated_at",
    )
    exclude = ("payload", "lease_id")

    def has_add_permission(self, request):
        return False  # events come from enqueue() inside business transactions only

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="payload")
    def pretty_payload(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False, sort_keys=True))

    @admin.action(description="Requeue (dead → pending, retry count 0)")
    def requeue_rows(self, request, queryset):
        done = requeue(queryset.values_list("id", flat=True))
        self.message_user(request, f"{done} row(s) requeued; rows that were not dead are unchanged.", messages.SUCCESS)

    @admin.action(description="Mark dead")
    def mark_rows_dead(self, request, queryset):
        done = mark_dead(queryset.values_list("id", flat=True), reason=f"marked dead by staff {request.user}")
        self.message_user(request, f"{done} row(s) marked dead; consumed rows are unchanged.", messages.SUCCESS)


@admin.register(InboxRecord)
class InboxRecordAdmin(admin.ModelAdmin):
    list_display = ("service_name", "event_id", "processed_at")
    list_filter = ("service_name",)
    search_fields = ("=event_id",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = ("service_name", "event_id", "processed_at")

    def has_add_permission(self, request):
        return False
