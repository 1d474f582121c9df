"""Plan-square writes (docs/DOMAIN.md §10): posts, likes, imports, comments, reports, moderation
and the rewards they pay.

Every counter changes in the transaction that adds or removes the row it counts, with a
conditional UPDATE (`likes = likes + 1`), never a read-modify-write; the unique (post, user)
rows of likes and imports make a concurrent repeat lose at the insert. Rewards go out through
the outbox in the same transaction, guarded by a PostReward row that exists at most once per
(post, actor, kind) ever.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.timezones import user_zone
from outbox import topics
from outbox.services import enqueue
from scheduling import services as scheduling
from scheduling.models import TaskClass
from scheduling.plansquare import cache, selectors, text
from scheduling.plansquare.models import (
    Post,
    PostComment,
    PostImport,
    PostLike,
    PostReport,
    PostReward,
    PostSnapshot,
    PostTag,
    RewardKind,
)
from scheduling.selectors import task_class_items, task_class_queryset
from scheduling.timetable import MAX_WEEKS
from smartmate.errors import ApiError, Conflict

TOPIC = topics.PLAN_SQUARE  # the accounts service's credits consumer reads it (accounts/credits/handlers.py)
LIKED = "plan_square.liked"
IMPORTED = "plan_square.imported"
EVENT_OF = {RewardKind.LIKE: LIKED, RewardKind.IMPORT: IMPORTED}
NAME_MAX = 100  # TaskClass.name


def _invalid(field_name: str, message: str) -> ApiError:
    return ApiError(f"Invalid input: {field_name}.", code="validation_error", fields={field_name: [message]})


def _not_found() -> ApiError:
    return ApiError("Not found.", code="not_found", status_code=404)


def _tags(tags) -> list[str]:
    try:
        return text.normalise_tags(tags)
    except text.TagError as exc:
        raise _invalid("tags", str(exc))


def _visible(user, post_id) -> Post:
    post = selectors.post_get(user=user, post_id=post_id)
    if post is None:
        raise _not_found()
    return post


def plan_weeks(task_class: TaskClass, total_sections: int) -> int:
    """The plan's span: its dates when it has them, else the fewest weeks its daily cap allows
    (1 to the semester's 30 weeks)."""
    if task_class.start_date and task_class.end_date:
        weeks = math.ceil(((task_class.end_date - task_class.start_date).days + 1) / 7)
    else:
        weeks = math.ceil(total_sections / (7 * max(1, task_class.daily_max_sections)))
    return min(max(1, weeks), MAX_WEEKS)


def _index(post: Post) -> None:
    """The post's search lexemes (PostgreSQL; SQLite searches the columns themselves)."""
    if not selectors.uses_full_text():
        return
    literal = text.tsvector_literal(text.index_lexemes(post.title, post.summary, *post.tags))
    Post.objects.filter(pk=post.pk).update(search_vector=Cast(Value(literal), output_field=SearchVectorField()))


def _set_tags(post: Post, tags: list[str]) -> None:
    PostTag.objects.filter(post=post).exclude(tag__in=tags).delete()
    PostTag.objects.bulk_create([PostTag(post=post, tag=tag) for tag in tags], ignore_conflicts=True)


# --- posts ---------------------------------------------------------------------------------


@transaction.atomic
def post_create(*, author, task_class_id: int, title: str, summary: str = "", tags=()) -> Post:
    """Publish a frozen copy of one of the author's task classes (404 for another user's)."""
    tags = _tags(tags)
    task_class = task_class_queryset(user=author).filter(pk=task_class_id).first()
    if task_class is None:
        raise _not_found()
    items = [
        {"order": item.order, "title": item.title, "estimated_sections": item.estimated_sections}
        for item in task_class_items(user=author, task_class_id=task_class.pk).order_by("order", "id")
    ]
    if not items:
        raise _invalid("task_class_id", "This task class has no items to publish.")
    if len(items) > settings.PLAN_SQUARE_MAX_ITEMS:
        raise _invalid("task_class_id", f"A published plan has at most {settings.PLAN_SQUARE_MAX_ITEMS} items.")
    total = sum(item["estimated_sections"] for item in items)
    post = Post.objects.create(
        author=author,
        source_class=task_class,
        title=title,
        summary=summary,
        tags=tags,
        strategy=task_class.strategy,
        daily_max_sections=task_class.daily_max_sections,
        weeks=plan_weeks(task_class, total),
        item_count=len(items),
        total_sections=total,
    )
    PostSnapshot.objects.create(post=post, items=items)
    _set_tags(post, tags)
    _index(post)
    cache.changed(matches=True)
    return post


POST_FIELDS = ("title", "summary", "tags")


@transaction.atomic
def post_update(*, author, post_id: int, **fields) -> Post:
    """Title, summary and tags; the snapshot never changes. Only the author (others: 404)."""
    post = Post.objects.select_for_update().filter(pk=post_id, author=author).first()
    if post is None:
        raise _not_found()
    changed = [name for name in POST_FIELDS if name in fields]
    if "tags" in fields:
        fields["tags"] = _tags(fields["tags"])
    for name in changed:
        setattr(post, name, fields[name])
    if changed:
        post.save(update_fields=[*changed, "updated_at"])
        if "tags" in changed:
            _set_tags(post, post.tags)
        _index(post)
        cache.changed(matches=True)
    return post


@transaction.atomic
def post_delete(*, author, post_id: int) -> None:
    """Gone with its likes, imports, comments and reports; rewards already paid stay paid (their
    events are in the outbox, their PostReward rows keep the post's id)."""
    deleted, _ = Post.objects.filter(pk=post_id, author=author).delete()
    if not deleted:
        raise _not_found()
    cache.changed(matches=True)


# --- likes and imports ---------------------------------------------------------------------


def _reward(post: Post, *, actor, kind: str) -> None:
    """Pay the author once per (post, actor, kind) ever; nothing for one's own post."""
    if actor.pk == post.author_id:
        return
    amount = settings.PLAN_SQUARE_LIKE_REWARD if kind == RewardKind.LIKE else settings.PLAN_SQUARE_IMPORT_REWARD
    try:
        with transaction.atomic():
            reward = PostReward.objects.create(
                post_id=post.pk, actor_id=actor.pk, author_id=post.author_id, kind=kind, amount=amount
            )
    except IntegrityError:
        return  # paid before (a like, an unlike and a like again)
    if amount:
        enqueue(
            biz_type=EVENT_OF[kind],
            topic=TOPIC,
            message_key=f"plan_square_post:{post.pk}",
            data={
                "reward_id": reward.pk,
                "ref": f"plan_square:{kind}:{post.pk}:{actor.pk}",
                "author_id": post.author_id,
                "post_id": post.pk,
                "actor_id": actor.pk,
                "kind": kind,
                "amount": amount,
            },
        )


def _count(post_id: int, name: str) -> int:
    value = Post.objects.filter(pk=post_id).values_list(name, flat=True).first()
    if value is None:  # deleted while we were at it
        raise _not_found()
    return value


@transaction.atomic
def post_like(*, user, post_id: int) -> int:
    """Idempotent; the post's like count after it."""
    post = _visible(user, post_id)
    try:
        with transaction.atomic():
            PostLike.objects.create(post_id=post.pk, user=user)
    except IntegrityError:  # liked already (or, at once, by a concurrent request of the same user)
        return _count(post.pk, "likes")
    Post.objects.filter(pk=post.pk).update(likes=F("likes") + 1)
    _reward(post, actor=user, kind=RewardKind.LIKE)
    cache.changed()
    return _count(post.pk, "likes")


@transaction.atomic
def post_unlike(*, user, post_id: int) -> int:
    """Idempotent; the post's like count after it. The reward of the like stays paid."""
    post = _visible(user, post_id)
    removed, _ = PostLike.objects.filter(post_id=post.pk, user=user).delete()
    if removed:
        Post.objects.filter(pk=post.pk).update(likes=F("likes") - 1)
        cache.changed()
    return _count(post.pk, "likes")


def next_monday(user, today: date | None = None) -> date:
    """The first Monday after today in the user's zone (a week ahead on a Monday)."""
    today = today or timezone.localdate(timezone=user_zone(user))
    return today + timedelta(days=7 - today.weekday())


def _free_name(user, wanted: str) -> str:
    """`wanted`, or `wanted (2)`, `wanted (3)`, ... whichever the user has no class of."""
    wanted = wanted.strip()[:NAME_MAX] or "Imported plan"
    taken = set(task_class_queryset(user=user).filter(name__startswith=wanted[:60]).values_list("name", flat=True))
    if wanted not in taken:
        return wanted
    n = 2
    while True:
        suffix = f" ({n})"
        name = wanted[: NAME_MAX - len(suffix)] + suffix
        if name not in taken:
            return name
        n += 1


def _class_for(user, *, name: str, post: Post, start: date) -> TaskClass:
    """The importer's new class; a name taken meanwhile by a concurrent write gets the next suffix."""
    fields = dict(
        description=post.summary,
        start_date=start,
        end_date=start + timedelta(days=7 * post.weeks - 1),
        strategy=post.strategy,
        daily_max_sections=post.daily_max_sections,
    )
    for attempt in range(3):
        try:
            return scheduling.task_class_create(user=user, name=_free_name(user, name), **fields)
        except ApiError as exc:
            if attempt == 2 or "name" not in (exc.fields or {}):
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def post_import(*, user, post_id: int, start_date: date | None = None, name: str | None = None) -> TaskClass:
    """A new task class of the importer with the post's items, dated from `start_date` (default:
    next Monday) over the post's weeks, ready for `task-classes/plan/`. Once per user and post:
    409 already_imported after that (also for a concurrent repeat); 409 own_post."""
    post = _visible(user, post_id)
    if post.author_id == user.pk:
        raise Conflict("This is your own post; it is already yours.", code="own_post")
    try:
        with transaction.atomic():
            record = PostImport.objects.create(post_id=post.pk, user=user)
    except IntegrityError:
        _count(post.pk, "imports")  # 404 if the post went away meanwhile
        raise Conflict("You imported this post before.", code="already_imported")
    start = start_date or next_monday(user)
    task_class = _class_for(user, name=name or post.title, post=post, start=start)
    scheduling.task_class_items_create(
        user=user,
        task_class=task_class,
        items=[
            {"title": item["title"], "order": item["order"], "estimated_sections": item["estimated_sections"]}
            for item in post.snapshot.items
        ],
    )
    PostImport.objects.filter(pk=record.pk).update(task_class=task_class)
    Post.objects.filter(pk=post.pk).update(imports=F("imports") + 1)
    _reward(post, actor=user, kind=RewardKind.IMPORT)
    cache.changed()
    return task_class


# --- comments ------------------------------------------------------------------------------


@transaction.atomic
def comment_create(*, user, post_id: int, body: str, parent_id: int | None = None) -> PostComment:
    post = _visible(user, post_id)
    parent = None
    if parent_id is not None:
        parent = PostComment.objects.filter(pk=parent_id, post_id=post.pk).first()
        if parent is None:
            raise _invalid("parent", "No such comment on this post.")
        if not parent.visible:
            raise _invalid("parent", "This comment was removed; it takes no replies.")
    comment = PostComment.objects.create(post=post, author=user, parent=parent, body=body)
    Post.objects.filter(pk=post.pk).update(comments=F("comments") + 1)
    cache.changed()
    return comment


def _set_comment_state(comment_id: int, *, author=None, **state) -> PostComment | None:
    """Lock the comment, apply `state`, keep the post's count of visible comments exact."""
    queryset = PostComment.objects.select_for_update().filter(pk=comment_id)
    if author is not None:
        queryset = queryset.filter(author=author)
    comment = queryset.first()
    if comment is None:
        return None
    was_visible = comment.visible
    for name, value in state.items():
        setattr(comment, name, value)
    comment.save(update_fields=[*state, "updated_at"])
    if was_visible != comment.visible:
        Post.objects.filter(pk=comment.post_id).update(comments=F("comments") + (1 if comment.visible else -1))
        cache.changed()
    return comment


@transaction.atomic
def comment_delete(*, user, comment_id: int) -> None:
    """Soft delete by its author (others: 404): the row keeps its place, its text is dropped."""
    if _set_comment_state(comment_id, author=user, deleted=True, body="") is None:
        raise _not_found()


# --- reports and moderation ----------------------------------------------------------------


@transaction.atomic
def post_report(*, user, post_id: int, reason: str) -> PostReport:
    post = _visible(user, post_id)
    report, _created = PostReport.objects.update_or_create(
        post=post,
        reporter=user,
        defaults={"reason": reason, "created_at": timezone.now(), "resolved_at": None, "resolved_by": None},
    )
    return report


@transaction.atomic
def post_set_hidden(*, post_id: int, hidden: bool) -> Post | None:
    """Staff: hide (a 404 for all but its author and staff, gone from lists) or show again."""
    post = Post.objects.select_for_update().filter(pk=post_id).first()
    if post is None or post.hidden == hidden:
        return post
    post.hidden, post.hidden_at = hidden, timezone.now() if hidden else None
    post.save(update_fields=["hidden", "hidden_at", "updated_at"])
    cache.changed(matches=True)
    return post


@transaction.atomic
def comment_set_hidden(*, comment_id: int, hidden: bool) -> PostComment | None:
    """Staff: a hidden comment reads like a deleted one (its text is kept, to show it again)."""
    return _set_comment_state(comment_id, hidden=hidden, hidden_at=timezone.now() if hidden else None)


@transaction.atomic
def reports_resolve(*, report_ids, staff) -> int:
    return PostReport.objects.filter(pk__in=report_ids, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_by=staff
    )


# --- consistency -----------------------------------------------------------------------------


@transaction.atomic
def counters_repair(*, drift: list[dict]) -> int:
    """Write the recomputed counters of `drift` (selectors.counter_drift); the posts fixed."""
    fixes: dict[int, dict] = {}
    for entry in drift:
        fixes.setdefault(entry["post_id"], {})[entry["field"]] = entry["actual"]
    for post_id, values in fixes.items():
        Post.objects.filter(pk=post_id).update(**values)
    if fixes:
        cache.changed()
    return len(fixes)
