"""Moderation of the plan square (docs/DOMAIN.md §10): staff with `plansquare.moderate_post` hide
and unhide posts and comments (through the services, which keep the counters and the cache
right) and read the reports with their reasons. Everything else is read-only here: the rows are
the users' and the services'."""

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from scheduling.plansquare import services
from scheduling.plansquare.models import (
    Post,
    PostComment,
    PostImport,
    PostLike,
    PostReport,
    PostReward,
    PostSnapshot,
    PostTag,
)
from smartmate.admin import AuditAdmin, truncated

MODERATE = "plansquare.moderate_post"


class ReadOnlyInline(admin.TabularInline):
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ModerationMixin:
    def has_moderate_permission(self, request):
        return request.user.has_perm(MODERATE)

    def _moderate(self, request, queryset, set_hidden, hidden, noun):
        changed = 0
        for pk in queryset.values_list("pk", flat=True):
            row = set_hidden(pk, hidden)
            changed += row is not None
        verb = "hidden" if hidden else "shown again"
        self.message_user(request, f"{changed} {noun} {verb}.", messages.SUCCESS)


class PostSnapshotInline(ReadOnlyInline):
    model = PostSnapshot
    fields = ("items",)
    readonly_fields = ("items",)


class PostReportInline(ReadOnlyInline):
    model = PostReport
    fields = ("reporter", "reason", "created_at", "resolved_at", "resolved_by")
    readonly_fields = fields


@admin.register(Post)
class PostAdmin(ModerationMixin, AuditAdmin):
    list_display = (
        "id",
        truncated("title"),
        "author",
        "likes",
        "imports",
        "comments",
        "open_reports",
        "hidden",
        "published_at",
    )
    list_filter = ("hidden", "strategy")
    search_fields = ("=id", "title", "author__username")
    list_select_related = ("author",)
    actions = ("hide_posts", "unhide_posts")
    inlines = [PostSnapshotInline, PostReportInline]
    exclude = ("search_vector",)

    def get_queryset(self, request):
        # A subquery per listed row: a JOIN with GROUP BY would aggregate every post for one page.
        open_reports = (
            PostReport.objects.filter(post=OuterRef("pk"), resolved_at__isnull=True)
            .values("post")
            .annotate(n=Count("id"))
            .values("n")
        )
        return super().get_queryset(request).annotate(open_report_count=Coalesce(Subquery(open_reports), 0))

    @admin.display(description="open reports", ordering="open_report_count")
    def open_reports(self, post):
        return post.open_report_count

    @admin.action(description="Hide the selected posts", permissions=["moderate"])
    def hide_posts(self, request, queryset):
        self._moderate(request, queryset, lambda pk, h: services.post_set_hidden(post_id=pk, hidden=h), True, "posts")

    @admin.action(description="Show the selected posts again", permissions=["moderate"])
    def unhide_posts(self, request, queryset):
        self._moderate(request, queryset, lambda pk, h: services.post_set_hidden(post_id=pk, hidden=h), False, "posts")


@admin.register(PostComment)
class PostCommentAdmin(ModerationMixin, AuditAdmin):
    list_display = ("id", "post", "author", truncated("body", 60), "deleted", "hidden", "created_at")
    list_filter = ("hidden", "deleted")
    search_fields = ("=id", "=post__id", "body", "author__username")
    list_select_related = ("post", "author")
    actions = ("hide_comments", "unhide_comments")

    @admin.action(description="Hide the selected comments", permissions=["moderate"])
    def hide_comments(self, request, queryset):
        self._moderate(
            request, queryset, lambda pk, h: services.comment_set_hidden(comment_id=pk, hidden=h), True, "comments"
        )

    @admin.action(description="Show the selected comments again", permissions=["moderate"])
    def unhide_comments(self, request, queryset):
        self._moderate(
            request, queryset, lambda pk, h: services.comment_set_hidden(comment_id=pk, hidden=h), False, "comments"
        )


class OpenReportFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "open"), ("resolved", "resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(PostReport)
class PostReportAdmin(ModerationMixin, AuditAdmin):
    list_display = ("id", "post", "post_hidden", "reporter", truncated("reason", 60), "created_at", "resolved_at")
    list_filter = (OpenReportFilter,)
    search_fields = ("=post__id", "reason", "reporter__username", "post__title")
    list_select_related = ("post", "reporter")
    actions = ("resolve_reports", "hide_reported_posts")

    @admin.display(description="post hidden", boolean=True)
    def post_hidden(self, report):
        return report.post.hidden

    @admin.action(description="Mark the selected reports resolved", permissions=["moderate"])
    def resolve_reports(self, request, queryset):
        count = services.reports_resolve(report_ids=list(queryset.values_list("pk", flat=True)), staff=request.user)
        self.message_user(request, f"{count} reports resolved.", messages.SUCCESS)

    @admin.action(description="Hide the reported posts and resolve the reports", permissions=["moderate"])
    def hide_reported_posts(self, request, queryset):
        post_ids = set(queryset.values_list("post_id", flat=True))
        for post_id in post_ids:
            services.post_set_hidden(post_id=post_id, hidden=True)
        services.reports_resolve(report_ids=list(queryset.values_list("pk", flat=True)), staff=request.user)
        self.message_user(request, f"{len(post_ids)} posts hidden.", messages.SUCCESS)


@admin.register(PostSnapshot)
class PostSnapshotAdmin(AuditAdmin):
    list_display = ("post",)
    search_fields = ("=post__id",)
    list_select_related = ("post",)


@admin.register(PostTag)
class PostTagAdmin(AuditAdmin):
    list_display = ("id", "tag", "post")
    search_fields = ("=tag", "=post__id")
    list_select_related = ("post",)


@admin.register(PostLike)
class PostLikeAdmin(AuditAdmin):
    list_display = ("id", "post", "user", "created_at")
    search_fields = ("=post__id", "user__username")
    list_select_related = ("post", "user")


@admin.register(PostImport)
class PostImportAdmin(AuditAdmin):
    list_display = ("id", "post", "user", "task_class", "created_at")
    search_fields = ("=post__id", "user__username")
    list_select_related = ("post", "user", "task_class")


@admin.register(PostReward)
class PostRewardAdmin(AuditAdmin):
    list_display = ("id", "kind", "post_id", "actor_id", "author_id", "amount", "created_at")
    list_filter = ("kind",)
    search_fields = ("=post_id", "=actor_id", "=author_id")
