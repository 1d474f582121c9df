"""Writes the agent asks about before it makes them (docs/DOMAIN.md §8, "Confirm before write").

A turn proposes a write as a `PendingAction` instead of making it when the user set
`confirm_writes`, or when the agent's confidence is low: a language model (not the rules) chose
the write, or the sentence's time could not be read. The action holds everything the write
needs (`payload`); confirming it makes that write exactly once, under a lock on the action's row
(a second confirm answers the stored result, concurrent confirms write once), rejecting closes
it, and after `AGENT_ACTION_TTL_SECONDS` (10 min) it is expired: confirm and reject of a
rejected or expired action, and reject of a confirmed one, answer 409 `action_closed`.
Confirming runs no model, so it charges nothing.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agent.models import ActionKind, ActionReason, ActionStatus, Conversation, PendingAction, PlanDraft, TimelineKind
from smartmate.errors import ApiError, Conflict

logger = logging.getLogger("smartmate.agent")

CLOSED_MESSAGES = {
    ActionStatus.CONFIRMED: "This action was already confirmed.",
    ActionStatus.REJECTED: "This action was rejected.",
    ActionStatus.EXPIRED: "This action expired; ask again.",
}


# Refusals after which the write can never be made as it was shown (a stale or changed plan, a
# plan applied meanwhile, an event moved since): the action then closes as `expired`.
FINAL_REFUSALS = frozenset({"stale_version", "already_applied"})


def confirmation_reason(*, confirm_writes: bool, rule_based: bool, unresolved_time: bool = False) -> str | None:
    """Why a write must wait for the user, or None to write at once. The low-confidence reasons
    come first: they hold even when the user did not ask to confirm."""
    if unresolved_time:
        return ActionReason.UNRESOLVED_TIME
    if not rule_based:
        return ActionReason.MODEL_TOOL_CALL
    if confirm_writes:
        return ActionReason.CONFIRM_WRITES
    return None


def pending_action_data(action: PendingAction, *, tz=None) -> dict:
    """The contract's `pending_action` object (also what the chat JSON and the SSE chunk carry)."""
    expires_at = action.expires_at.astimezone(tz) if tz else action.expires_at
    return {
        "id": action.pk,
        "kind": action.kind,
        "summary": action.summary,
        "payload": action.payload,
        "expires_at": expires_at.isoformat(),
    }


def pending_action_create(
    *, user, conversation: Conversation, request_id: str, kind: str, reason: str, summary: str, payload: dict
) -> PendingAction:
    return PendingAction.objects.create(
        user=user,
        conversation=conversation,
        request_id=request_id,
        kind=kind,
        reason=reason,
        summary=summary[:300],
        payload=payload,
        expires_at=timezone.now() + timedelta(seconds=settings.AGENT_ACTION_TTL_SECONDS),
    )


def plan_actions_supersede(*, conversation: Conversation) -> int:
    """A changed draft closes the open offers to apply its earlier version (they would apply
    something the user was not shown)."""
    return PendingAction.objects.filter(
        conversation=conversation, kind=ActionKind.APPLY_PLAN, status=ActionStatus.PENDING
    ).update(status=ActionStatus.EXPIRED, decided_at=timezone.now())


def _closed(status: str) -> Conflict:
    return Conflict(CLOSED_MESSAGES[status], code="action_closed")


def _status_locked(action: PendingAction) -> str:
    """The locked action's status as it reads now; an expiry seen here is persisted at once."""
    status = action.effective_status()
    if status == ActionStatus.EXPIRED and action.status == ActionStatus.PENDING:
        action.status, action.decided_at = ActionStatus.EXPIRED, timezone.now()
        action.save(update_fields=["status", "decided_at"])
    return status


def _locked(*, user, action_id: int) -> PendingAction:
    try:
        return PendingAction.objects.select_for_update().get(pk=action_id, user=user)
    except PendingAction.DoesNotExist:
        raise ApiError("No such action.", code="not_found", status_code=404) from None


def pending_action_confirm(*, user, action_id: int) -> PendingAction:
    """Make the action's write, once. The row lock orders concurrent confirms: the first writes
    and stores the result, the others then see `confirmed` and answer that result. A write that
    is refused (a slot taken, a stale schedule) rolls back and leaves the action open, except a
    refusal after which it can never be made as shown (FINAL_REFUSALS): the action then expires."""
    refused = None
    with transaction.atomic():
        action = _locked(user=user, action_id=action_id)
        status = _status_locked(action)
        if status == ActionStatus.CONFIRMED:
            return action
        if status == ActionStatus.PENDING:
            try:
                # No savepoint of its own: a refusal other than a stale one leaves this block
                # and rolls everything back; a stale plan keeps its `stale` mark (plan_apply).
                action.result = _perform(action)
            except Conflict as exc:
                if exc.error_code not in FINAL_REFUSALS:
                    raise
                refused = exc  # it can never be done as shown: the offer closes with the refusal
                action.status = ActionStatus.EXPIRED
            else:
                action.status = ActionStatus.CONFIRMED
                _record(action)
            action.decided_at = timezone.now()
            action.save(update_fields=["status", "result", "decided_at"])
    if refused is not None:
        raise refused
    if status != ActionStatus.PENDING:
        raise _closed(status)
    return action


def _record(action: PendingAction) -> None:
    """A confirmed task joins its conversation's timeline (through the outbox, like a turn's)."""
    from agent.services import turn_record

    if action.result.get("type") == "task_created":
        entry = {"kind": TimelineKind.TASK_CREATED, "data": action.result["task"]}
        turn_record(
            conversation_id=action.conversation_id,
            user=action.user,
            request_id=f"action-{action.pk}",
            reply="",
            timeline=[entry],
        )


def pending_action_reject(*, user, action_id: int) -> PendingAction:
    with transaction.atomic():
        action = _locked(user=user, action_id=action_id)
        status = _status_locked(action)
        if status == ActionStatus.PENDING:
            action.status = ActionStatus.REJECTED
            action.decided_at = timezone.now()
            action.save(update_fields=["status", "decided_at"])
            return action
    raise _closed(status)


def pending_actions_expire(*, now=None) -> int:
    """The sweep (beat): open actions past expires_at become `expired`. Reads never wait for it
    (PendingAction.effective_status)."""
    now = now or timezone.now()
    return PendingAction.objects.filter(status=ActionStatus.PENDING, expires_at__lte=now).update(
        status=ActionStatus.EXPIRED, decided_at=now
    )


# --- the writes ---------------------------------------------------------------------------------


def _perform(action: PendingAction) -> dict:
    from accounts.timezones import user_zone

    tz = user_zone(action.user)
    if action.kind == ActionKind.CREATE_TASK:
        from agent.services import task_from_draft

        return task_from_draft(user=action.user, task=action.payload["task"], tz=tz)
    if action.kind == ActionKind.APPLY_PLAN:
        return _apply_plan(action)
    if action.kind == ActionKind.MOVE_EVENT:
        return event_move_make(user=action.user, move=action.payload)
    raise ApiError(f"Unknown action kind {action.kind!r}.", code="bad_request")  # pragma: no cover


def _apply_plan(action: PendingAction) -> dict:
    """Apply the draft the action was made for, only as it was shown: a draft changed since
    (refined, edited, or a newer one) is not what the user is confirming."""
    from agent.services import plan_apply

    draft = PlanDraft.objects.select_for_update().filter(conversation=action.conversation).first()
    shown = action.payload
    if draft is None or draft.pk != shown.get("plan_id") or draft.candidate != shown.get("candidate"):
        raise Conflict("The draft changed since this was proposed.", code="stale_version")
    applied = plan_apply(user=action.user, conversation=action.conversation)
    return {"type": "plan_applied", "plan_id": applied.pk, "applied_event_ids": applied.applied_event_ids}


@transaction.atomic
def event_move_make(*, user, move: dict) -> dict:
    """Move the event as `move` (event_move_draft's) says, only from where it was seen."""
    from scheduling.models import ScheduleEvent
    from scheduling.services.events import event_move

    event = ScheduleEvent.objects.select_for_update().filter(user=user, pk=move["event_id"]).first()
    if event is None:
        raise ApiError("The event to move is gone.", code="not_found", status_code=404)
    if {k: getattr(event, k) for k in POSITION} != move["from"]:
        raise Conflict("The event moved since this was proposed.", code="stale_version")
    moved = event_move(user=user, event=event, **move["to"])
    return {"type": "event_moved", "event_id": moved.pk, "title": moved.title, "from": move["from"], "to": move["to"]}


# --- proposing a move ---------------------------------------------------------------------------

POSITION = ("week", "day", "start_section", "end_section")


def conversation_has_draft(*, conversation: Conversation) -> bool:
    from agent.models import PlanStatus

    return PlanDraft.objects.filter(conversation=conversation, status=PlanStatus.DRAFT).exists()


def _named(title: str, lowered: str) -> bool:
    """Whether the sentence names the title: whole, or by a two-character Chinese word or an
    English word of four letters or more of it."""
    title = title.lower()
    return bool(title) and (
        title in lowered or any(w in lowered for w in re.findall(r"[\u4e00-\u9fff]{2}|[a-z]{4,}", title))
    )


def event_move_draft(*, user, text: str, now) -> dict | None:
    """With no draft to change ("move the math review to Thursday evening"): the user's upcoming
    event (not a course: courses move through their own timetable) the sentence names, to the
    first free span of its length on the named day and part of the day (its own place counts as
    taken: it moves to where it fits beside itself).
    `{"event_id", "title", "from", "to"}`, or None (no event named, no free span)."""
    from agent import timeparse
    from agent.services import DAY_PARTS
    from scheduling.models import ScheduleEvent
    from scheduling.models.timetable import EventKind
    from scheduling.selectors import clock_for
    from scheduling.services.placement import free_start

    clock = clock_for(user)
    _local, this_week, today = clock.locate(now)
    upcoming = (
        ScheduleEvent.objects.filter(user=user, week__gte=this_week)
        .exclude(kind=EventKind.COURSE)
        .exclude(week=this_week, day__lt=today)
        .order_by("week", "day", "start_section", "id")[:200]
    )
    lowered = text.lower()
    event = next((e for e in upcoming if _named(e.title, lowered)), None)
    if event is None:
        return None
    named = timeparse.parse(text, now, clock.tz)
    day = named.day.isoweekday() if named.day else event.day  # the timetable numbers days 1-7 from Monday
    week = event.week + 1 if event.week == this_week and day < today else event.week
    length = event.end_section - event.start_section + 1
    found = free_start(user=user, week=week, day=day, length=length, part=DAY_PARTS.get(named.period or ""))
    if found is None:
        return None
    start, _lecture = found  # the event write embeds it in a lecture that admits it (docs/DOMAIN.md §14)
    to = {"week": week, "day": day, "start_section": start, "end_section": start + length - 1}
    return {"event_id": event.pk, "title": event.title, "from": {k: getattr(event, k) for k in POSITION}, "to": to}
