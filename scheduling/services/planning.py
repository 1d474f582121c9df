"""Study plans (docs/DOMAIN.md §2, "Study plans"): read the schedule, let the pure planner place
every unscheduled item of some task classes, store the placements as a plan, and apply it later
with the preview rules (`scheduling.services.applying`).

Creating a plan writes only the plan row; the schedule changes at apply, all or nothing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scheduling import planner
from scheduling.models import StudyPlan, TaskClass, TaskClassItem
from scheduling.models.planning import PlanStatus
from scheduling.models.tasks import Status
from scheduling.models.timetable import EventKind, EventSource
from scheduling.selectors import clock_for, schedule_version_get
from scheduling.services import applying, placement
from scheduling.timetable import DAYS, MAX_WEEKS, SECTIONS, semester_end
from smartmate.errors import ApiError, Conflict

PLAN_FIELDS = ("item_id", "title", "week", "day", "start_section", "end_section")


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(f"Invalid input: {field}.", code="validation_error", fields={field: [message]})


def _check_class(task_class: TaskClass, semester_start: date) -> None:
    """400 naming the field for what the planner cannot take."""
    first, last = semester_start, semester_end(semester_start)
    for name in ("start_date", "end_date"):
        value = getattr(task_class, name)
        if value is None:
            raise _invalid(name, f"Task class {task_class.pk} has no {name}; set it before planning.")
        if not first <= value <= last:
            raise _invalid(
                name, f"Task class {task_class.pk}: {name} must fall in weeks 1-{MAX_WEEKS} ({first} to {last})."
            )
    if task_class.end_date < task_class.start_date:
        raise _invalid("end_date", f"Task class {task_class.pk}: end_date is before start_date.")
    for name, high in (("excluded_days", DAYS), ("excluded_sections", SECTIONS)):
        values = getattr(task_class, name) or []
        if not isinstance(values, list) or any(
            not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= high for v in values
        ):
            raise _invalid(name, f"Task class {task_class.pk}: values must be between 1 and {high}.")
    if not 1 <= task_class.daily_max_sections <= SECTIONS:
        raise _invalid("daily_max_sections", f"Must be between 1 and {SECTIONS}.")


def study_plan_create(*, user, class_ids: list[int], now: datetime | None = None) -> StudyPlan:
    """Place every unscheduled item of the classes into shared free time, all or nothing.

    409 `not_enough_time` (with the needed and free section counts) when they do not all fit."""
    now = now or timezone.now()
    class_ids = list(dict.fromkeys(class_ids))
    if not class_ids:
        raise _invalid("class_ids", "Give at least one task class.")
    clock = clock_for(user)
    with transaction.atomic():
        classes = {c.pk: c for c in TaskClass.objects.filter(user=user, pk__in=class_ids)}
        if len(classes) != len(class_ids):
            raise ApiError("Not found.", code="not_found", status_code=404)
        for task_class in classes.values():
            _check_class(task_class, clock.semester_start)
        items: dict[int, list[TaskClassItem]] = {pk: [] for pk in class_ids}
        for item in TaskClassItem.objects.filter(
            user=user, task_class_id__in=class_ids, status=Status.TODO, scheduled_event__isnull=True
        ).order_by("order", "id"):
            items[item.task_class_id].append(item)
        # The version before the slots: the plan's base is never newer than what it saw.
        base_version = schedule_version_get(user)
        occupied = placement.occupied_slots(user=user, clock=clock, now=now)
        try:
            specs = [
                placement.class_spec(
                    classes[pk], items[pk], start_date=classes[pk].start_date, end_date=classes[pk].end_date
                )
                for pk in class_ids
            ]
            result = planner.plan_study(
                classes=specs,
                occupied=occupied,
                semester_start=clock.semester_start,
                today=now.astimezone(clock.tz).date(),
                sections_per_day=len(clock.sections),
            )
        except planner.PlannerInputError as exc:
            raise _invalid(exc.field or "class_ids", str(exc)) from None
        if not result.ok:
            raise Conflict(
                f"These items need {result.needed_sections} sections; "
                f"{result.free_sections} free sections are usable, and they do not all fit.",
                code="not_enough_time",
                details={"needed_sections": result.needed_sections, "free_sections": result.free_sections},
            )
        return StudyPlan.objects.create(
            user=user,
            class_ids=class_ids,
            placements=[{name: getattr(p, name) for name in PLAN_FIELDS} for p in result.placements],
            base_version=base_version,
            expires_at=now + timedelta(seconds=settings.STUDY_PLAN_TTL_SECONDS),
        )


def study_plan_apply(*, user, plan_id, idempotency_key: str = "", now: datetime | None = None) -> StudyPlan:
    """Write the plan's events (kind task_item, source manual), all or nothing, by the rules
    of `scheduling.services.applying`; an item done, scheduled or deleted since → stale_version."""

    def proposed(plan: StudyPlan) -> list[dict]:
        item_ids = [p["item_id"] for p in plan.placements]
        still_open = TaskClassItem.objects.select_for_update().filter(
            pk__in=item_ids, user=user, status=Status.TODO, scheduled_event__isnull=True
        )
        if len(still_open) != len(set(item_ids)):
            raise applying.stale("The study plans changed since this plan was made.", PlanStatus.EXPIRED)
        return [placement_change(p) for p in plan.placements]

    return applying.proposal_apply(
        StudyPlan,
        user=user,
        pk=plan_id,
        source=EventSource.MANUAL,
        proposed=proposed,
        idempotency_key=idempotency_key,
        now=now,
    )


def placement_change(stored: dict) -> dict:
    """A stored placement as the change an apply writes."""
    return placement.block_change(
        title=stored["title"],
        kind=EventKind.TASK_ITEM,
        task_item_id=stored["item_id"],
        **{name: stored[name] for name in applying.POSITION_FIELDS},
    )
