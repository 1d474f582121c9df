import json

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from django.utils.html import format_html

from outbox.models import InboxRecord, OutboxEvent, OutboxLock
from outbox.registry import consumer_services, handled_types, publish_only_types, topics_for
from outbox.services import mark_dead, requeue
from smartmate.admin import AuditAdmin, short_id, truncated


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


class BizTypeFilter(admin.SimpleListFilter):
    """Choices from the registry: Django's default would run SELECT DISTINCT over the whole table."""

    title = "biz type"
    parameter_name = "biz_type"

    def lookups(self, request, model_admin):
        return [(t, t) for t in sorted(set(handled_types()) | publish_only_types())]

    def queryset(self, request, queryset):
        return queryset.filter(biz_type=self.value()) if self.value() else queryset


class TopicFilter(admin.SimpleListFilter):
    title = "topic"
    parameter_name = "topic"

    def lookups(self, request, model_admin):
        topics = {topic for service in consumer_services() for topic in topics_for(service)}
        return [(t, t) for t in sorted(topics)]

    def queryset(self, request, queryset):
        return queryset.filter(topic=self.value()) if self.value() else queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(AuditAdmin):
    list_display = ("short_id", "biz_type", "topic", "short_key", "status", "retry_count", "next_retry_at")
    list_filter = ("status", TopicFilter, BizTypeFilter)
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
    short_id = short_id()
    short_key = truncated("message_key", 24, description="message key")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields  # events come from enqueue() inside business transactions only

    @admin.display(description="payload")
    def pretty_payload(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False, sort_keys=True))

    @admin.action(description="Requeue (dead → pending, retry count 0)", permissions=["change"])
    def requeue_rows(self, request, queryset):
        done = requeue(queryset.values_list("id", flat=True))
        self.message_user(request, f"{done} row(s) requeued; rows that were not dead are unchanged.", messages.SUCCESS)

    @admin.action(description="Mark dead", permissions=["change"])
    def mark_rows_dead(self, request, queryset):
        done = mark_dead(queryset.values_list("id", flat=True), reason=f"marked dead by staff {request.user}")
        self.message_user(request, f"{done} row(s) marked dead; consumed rows are unchanged.", messages.SUCCESS)


@admin.register(InboxRecord)
class InboxRecordAdmin(AuditAdmin):
    list_display = ("service_name", "short_event", "processed_at")
    list_filter = ("service_name",)
    search_fields = ("=event_id",)
    paginator = EstimatedCountPaginator
    short_event = short_id("event_id", description="event id")


@admin.register(OutboxLock)
class OutboxLockAdmin(AuditAdmin):
    """The single-flight leases (e.g. the beat relay); read-only, for seeing who holds one."""

    list_display = ("name", "holder", "expires_at")
