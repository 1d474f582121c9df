"""Scheduling writes. Other apps call these (never the models' save()).

from scheduling.services import EventSpec, events_create, event_move, event_delete
"""

from scheduling.services.courses import course_create, course_delete, course_update, courses_create
from scheduling.services.events import (
    EventSpec,
    event_delete,
    event_move,
    event_update,
    events_create,
    events_delete,
    schedule_version_bump,
)
from scheduling.services.tasks import (
    task_class_create,
    task_class_delete,
    task_class_item_create,
    task_class_item_delete,
    task_class_item_unschedule,
    task_class_item_update,
    task_class_items_create,
    task_class_update,
    task_complete,
    task_create,
    task_delete,
    task_reopen,
    task_update,
)

__all__ = [
    "EventSpec",
    "course_create",
    "course_delete",
    "course_update",
    "courses_create",
    "event_delete",
    "event_move",
    "event_update",
    "events_create",
    "events_delete",
    "schedule_version_bump",
    "task_class_create",
    "task_class_delete",
    "task_class_item_create",
    "task_class_item_delete",
    "task_class_item_unschedule",
    "task_class_item_update",
    "task_class_items_create",
    "task_class_update",
    "task_complete",
    "task_create",
    "task_delete",
    "task_reopen",
    "task_update",
]
