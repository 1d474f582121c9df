"""Study plans (issue 10): read the schedule, let the pure planner place every unscheduled item
of some task classes, store the placements as a plan, and apply it later with the preview rules.

Creating a plan writes only the plan row; the schedule changes at apply, all or nothing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scheduling import planner
from scheduling.models import StudyPlan, TaskClass, TaskClassItem
from scheduling.models.active import ApplyStatus
from scheduling.models.planning import PlanStatus
from scheduling.models.tasks import Status
from scheduling.models.timetable import SECTIONS, EventKind, EventSource
from scheduling.selectors import clock_for, free_time_read, schedule_version_get
from scheduling.services.active import ApplyRejected, events_write_at_version, rejection_record
from scheduling.services.events import EventSpec
from scheduling.timetable import MAX_WEEKS, Clock, date_of
from smartmate.errors import ApiError, Conflict

PLAN_FIELDS = ("item_id", "title", "week", "day", "start_section", "end_section", "embedded_in")


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(f"Invalid input: {field}.", code="validation_error", fields={field: [message]})


def occupied_slots(*, user, clock: Clock, now: datetime, first_week: int = 1, last_week: int = MAX_WEEKS) -> set:
    """Taken timetable (week, day, section) slots of weeks first..last and today's past sections."""
    return free_time_read(user=user, clock=clock, now=now, first_week=first_week, last_week=last_week).occupied


def class_spec(task_class: TaskClass, items, *, start_date: date, end_date: date) -> planner.ClassSpec:
    """A task class as the planner's input (the caller chooses the window)."""
    return planner.ClassSpec(
        class_id=task_class.pk,
        start_date=start_date,
        end_date=end_date,
        strategy=task_class.strategy,
        excluded_days=task_class.excluded_days or (),
        excluded_sections=task_class.excluded_sections or (),
        daily_max_sections=task_class.daily_max_sections,
        items=[
            planner.ItemSpec(item_id=i.pk, title=i.title, order=i.order, estimated_sections=i.estimated_sections)
            for i in items
        ],
    )


def _check_class(task_class: TaskClass, semester_start: date) -> None:
    """400 naming the field for what the planner cannot take."""
    first, last = semester_start, date_of(semester_start, MAX_WEEKS, 7)
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
    for name, high in (("excluded_days", 7), ("excluded_sections", SECTIONS)):
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
        free_time = free_time_read(user=user, clock=clock, now=now)
        try:
            specs = [
                class_spec(classes[pk], items[pk], start_date=classes[pk].start_date, end_date=classes[pk].end_date)
                for pk in class_ids
            ]
            result = planner.plan_study(
                classes=specs,
                **free_time.planner_kwargs(),
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
                details={
                    "needed_sections": result.needed_sections,
                    "free_sections": result.free_sections,
                    "embeddable_sections": result.embeddable_sections,
                },
            )
        return StudyPlan.objects.create(
            user=user,
            class_ids=class_ids,
            placements=[{name: getattr(p, name) for name in PLAN_FIELDS} for p in result.placements],
            base_version=base_version,
            expires_at=now + timedelta(seconds=settings.STUDY_PLAN_TTL_SECONDS),
        )


def _state_error(plan: StudyPlan, now: datetime) -> ApiError | None:
    if plan.status == PlanStatus.APPLIED:
        return Conflict("This plan was already applied.", code="already_applied")
    if plan.status == PlanStatus.EXPIRED or now >= plan.expires_at:
        return Conflict("This plan has expired.", code="preview_expired")
    return None


def study_plan_apply(*, user, plan_id, idempotency_key: str = "", now: datetime | None = None) -> StudyPlan:
    """Write the plan's events (kind task_item, source manual), all or nothing, with the preview
    apply rules (DOMAIN §2): expired, stale_version (the plan then expires for good),
    slot_conflict, already_applied. A rejection is recorded in a separate short transaction."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            plan = StudyPlan.objects.select_for_update().filter(pk=plan_id, user=user).first()
            if plan is None:
                raise ApiError("Not found.", code="not_found", status_code=404)
            error = _state_error(plan, now)
            if error is not None:
                if error.error_code == "preview_expired":
                    raise ApplyRejected(error, ApplyStatus.EXPIRED, PlanStatus.EXPIRED)
                raise error
            item_ids = [p["item_id"] for p in plan.placements]
            still_open = TaskClassItem.objects.select_for_update().filter(
                pk__in=item_ids, user=user, status=Status.TODO, scheduled_event__isnull=True
            )
            if len(still_open) != len(set(item_ids)):  # an item was done, scheduled or deleted since
                raise ApplyRejected(
                    Conflict("The study plans changed since this plan was made.", code="stale_version"),
                    ApplyStatus.REJECTED,
                    PlanStatus.EXPIRED,
                )
            specs = [
                EventSpec(
                    title=p["title"][:200],
                    kind=EventKind.TASK_ITEM,
                    task_item_id=p["item_id"],
                    week=p["week"],
                    day=p["day"],
                    start_section=p["start_section"],
                    end_section=p["end_section"],
                )
                for p in plan.placements
            ]
            events = events_write_at_version(
                user=user,
                specs=specs,
                base_version=plan.base_version,
                source=EventSource.MANUAL,
                stale_message="The schedule changed since this plan was made.",
            )
            plan.status = PlanStatus.APPLIED
            plan.apply_status = ApplyStatus.APPLIED
            plan.applied_event_ids = [e.pk for e in events]
            plan.apply_idempotency_key = idempotency_key
            plan.apply_error_code = plan.apply_error = ""
            plan.applied_at = now
            plan.save()
            return plan
    except ApplyRejected as rejected:
        rejection_record(StudyPlan, pk=plan_id, user=user, rejected=rejected)
        raise rejected.error from None


def effective_plan_status(plan: StudyPlan, now: datetime | None = None) -> str:
    """A ready plan past its expiry reads as expired."""
    if plan.status == PlanStatus.READY and (now or timezone.now()) >= plan.expires_at:
        return PlanStatus.EXPIRED
    return plan.status
