"""Cache invalidation only (docs/DOMAIN.md §4): which model writes clear which cached reads.

Receivers run on every save()/delete() (admin edits and cascades included) and clear in
`transaction.on_commit`, so a rolled-back write clears nothing. Services that write with
bulk_create()/update() clear explicitly (scheduling.services.events._announce).
"""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_init, post_save

from scheduling import cache
from scheduling.models import (
    ActiveScheduleJob,
    ActiveSchedulePreview,
    ActiveScheduleTrigger,
    Course,
    ScheduleEvent,
    ScheduleSlot,
    ScheduleVersion,
    StudyPlan,
    Task,
    TaskClass,
    TaskClassItem,
)

# Model → the cache families its rows feed. The schedule family covers week, today,
# ongoing (by version) and recent completed.
CACHED = {
    ScheduleEvent: (cache.SCHEDULE,),
    Course: (cache.SCHEDULE,),
    Task: (cache.SCHEDULE, cache.TASKS),
    TaskClass: (cache.TASK_CLASSES,),
    TaskClassItem: (cache.SCHEDULE, cache.TASK_CLASSES),
}
# No cached read is built from these directly; their writes always come with an event write
# (a study plan is read only by its own apply, which writes events). Active-scheduling rows
# are read uncached (previews change state on apply/ignore/expiry and are read rarely).
IGNORED = (
    ScheduleSlot,
    ScheduleVersion,
    StudyPlan,
    ActiveScheduleJob,
    ActiveScheduleTrigger,
    ActiveSchedulePreview,
)

# User fields the rendered timetable depends on.
USER_TIMETABLE_FIELDS = ("semester_start", "timezone")


def _families(instance):
    families = CACHED[type(instance)]
    if isinstance(instance, ScheduleEvent) and instance.task_item_id:
        families += (cache.TASK_CLASSES,)  # the item's scheduled_event_id may change with it
    return families


def on_write(sender, instance, **kwargs):
    cache.invalidate_on_commit(instance.user_id, *_families(instance))


def remember_timetable_fields(sender, instance, **kwargs):
    instance._scheduling_timetable = tuple(instance.__dict__.get(name) for name in USER_TIMETABLE_FIELDS)


def on_user_saved(sender, instance, created, **kwargs):
    current = tuple(instance.__dict__.get(name) for name in USER_TIMETABLE_FIELDS)
    if not created and current != getattr(instance, "_scheduling_timetable", current):
        cache.invalidate_on_commit(instance.pk, cache.SCHEDULE)
    instance._scheduling_timetable = current


def connect():
    for model in CACHED:
        uid = f"scheduling.cache.{model.__name__}"
        post_save.connect(on_write, sender=model, dispatch_uid=uid + ".save")
        post_delete.connect(on_write, sender=model, dispatch_uid=uid + ".delete")
    user_model = get_user_model()
    post_init.connect(remember_timetable_fields, sender=user_model, dispatch_uid="scheduling.user.init")
    post_save.connect(on_user_saved, sender=user_model, dispatch_uid="scheduling.user.save")
