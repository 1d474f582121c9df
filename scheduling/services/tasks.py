"""Task, task-class and task-class item writes."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from scheduling import cache
from scheduling.models import ScheduleEvent, Task, TaskClass, TaskClassItem
from scheduling.models.tasks import Status
from scheduling.services.active import active_job_sync
from scheduling.services.events import events_delete
from scheduling.services.fields import assign, writable
from smartmate.api import DATETIME_RANGE_MESSAGE, datetime_in_range
from smartmate.errors import ApiError

TASK_FIELDS = (
    "title",
    "description",
    "priority",
    "deadline_at",
    "urgency_threshold_at",
    "estimated_sections",
    "task_class_id",
)


def _invalid(field_name: str, message: str) -> ApiError:
    return ApiError(f"Invalid input: {field_name}.", code="validation_error", fields={field_name: [message]})


def _check_task(user, task: Task) -> None:
    # Every way a task is written passes here (API, chat, LLM tool calls, imports), so this is
    # where the 1970-2100 rule holds for all of them, not only for what a serializer read.
    for name in ("deadline_at", "urgency_threshold_at"):
        if not datetime_in_range(getattr(task, name)):
            raise _invalid(name, DATETIME_RANGE_MESSAGE)
    if task.urgency_threshold_at and task.deadline_at and task.urgency_threshold_at > task.deadline_at:
        raise _invalid("urgency_threshold_at", "Must not be after deadline_at.")
    if task.task_class_id and not TaskClass.objects.filter(pk=task.task_class_id, user=user).exists():
        raise _invalid("task_class_id", "No such task class.")


@transaction.atomic
def task_create(*, user, title: str, **fields) -> Task:
    task = Task(user=user, title=title, **writable(fields, TASK_FIELDS))
    _check_task(user, task)
    task.save()
    active_job_sync(task=task)
    return task


@transaction.atomic
def task_update(*, user, task: Task, **fields) -> Task:
    task = assign(Task.objects.select_for_update().get(pk=task.pk, user=user), fields, TASK_FIELDS)
    _check_task(user, task)
    task.save()
    active_job_sync(task=task)
    return task


@transaction.atomic
def task_complete(*, user, task: Task) -> Task:
    """Mark done (idempotent: a done task keeps its first completed_at)."""
    task = Task.objects.select_for_update().get(pk=task.pk, user=user)
    if task.status != Status.DONE:
        task.status, task.completed_at = Status.DONE, timezone.now()
        task.save(update_fields=["status", "completed_at", "updated_at"])
        active_job_sync(task=task)
    return task


@transaction.atomic
def task_reopen(*, user, task: Task) -> Task:
    task = Task.objects.select_for_update().get(pk=task.pk, user=user)
    if task.status != Status.TODO:
        task.status, task.completed_at = Status.TODO, None
        task.save(update_fields=["status", "completed_at", "updated_at"])
        active_job_sync(task=task)
    return task


@transaction.atomic
def task_delete(*, user, task: Task) -> None:
    active_job_sync(task=task, deleted=True)
    events_delete(user=user, events=ScheduleEvent.objects.filter(task_id=task.pk), reason="task_deleted")
    Task.objects.filter(pk=task.pk, user=user).delete()


# --- task classes ---------------------------------------------------------------------

CLASS_FIELDS = (
    "name",
    "description",
    "color",
    "start_date",
    "end_date",
    "strategy",
    "excluded_days",
    "excluded_sections",
    "daily_max_sections",
)


def _save_class(user, task_class: TaskClass) -> TaskClass:
    if task_class.start_date and task_class.end_date and task_class.start_date > task_class.end_date:
        raise _invalid("end_date", "Must not be before start_date.")
    duplicate = TaskClass.objects.filter(user=user, name=task_class.name).exclude(pk=task_class.pk)
    if duplicate.exists():
        raise _invalid("name", "You already have a task class with this name.")
    try:
        with transaction.atomic():
            task_class.save()
    except IntegrityError:  # a concurrent create of the same name
        raise _invalid("name", "You already have a task class with this name.")
    return task_class


@transaction.atomic
def task_class_create(*, user, name: str, **fields) -> TaskClass:
    return _save_class(user, TaskClass(user=user, name=name, **writable(fields, CLASS_FIELDS)))


@transaction.atomic
def task_class_update(*, user, task_class: TaskClass, **fields) -> TaskClass:
    task_class = TaskClass.objects.select_for_update().get(pk=task_class.pk, user=user)
    return _save_class(user, assign(task_class, fields, CLASS_FIELDS))


@transaction.atomic
def task_class_delete(*, user, task_class: TaskClass) -> None:
    """The class, its items and their schedule events, together."""
    events_delete(
        user=user,
        events=ScheduleEvent.objects.filter(task_item__task_class_id=task_class.pk),
        reason="task_class_deleted",
    )
    TaskClass.objects.filter(pk=task_class.pk, user=user).delete()
    cache.invalidate_on_commit(user.pk, cache.TASKS)  # its tasks' task_class_id is SET_NULL: an update()


ITEM_FIELDS = ("title", "order", "estimated_sections", "status")


@transaction.atomic
def task_class_item_create(*, user, task_class: TaskClass, title: str, **fields) -> TaskClassItem:
    if "order" not in fields:
        last = TaskClassItem.objects.filter(task_class=task_class).order_by("-order").values_list("order", flat=True)
        fields["order"] = (last.first() or 0) + 1
    item = TaskClassItem(task_class=task_class, user=user, title=title, **writable(fields, ITEM_FIELDS))
    item.save()
    return item


@transaction.atomic
def task_class_items_create(*, user, task_class: TaskClass, items: list[dict]) -> list[TaskClassItem]:
    """Many items in one INSERT (a plan imported from the square). bulk_create sends no signals:
    the caches the items feed are cleared here."""
    created = TaskClassItem.objects.bulk_create(
        [TaskClassItem(task_class=task_class, user=user, **writable(item, ITEM_FIELDS)) for item in items]
    )
    cache.invalidate_on_commit(user.pk, cache.SCHEDULE, cache.TASK_CLASSES)
    return created


@transaction.atomic
def task_class_item_update(*, user, item: TaskClassItem, **fields) -> TaskClassItem:
    item = assign(TaskClassItem.objects.select_for_update().get(pk=item.pk, user=user), fields, ITEM_FIELDS)
    item.save()
    return item


@transaction.atomic
def task_class_item_delete(*, user, item: TaskClassItem) -> None:
    events_delete(user=user, events=ScheduleEvent.objects.filter(task_item_id=item.pk), reason="item_deleted")
    TaskClassItem.objects.filter(pk=item.pk, user=user).delete()


@transaction.atomic
def task_class_item_unschedule(*, user, item: TaskClassItem) -> TaskClassItem:
    """Remove the item's schedule events; it goes back to the unscheduled pool."""
    events_delete(user=user, events=ScheduleEvent.objects.filter(task_item_id=item.pk), reason="item_unscheduled")
    item = TaskClassItem.objects.get(pk=item.pk, user=user)
    if item.scheduled_event_id is not None:  # SET_NULL already ran; keep the instance honest
        item.scheduled_event = None
        item.save(update_fields=["scheduled_event", "updated_at"])
    cache.invalidate_on_commit(user.pk, cache.TASK_CLASSES)
    return item
