"""Posts of the plan square and what users do with them (docs/DOMAIN.md §10).

Counters on Post (likes, imports, comments) are changed only in the transaction that adds or
removes the row they count, by a conditional UPDATE (`likes = likes + 1`); the unique rows
(one like and one import per user and post) make concurrent repeats lose. `plansquare_check`
recomputes the counters from the rows.
"""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from scheduling.models.tasks import Strategy
from scheduling.timetable import SECTIONS


class Post(models.Model):
    """A task class published as a template: a frozen copy of its items and plan settings."""

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plan_square_posts")
    # Where the snapshot came from, for staff; reads never follow it (the class may change or go).
    source_class = models.ForeignKey(
        "scheduling.TaskClass", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    title = models.CharField(max_length=80)
    summary = models.CharField(max_length=1000, blank=True, default="")
    tags = models.JSONField(default=list, blank=True)  # normalised; PostTag rows index them
    strategy = models.CharField(max_length=8, choices=Strategy.choices, default=Strategy.STEADY)
    daily_max_sections = models.PositiveSmallIntegerField(default=4)
    weeks = models.PositiveSmallIntegerField(default=1)
    item_count = models.PositiveIntegerField(default=0)
    total_sections = models.PositiveIntegerField(default=0)
    likes = models.PositiveIntegerField(default=0)
    imports = models.PositiveIntegerField(default=0)
    comments = models.PositiveIntegerField(default=0)  # visible ones: neither deleted nor hidden
    hidden = models.BooleanField(default=False)
    hidden_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # PostgreSQL only (GIN-indexed by migration 0002); NULL on SQLite, which searches by substring.
    search_vector = SearchVectorField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-published_at", "-id"]
        permissions = [("moderate_post", "Can hide and unhide posts and comments")]
        indexes = [
            models.Index(fields=["-published_at", "-id"], condition=Q(hidden=False), name="post_listed_recent"),
            models.Index(fields=["-likes", "-id"], condition=Q(hidden=False), name="post_listed_likes"),
            models.Index(fields=["-imports", "-id"], condition=Q(hidden=False), name="post_listed_imports"),
            models.Index(fields=["author", "-published_at"], name="post_author_recent"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="post_title_not_empty"),
            models.CheckConstraint(condition=Q(weeks__gte=1), name="post_weeks_at_least_1"),
            models.CheckConstraint(
                condition=Q(daily_max_sections__gte=1, daily_max_sections__lte=SECTIONS), name="post_daily_max_1_12"
            ),
            models.CheckConstraint(condition=Q(strategy__in=Strategy.values), name="post_strategy_valid"),
            models.CheckConstraint(
                condition=Q(hidden=False, hidden_at__isnull=True) | Q(hidden=True, hidden_at__isnull=False),
                name="post_hidden_at_iff_hidden",
            ),
        ]

    def __str__(self):
        return self.title


class PostSnapshot(models.Model):
    """The post's frozen items, [{order, title, estimated_sections}], beside the post rather than
    in it: the listing never reads them, and a narrow post row is what makes its COUNTs cheap
    (docs/BENCHMARKS.md)."""

    post = models.OneToOneField(Post, on_delete=models.CASCADE, primary_key=True, related_name="snapshot")
    items = models.JSONField(default=list)

    def __str__(self):
        return f"items of {self.post_id}"


class PostTag(models.Model):
    """One row per tag of a post: the tag filter and the tag counts read these."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="tag_rows")
    tag = models.CharField(max_length=20)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "tag"], name="posttag_unique")]
        indexes = [models.Index(fields=["tag", "post"], name="posttag_by_tag")]

    def __str__(self):
        return self.tag


class PostLike(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="like_rows")
    # A deleted user's like stays (user NULL) so the counter needs no change.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="postlike_once_per_user")]
        indexes = [models.Index(fields=["user", "post"], name="postlike_by_user")]

    def __str__(self):
        return f"{self.user_id} likes {self.post_id}"


class PostImport(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="import_rows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    # The importer's copy; it may be deleted later, the import still counts (and is not repeated).
    task_class = models.ForeignKey(
        "scheduling.TaskClass", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="postimport_once_per_user")]
        indexes = [models.Index(fields=["user", "post"], name="postimport_by_user")]

    def __str__(self):
        return f"{self.user_id} imported {self.post_id}"


class PostComment(models.Model):
    """Threaded by `parent`. Deleting (by its author) and hiding (by staff) keep the row and its
    place in the thread; either way it reads with an empty body."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comment_rows")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies")
    body = models.TextField(max_length=2000)
    deleted = models.BooleanField(default=False)
    hidden = models.BooleanField(default=False)
    hidden_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["post", "created_at", "id"], name="postcomment_thread")]

    def __str__(self):
        return f"comment {self.pk} on {self.post_id}"

    @property
    def visible(self) -> bool:
        return not (self.deleted or self.hidden)


class PostReport(models.Model):
    """A user's report of a post, for staff; a second report by the same user replaces the reason."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="report_rows")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["post", "reporter"], name="postreport_once_per_user")]
        indexes = [models.Index(fields=["resolved_at", "-created_at"], name="postreport_open")]

    def __str__(self):
        return f"report {self.pk} on {self.post_id}"


class RewardKind(models.TextChoices):
    LIKE = "like"
    IMPORT = "import"


class PostReward(models.Model):
    """The marker that a reward was paid: at most one per (post, actor, kind) ever, so a like,
    an unlike and a like again pay once. Plain ids, not foreign keys: the record of what was
    paid outlives the post and the users."""

    post_id = models.BigIntegerField()
    actor_id = models.BigIntegerField()
    author_id = models.BigIntegerField()
    kind = models.CharField(max_length=8, choices=RewardKind.choices)
    amount = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post_id", "actor_id", "kind"], name="postreward_once_ever"),
            models.CheckConstraint(condition=Q(kind__in=RewardKind.values), name="postreward_kind_valid"),
            models.CheckConstraint(condition=~Q(actor_id=models.F("author_id")), name="postreward_not_own_post"),
        ]
        indexes = [models.Index(fields=["author_id", "-created_at"], name="postreward_by_author")]

    def __str__(self):
        return f"{self.kind} of {self.post_id} by {self.actor_id}"
