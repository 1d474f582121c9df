"""Cache invalidation only (docs/DOMAIN.md §4): writes that change what the square's shared reads
show. Services that write with update()/bulk_create() (counters, tag rows) clear explicitly
(scheduling.plansquare.cache.changed); this receiver covers save()/delete() of a post, the admin's
edits and cascades (a user deleted with their posts)."""

from django.db.models.signals import post_delete, post_save

from scheduling.plansquare import cache
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

# The listing and the tag counts are built from posts and their tag rows only.
CACHED = (Post,)
# Seen only through a post's counters or tags, which their services update and clear; read
# uncached (the snapshot, the reports); or never read by a cached view.
IGNORED = (PostSnapshot, PostTag, PostLike, PostImport, PostComment, PostReport, PostReward)


def on_write(sender, instance, **kwargs):
    cache.changed(matches=True)


def connect():
    for model in CACHED:
        uid = f"plansquare.cache.{model.__name__}"
        post_save.connect(on_write, sender=model, dispatch_uid=uid + ".save")
        post_delete.connect(on_write, sender=model, dispatch_uid=uid + ".delete")
