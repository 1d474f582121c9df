"""Agent reads."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import get_object_or_404

from agent import context
from agent.memory import memory_for_prompt
from agent.models import Conversation, MemoryItem, Message, PlanDraft, PlanStatus, TimelineEntry
from agent.services import plan_cache_key

logger = logging.getLogger("smartmate.agent")


def conversation_list(*, user, archived: bool = False):
    """The user's archived conversations, or (by default) the others; newest activity first."""
    return Conversation.objects.filter(user=user, archived=archived).order_by("-updated_at", "-id")


def conversation_get(*, user, pk) -> Conversation:
    """404 for another user's conversation, never 403."""
    return get_object_or_404(Conversation, pk=pk, user=user)


def pending_action_result(*, action) -> dict:
    """A pending action as its confirm/reject answer: the status as it reads now (a pending one
    past expires_at is expired), times in the user's zone."""
    from accounts.timezones import user_zone

    tz = user_zone(action.user)
    return {
        "id": action.pk,
        "kind": action.kind,
        "status": action.effective_status(),
        "summary": action.summary,
        "payload": action.payload,
        "result": action.result,
        "expires_at": action.expires_at.astimezone(tz),
        "decided_at": action.decided_at and action.decided_at.astimezone(tz),
    }


def message_list(*, conversation):
    return Message.objects.filter(conversation=conversation).order_by("seq")


def timeline_list(*, conversation):
    return TimelineEntry.objects.filter(conversation=conversation).order_by("seq")


def tasks_ranked(*, user, text: str, rank: str, now, limit: int = 3) -> list[dict]:
    """The user's open tasks in the order a ranking question asks for (agent.intents.query); when the
    question names two or more of them ("is the essay due before the lab report?"), just those."""
    from agent.intents import query
    from scheduling.models import Task
    from scheduling.models.tasks import Status

    rows = list(
        Task.objects.filter(user=user, status=Status.TODO).values(
            "id", "title", "deadline_at", "priority", "urgency_threshold_at"
        )[:200]
    )
    named = set(query.named_tasks(text, {r["id"]: r["title"] for r in rows}))
    if len(named) >= 2:
        rows = [r for r in rows if r["id"] in named]
    rows.sort(
        key=lambda r: query.sort_key(
            rank, priority=r["priority"], deadline=r["deadline_at"], threshold=r["urgency_threshold_at"], now=now
        )
    )
    return [{k: r[k] for k in ("id", "title", "deadline_at", "priority")} for r in rows[:limit]]


def memory_item_list(*, user, include_deleted: bool = False):
    qs = MemoryItem.objects.filter(user=user)
    return qs if include_deleted else qs.filter(deleted_at__isnull=True)


def prompt_context(*, user, conversation, now_line: str = "") -> dict:
    history = [
        {"role": m["role"], "content": m["content"]}
        for m in Message.objects.filter(conversation=conversation).order_by("-seq").values("role", "content")[:200]
    ][::-1]
    return context.build(
        system=context.SYSTEM_PROMPT,
        memory=memory_for_prompt(user=user),
        history=history,
        budget=settings.AGENT_CONTEXT_TOKEN_BUDGET,
        now_line=now_line,
    )


def plan_body(draft: PlanDraft) -> dict:
    """A draft as the API shows it: its candidate, with its state."""
    return {
        **draft.candidate,
        "status": draft.status,
        "base_version": draft.base_version,
        "applied_event_ids": draft.applied_event_ids,
    }


def plan_preview(*, conversation) -> dict | None:
    """The conversation's latest draft candidate (cached under sm:agent:plan:{conversation})."""
    key = plan_cache_key(conversation.pk)
    try:
        cached = cache.get(key)
    except Exception:
        cached = None
    if cached is not None:
        return cached or None
    draft = PlanDraft.objects.filter(conversation=conversation).order_by("-created_at", "-id").first()
    value = plan_body(draft) if draft and draft.status != PlanStatus.STALE else {}
    try:
        cache.set(key, value, settings.AGENT_CACHE_TTL)
    except Exception:
        logger.warning("plan cache set failed")
    return value or None
