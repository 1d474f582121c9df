"""One row of every model the admin shows, made the way the product makes them (services, the
API), plus a few rows only the pipeline writes (ORM). Shared by the admin walk and the browser
test."""

import uuid
from datetime import timedelta
from html.parser import HTMLParser

from django.utils import timezone


def build_admin_world(settings):
    from django.contrib.auth.models import Group

    from accounts.quota import quota_charge
    from accounts.services import session_start, token_refresh, user_register
    from agent import actions as agent_actions
    from agent import memory
    from agent import services as agent_services
    from agent.models import Message, PlanDraft, TimelineEntry
    from notifications import services as notification_services
    from outbox.models import InboxRecord, OutboxEvent, OutboxLock
    from outbox.services import enqueue
    from scheduling import services
    from scheduling.plansquare import services as square
    from scheduling.services import EventSpec, active, planning
    from tests.conftest import auth_client
    from tests.notifications.conftest import event_data

    settings.NOTIFICATIONS_ALLOWED_HOSTS = ["127.0.0.1"]
    now = timezone.now()
    user = user_register(username="alice", password="Correct-Horse-9")
    other = user_register(username="bob", password="Correct-Horse-9")
    pair = session_start(user=user)
    token_refresh(refresh=pair["refresh"])
    quota_charge(user=user, request_id=uuid.uuid4().hex, tokens=120)

    api = auth_client(user)
    created = api.post(
        "/api/v1/tasks/",
        {
            "title": "Problem set",
            "priority": 2,
            "deadline_at": (now + timedelta(days=2)).isoformat(),
            "urgency_threshold_at": (now - timedelta(hours=1)).isoformat(),  # its job is due
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="admin-world-1",
    )
    assert created.status_code == 201, created.content
    task_class = services.task_class_create(
        user=user,
        name="Linear algebra",
        start_date=timezone.localdate(),
        end_date=timezone.localdate() + timedelta(days=14),
    )
    services.task_class_item_create(user=user, task_class=task_class, title="Chapter 1")
    services.task_class_create(user=other, name="Bob's class")
    services.course_create(user=user, name="Calculus", weeks=[1, 2], day=1, start_section=1, end_section=2)
    services.events_create(user=user, events=[EventSpec(title="Gym", week=1, day=3, start_section=9, end_section=10)])
    active.trigger_create(
        user=user,
        trigger_type="important_urgent_task",
        target_type="task_pool",
        target_id=created.json()["id"],
        dry_run=True,
    )
    planning.study_plan_create(user=user, class_ids=[task_class.pk])
    post = square.post_create(
        author=user, task_class_id=task_class.pk, title="Linear algebra in two weeks", tags=["math"]
    )
    square.post_like(user=other, post_id=post.pk)  # and its reward
    square.post_import(user=other, post_id=post.pk)
    square.comment_create(user=other, post_id=post.pk, body="Thanks!")
    square.post_report(user=other, post_id=post.pk, reason="Looks copied")

    conversation = agent_services.conversation_create(user=user, title="Planning")
    Message.objects.create(conversation=conversation, seq=1, role="user", content="plan my week")
    TimelineEntry.objects.create(conversation=conversation, seq=1, kind="message", data={"seq": 1})
    PlanDraft.objects.create(conversation=conversation, user=user, candidate={"id": "c1", "changes": []})
    agent_actions.pending_action_create(
        user=user,
        conversation=conversation,
        request_id="r1",
        kind="create_task",
        reason="confirm_writes",
        summary='Create the task "Read chapter 3"',
        payload={"task": {"title": "Read chapter 3", "deadline_at": None, "priority": 4, "urgency_threshold_at": None}},
    )
    memory.memory_item_create(user=user, kind="preference", content="Mornings are for maths")
    memory.memory_settings_update(user=user, enabled=True)

    notification_services.channel_upsert(user=user, kind="webhook", webhook_url="http://127.0.0.1:9/hook")
    notification_services.notifications_request(event_id=str(uuid.uuid4()), data=event_data(user))

    if not OutboxEvent.objects.exists():
        enqueue(biz_type="notification.requested", topic="smartmate.notifications", message_key="1", data={})
    from accounts.credits.services import credit_grant, llm_call_reserve, llm_call_settle

    credit_grant(user=user, amount=10, reason="welcome", granted_by=None, ref="grant:admin-world")
    llm_call_reserve(user=user, request_id="admin-world-call", model="offline", prompt_tokens=20)
    llm_call_settle(user=user, request_id="admin-world-call", prompt_tokens=20, completion_tokens=8)
    Group.objects.create(name="operators")
    InboxRecord.objects.create(service_name="notifications", event_id=uuid.uuid4())
    OutboxLock.objects.create(name="relay", holder="worker-1", expires_at=now + timedelta(seconds=30))
    return user, other


class FormReader(HTMLParser):
    """What a browser would submit for the admin's main form: inputs, textareas and selects."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._in_form = False
        self._textarea = None
        self._select = None
        self._select_first = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("method", "").lower() == "post" and "_form" in (attrs.get("id") or ""):
            self._in_form = True
        if not self._in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "image", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.data.setdefault(name, []).append(attrs.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self.data.setdefault(name, []).append("")
        elif tag == "select" and name:
            self._select, self._select_first = name, None
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in attrs:
                self.data.setdefault(self._select, []).append(value)

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select:
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][-1] += data


def form_data(html: str) -> dict[str, list[str]]:
    reader = FormReader()
    reader.feed(html)
    # Django renders a textarea's value after a newline, which the browser drops.
    return {name: [v[1:] if v.startswith("\n") else v for v in values] for name, values in reader.data.items()}
