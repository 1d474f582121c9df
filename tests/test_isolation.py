"""Isolation (docs/DOMAIN.md §12): every object endpoint of the URLconf, every method, as another user
→ 404 (never 403: docs/DOMAIN.md §12), and anonymous → 401; the admin refuses non-staff. Routes the
contract makes public (the plan square: anyone reads a post, anyone signed in likes, imports,
comments on and reports it) say so in PUBLIC_BY_CONTRACT, and are probed again with the object hidden.

The object endpoints are DISCOVERED: every API URL pattern with a path parameter. Each needs a
factory in FACTORIES (keyed by the router's basename, or the URL name of a plain view) that
makes an object as user A and returns the URL kwargs. A new object route without one fails
`test_every_object_route_has_a_factory`, so coverage cannot shrink silently.
"""

import uuid
from datetime import timedelta

import pytest
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


# --- discovery ---------------------------------------------------------------------------------


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def _key(pattern):
    return getattr(pattern.callback, "initkwargs", {}).get("basename") or pattern.name


def _methods(pattern):
    actions = getattr(pattern.callback, "actions", None)
    if actions:
        allowed = set(getattr(pattern.callback.cls, "http_method_names", actions))
        return sorted(m.upper() for m in actions if m in allowed and m in ("get", "post", "put", "patch", "delete"))
    view_class = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
    return sorted(m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m))


def object_routes():
    """(route, URL pattern) of every API route with a path parameter (format suffixes aside)."""
    found = []
    for route, pattern in _walk(get_resolver().url_patterns):
        groups = set(pattern.pattern.regex.groupindex)
        if not route.startswith("api/") or "format" in groups or not groups:
            continue
        found.append((route, pattern))
    return found


ROUTES = object_routes()


# --- factories: an object of user A, as the URL kwargs of its route --------------------------------


def _post(api, path, body, status=201):
    response = api.post(path, body, format="json")
    assert response.status_code == status, (path, response.content)
    return response.json()


def task(api, user):
    return {"pk": _post(api, "/api/v1/tasks/", {"title": "A's task"})["id"]}


def task_class(api, user):
    return {"pk": _post(api, "/api/v1/task-classes/", {"name": "A's class"})["id"]}


def task_class_item(api, user):
    class_id = task_class(api, user)["pk"]
    item = _post(api, f"/api/v1/task-classes/{class_id}/items/", {"title": "A's item"})
    return {"class_pk": class_id, "pk": item["id"]}


def course(api, user):
    body = {"name": "A's course", "weeks": [3], "day": 2, "start_section": 1, "end_section": 2}
    return {"pk": _post(api, "/api/v1/courses/", body)["id"]}


def schedule_event(api, user):
    body = {"title": "A's event", "week": 2, "day": 3, "start_section": 1, "end_section": 2}
    return {"pk": _post(api, "/api/v1/schedule/events/", body)["id"]}


def _dry_run(api, user):
    from scheduling.services import task_create

    now = timezone.now()
    urgent = task_create(
        user=user,
        title="A's urgent task",
        priority=2,
        estimated_sections=1,
        deadline_at=now + timedelta(days=3),
        urgency_threshold_at=now - timedelta(minutes=1),
    )
    body = {"trigger_type": "important_urgent_task", "target_type": "task_pool", "target_id": urgent.pk}
    return _post(api, "/api/v1/active-schedule/triggers/", {**body, "dry_run": True})


def active_preview(api, user):
    return {"pk": _dry_run(api, user)["preview"]["id"]}


def active_trigger(api, user):
    return {"pk": _dry_run(api, user)["trigger"]["id"]}


def study_plan(api, user):
    from scheduling.models import TaskClass, TaskClassItem
    from scheduling.timetable import date_of

    semester = user.semester_start
    plan_class = TaskClass.objects.create(
        user=user, name="A's plan", start_date=date_of(semester, 2, 1), end_date=date_of(semester, 2, 7)
    )
    TaskClassItem.objects.create(task_class=plan_class, user=user, title="A's step", order=0, estimated_sections=1)
    return {"pk": _post(api, "/api/v1/task-classes/plan/", {"class_ids": [plan_class.pk]})["id"]}


def notification_channel(api, user):
    response = api.put(
        "/api/v1/notification-channels/webhook/",
        {"webhook_url": "http://127.0.0.1:9/a", "enabled": True, "secret": "a-secret"},
        format="json",
    )
    assert response.status_code == 200, response.content
    return {"kind": "webhook"}


def conversation(api, user):
    """A conversation with messages, a timeline and a schedule preview, so every action has something."""
    from scheduling.services.tasks import task_create

    task_create(user=user, title="A's homework", deadline_at=timezone.now() + timedelta(days=6))
    body = _post(api, "/api/v1/agent/chat/", {"message": "帮我把这周的任务安排到空闲时间里"}, status=200)
    assert body["intent"] == "schedule_plan", body
    return {"pk": body["conversation_id"]}


def agent_action(api, user):
    """A write the agent proposes (an unread time always asks), still open."""
    body = _post(api, "/api/v1/agent/chat/", {"message": "remind me to call the dentist in a day or two"}, status=200)
    assert body["pending_action"], body
    return {"pk": body["pending_action"]["id"]}


def memory_item(api, user):
    return {"pk": _post(api, "/api/v1/agent/memory/items/", {"kind": "fact", "content": "A likes tea"})["id"]}


def _plan_square_post(api):
    class_id = task_class(api, None)["pk"]
    _post(api, f"/api/v1/task-classes/{class_id}/items/", {"title": "A's step"})
    return _post(api, "/api/v1/plan-square/posts/", {"task_class_id": class_id, "title": "A's plan"})["id"]


def plan_square_post(api, user):
    return {"pk": _plan_square_post(api)}


def plan_square_comment(api, user):
    post_id = _plan_square_post(api)
    return {"pk": _post(api, f"/api/v1/plan-square/posts/{post_id}/comments/", {"body": "A's comment"})["id"]}


FACTORIES = {
    "task": task,
    "task-class": task_class,
    "task-class-item": task_class_item,
    "course": course,
    "schedule-event": schedule_event,
    "active-preview": active_preview,
    "active-trigger": active_trigger,
    "study-plan": study_plan,
    "notification-channel": notification_channel,
    "agent-conversation": conversation,
    "agent-memory-item": memory_item,
    "agent-action": agent_action,
    "plan-square-post": plan_square_post,
    "plan-square-comment": plan_square_comment,
}

# Routes public or shared by contract: the status anonymous and another user get instead of
# 401 / 404, by (key, view action). Everything not named here refuses both.
PUBLIC_BY_CONTRACT = {
    ("plan-square-post", "list"): {"anonymous": 200},  # a collection route (the sweep below)
    ("plan-square-post", "retrieve"): {"anonymous": 200, "other": 200},
    ("plan-square-post", "comments"): {"anonymous": 200, "other": 200},
    ("plan-square-post", "like"): {"other": 200},
    ("plan-square-post", "unlike"): {"other": 200},
    ("plan-square-post", "import_post"): {"other": 201},
    ("plan-square-post", "comment_create"): {"other": 201},
    ("plan-square-post", "report"): {"other": 202},
}


def _hide_plan_square_post(kwargs):
    from scheduling.plansquare.services import post_set_hidden

    post_set_hidden(post_id=kwargs["pk"], hidden=True)


# Objects staff can hide: once hidden, the PUBLIC_BY_CONTRACT routes refuse too (404 for anyone but the author).
HIDERS = {"plan-square-post": _hide_plan_square_post}

# Routes with a path parameter that do not address another user's object, and why.
NOT_OBJECTS = {
    "calendar-feed": "the secret in the URL is the credential (public by contract); unknown secrets → 404",
}

# Per-user singletons addressed by a name, not an id: B's PUT makes B's own channel (A's is
# left as it was, checked below), so only the other methods can be refused with a 404.
OWN_SCOPE = {("notification-channel", "PUT")}

# A valid body, so a route that validates before it looks the object up still has to answer
# 404 rather than 400: by action where one needs its own, else by method.
ACTION_BODIES = {
    "apply": {"candidate_id": "c1"},
    "chat": {"message": "hello"},
    "create": {"title": "B"},
    "comment_create": {"body": "B's comment"},
    "report": {"reason": "B reports"},
}
METHOD_BODIES = {
    "PUT": {"title": "B", "name": "B", "webhook_url": "http://127.0.0.1:9/b", "enabled": True},
    "PATCH": {"title": "B"},
}


@pytest.fixture(autouse=True)
def _local_webhooks(settings):
    settings.NOTIFICATIONS_ALLOWED_HOSTS = ["127.0.0.1"]  # no DNS in tests


def _code(response):
    try:
        return response.status_code, response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return response.status_code, response.content[:200]


def _call(client, pattern, method, path):
    actions = getattr(pattern.callback, "actions", None) or {}
    action = actions.get(method.lower())
    body = ACTION_BODIES[action] if action in ACTION_BODIES else METHOD_BODIES.get(method)
    return getattr(client, method.lower())(path, body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)


def test_object_routes_are_discovered():
    keys = {_key(p) for _, p in ROUTES}
    # A sample, so a broken walk cannot pass by finding nothing.
    assert {"task", "task-class-item", "agent-conversation", "active-preview"} <= keys
    assert len(ROUTES) >= 20


def test_every_object_route_has_a_factory():
    missing = sorted(
        f"{route} (key {_key(p)!r})" for route, p in ROUTES if _key(p) not in FACTORIES and _key(p) not in NOT_OBJECTS
    )
    assert not missing, "add a factory to tests/test_isolation.py FACTORIES for: " + ", ".join(missing)


def _expected(key, pattern, method, who, hidden):
    """(status, code or None) that `who` ("anonymous" | "other") should get."""
    refused = (401, "not_authenticated") if who == "anonymous" else (404, "not_found")
    action = (getattr(pattern.callback, "actions", None) or {}).get(method.lower())
    status = PUBLIC_BY_CONTRACT.get((key, action), {}).get(who)
    if status is None:
        return refused
    return (404, "not_found") if hidden else (status, None)


def _matches(answer, expected):
    return answer[0] == expected[0] and (expected[1] is None or answer[1] == expected[1])


def _probe(pattern, alice, bob, client_for, *, hidden=False):
    """A's object on this route (hidden by staff if asked), and what anonymous and B got for each
    method that answered otherwise than expected."""
    key = _key(pattern)
    as_alice, as_bob, anonymous = client_for(alice), client_for(bob), APIClient()
    kwargs = FACTORIES[key](as_alice, alice)
    if hidden:
        HIDERS[key](kwargs)
    path = reverse(pattern.name, kwargs={name: kwargs[name] for name in pattern.pattern.regex.groupindex})
    methods = _methods(pattern)
    wrong = {}
    for method in methods:
        answer = _code(_call(anonymous, pattern, method, path))
        if not _matches(answer, _expected(key, pattern, method, "anonymous", hidden)):
            wrong[f"anonymous {method}"] = answer
        if (key, method) in OWN_SCOPE:
            continue
        answer = _code(_call(as_bob, pattern, method, path))
        if not _matches(answer, _expected(key, pattern, method, "other", hidden)):
            wrong[f"other user {method}"] = answer
    return path, methods, as_alice, wrong


# Routes whose path parameter is not an owned object (NOT_OBJECTS says why; each has its own
# tests elsewhere, e.g. the calendar feed's unknown-secret 404 in tests/scheduling).
OBJECT_ROUTES = [(route, pattern) for route, pattern in ROUTES if _key(pattern) not in NOT_OBJECTS]


@pytest.mark.parametrize(("route", "pattern"), OBJECT_ROUTES, ids=[r for r, _ in OBJECT_ROUTES])
def test_another_users_object_is_not_found_and_anonymous_is_refused(route, pattern, make_user, client_for):
    key = _key(pattern)
    if key not in FACTORIES:
        pytest.fail(f"no factory for {key!r} ({route}): add one to FACTORIES")
    alice, bob = make_user("alice"), make_user("bob")
    path, methods, as_alice, wrong = _probe(pattern, alice, bob, client_for)
    assert methods, route
    assert not wrong, f"{path}: {wrong}"

    # Nothing B tried reached A's object.
    if "GET" in methods:
        assert as_alice.get(path).status_code == 200, path
    if key == "notification-channel":
        from notifications.models import NotificationChannel

        assert NotificationChannel.objects.get(user=alice, kind="webhook").webhook_url == "http://127.0.0.1:9/a"
    if key == "agent-action":  # B's confirm or reject decided nothing
        from agent.models import PendingAction

        assert PendingAction.objects.get(user=alice).status == "pending"


HIDEABLE_ROUTES = [(route, pattern) for route, pattern in OBJECT_ROUTES if _key(pattern) in HIDERS]


@pytest.mark.parametrize(("route", "pattern"), HIDEABLE_ROUTES, ids=[r for r, _ in HIDEABLE_ROUTES])
def test_a_hidden_object_is_not_found_by_anyone_but_its_owner(route, pattern, make_user, client_for):
    alice, bob = make_user("alice"), make_user("bob")
    path, methods, as_alice, wrong = _probe(pattern, alice, bob, client_for, hidden=True)
    assert not wrong, f"{path}: {wrong}"
    if "GET" in methods:
        assert as_alice.get(path).status_code == 200, path


def test_shared_routes_are_routes_of_the_urlconf():
    every = [p for route, p in _walk(get_resolver().url_patterns) if route.startswith("api/")]
    actions = {(_key(p), action) for p in every for action in (getattr(p.callback, "actions", None) or {}).values()}
    assert set(PUBLIC_BY_CONTRACT) <= actions, set(PUBLIC_BY_CONTRACT) - actions


def test_the_probe_catches_a_post_that_reads_when_hidden(make_user, client_for, monkeypatch):
    """The hidden probe bites: with hidden posts readable by all, B reads A's hidden post."""
    from scheduling.plansquare import selectors
    from scheduling.plansquare.models import Post

    monkeypatch.setattr(selectors, "visible_posts", lambda *, user: Post.objects.select_related("author"))
    pattern = next(p for _, p in ROUTES if p.name == "plan-square-post-detail")
    _, _, _, wrong = _probe(pattern, make_user("alice"), make_user("bob"), client_for, hidden=True)
    assert {"anonymous GET", "other user GET"} <= set(wrong), wrong


def test_the_probe_catches_a_queryset_that_forgets_the_user(make_user, client_for, monkeypatch):
    """The test bites: with tasks looked up without their owner, B reads and changes A's task."""
    from scheduling import selectors
    from scheduling.models import Task

    monkeypatch.setattr(
        selectors,
        "task_queryset",
        lambda *, user: Task.objects.annotate(effective_priority=selectors.effective_priority_expression()),
    )
    pattern = next(p for _, p in ROUTES if p.name == "task-detail")
    _, _, _, wrong = _probe(pattern, make_user("alice"), make_user("bob"), client_for)
    assert {"other user GET", "other user PATCH", "other user DELETE"} <= set(wrong), wrong


# --- routes without an object in the path ------------------------------------------------------


def _is_public(pattern) -> bool:
    from rest_framework.permissions import AllowAny

    view = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
    classes = getattr(pattern.callback, "initkwargs", {}).get("permission_classes") or view.permission_classes
    return all(issubclass(permission, AllowAny) for permission in classes)


def collection_routes():
    """(path, URL pattern) of every API route without a path parameter that needs a login."""
    found = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if route.startswith("api/") and not pattern.pattern.regex.groupindex and not _is_public(pattern):
            found.append((reverse(pattern.name), pattern))
    return found


COLLECTION_ROUTES = collection_routes()


def test_collection_routes_are_discovered():
    found = {path for path, _ in COLLECTION_ROUTES}
    assert {"/api/v1/tasks/status/", "/api/v1/courses/parse-image/", "/api/v1/agent/conversations/"} <= found
    assert "/api/v1/auth/login/" not in found  # public
    assert len(found) >= 20


@pytest.mark.parametrize(("path", "pattern"), COLLECTION_ROUTES, ids=[p for p, _ in COLLECTION_ROUTES])
def test_every_collection_route_refuses_anonymous_callers(path, pattern):
    """...but for the reads the contract makes public (PUBLIC_BY_CONTRACT)."""
    anonymous = APIClient()
    for method in _methods(pattern):
        answer = _code(_call(anonymous, pattern, method, path))
        expected = _expected(_key(pattern), pattern, method, "anonymous", hidden=False)
        assert _matches(answer, expected), (method, path, answer)


def test_batch_task_status_never_shows_another_users_task(make_user, client_for):
    from scheduling.services import task_create

    alice, bob = make_user("alice"), make_user("bob")
    task = task_create(user=alice, title="A's task")
    response = client_for(bob).post("/api/v1/tasks/status/", {"ids": [task.pk]}, format="json")
    assert response.status_code == 200 and response.json() == {"results": []}
    assert client_for(alice).post("/api/v1/tasks/status/", {"ids": [task.pk]}, format="json").json()["results"]


def test_archived_conversations_are_listed_to_their_owner_only(make_user, client_for):
    alice, bob = make_user("alice"), make_user("bob")
    created = _post(client_for(alice), "/api/v1/agent/conversations/", {"title": "A's", "archived": True})
    for archived in ("true", "false"):
        assert client_for(bob).get("/api/v1/agent/conversations/", {"archived": archived}).json()["count"] == 0
    listed = client_for(alice).get("/api/v1/agent/conversations/", {"archived": "true"}).json()["results"]
    assert [c["id"] for c in listed] == [created["id"]]


def test_another_users_email_channel_is_not_found(make_user, client_for, settings):
    from notifications.models import NotificationChannel

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    alice, bob = make_user("alice"), make_user("bob")
    as_alice, as_bob = client_for(alice), client_for(bob)
    body = {"address": "alice@example.com", "enabled": True}
    assert as_alice.put("/api/v1/notification-channels/email/", body, format="json").status_code == 200
    assert _code(as_bob.delete("/api/v1/notification-channels/email/")) == (404, "not_found")
    assert _code(as_bob.post("/api/v1/notification-channels/email/test/")) == (404, "not_found")
    assert as_bob.get("/api/v1/notification-channels/").json() == []
    # B's PUT makes B's own channel; A's stays as it was.
    as_bob.put("/api/v1/notification-channels/email/", {"address": "bob@example.com"}, format="json")
    assert NotificationChannel.objects.get(user=alice, kind="email").address == "alice@example.com"
    assert NotificationChannel.objects.get(user=bob, kind="email").address == "bob@example.com"


def test_the_admin_refuses_anonymous_and_non_staff_users(make_user, client):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    non_staff = make_user("carol")
    client.force_login(non_staff)
    for path in ("/admin/", "/admin/scheduling/task/", "/admin/accounts/user/"):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], path
    # A bearer token is no admin credential either.
    from accounts.services import session_start

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer " + session_start(user=non_staff)["access"])
    assert api.get("/admin/").status_code == 302


# --- per-user routes addressed by no id -----------------------------------------------------------
# The credits routes read the signed-in user's own rows with no id in the path, so the object sweep
# above cannot see them. Discovered by prefix: each is PER_USER (B gets what a user with nothing
# gets, never A's) or SHARED (the same answer for everyone, e.g. prices); a new route under the
# prefixes without a class fails `test_every_per_user_route_is_classified`.

PER_USER_PREFIXES = ("api/v1/credits/", "api/v1/agent/models/")
PER_USER = {"credits-balance", "credits-ledger", "credits-usage"}
SHARED = {"credits-prices", "agent-models"}
PER_USER_ROUTES = [(r, p) for r, p in _walk(get_resolver().url_patterns) if r.startswith(PER_USER_PREFIXES)]


def _give_alice_credits_and_usage(alice, n=1):
    from accounts.credits.services import credit_grant, llm_call_reserve, llm_call_settle
    from accounts.quota import quota_charge

    credit_grant(user=alice, amount=25, reason="A's grant", granted_by=None, ref=f"grant:a{n}")
    llm_call_reserve(user=alice, request_id=f"a-call-{n}", model="m", prompt_tokens=10)
    llm_call_settle(user=alice, request_id=f"a-call-{n}", prompt_tokens=10, completion_tokens=5)
    quota_charge(user=alice, request_id=f"a-charge-{n}", tokens=100)


def test_every_per_user_route_is_classified():
    names = {p.name for _, p in PER_USER_ROUTES}
    assert {"credits-balance", "credits-ledger", "agent-models"} <= names  # the walk found them
    assert names - PER_USER - SHARED == set(), "classify these in tests/test_isolation.py"


def _answers(client, route):
    response = client.get("/" + route)
    assert response.status_code == 200, (route, response.content)
    return response.json()


@pytest.mark.parametrize(("route", "pattern"), PER_USER_ROUTES, ids=[r for r, _ in PER_USER_ROUTES])
def test_per_user_routes_show_nobody_elses_rows_and_refuse_anonymous(route, pattern, make_user, client_for):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    _give_alice_credits_and_usage(alice)
    assert _code(APIClient().get("/" + route)) == (401, "not_authenticated")
    as_alice, as_bob = _answers(client_for(alice), route), _answers(client_for(bob), route)
    _give_alice_credits_and_usage(alice, 2)  # more of A's rows: B's answer must not move
    as_carol = _answers(client_for(carol), route)
    assert as_bob == as_carol == _answers(client_for(bob), route)
    if pattern.name in PER_USER:
        assert as_alice != as_bob  # A has rows here, so the comparison above can fail


def test_the_per_user_probe_catches_a_selector_that_forgets_the_user(make_user, client_for, monkeypatch):
    from accounts.credits import selectors
    from accounts.credits.models import CreditEntry

    monkeypatch.setattr(selectors, "credit_entry_list", lambda *, user: CreditEntry.objects.order_by("-id"))
    alice, bob = make_user("alice"), make_user("bob")
    _give_alice_credits_and_usage(alice)
    assert _answers(client_for(bob), "api/v1/credits/ledger/")["count"] == 1  # B would see A's grant
