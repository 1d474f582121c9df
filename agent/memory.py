# ruff: noqa: RUF001  (full-width punctuation in the Chinese rules)
"""Memory items: dedupe by normalised content hash, soft delete, the prompt prefetch
(`sm:memory:{user}`, cleared by signals on commit) and rule-based extraction."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from agent.models import MemoryItem, MemoryKind, MemorySettings, MemorySource

logger = logging.getLogger("smartmate.agent")


def memory_cache_key(user_id: int) -> str:
    return f"sm:memory:{user_id}"


def normalise(content: str) -> str:
    text = unicodedata.normalize("NFKC", content).casefold()
    text = re.sub(r"\s+", " ", text).strip()
    return text.strip(" .,!?;:。，！？；：、")


def content_hash(content: str) -> str:
    return hashlib.sha256(normalise(content).encode()).hexdigest()


def memory_settings_get(*, user) -> MemorySettings:
    return MemorySettings.objects.get_or_create(user=user)[0]


@transaction.atomic
def memory_settings_update(*, user, **fields) -> MemorySettings:
    row = MemorySettings.objects.select_for_update().get_or_create(user=user)[0]
    for name in ("enabled", "auto_extract", "confirm_writes"):
        if name in fields:
            setattr(row, name, fields[name])
    row.save()
    return row


def memory_item_create(
    *, user, kind: str, content: str, source: str = MemorySource.USER, conversation=None, importance: int = 3
) -> tuple[MemoryItem, bool]:
    """The same content twice (normalised) → the existing item, (item, False)."""
    digest = content_hash(content)
    existing = MemoryItem.objects.filter(user=user, content_hash=digest).first()
    if existing is not None:
        if existing.deleted_at is not None and source == MemorySource.USER:
            existing.deleted_at = None  # the user says it again: bring it back
            existing.save(update_fields=["deleted_at", "updated_at"])
        return existing, False
    try:
        with transaction.atomic():
            item = MemoryItem.objects.create(
                user=user,
                kind=kind,
                content=content.strip(),
                content_hash=digest,
                source=source,
                conversation=conversation,
                importance=importance,
            )
    except IntegrityError:  # a concurrent create of the same content won
        return MemoryItem.objects.get(user=user, content_hash=digest), False
    return item, True


@transaction.atomic
def memory_item_update(*, user, item: MemoryItem, **fields) -> MemoryItem:
    item = MemoryItem.objects.select_for_update().get(pk=item.pk, user=user)
    if "content" in fields and fields["content"] is not None:
        digest = content_hash(fields["content"])
        if MemoryItem.objects.filter(user=user, content_hash=digest).exclude(pk=item.pk).exists():
            from smartmate.errors import ApiError

            raise ApiError(
                "You already have a memory item with this content.",
                code="validation_error",
                fields={"content": ["A memory item with this content already exists."]},
            )
        item.content, item.content_hash = fields["content"].strip(), digest
    for name in ("kind", "importance"):
        if name in fields:
            setattr(item, name, fields[name])
    item.save()
    return item


def memory_item_delete(*, user, item: MemoryItem) -> None:
    MemoryItem.objects.filter(pk=item.pk, user=user, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), updated_at=timezone.now()
    )
    _clear_after_commit(user.pk)  # update() sends no signal


def memory_item_restore(*, user, item: MemoryItem) -> MemoryItem:
    MemoryItem.objects.filter(pk=item.pk, user=user).update(deleted_at=None, updated_at=timezone.now())
    _clear_after_commit(user.pk)
    return MemoryItem.objects.get(pk=item.pk)


def _clear_after_commit(user_id: int) -> None:
    def clear():
        try:
            cache.delete(memory_cache_key(user_id))
        except Exception:
            logger.warning("memory cache clear failed for user %s", user_id)

    transaction.on_commit(clear)


def memory_for_prompt(*, user) -> list[dict]:
    """Top N live items by importance, then recency (cached per user); [] when memory is off."""
    key = memory_cache_key(user.pk)
    try:
        cached = cache.get(key)
    except Exception:
        cached = None
    if cached is not None:
        return cached
    if not memory_settings_get(user=user).enabled:
        items = []
    else:
        limit = min(settings.AGENT_MEMORY_PROMPT_ITEMS, 20)
        items = list(
            MemoryItem.objects.filter(user=user, deleted_at__isnull=True)
            .order_by("-importance", "-updated_at", "-id")
            .values("id", "kind", "content", "importance")[:limit]
        )
    try:
        cache.set(key, items, settings.AGENT_CACHE_TTL)
    except Exception:
        logger.warning("memory cache set failed for user %s", user.pk)
    return items


# --- extraction (offline rules) -------------------------------------------------------------

_RULES: list[tuple[str, int, re.Pattern]] = [
    (
        MemoryKind.CONSTRAINT,
        4,
        re.compile(
            r"(我(?:每周|每天)?[^，。！？,.!?]{0,12}(?:不能|没空|没时间|不方便|有课|要上班|要打工)[^，。！？,.!?]*)"
        ),
    ),
    (
        MemoryKind.CONSTRAINT,
        4,
        re.compile(r"(\bI (?:can'?t|cannot|am not available|have (?:class|work|practice))\b[^.!?]*)", re.I),
    ),
    (MemoryKind.PREFERENCE, 3, re.compile(r"(我(?:比较|更|很|最)?(?:喜欢|习惯|偏好|倾向于|希望)[^，。！？,.!?]*)")),
    (
        MemoryKind.PREFERENCE,
        3,
        re.compile(r"(\bI (?:prefer|like to|usually|always|tend to|would rather)\b[^.!?]*)", re.I),
    ),
    (MemoryKind.FACT, 2, re.compile(r"(我(?:是|在|读|学的是|的专业是|的专业|住在)[^，。！？,.!?吗呢]{2,}(?<![吗呢]))")),
    (
        MemoryKind.FACT,
        2,
        re.compile(r"(\b(?:I am|I'm) (?:a|an|in|at|studying|majoring)\b[^.!?]*|\bmy major is\b[^.!?]*)", re.I),
    ),
]
_NOT_MEMORY = re.compile(r"(提醒|记得|帮我|[?？吗]|\bremind\b|\?)", re.I)


def extract(text: str) -> list[tuple[str, str, int]]:
    """(kind, content, importance) statements about the user in one message."""
    if _NOT_MEMORY.search(text):
        return []
    found, seen = [], set()
    for kind, importance, pattern in _RULES:
        for m in pattern.finditer(text):
            content = m.group(1).strip(" ，,。.")
            if len(content) < 4 or normalise(content) in seen:
                continue
            seen.add(normalise(content))
            found.append((str(kind), content[:500], importance))
    return found


def memory_extract_from_message(*, user, conversation_id: int | None, text: str) -> list[MemoryItem]:
    items = []
    for kind, content, importance in extract(text):
        item, _created = memory_item_create(
            user=user, kind=kind, content=content, source=MemorySource.EXTRACTED, importance=importance
        )
        if _created and conversation_id:
            MemoryItem.objects.filter(pk=item.pk).update(conversation_id=conversation_id)
        items.append(item)
    return items
