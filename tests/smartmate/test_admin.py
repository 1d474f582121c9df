"""The admin as staff meet it: every page of every registered model answers without a server
error, saves go through the services (the API's rules), links across users are refused,
audit rows are view-only, actions need the change permission, errors are admin pages."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.smartmate.admin_world import build_admin_world, form_data

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def world(settings):
    return build_admin_world(settings)


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "Correct-Horse-9")


@pytest.fixture
def staff(client, superuser):
    client.force_login(superuser)
    return client


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _can_change(model_admin, request, obj) -> bool:
    return model_admin.has_change_permission(request, obj)


# One change per model whose objects staff may change: (field, new form value, check on the saved row).
CHANGES = {
    "auth.group": ("name", "on-call", lambda o: o.name == "on-call"),
    "accounts.user": ("first_name", "Alice", lambda o: o.first_name == "Alice"),
    "scheduling.task": ("status", "done", lambda o: o.status == "done" and o.completed_at is not None),
    "scheduling.taskclass": ("name", "Renamed class", lambda o: o.name == "Renamed class"),
    "scheduling.taskclassitem": ("title", "Chapter one", lambda o: o.title == "Chapter one"),
    "scheduling.course": ("location", "B-204", lambda o: {e.location for e in o.events.all()} == {"B-204"}),
    "scheduling.scheduleevent": ("note", "bring shoes", lambda o: o.note == "bring shoes"),
    "agent.conversation": ("title", "Renamed", lambda o: o.title == "Renamed"),
    "agent.memoryitem": ("content", "Evenings are for reading", lambda o: o.content == "Evenings are for reading"),
    "agent.memorysettings": ("enabled", None, lambda o: o.enabled is False),
    "notifications.notificationchannel": ("enabled", None, lambda o: o.enabled is False),
}


def test_every_admin_page_answers_and_one_changed_object_per_model_saves(staff, world, rf, superuser):
    request = rf.get("/admin/")
    request.user = superuser
    changeable = set()
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        assert model.objects.exists(), f"the admin world has no {label}: add one to build_admin_world"
        listing = staff.get(_url(model, "changelist"))
        assert listing.status_code == 200, (label, listing.status_code)
        add = staff.get(_url(model, "add"))
        assert add.status_code == (200 if model_admin.has_add_permission(request) else 403), label
        obj = model.objects.order_by("pk").first()
        page = staff.get(_url(model, "change", obj.pk))
        assert page.status_code == 200, (label, page.status_code)
        if not _can_change(model_admin, request, obj):
            assert b'name="_save"' not in page.content, f"{label} is view-only but shows a Save button"
            continue
        changeable.add(label)
        field, value, check = CHANGES[label]
        data = form_data(page.content.decode())
        if value is None:
            data.pop(field, None)  # an unticked checkbox
        else:
            data[field] = [value]
        saved = staff.post(_url(model, "change", obj.pk), data)
        errors = saved.context["adminform"].form.errors if saved.status_code == 200 and saved.context else None
        assert saved.status_code == 302, (label, saved.status_code, errors)
        assert check(model.objects.get(pk=obj.pk)), label
    assert changeable == set(CHANGES), "CHANGES must name exactly the models staff can change"


def test_marking_a_task_done_in_the_admin_sets_completed_at_through_the_service(staff, world):
    from scheduling.models import Task

    task = Task.objects.get(title="Problem set")
    data = form_data(staff.get(_url(Task, "change", task.pk)).content.decode())
    data["status"] = ["done"]
    assert staff.post(_url(Task, "change", task.pk), data).status_code == 302
    task.refresh_from_db()
    assert task.status == "done" and task.completed_at is not None
    data["status"] = ["todo"]
    assert staff.post(_url(Task, "change", task.pk), data).status_code == 302
    task.refresh_from_db()
    assert task.status == "todo" and task.completed_at is None


def test_adding_a_done_task_in_the_admin_gets_its_completed_at(staff, world):
    from scheduling.models import Task

    alice, _ = world
    data = form_data(staff.get(_url(Task, "add")).content.decode())
    data.update({"user": [str(alice.pk)], "title": ["Already done"], "status": ["done"], "priority": ["4"]})
    data["estimated_sections"] = ["1"]
    response = staff.post(_url(Task, "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    task = Task.objects.get(title="Already done")
    assert task.status == "done" and task.completed_at is not None


def test_a_task_cannot_be_linked_to_another_users_class_in_the_admin(staff, world):
    from scheduling.models import Task, TaskClass

    task = Task.objects.get(title="Problem set")
    foreign = TaskClass.objects.get(name="Bob's class")
    data = form_data(staff.get(_url(Task, "change", task.pk)).content.decode())
    data["task_class"] = [str(foreign.pk)]
    response = staff.post(_url(Task, "change", task.pk), data)
    assert response.status_code == 200
    assert "task_class" in response.context["adminform"].form.errors
    task.refresh_from_db()
    assert task.task_class_id is None


def test_a_task_class_item_cannot_point_at_another_users_event_in_the_inline(staff, world):
    from scheduling.models import ScheduleEvent, TaskClass

    _, bob = world
    from scheduling import services
    from scheduling.services import EventSpec

    bobs_event = services.events_create(
        user=bob, events=[EventSpec(title="Bob's", week=1, day=2, start_section=1, end_section=1)]
    )[0]
    task_class = TaskClass.objects.get(name="Linear algebra")
    item = task_class.items.get()
    from django import forms

    from smartmate.admin import OwnerCheckedForm

    class ItemForm(OwnerCheckedForm):
        class Meta:
            model = item.__class__
            fields = ("title", "scheduled_event")

    form = ItemForm(data={"title": "x", "scheduled_event": bobs_event.pk}, instance=item)
    assert isinstance(form.fields["scheduled_event"], forms.ModelChoiceField)
    assert not form.is_valid()
    assert "scheduled_event" in form.errors
    assert ScheduleEvent.objects.filter(pk=bobs_event.pk).exists()


def test_a_course_clash_in_the_admin_comes_back_on_the_form_and_writes_nothing(staff, world):
    from scheduling import services
    from scheduling.models import Course, ScheduleEvent

    alice, _ = world
    other = services.course_create(user=alice, name="Physics", weeks=[1], day=2, start_section=1, end_section=2)
    before = set(ScheduleEvent.objects.filter(user=alice).values_list("pk", "day", "start_section"))
    data = form_data(staff.get(_url(Course, "change", other.pk)).content.decode())
    data["day"] = ["1"]  # onto Calculus (Monday, sections 1-2)
    response = staff.post(_url(Course, "change", other.pk), data)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors, "the slot conflict is shown on the form"
    assert "already has 1 event" in str(form.non_field_errors())
    other.refresh_from_db()
    assert other.day == 2
    assert set(ScheduleEvent.objects.filter(user=alice).values_list("pk", "day", "start_section")) == before


def test_a_non_monday_semester_start_is_refused_in_the_admin_like_the_api(staff, world):
    from accounts.models import User

    alice, _ = world
    data = form_data(staff.get(_url(User, "change", alice.pk)).content.decode())
    data["semester_start"] = ["2026-11-25"]  # a Wednesday
    response = staff.post(_url(User, "change", alice.pk), data)
    assert response.status_code == 200
    assert "semester_start" in response.context["adminform"].form.errors


@pytest.mark.parametrize(
    "model_path",
    [
        "accounts.IdempotencyRecord",
        "accounts.TokenFamily",
        "accounts.UsedRefreshToken",
        "notifications.NotificationRecord",
        "outbox.OutboxEvent",
    ],
)
def test_audit_rows_can_be_neither_added_nor_deleted(staff, world, model_path):
    from django.apps import apps

    model = apps.get_model(model_path)
    obj = model.objects.first()
    assert staff.get(_url(model, "add")).status_code == 403
    assert staff.get(_url(model, "delete", obj.pk)).status_code == 403
    listing = staff.get(_url(model, "changelist")).content.decode()
    assert "delete_selected" not in listing
    page = staff.get(_url(model, "change", obj.pk)).content.decode()
    assert 'name="_save"' not in page


@pytest.fixture
def viewer(client, django_user_model):
    """Staff with view rights on the outbox, notifications and token families, nothing more."""
    user = django_user_model.objects.create_user("viewer", password="Correct-Horse-9", is_staff=True)
    for codename in ("view_outboxevent", "view_notificationrecord", "view_tokenfamily"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)
    return client


def _dead_outbox_row():
    from outbox.models import OutboxEvent

    row = OutboxEvent.objects.first()
    OutboxEvent.objects.filter(pk=row.pk).update(status="dead")
    return row


def test_staff_with_view_rights_only_cannot_requeue_mark_dead_or_revoke(viewer, world):
    from accounts.models import TokenFamily
    from outbox.models import OutboxEvent

    row = _dead_outbox_row()
    listing = viewer.get(_url(OutboxEvent, "changelist"))
    assert listing.status_code == 200
    assert "requeue_rows" not in listing.content.decode()
    viewer.post(_url(OutboxEvent, "changelist"), {"action": "requeue_rows", "_selected_action": [str(row.pk)]})
    assert OutboxEvent.objects.get(pk=row.pk).status == "dead"
    OutboxEvent.objects.filter(pk=row.pk).update(status="pending")
    viewer.post(_url(OutboxEvent, "changelist"), {"action": "mark_rows_dead", "_selected_action": [str(row.pk)]})
    assert OutboxEvent.objects.get(pk=row.pk).status == "pending"

    family = TokenFamily.objects.filter(revoked_at__isnull=True).first()
    viewer.post(_url(TokenFamily, "changelist"), {"action": "revoke", "_selected_action": [str(family.pk)]})
    family.refresh_from_db()
    assert family.revoked_at is None


def test_staff_with_the_change_permission_can_requeue_and_revoke(client, django_user_model, world):
    from accounts.models import TokenFamily
    from outbox.models import OutboxEvent

    operator = django_user_model.objects.create_user("operator", password="Correct-Horse-9", is_staff=True)
    for codename in ("view_outboxevent", "change_outboxevent", "view_tokenfamily", "change_tokenfamily"):
        operator.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(operator)
    row = _dead_outbox_row()
    response = client.post(_url(OutboxEvent, "changelist"), {"action": "requeue_rows", "_selected_action": [row.pk]})
    assert response.status_code == 302
    assert OutboxEvent.objects.get(pk=row.pk).status == "pending"
    family = TokenFamily.objects.filter(revoked_at__isnull=True).first()
    client.post(_url(TokenFamily, "changelist"), {"action": "revoke", "_selected_action": [str(family.pk)]})
    family.refresh_from_db()
    assert family.revoked_reason == "admin"


def test_an_admin_server_error_is_an_html_page_not_the_api_json(staff, world, monkeypatch, client):
    from scheduling.admin import TaskAdmin

    def broken(self, request):
        raise RuntimeError("boom")

    monkeypatch.setattr(TaskAdmin, "get_queryset", broken)
    client.raise_request_exception = False
    response = client.get("/admin/scheduling/task/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert b'"error"' not in response.content


def test_an_admin_404_is_an_html_page(staff):
    response = staff.get("/admin/no-such-app/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_the_api_keeps_its_json_errors(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_admin_index_is_titled_smartmate_and_shows_what_needs_attention(staff, world):
    from notifications.models import NotificationRecord

    _dead_outbox_row()
    NotificationRecord.objects.update(status="failed")
    page = staff.get("/admin/")
    html = page.content.decode()
    assert "<title>Operations | SmartMate</title>" in html
    assert "Django administration" not in html
    assert 'href="/api/docs/"' in html  # "View site"
    rows = {row["label"]: row for row in page.context["attention"]}
    assert rows["Outbox rows dead"]["count"] == "1"
    assert rows["Outbox rows dead"]["url"] == "/admin/outbox/outboxevent/?status__exact=dead"
    assert rows["Notifications failed"]["count"] == "1"
    for row in rows.values():
        assert staff.get(row["url"]).status_code == 200, row
    assert 'id="attention-overview"' in html


def test_the_attention_counts_stop_at_a_cap(staff, world, monkeypatch):
    import smartmate.admin as site_admin
    from outbox.models import OutboxEvent

    monkeypatch.setattr(site_admin, "ATTENTION_CAP", 0)
    assert OutboxEvent.objects.filter(status="pending").exists()
    rows = {row["label"]: row for row in staff.get("/admin/").context["attention"]}
    assert rows["Outbox rows pending"]["count"] == "0+"


def test_memory_settings_and_timeline_entries_are_named_properly(staff, world):
    html = staff.get("/admin/").content.decode()
    assert "Memory settings<" in html and "Memory settingss" not in html
    assert "Timeline entries" in html and "Timeline entrys" not in html
