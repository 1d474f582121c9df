"""Agent writes: conversations, history (user message now, the rest through the outbox),
the actions the intents reach (task, plan draft), and the plan apply."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agent import timeparse
from agent.intents import quick_note
from agent.models import Conversation, Message, PlanDraft, PlanStatus, Role, TimelineEntry, TimelineKind
from outbox import topics
from outbox.services import enqueue
from smartmate.api import datetime_in_range
from smartmate.errors import ApiError, Conflict

logger = logging.getLogger("smartmate.agent")
TOPIC = topics.AGENT


def conversation_create(*, user, title: str = "", archived: bool = False) -> Conversation:
    return Conversation.objects.create(user=user, title=title[:200], archived=archived)


def conversation_update(
    *, conversation: Conversation, title: str | None = None, archived: bool | None = None
) -> Conversation:
    """Rename and/or (un)archive; what is left out (None) stays as it is."""
    if title is not None:
        conversation.title = title[:200]
    if archived is not None:
        conversation.archived = archived
    conversation.save(update_fields=["title", "archived", "updated_at"])
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()


# --- history ---------------------------------------------------------------------------------


@transaction.atomic
def user_message_store(*, conversation: Conversation, content: str, request_id: str) -> Message:
    """The user's message, stored at once; its seq allocated under a lock on the conversation row."""
    conv = Conversation.objects.select_for_update().get(pk=conversation.pk)
    now = timezone.now()
    message = Message.objects.create(
        conversation=conv, seq=conv.next_message_seq, role=Role.USER, content=content, request_id=request_id
    )
    TimelineEntry.objects.create(
        conversation=conv,
        seq=conv.next_timeline_seq,
        kind=TimelineKind.MESSAGE,
        data={"role": Role.USER, "message_seq": message.seq, "content": content[:200]},
    )
    conv.next_message_seq += 1
    conv.next_timeline_seq += 1
    conv.last_message_at = now
    if not conv.title:
        conv.title = content.strip().splitlines()[0][:60] if content.strip() else ""
    conv.save(update_fields=["next_message_seq", "next_timeline_seq", "last_message_at", "title", "updated_at"])
    return message


@transaction.atomic
def turn_record(
    *,
    conversation_id: int,
    user,
    request_id: str,
    reply: str,
    timeline: list[dict],
    tokens: int = 0,
    user_text: str = "",
) -> dict:
    """Reserve seqs for the assistant message and the turn's timeline entries, and enqueue them.

    The consumer (agent.handlers) stores them idempotently. When auto-extract is on,
    the user's text also goes out as `agent.memory.extract`.
    """
    from agent.memory import memory_settings_get

    conv = Conversation.objects.select_for_update().get(pk=conversation_id)
    entries = []
    seq = conv.next_timeline_seq
    for entry in timeline:
        entries.append({"seq": seq, "kind": entry["kind"], "data": entry.get("data", {})})
        seq += 1
    message = None
    if reply:
        message = {"seq": conv.next_message_seq, "role": Role.ASSISTANT, "content": reply, "tokens": tokens}
        entries.append(
            {
                "seq": seq,
                "kind": TimelineKind.MESSAGE,
                "data": {"role": Role.ASSISTANT, "message_seq": message["seq"], "content": reply[:200]},
            }
        )
        seq += 1
        conv.next_message_seq += 1
    conv.next_timeline_seq = seq
    conv.last_message_at = timezone.now()
    conv.save(update_fields=["next_message_seq", "next_timeline_seq", "last_message_at", "updated_at"])
    data = {
        "conversation_id": conv.pk,
        "user_id": user.pk,
        "request_id": request_id,
        "messages": [message] if message else [],
        "timeline": entries,
    }
    enqueue(biz_type="agent.chat.message", topic=TOPIC, message_key=f"conversation:{conv.pk}", data=data)
    if user_text:
        settings_row = memory_settings_get(user=user)
        if settings_row.enabled and settings_row.auto_extract:
            enqueue(
                biz_type="agent.memory.extract",
                topic=TOPIC,
                message_key=f"conversation:{conv.pk}",
                data={"conversation_id": conv.pk, "user_id": user.pk, "text": user_text},
            )
    return data


def history_store(data: dict) -> int:
    """Consumer side of agent.chat.message: insert what is not there yet. Returns rows written."""
    conv_id = data["conversation_id"]
    if not Conversation.objects.filter(pk=conv_id).exists():
        return 0  # deleted meanwhile: nothing to attach to
    created = Message.objects.bulk_create(
        [
            Message(
                conversation_id=conv_id,
                seq=m["seq"],
                role=m["role"],
                content=m["content"],
                request_id=data.get("request_id", ""),
                tokens=m.get("tokens", 0),
            )
            for m in data.get("messages", [])
        ],
        ignore_conflicts=True,
    )
    entries = TimelineEntry.objects.bulk_create(
        [
            TimelineEntry(conversation_id=conv_id, seq=e["seq"], kind=e["kind"], data=e["data"])
            for e in data.get("timeline", [])
        ],
        ignore_conflicts=True,
    )
    return len(created) + len(entries)


# --- actions ---------------------------------------------------------------------------------


def _iso(dt: datetime | None, tz) -> str | None:
    return dt.astimezone(tz).isoformat() if dt else None


def quick_note_create(*, user, text: str, now: datetime, tz, overrides: dict | None = None) -> dict:
    """A sentence → a task (or a question back when the time cannot be resolved)."""
    drafted = quick_note_draft(text=text, now=now, tz=tz, overrides=overrides)
    if drafted["type"] != "task_draft":
        return drafted
    return task_from_draft(user=user, task=drafted["task"], tz=tz)


def quick_note_draft(*, text: str, now: datetime, tz, overrides: dict | None = None) -> dict:
    """The task a sentence asks for, not yet written: `{"type": "task_draft", "task": {...}}` with
    the deadline and threshold as ISO strings, or `{"type": "ask", ...}` when the time cannot be
    resolved (docs/DOMAIN.md §8). A pending action keeps the draft as its payload."""
    lead = settings.AGENT_URGENCY_LEAD_HOURS
    try:
        draft = quick_note.draft(text, now, tz, urgency_lead_hours=lead)
    except OverflowError:  # a date at the edge of what datetime holds (0001-01-01, 9999-12-31)
        return _out_of_range(text)
    overrides = overrides or {}
    if overrides.get("title"):
        draft.title = str(overrides["title"])[:200]
    if overrides.get("priority") in (1, 2, 3, 4) and draft.priority == 4:
        draft.priority = int(overrides["priority"])
    if draft.deadline is None and not draft.ask and overrides.get("deadline"):
        # the model resolved a time our rules did not see: used only when it passes the same checks
        deadline, verdict = quick_note.model_deadline(overrides["deadline"], text=text, now=now, tz=tz)
        if verdict.ok:
            draft.deadline = deadline
        else:
            draft.ask, draft.question = True, quick_note.QUESTIONS[verdict.reason]
    if draft.ask:
        return {"type": "ask", "question": draft.question, "title": draft.title}
    try:
        draft.urgency_threshold_at = quick_note.urgency_threshold(draft.priority, draft.deadline, now, lead)
    except OverflowError:
        return _out_of_range(draft.title)
    if not (datetime_in_range(draft.deadline) and datetime_in_range(draft.urgency_threshold_at)):
        return _out_of_range(draft.title)
    task = {
        "title": draft.title,
        "deadline_at": _iso(draft.deadline, tz),
        "priority": draft.priority,
        "urgency_threshold_at": _iso(draft.urgency_threshold_at, tz),
    }
    return {"type": "task_draft", "task": task}


def task_from_draft(*, user, task: dict, tz) -> dict:
    """Write a drafted task (quick_note_draft's, or a confirmed action's payload)."""
    from scheduling.services.tasks import task_create

    def parsed(value):
        return datetime.fromisoformat(value) if value else None

    created = task_create(
        user=user,
        title=task["title"],
        deadline_at=parsed(task.get("deadline_at")),
        priority=task.get("priority", 4),
        urgency_threshold_at=parsed(task.get("urgency_threshold_at")),
    )
    return {
        "type": "task_created",
        "task": {
            "id": created.pk,
            "title": created.title,
            "deadline_at": _iso(created.deadline_at, tz),
            "priority": created.priority,
            "urgency_threshold_at": _iso(created.urgency_threshold_at, tz),
        },
    }


def _out_of_range(title: str) -> dict:
    """Ask again rather than store a deadline outside 1970-2100 (the task service would refuse it)."""
    question = "截止日期要在1970年到2100年之间, 是哪一天? / The deadline must be between 1970 and 2100: when is it due?"
    return {"type": "ask", "question": question, "title": title[:200]}


def plan_cache_key(conversation_id: int) -> str:
    return f"sm:agent:plan:{conversation_id}"


def plan_draft_create(*, user, conversation: Conversation, now: datetime) -> PlanDraft | None:
    """The user's open tasks and unscheduled task-class items in free time of the next days, as
    scheduling places them (`scheduling.services.placement.free_time_proposal`), kept as a draft."""
    from scheduling.services.placement import free_time_proposal

    proposal = free_time_proposal(user=user, now=now, days_ahead=settings.AGENT_PLAN_DAYS_AHEAD)
    if proposal is None:
        return None
    changes = proposal.changes
    candidate = {
        "id": str(uuid.uuid4()),
        "summary": f"{len(changes)} block(s) placed in free time",
        "score": 100 - min(c["to"]["start_section"] for c in changes),
        "changes": changes,
    }
    return PlanDraft.objects.create(
        conversation=conversation, user=user, candidate=candidate, base_version=proposal.base_version
    )


# The time parser's parts of the day → the day parts scheduling places a moved block in.
DAY_PARTS = {
    "dawn": "morning",
    "morning": "morning",
    "forenoon": "morning",
    "noon": "afternoon",
    "afternoon": "afternoon",
    "evening": "evening",
}


def plan_refine(*, user, conversation: Conversation, text: str, now: datetime) -> PlanDraft | None:
    """Move one block of the latest draft ("把数学挪到周四晚上") to a free span of the named day/period."""
    from scheduling.selectors import clock_for
    from scheduling.services.placement import free_start

    draft = PlanDraft.objects.filter(conversation=conversation, status=PlanStatus.DRAFT).first()
    if draft is None:
        return None
    changes = draft.candidate.get("changes", [])
    if not changes:
        return None
    lowered = text.lower()
    target = next(
        (
            c
            for c in changes
            if c["title"]
            and (
                c["title"].lower() in lowered
                or any(w in lowered for w in re.findall(r"[\u4e00-\u9fff]{2}|[a-z]{4,}", c["title"].lower()))
            )
        ),
        changes[0],
    )
    clock = clock_for(user)
    named = timeparse.parse(text, now, clock.tz)
    day = named.day.isoweekday() if named.day else None  # the timetable numbers days 1-7 from Monday
    part = DAY_PARTS.get(named.period or "")
    _local, this_week, today = clock.locate(now)
    week = target["to"]["week"]
    day = day or target["to"]["day"]
    if week == this_week and day < today:
        week += 1
    length = target["to"]["end_section"] - target["to"]["start_section"] + 1
    others = [c for c in changes if c is not target]
    found = free_start(user=user, week=week, day=day, length=length, part=part, others=others)
    if found is None:
        return None
    start, embedded_in = found
    target["from"] = dict(target["to"])
    target["to"] = {"week": week, "day": day, "start_section": start, "end_section": start + length - 1}
    target.pop("embedded_in", None)
    if embedded_in:  # inside a lecture that admits blocks (docs/DOMAIN.md)
        target["embedded_in"] = embedded_in
    draft.candidate = {**draft.candidate, "changes": changes, "summary": f"moved {target['title']}"}
    draft.save(update_fields=["candidate", "updated_at"])
    return draft


def _draft_for_update(conversation: Conversation) -> PlanDraft:
    """The conversation's latest draft, locked until commit; 404 without one, 409 once applied."""
    draft = (
        PlanDraft.objects.select_for_update().filter(conversation=conversation).order_by("-created_at", "-id").first()
    )
    if draft is None:
        raise ApiError("This conversation has no schedule preview.", code="not_found", status_code=404)
    if draft.status == PlanStatus.APPLIED:
        raise Conflict("This schedule preview was already applied.", code="already_applied")
    return draft


def plan_apply(*, user, conversation: Conversation) -> PlanDraft:
    """Active-schedule apply rules, through the same write step as previews and study plans:
    lock the draft and the schedule version, write all events or none, stale → never again."""
    from scheduling.models.timetable import EventSource
    from scheduling.services.applying import ApplyRejected, changes_write

    stale_message = "Your schedule changed since this preview was made."
    with transaction.atomic():
        draft = _draft_for_update(conversation)
        stale = draft.status == PlanStatus.STALE
        if not stale:
            try:
                with transaction.atomic():
                    events = changes_write(
                        user=user,
                        changes=draft.candidate["changes"],
                        base_version=draft.base_version,
                        source=EventSource.AGENT,
                        stale_message=stale_message,
                        expired_status=PlanStatus.STALE,
                    )
            except ApplyRejected as rejected:
                if rejected.error.error_code != "stale_version":
                    raise rejected.error from None  # slot_conflict: nothing written, the draft stays
                stale = True
            else:
                draft.status = PlanStatus.APPLIED
                draft.applied_event_ids = [e.pk for e in events]
                draft.save(update_fields=["status", "applied_event_ids", "updated_at"])
        if stale:
            draft.status = PlanStatus.STALE
            draft.save(update_fields=["status", "updated_at"])
            transaction.on_commit(lambda: _clear_plan_cache(conversation.pk))
    if stale:
        raise Conflict(stale_message, code="stale_version")
    return draft


def _clear_plan_cache(conversation_id):
    from django.core.cache import cache

    try:
        cache.delete(plan_cache_key(conversation_id))
    except Exception:
        logger.warning("plan cache delete failed")


def plan_edit(*, user, conversation: Conversation, changes: list[dict], now: datetime | None = None) -> PlanDraft:
    """Move the draft's blocks before it is applied (docs/DOMAIN.md, "Edited previews and drafts"):
    the planner's placement rules, judged against the schedule as it is, under the same lock an
    apply takes. A broken rule → 422 `invalid_changes` and the draft stays as it was; a schedule
    that changed since the draft → 409 `stale_version`, and the draft is stale for good (as at apply)."""
    from scheduling.selectors import clock_for
    from scheduling.services import edits

    now = now or timezone.now()
    stale_message = "Your schedule changed since this preview was made."
    with transaction.atomic():
        draft = _draft_for_update(conversation)
        stale = draft.status == PlanStatus.STALE or edits.schedule_version_locked(user=user) != draft.base_version
        if not stale:
            clock = clock_for(user)
            not_before, horizon_end = edits.draft_window(created_at=draft.created_at, now=now, clock=clock)
            candidate_changes = draft.candidate.get("changes", [])
            checked = edits.changes_checked(
                user=user,
                clock=clock,
                changes=changes,
                candidate_changes=candidate_changes,
                not_before=not_before,
                horizon_end=horizon_end,
            )
            draft.candidate = {
                **draft.candidate,
                "changes": checked,
                "summary": f"{len(checked)} block(s), as you placed them",
            }
            draft.save(update_fields=["candidate", "updated_at"])
        elif draft.status != PlanStatus.STALE:
            draft.status = PlanStatus.STALE
            draft.save(update_fields=["status", "updated_at"])
    if stale:
        raise Conflict(stale_message, code="stale_version")
    return draft
