# ruff: noqa: RUF001, E501  (Chinese text and long canned replies)
"""One chat turn: start (sync: the call's cost held of the free allowance and credits, user
message stored), events (async: the model, the tool actions), finish (sync: the holds settled at
the tokens used, history via the outbox).

The SSE writer (agent.sse) and the JSON view consume the same `turn_events`.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from accounts.credits.services import llm_call_check, llm_call_reserve, llm_call_settle
from accounts.timezones import user_zone
from agent import actions, selectors, services
from agent.context import estimate_tokens
from agent.intents import query
from agent.models import Conversation, TimelineKind
from agent.providers import INTENT_TOOLS, TOOLS, Hints, Provider, ProviderError, ToolCall, validated_arguments
from agent.providers.choices import model_default
from agent.timeparse.normalise import normalise
from agent.timeparse.window import window
from smartmate.db.pool import release_connection

logger = logging.getLogger("smartmate.agent")


@dataclass
class Turn:
    user: object
    conversation: Conversation
    request_id: str
    text: str
    messages: list[dict]
    hints: Hints
    model: str = "offline"  # the chosen model's id (agent.providers.choices), priced by credits
    reply: list[str] = field(default_factory=list)
    intent: str = "chat"
    actions: list[dict] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)
    usage: dict | None = None
    usage_estimated: bool = False
    error: dict | None = None
    finished: bool = False
    writes: int = 0  # writing tool calls run so far (MAX_WRITES_PER_TURN)
    rule_based: bool = True  # the offline rules chose the tool calls, not a language model
    confirm_writes: bool | None = None  # the user's setting, read at the turn's first write
    pending_actions: list[dict] = field(default_factory=list)  # writes proposed, not made

    @property
    def zh(self) -> bool:
        return bool(re.search(r"[\u4e00-\u9fff]", self.text))

    def tokens_used(self) -> dict:
        if self.usage:
            return self.usage
        return {
            "prompt_tokens": sum(4 + estimate_tokens(m.get("content") or "") for m in self.messages),
            "completion_tokens": estimate_tokens("".join(self.reply)),
        }


def _prompt_estimate(messages: list[dict]) -> int:
    return sum(4 + estimate_tokens(m.get("content") or "") for m in messages) + estimate_tokens(json.dumps(TOOLS))


def turn_start(
    *, user, conversation: Conversation, text: str, model: str | None = None, now: datetime | None = None
) -> Turn:
    """Everything that can refuse the request happens here, before any stream starts: the call's
    prompt and longest answer are held of the free allowance and credits (docs/DOMAIN.md §9; a
    refusal, 402 insufficient_credits, stores nothing)."""
    model = model or model_default()
    llm_call_check(user=user, model=model)
    now = now or timezone.now()
    tz = user_zone(user)
    request_id = uuid.uuid4().hex
    with transaction.atomic():
        services.user_message_store(conversation=conversation, content=text, request_id=request_id)
        local = now.astimezone(tz)
        ctx = selectors.prompt_context(
            user=user,
            conversation=conversation,
            now_line=f"Now: {local.isoformat()} ({tz.key}, {local.strftime('%A')}).",
        )
        held = llm_call_reserve(
            user=user, request_id=request_id, model=model, prompt_tokens=_prompt_estimate(ctx["messages"])
        )
    hints = Hints(now=now, tz=tz, max_tokens=held.max_completion_tokens)
    return Turn(user, conversation, request_id, text, ctx["messages"], hints, model=model)


# --- actions ---------------------------------------------------------------------------------


def _task_query(turn: Turn, call: ToolCall) -> dict:
    from scheduling.models import Task
    from scheduling.models.tasks import Status

    tz = turn.hints.tz
    rank = query.rank_of(normalise(turn.text).text)
    if rank:  # "which of my tasks is most urgent?": the open tasks in that order, the first is the answer
        tasks = selectors.tasks_ranked(user=turn.user, text=turn.text, rank=rank, now=turn.hints.now, limit=3)
        for t in tasks:
            t["deadline_at"] = t["deadline_at"] and t["deadline_at"].astimezone(tz).isoformat()
        return {"type": "task_ranked", "rank": rank, "tasks": tasks}
    span = window(call.arguments.get("period") or turn.text, turn.hints.now, tz)
    start, end, label = span.start, span.end, span.label
    rows = list(
        Task.objects.filter(user=turn.user, status=Status.TODO, deadline_at__gte=start, deadline_at__lt=end)
        .order_by("deadline_at", "priority", "id")
        .values("id", "title", "deadline_at", "priority")[:50]
    )
    tasks = [{**r, "deadline_at": r["deadline_at"].astimezone(tz).isoformat()} for r in rows]
    return {"type": "task_list", "period": label, "start": start.isoformat(), "end": end.isoformat(), "tasks": tasks}


_RANK_WORDS = {
    "urgent": ("最急的是", "The most urgent is"),
    "important": ("最重要的是", "The most important is"),
    "soonest": ("最先截止的是", "Due first is"),
    "latest": ("最晚截止的是", "Due last is"),
}


def _format_deadline(iso: str | None, zh: bool) -> str:
    if not iso:
        return "无截止时间" if zh else "no deadline"
    dt = datetime.fromisoformat(iso)
    return dt.strftime("%m-%d %H:%M") if zh else dt.strftime("%a %b %d %H:%M")


def _reply_for(turn: Turn, action: dict) -> str:
    zh = turn.zh
    kind = action["type"]
    if kind == "task_created":
        t = action["task"]
        return (
            f"已创建任务「{t['title']}」，截止 {_format_deadline(t['deadline_at'], True)}，优先级 {t['priority']}。"
            if zh
            else f'Created task "{t["title"]}", due {_format_deadline(t["deadline_at"], False)}, priority {t["priority"]}.'
        )
    if kind == "ask":
        return action["question"].split(" / ")[0 if zh else -1]
    if kind == "pending_action":
        return _pending_reply(action["pending_action"], zh)
    if kind == "task_ranked":
        if not action["tasks"]:
            return "没有待完成的任务。" if zh else "You have no open tasks."
        first = action["tasks"][0]
        zh_head, en_head = _RANK_WORDS[action["rank"]]
        if zh:
            return f"{zh_head}「{first['title']}」（{_format_deadline(first['deadline_at'], True)}）。"
        return f'{en_head} "{first["title"]}" ({_format_deadline(first["deadline_at"], False)}).'
    if kind == "task_list":
        if not action["tasks"]:
            return f"{action['period']}没有待完成的截止任务。" if zh else f"Nothing is due {action['period']}."
        lines = [
            f"- {t['title']}（{_format_deadline(t['deadline_at'], True)}）"
            if zh
            else f"- {t['title']} ({_format_deadline(t['deadline_at'], False)})"
            for t in action["tasks"]
        ]
        head = "这些任务要截止了：" if zh else f"Due {action['period']}:"
        return head + "\n" + "\n".join(lines)
    if kind == "preview":
        n = len(action["preview"]["changes"])
        verb = (
            ("已调整草稿" if action.get("refined") else "已生成安排草稿")
            if zh
            else ("Updated the draft" if action.get("refined") else "Drafted a plan")
        )
        return f"{verb}：{n} 个时间块，确认后可应用。" if zh else f"{verb}: {n} block(s). Apply it when it looks right."
    if kind == "event_moved":
        to = action["to"]
        return (
            f"已把「{action['title']}」移到第{to['week']}周周{to['day']}第{to['start_section']}-{to['end_section']}节。"
            if zh
            else f'Moved "{action["title"]}" to week {to["week"]}, day {to["day"]}, '
            f"sections {to['start_section']}-{to['end_section']}."
        )
    if kind == "no_plan":
        return "没有可以安排的任务或空闲时间。" if zh else "I found nothing to place, or no free time for it."
    if kind == "no_draft":
        return (
            "还没有可以调整的安排草稿，先让我生成一个吧。"
            if zh
            else "There is no draft to change yet; ask me to plan first."
        )
    return ""


def _pending_reply(pending: dict, zh: bool) -> str:
    if pending["kind"] == "create_task":
        t = pending["payload"]["task"]
        if t["deadline_at"] is None and pending["reason"] == "unresolved_time":
            return (
                f"也可以先不设截止时间创建「{t['title']}」：确认即可。"
                if zh
                else f'Or I can add "{t["title"]}" without a deadline: confirm to do it.'
            )
        due = _format_deadline(t["deadline_at"], zh)
        return (
            f"要创建任务「{t['title']}」（截止 {due}，优先级 {t['priority']}）吗？请确认或拒绝。"
            if zh
            else f'Shall I create the task "{t["title"]}" (due {due}, priority {t["priority"]})? Confirm or reject it.'
        )
    if pending["kind"] == "move_event":
        move, to = pending["payload"], pending["payload"]["to"]
        return (
            f"要把「{move['title']}」移到第{to['week']}周周{to['day']}第{to['start_section']}-{to['end_section']}节吗？请确认或拒绝。"
            if zh
            else f'Shall I move "{move["title"]}" to week {to["week"]}, day {to["day"]}, '
            f"sections {to['start_section']}-{to['end_section']}? Confirm or reject it."
        )
    n = len(pending["payload"].get("candidate", {}).get("changes", []))
    return (
        f"要把这份草稿（{n} 个时间块）写进日程吗？请确认。"
        if zh
        else f"Shall I apply it ({n} block(s))? Confirm or reject it."
    )


# Tools that write (a task, a draft). A model may call them in a loop: one turn writes at most
# this many times (fixed by the contract), the rest of its calls are recorded and skipped.
WRITE_TOOLS = frozenset({"quick_note", "schedule_plan", "schedule_refine"})
MAX_WRITES_PER_TURN = 5


def execute_tool(turn: Turn, call: ToolCall) -> list[dict]:
    """Run one tool call; returns SSE/JSON events (action or preview), records timeline entries."""
    call = ToolCall(call.id, call.name, validated_arguments(call.name, call.arguments))
    if call.name in WRITE_TOOLS and turn.writes >= MAX_WRITES_PER_TURN:
        turn.timeline.append(
            {"kind": TimelineKind.TOOL_CALL, "data": {"name": call.name, "arguments": call.arguments, "skipped": True}}
        )
        if turn.writes == MAX_WRITES_PER_TURN:
            turn.writes += 1  # said once per turn
            text = (
                f"一次最多做{MAX_WRITES_PER_TURN}项修改，其余的请再说一次。"
                if turn.zh
                else f"I make at most {MAX_WRITES_PER_TURN} changes per message; ask again for the rest."
            )
            turn.reply.append(text)
            return [{"kind": "text", "text": text}]
        return []
    if call.name in WRITE_TOOLS:
        turn.writes += 1
    turn.timeline.append({"kind": TimelineKind.TOOL_CALL, "data": {"name": call.name, "arguments": call.arguments}})
    events = []
    if call.name == "quick_note":
        drafted = services.quick_note_draft(
            text=turn.text, now=turn.hints.now, tz=turn.hints.tz, overrides=call.arguments
        )
        if drafted["type"] == "ask":
            # write nothing now (docs/DOMAIN.md §8); the task without the unread time is offered
            action = drafted
            task = {"title": drafted["title"], "deadline_at": None, "priority": _priority(turn, call)}
            pending = _propose(turn, "create_task", {"task": {**task, "urgency_threshold_at": None}}, unresolved=True)
        elif _confirmation_reason(turn):
            action, pending = None, _propose(turn, "create_task", {"task": drafted["task"]})
        else:
            action, pending = services.task_from_draft(user=turn.user, task=drafted["task"], tz=turn.hints.tz), None
            turn.timeline.append({"kind": TimelineKind.TASK_CREATED, "data": action["task"]})
        for done in (action, pending):
            if done is not None:
                events.extend(_settle(turn, done))
        return events
    elif call.name == "task_query":
        action = _task_query(turn, call)
    elif call.name == "schedule_refine" and not actions.conversation_has_draft(conversation=turn.conversation):
        return events + _event_move(turn, call)
    elif call.name in ("schedule_plan", "schedule_refine"):
        refine = call.name == "schedule_refine"
        if refine:
            draft = services.plan_refine(
                user=turn.user,
                conversation=turn.conversation,
                text=call.arguments.get("instruction") or turn.text,
                now=turn.hints.now,
            )
        else:
            draft = services.plan_draft_create(user=turn.user, conversation=turn.conversation, now=turn.hints.now)
        if draft is None:
            action = {"type": "no_draft" if refine else "no_plan"}
        else:
            action = {"type": "preview", "refined": refine, "preview": draft.candidate}
            turn.timeline.append(
                {
                    "kind": TimelineKind.PREVIEW_CREATED,
                    "data": {"candidate_id": draft.candidate["id"], "plan_id": draft.pk},
                }
            )
            events.append({"kind": "preview", "preview": draft.candidate})
            # the draft writes nothing to the schedule; its apply is the write to ask about
            actions.plan_actions_supersede(conversation=turn.conversation)
            if _confirmation_reason(turn):
                events.extend(_settle(turn, action))
                pending = _propose(turn, "apply_plan", {"plan_id": draft.pk, "candidate": draft.candidate})
                return events + _settle(turn, pending)
    else:
        return []
    return events + _settle(turn, action)


def _event_move(turn: Turn, call: ToolCall) -> list[dict]:
    """No draft to change: move the upcoming event the sentence names (or propose the move)."""
    text = call.arguments.get("instruction") or turn.text
    move = actions.event_move_draft(user=turn.user, text=text, now=turn.hints.now)
    if move is None:
        return _settle(turn, {"type": "no_draft"})
    if _confirmation_reason(turn):
        return _settle(turn, _propose(turn, "move_event", move))
    return _settle(turn, actions.event_move_make(user=turn.user, move=move))


def _settle(turn: Turn, action: dict) -> list[dict]:
    """Record what a tool did (or proposed) and say it: its action event and its reply line."""
    turn.actions.append(action)
    events = []
    if action["type"] == "pending_action":
        events.append({"kind": "action", "action": action, "pending_action": action["pending_action"]})
    elif action["type"] != "preview":  # a preview has its own event
        events.append({"kind": "action", "action": action})
    text = _reply_for(turn, action)
    if text:
        turn.reply.append(text)
        events.append({"kind": "text", "text": text})
    return events


def _confirmation_reason(turn: Turn, *, unresolved: bool = False) -> str | None:
    if turn.confirm_writes is None:
        from agent.memory import memory_settings_get

        turn.confirm_writes = memory_settings_get(user=turn.user).confirm_writes
    return actions.confirmation_reason(
        confirm_writes=turn.confirm_writes, rule_based=turn.rule_based, unresolved_time=unresolved
    )


def _propose(turn: Turn, kind: str, payload: dict, *, unresolved: bool = False) -> dict:
    """A write held for the user's confirm: stored as a pending action, answered as one."""
    reason = _confirmation_reason(turn, unresolved=unresolved)
    row = actions.pending_action_create(
        user=turn.user,
        conversation=turn.conversation,
        request_id=turn.request_id,
        kind=kind,
        reason=reason,
        summary=_summary(kind, payload),
        payload=payload,
    )
    data = {**actions.pending_action_data(row, tz=turn.hints.tz), "reason": reason}
    turn.pending_actions.append(data)
    call_entry = next(e for e in reversed(turn.timeline) if e["kind"] == TimelineKind.TOOL_CALL)
    call_entry["data"]["pending_action_id"] = row.pk  # the tool call that proposed it
    return {"type": "pending_action", "pending_action": data}


def _summary(kind: str, payload: dict) -> str:
    if kind == "create_task":
        task = payload["task"]
        due = f", due {task['deadline_at']}" if task["deadline_at"] else ", without a deadline"
        return f'Create the task "{task["title"]}"{due}'
    if kind == "move_event":
        to = payload["to"]
        return (
            f'Move "{payload["title"]}" to week {to["week"]}, day {to["day"]}, '
            f"sections {to['start_section']}-{to['end_section']}"
        )
    return f"Apply the draft plan: {len(payload['candidate'].get('changes', []))} block(s)"


def _priority(turn: Turn, call: ToolCall) -> int:
    from agent.intents.quick_note import priority_of

    given = call.arguments.get("priority")
    own = priority_of(turn.text)
    return int(given) if given in (1, 2, 3, 4) and own == 4 else own


# --- the turn --------------------------------------------------------------------------------


async def turn_events(turn: Turn, provider: Provider):
    """Yields {"kind": "text"|"intent"|"action"|"preview"|"error", ...}. The call's cost was held in
    turn_start, so a concurrent turn cannot use up what this one is about to spend."""
    intent_sent = False
    turn.rule_based = provider.name == "offline"  # a language model's writes are asked about
    try:
        # The model may take seconds: no pooled connection is held meanwhile (only the tools use one).
        await sync_to_async(release_connection)()
        async for event in provider.stream(messages=turn.messages, tools=TOOLS, hints=turn.hints):
            if event.kind == "text":
                if not intent_sent:
                    intent_sent = True
                    yield {"kind": "intent", "intent": "chat"}
                turn.reply.append(event.text)
                yield {"kind": "text", "text": event.text}
            elif event.kind == "tool_call" and event.tool_call.name in INTENT_TOOLS:
                if turn.intent == "chat":
                    turn.intent = event.tool_call.name
                if not intent_sent:
                    intent_sent = True
                    yield {"kind": "intent", "intent": event.tool_call.name}
                for out in await sync_to_async(_tool_then_release)(turn, event.tool_call):
                    yield out
            elif event.kind == "usage":
                turn.usage, turn.usage_estimated = event.usage, event.estimated
    except ProviderError as exc:
        logger.warning("LLM provider error: %s", exc)
        turn.error = {
            "code": "upstream_error",
            "message": "The language model endpoint failed.",
            "details": {"status": exc.status},
        }
        yield {"kind": "error", **turn.error}


def _tool_then_release(turn: Turn, call: ToolCall) -> list[dict]:
    try:
        return execute_tool(turn, call)
    finally:
        release_connection()


def turn_finish(turn: Turn) -> None:
    """Pay the tokens used (once per request id) and send the rest of the turn to history."""
    if turn.finished:
        return
    turn.finished = True
    usage = turn.tokens_used()
    llm_call_settle(
        user=turn.user,
        request_id=turn.request_id,
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
        estimated=turn.usage is None or turn.usage_estimated,
        failed=bool(turn.error and turn.error["code"] == "upstream_error"),
    )
    timeline = list(turn.timeline)
    if turn.error:
        timeline.append({"kind": TimelineKind.ERROR, "data": {"code": turn.error["code"]}})
    services.turn_record(
        conversation_id=turn.conversation.pk,
        user=turn.user,
        request_id=turn.request_id,
        reply="".join(turn.reply),
        timeline=timeline,
        tokens=int(usage.get("completion_tokens", 0)),
        user_text=turn.text,
    )


async def turn_collect(turn: Turn, provider: Provider) -> dict:
    """The JSON answer: run the whole turn, then finish it."""
    try:
        async for _event in turn_events(turn, provider):
            pass
    finally:
        await sync_to_async(turn_finish)(turn)
    if turn.error and turn.error["code"] == "upstream_error" and not turn.reply:
        from smartmate.errors import UpstreamError

        raise UpstreamError(turn.error["message"], details=turn.error["details"])
    return turn_result(turn)


def turn_result(turn: Turn) -> dict:
    """The turn's outcome as the JSON answer gives it (also what an Idempotency-Key replays)."""
    usage = turn.tokens_used()
    return {
        "conversation_id": turn.conversation.pk,
        "reply": "".join(turn.reply),
        "intent": turn.intent,
        "actions": turn.actions,
        "pending_action": turn.pending_actions[0] if turn.pending_actions else None,
        "pending_actions": turn.pending_actions,
        "usage": {
            "prompt_tokens": usage.get("prompt_tokens", 0),
            "completion_tokens": usage.get("completion_tokens", 0),
        },
    }


def turn_did_something(turn: Turn) -> bool:
    """Whether running the turn again would repeat an effect or an answer (then it is replayed)."""
    return bool(turn.actions or turn.reply or not turn.error)
