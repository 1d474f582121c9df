"""Input serializers validate (400 naming the field); output serializers render rows or models.

Posts render from plain rows (selectors.LIST_COLUMNS plus an `author` dict), the same for a
cached list page and a post read from the database, so both answer alike. Text is stored and
returned as typed: HTML in a title is text, never markup.
"""

from datetime import date

from rest_framework import serializers

from scheduling.models.tasks import Strategy
from scheduling.plansquare import selectors, text
from scheduling.plansquare.models import Post, PostComment
from scheduling.serializers import TaskClassSerializer
from smartmate.api import StrictSerializer

# --- posts -----------------------------------------------------------------------------------


class AuthorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class PostItemSerializer(serializers.Serializer):
    order = serializers.IntegerField()
    title = serializers.CharField()
    estimated_sections = serializers.IntegerField()


class PostSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    summary = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    author = AuthorSerializer()
    strategy = serializers.ChoiceField(choices=Strategy.choices)
    daily_max_sections = serializers.IntegerField()
    weeks = serializers.IntegerField()
    item_count = serializers.IntegerField()
    total_sections = serializers.IntegerField()
    likes = serializers.IntegerField()
    imports = serializers.IntegerField()
    comments = serializers.IntegerField()
    liked_by_me = serializers.BooleanField()
    imported_by_me = serializers.BooleanField()
    published_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class PostDetailSerializer(PostSerializer):
    items = PostItemSerializer(many=True)


def post_row(post: Post) -> dict:
    """A post as the row a list page caches, plus its items."""
    row = {name: getattr(post, name) for name in selectors.LIST_COLUMNS}
    row["author"] = {"id": post.author_id, "username": post.author.username}
    row["items"] = post.snapshot.items
    return row


_DATETIME = serializers.DateTimeField()  # the project's rendering: ISO 8601 in the reader's zone


def render_post(row: dict, mine, *, detail: bool = False) -> dict:
    """A row as PostSerializer (PostDetailSerializer) documents it, built directly: the cached
    listing's cost is mostly this, 20 times a page (tests compare it with the serializer)."""
    post = {
        "id": row["id"],
        "title": row["title"],
        "summary": row["summary"],
        "tags": list(row["tags"]),
        "author": {"id": row["author"]["id"], "username": row["author"]["username"]},
        "strategy": row["strategy"],
        "daily_max_sections": row["daily_max_sections"],
        "weeks": row["weeks"],
        "item_count": row["item_count"],
        "total_sections": row["total_sections"],
        "likes": row["likes"],
        "imports": row["imports"],
        "comments": row["comments"],
        "liked_by_me": "like" in mine,
        "imported_by_me": "import" in mine,
        "published_at": _DATETIME.to_representation(row["published_at"]),
        "updated_at": _DATETIME.to_representation(row["updated_at"]),
    }
    if detail:
        post["items"] = [
            {"order": i["order"], "title": i["title"], "estimated_sections": i["estimated_sections"]}
            for i in row["items"]
        ]
    return post


def render_posts(rows: list[dict], marks: dict[int, set[str]], *, detail: bool = False) -> list[dict]:
    return [render_post(row, marks.get(row["id"], ()), detail=detail) for row in rows]


def _tags_field():
    # Shape only; services normalise (strip, lower-case, unique) and check 0-5 of 1-20 characters.
    return serializers.ListField(
        child=serializers.CharField(max_length=100, allow_blank=True, trim_whitespace=False),
        max_length=20,
        required=False,
    )


class PostCreateSerializer(StrictSerializer):
    task_class_id = serializers.IntegerField(min_value=1)
    title = serializers.CharField(min_length=1, max_length=80)
    summary = serializers.CharField(max_length=1000, allow_blank=True, required=False)
    tags = _tags_field()


class PostUpdateSerializer(StrictSerializer):
    title = serializers.CharField(min_length=1, max_length=80, required=False)
    summary = serializers.CharField(max_length=1000, allow_blank=True, required=False)
    tags = _tags_field()


class PostListQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=100, allow_blank=True, required=False, default="")
    tag = serializers.ListField(
        child=serializers.CharField(max_length=text.TAG_MAX_CHARS + 10), max_length=text.TAGS_MAX, required=False
    )
    author = serializers.IntegerField(min_value=1, required=False)
    ordering = serializers.ChoiceField(choices=list(selectors.ORDERINGS), default=selectors.DEFAULT_ORDERING)

    def validate_tag(self, values):
        tags = sorted({text.normalise_tag(value) for value in values})
        if any(not 1 <= len(tag) <= text.TAG_MAX_CHARS for tag in tags):
            raise serializers.ValidationError(f"Each tag is 1-{text.TAG_MAX_CHARS} characters.")
        return tags


class LikeSerializer(serializers.Serializer):
    likes = serializers.IntegerField()
    liked_by_me = serializers.BooleanField()


class ImportSerializer(StrictSerializer):
    start_date = serializers.DateField(required=False)
    name = serializers.CharField(min_length=1, max_length=100, required=False)

    def validate_start_date(self, value):
        if not date(2000, 1, 1) <= value <= date(2100, 12, 31):
            raise serializers.ValidationError("Must be between 2000-01-01 and 2100-12-31.")
        return value


class ImportResultSerializer(serializers.Serializer):
    task_class = TaskClassSerializer()


# --- comments, reports, tags ---------------------------------------------------------------------


class CommentSerializer(serializers.ModelSerializer):
    """A deleted or hidden comment keeps its place: empty body, `deleted: true`."""

    parent = serializers.IntegerField(source="parent_id", allow_null=True)
    author = serializers.SerializerMethodField()
    body = serializers.SerializerMethodField()
    deleted = serializers.SerializerMethodField()

    class Meta:
        model = PostComment
        fields = ["id", "parent", "author", "body", "deleted", "created_at"]
        read_only_fields = fields

    def get_author(self, comment) -> AuthorSerializer(allow_null=True):
        author = comment.author
        return None if author is None else {"id": author.pk, "username": author.username}

    def get_body(self, comment) -> str:
        return comment.body if comment.visible else ""

    def get_deleted(self, comment) -> bool:
        return not comment.visible


class CommentCreateSerializer(StrictSerializer):
    body = serializers.CharField(min_length=1, max_length=2000)
    parent = serializers.IntegerField(min_value=1, required=False, allow_null=True)


class ReportCreateSerializer(StrictSerializer):
    reason = serializers.CharField(min_length=1, max_length=500)


class ReportReceiptSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    post = serializers.IntegerField(source="post_id")
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class TagsQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=50, allow_blank=True, required=False, default="")


class TagCountSerializer(serializers.Serializer):
    tag = serializers.CharField()
    posts = serializers.IntegerField()
