"""Plan-square reads (docs/DOMAIN.md §10). The listing and the tag counts are shared by everyone
and cached as raw rows; what depends on the reader (liked_by_me, imported_by_me) is looked up
after the cache, one query per page."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchQueryField
from django.db import connection
from django.db.models import BooleanField, Count, F, Func, Q, Value
from django.db.models.functions import Cast

from scheduling.plansquare import cache, text
from scheduling.plansquare.models import Post, PostComment, PostImport, PostLike, PostTag

ORDERINGS = {
    "-published_at": ("-published_at", "-id"),
    "-likes": ("-likes", "-id"),
    "-imports": ("-imports", "-id"),
}
DEFAULT_ORDERING = "-published_at"
TAGS_LIMIT = 50

# What a list row carries (no items, no search vector), besides its author's {id, username}.
LIST_COLUMNS = (
    "id",
    "title",
    "summary",
    "tags",
    "strategy",
    "daily_max_sections",
    "weeks",
    "item_count",
    "total_sections",
    "likes",
    "imports",
    "comments",
    "published_at",
    "updated_at",
)


@dataclass(frozen=True)
class PostFilters:
    q: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    author: int | None = None
    ordering: str = DEFAULT_ORDERING


def uses_full_text() -> bool:
    """PostgreSQL searches its GIN-indexed tsvector; SQLite (embedded) falls back to substrings."""
    return connection.vendor == "postgresql"


class _Matches(Func):
    """tsvector @@ tsquery, as a filter."""

    template = "(%(expressions)s)"
    arg_joiner = " @@ "
    output_field = BooleanField()


def _search(queryset, query: str):
    if uses_full_text():
        literal = text.tsquery_literal(text.query_lexemes(query))
        if literal is None:  # nothing searchable in it (punctuation only): nothing matches
            return queryset.none()
        return queryset.filter(_Matches(F("search_vector"), Cast(Value(literal), output_field=SearchQueryField())))
    for term in text.search_terms(query):
        tagged = PostTag.objects.filter(tag__contains=term).values("post_id")
        queryset = queryset.filter(Q(title__icontains=term) | Q(summary__icontains=term) | Q(id__in=tagged))
    return queryset


def listed_posts(filters: PostFilters):
    """The visible posts a listing with these filters shows, in its order."""
    queryset = Post.objects.filter(hidden=False)
    if filters.q.strip():
        queryset = _search(queryset, filters.q)
    for tag in filters.tags:  # every tag must match
        queryset = queryset.filter(id__in=PostTag.objects.filter(tag=tag).values("post_id"))
    if filters.author is not None:
        queryset = queryset.filter(author_id=filters.author)
    return queryset.order_by(*ORDERINGS[filters.ordering])


def _page_rows(filters: PostFilters, offset: int, limit: int) -> list[dict]:
    """The page's posts, then their authors' names in a second query. Not a JOIN: the planner
    cannot tell how many posts a search matches (its pairs are far from independent), and with
    a low guess it joins every match to its author before sorting and cutting the page."""
    rows = list(listed_posts(filters).values(*LIST_COLUMNS, "author_id")[offset : offset + limit])
    names = dict(get_user_model().objects.filter(pk__in={r["author_id"] for r in rows}).values_list("pk", "username"))
    for row in rows:
        author_id = row.pop("author_id")
        row["author"] = {"id": author_id, "username": names.get(author_id, "")}
    return rows


def post_list_page(*, filters: PostFilters, page: int, page_size: int) -> dict:
    """{"count", "rows"} of one page (rows empty past the end), from the shared cache when possible.
    The count is cached apart: likes, imports and comments renew the rows, never the count."""
    offset = (page - 1) * page_size
    params = asdict(filters)
    paged = {**params, "page": page, "page_size": page_size}

    def rows():
        return _page_rows(filters, offset, page_size)

    def count():
        return listed_posts(filters).count()

    found = cache.read_many(
        {
            cache.MATCHES: (lambda ver: cache.count_key(ver, params), count),
            cache.POSTS: (lambda ver: cache.page_key(ver, paged), rows),
        }
    )
    return {"count": found[cache.MATCHES], "rows": found[cache.POSTS]}


def post_marks(*, user, post_ids) -> dict[int, set[str]]:
    """{post id: {"like", "import"}} of this user on these posts, in one query."""
    if not user.is_authenticated or not post_ids:
        return {}
    likes = PostLike.objects.filter(user=user, post_id__in=post_ids).values_list("post_id", Value("like"))
    imports = PostImport.objects.filter(user=user, post_id__in=post_ids).values_list("post_id", Value("import"))
    marks: dict[int, set[str]] = {}
    for post_id, kind in likes.union(imports, all=True):
        marks.setdefault(post_id, set()).add(kind)
    return marks


def visible_posts(*, user):
    """Posts this user may read: all but hidden ones, which only their author and staff see."""
    queryset = Post.objects.select_related("author")
    if getattr(user, "is_staff", False):
        return queryset
    if user.is_authenticated:
        return queryset.filter(Q(hidden=False) | Q(author=user))
    return queryset.filter(hidden=False)


def post_get(*, user, post_id) -> Post | None:
    return visible_posts(user=user).select_related("snapshot").filter(pk=post_id).first()


def own_post(*, user, post_id) -> Post | None:
    return Post.objects.select_related("author", "snapshot").filter(pk=post_id, author=user).first()


def post_comments(*, post):
    """The whole thread, oldest first; replies carry their parent."""
    return PostComment.objects.filter(post=post).select_related("author").order_by("created_at", "id")


def tag_counts(*, query: str = "") -> list[dict]:
    """[{tag, posts}] over visible posts, most used first (then by name), at most 50; cached."""
    needle = text.normalise_tag(query)

    def compute():
        rows = PostTag.objects.filter(post__hidden=False)
        if needle:
            rows = rows.filter(tag__contains=needle)
        counted = rows.values("tag").annotate(posts=Count("id")).order_by("-posts", "tag")
        return list(counted[:TAGS_LIMIT])

    return cache.read_many({cache.MATCHES: (lambda ver: cache.tags_key(ver, needle), compute)})[cache.MATCHES]


# --- consistency -----------------------------------------------------------------------------


def counter_drift() -> list[dict]:
    """Posts whose stored counters differ from their rows: [{post_id, field, stored, actual}]."""
    likes = dict(PostLike.objects.values("post_id").annotate(n=Count("id")).values_list("post_id", "n"))
    imports = dict(PostImport.objects.values("post_id").annotate(n=Count("id")).values_list("post_id", "n"))
    comments = dict(
        PostComment.objects.filter(deleted=False, hidden=False)
        .values("post_id")
        .annotate(n=Count("id"))
        .values_list("post_id", "n")
    )
    drift = []
    stored = Post.objects.order_by("id").values_list(
        "id", "likes", "imports", "comments", "snapshot__items", "item_count", "total_sections"
    )
    for post_id, n_likes, n_imports, n_comments, items, item_count, total_sections in stored.iterator(chunk_size=2000):
        items = items or []  # a post without its snapshot counts as having no items
        actual = {
            "likes": likes.get(post_id, 0),
            "imports": imports.get(post_id, 0),
            "comments": comments.get(post_id, 0),
            "item_count": len(items),
            "total_sections": sum(item["estimated_sections"] for item in items),
        }
        have = {
            "likes": n_likes,
            "imports": n_imports,
            "comments": n_comments,
            "item_count": item_count,
            "total_sections": total_sections,
        }
        for name, value in actual.items():
            if have[name] != value:
                drift.append({"post_id": post_id, "field": name, "stored": have[name], "actual": value})
    return drift
