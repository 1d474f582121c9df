"""Active scheduling writes (docs/DOMAIN.md §2): jobs kept in step with tasks, the due-job scan,
triggers, preview building (placed by `scheduling.services.placement`), apply (by
`scheduling.services.applying`), ignore and expiry.

Everything that leaves a transaction goes through the outbox in that transaction:
`active_schedule.trigger.created` (the worker builds the preview) and
`notification.requested` (the notifications app delivers it).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from outbox import topics
from outbox.services import enqueue
from scheduling import cache, planner
from scheduling.models import ScheduleEvent, Task, TaskClassItem
from scheduling.models.active import (
    VALID_TARGETS,
    ActiveScheduleJob,
    ActiveSchedulePreview,
    ActiveScheduleTrigger,
    JobStatus,
    PreviewStatus,
    TargetType,
    TriggerSource,
    TriggerStatus,
    TriggerType,
)
from scheduling.models.tasks import PROMOTION, Status
from scheduling.models.timetable import EventKind, EventSource
from scheduling.selectors import clock_for, schedule_version_get
from scheduling.services import applying, placement
from scheduling.timetable import Clock
from smartmate.errors import ApiError

logger = logging.getLogger("scheduling.active")

TOPIC = topics.SCHEDULING
TRIGGER_CREATED = "active_schedule.trigger.created"
NOTIFICATION_REQUESTED = "notification.requested"
NOTIFICATION_TOPIC = topics.NOTIFICATIONS
IMPORTANT = (1, 2)


def _bucket(moment: datetime) -> str:
    """The 30-minute dedupe window a moment falls in."""
    minutes = settings.ACTIVE_SCHEDULE_DEDUPE_MINUTES
    epoch = int(moment.timestamp()) // (minutes * 60)
    return str(epoch)


# --- jobs ---------------------------------------------------------------------------------


def _needs_job(task: Task) -> bool:
    return task.status == Status.TODO and task.priority in IMPORTANT and task.urgency_threshold_at is not None


def active_job_sync(*, task: Task, deleted: bool = False) -> ActiveScheduleJob | None:
    """Create, move or cancel the task's job. Call inside the task write's transaction."""
    job = ActiveScheduleJob.objects.select_for_update().filter(task_id=task.pk).first()
    if deleted or not _needs_job(task):
        if job and job.status == JobStatus.PENDING:
            job.status = JobStatus.CANCELED
            job.save(update_fields=["status", "updated_at"])
        return job
    if job is None:
        return ActiveScheduleJob.objects.create(user_id=task.user_id, task=task, trigger_at=task.urgency_threshold_at)
    moved = job.trigger_at != task.urgency_threshold_at
    if moved or job.status in (JobStatus.CANCELED, JobStatus.SKIPPED, JobStatus.FAILED):
        job.trigger_at = task.urgency_threshold_at
        job.status = JobStatus.PENDING
        job.last_error_code = job.last_error = ""
        job.save(update_fields=["trigger_at", "status", "last_error_code", "last_error", "updated_at"])
    return job


def task_promotions_persist(*, now: datetime | None = None) -> int:
    """Write the urgency promotion (2→1, 4→3) of every task past its threshold.

    Reads already show it (a database expression); this makes it stick. `update()` sends
    no signals, so the affected users' task caches are cleared explicitly."""
    now = now or timezone.now()
    due = Task.objects.filter(
        status=Status.TODO, urgency_threshold_at__lte=now, priority__in=[int(p) for p in PROMOTION]
    )
    user_ids = set(due.values_list("user_id", flat=True).distinct())
    promoted = due.update(
        priority=Case(*(When(priority=int(old), then=Value(int(new))) for old, new in PROMOTION.items())),
        updated_at=now,
    )
    for user_id in user_ids:
        cache.invalidate_on_commit(user_id, cache.TASKS)
    return promoted


def _has_future_event(task: Task, now: datetime, clock: Clock) -> bool:
    for event in ScheduleEvent.objects.filter(task=task, done=False).only("week", "day", "end_section"):
        if clock.span(event.week, event.day, event.end_section, event.end_section)[1] > now:
            return True
    return False


@dataclass
class ScanResult:
    triggered: int = 0
    canceled: int = 0
    skipped: int = 0
    failed: int = 0
    batches: int = 0

    @property
    def processed(self) -> int:
        return self.triggered + self.canceled + self.skipped + self.failed


def due_jobs_scan(*, now: datetime | None = None, batch_size: int | None = None, max_batches: int = 1000) -> ScanResult:
    """Claim due jobs in batches with SKIP LOCKED until none are due; one savepoint per job."""
    now = now or timezone.now()
    batch_size = batch_size or settings.ACTIVE_SCHEDULE_SCAN_BATCH
    result = ScanResult()
    task_promotions_persist(now=now)
    for _ in range(max_batches):
        with transaction.atomic():
            jobs = list(
                ActiveScheduleJob.objects.select_for_update(skip_locked=True)
                .filter(status=JobStatus.PENDING, trigger_at__lte=now)
                .order_by("trigger_at", "pk")[:batch_size]
            )
            if not jobs:
                break
            result.batches += 1
            for job in jobs:
                outcome = _scan_job(job, now)
                setattr(result, outcome, getattr(result, outcome) + 1)
    return result


def _scan_job(job: ActiveScheduleJob, now: datetime) -> str:
    try:
        with transaction.atomic():
            return _trigger_job(job, now)
    except Exception as exc:  # one bad job must not stop the scan; it is kept for ops
        logger.exception("due job %s failed", job.pk)
        ActiveScheduleJob.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED,
            last_error_code="scan_error",
            last_error=str(exc)[:2000],
            last_scanned_at=now,
            updated_at=now,
        )
        return "failed"


def _trigger_job(job: ActiveScheduleJob, now: datetime) -> str:
    job.last_scanned_at = now
    task = Task.objects.select_for_update().select_related("user").filter(pk=job.task_id).first()
    if task is None or task.status == Status.DONE:
        job.status = JobStatus.CANCELED
        job.save(update_fields=["status", "last_scanned_at", "updated_at"])
        return "canceled"
    if not _needs_job(task) or _has_future_event(task, now, clock_for(task.user)):
        job.status = JobStatus.SKIPPED
        job.save(update_fields=["status", "last_scanned_at", "updated_at"])
        return "skipped"
    trigger, _hit = _trigger_insert(
        user=task.user,
        trigger_type=TriggerType.IMPORTANT_URGENT_TASK,
        source=TriggerSource.WORKER_DUE_JOB,
        target_type=TargetType.TASK_POOL,
        target_id=task.pk,
        dedupe_key=f"due:{TargetType.TASK_POOL}:{task.pk}:{_bucket(task.urgency_threshold_at)}",
        requested_at=now,
        job=job,
    )
    job.status = JobStatus.TRIGGERED
    job.last_trigger = trigger
    job.dedupe_key = trigger.dedupe_key
    job.save(update_fields=["status", "last_trigger", "dedupe_key", "last_scanned_at", "updated_at"])
    return "triggered"


# --- triggers -----------------------------------------------------------------------------


def _trigger_insert(*, user, dedupe_key: str, **fields) -> tuple[ActiveScheduleTrigger, bool]:
    """Insert a trigger and announce it, or return the one its dedupe key already names."""
    if dedupe_key:
        existing = ActiveScheduleTrigger.objects.filter(user=user, dedupe_key=dedupe_key).first()
        if existing:
            return existing, True
    try:
        with transaction.atomic():
            trigger = ActiveScheduleTrigger.objects.create(user=user, dedupe_key=dedupe_key, **fields)
    except IntegrityError:  # a concurrent twin committed first
        return ActiveScheduleTrigger.objects.get(user=user, dedupe_key=dedupe_key), True
    if not trigger.is_dry_run:
        enqueue(
            biz_type=TRIGGER_CREATED,
            topic=TOPIC,
            message_key=f"trigger:{trigger.pk}",
            data={"trigger_id": str(trigger.pk), "user_id": user.pk},
        )
    return trigger, False


def _target_exists(user, target_type: str, target_id: int) -> bool:
    model = {
        TargetType.TASK_POOL: Task,
        TargetType.SCHEDULE_EVENT: ScheduleEvent,
        TargetType.TASK_ITEM: TaskClassItem,
    }[target_type]
    return model.objects.filter(pk=target_id, user=user).exists()


@dataclass
class TriggerOutcome:
    trigger: ActiveScheduleTrigger
    dedupe_hit: bool
    preview: ActiveSchedulePreview | None


def trigger_create(
    *,
    user,
    trigger_type: str,
    target_type: str,
    target_id: int,
    dry_run: bool = False,
    now: datetime | None = None,
) -> TriggerOutcome:
    """API triggers. Not dry run: persisted, deduplicated per 30 min, built by the worker.
    Dry run: built here at the (optionally simulated) `now`; writes no events, sends nothing."""
    if target_type not in VALID_TARGETS.get(trigger_type, ()):
        raise ApiError(
            f"{trigger_type} does not take target_type {target_type}.",
            code="validation_error",
            fields={"target_type": [f"Not valid with trigger_type {trigger_type}."]},
        )
    if now is not None and not dry_run:
        raise ApiError(
            "now may only be given with dry_run.", code="validation_error", fields={"now": ["Only with dry_run."]}
        )
    if not _target_exists(user, target_type, target_id):
        raise ApiError("Not found.", code="not_found", status_code=404)
    requested_at = timezone.now()
    with transaction.atomic():
        trigger, hit = _trigger_insert(
            user=user,
            trigger_type=trigger_type,
            source=TriggerSource.API_DRY_RUN if dry_run else TriggerSource.API_TRIGGER,
            target_type=target_type,
            target_id=target_id,
            dedupe_key="" if dry_run else f"api:{trigger_type}:{target_type}:{target_id}:{_bucket(requested_at)}",
            requested_at=requested_at,
            is_dry_run=dry_run,
            mock_now=now if dry_run else None,
        )
    preview = preview_build(trigger_id=trigger.pk, now=now or requested_at) if dry_run else None
    trigger.refresh_from_db()
    return TriggerOutcome(trigger, hit, preview)


def feedback_create(*, user, event_id: int, kind: str = "unfinished", note: str = "") -> ActiveScheduleTrigger:
    """A scheduled task event was not finished: keep it (marked not done), propose a make-up block."""
    if kind != "unfinished":
        raise ApiError("kind must be unfinished.", code="validation_error", fields={"kind": ["Must be unfinished."]})
    with transaction.atomic():
        event = ScheduleEvent.objects.select_for_update().filter(pk=event_id, user=user).first()
        if event is None:
            raise ApiError("Not found.", code="not_found", status_code=404)
        if event.kind not in (EventKind.TASK, EventKind.TASK_ITEM):
            raise ApiError(
                "Only task and study-plan events can be reported unfinished.",
                code="validation_error",
                fields={"event_id": ["Must be a task or task_item event."]},
            )
        if event.done:
            ScheduleEvent.objects.filter(pk=event.pk).update(done=False)
            cache.invalidate_on_commit(user.pk, cache.SCHEDULE)
        feedback_id = uuid.uuid4().hex
        trigger, _hit = _trigger_insert(
            user=user,
            trigger_type=TriggerType.UNFINISHED_FEEDBACK,
            source=TriggerSource.USER_FEEDBACK,
            target_type=TargetType.SCHEDULE_EVENT,
            target_id=event.pk,
            feedback_id=feedback_id,
            dedupe_key=f"feedback:{feedback_id}",
            requested_at=timezone.now(),
            payload={"note": note[:1000]} if note else {},
        )
    return trigger


# --- preview building -----------------------------------------------------------------------


@dataclass
class _Need:
    """What the preview must place: `length` sections for a task or an item, in a window."""

    title: str
    kind: str
    length: int
    deadline: datetime | None
    earliest: datetime
    task_id: int | None = None
    task_item_id: int | None = None


class _Skip(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _need_for(trigger: ActiveScheduleTrigger, now: datetime, clock: Clock) -> _Need:
    if trigger.target_type == TargetType.TASK_POOL:
        task = Task.objects.filter(pk=trigger.target_id, user_id=trigger.user_id).first()
        if task is None or task.status == Status.DONE:
            raise _Skip("task_done")
        if not trigger.is_dry_run and _has_future_event(task, now, clock):
            raise _Skip("already_scheduled")
        return _Need(task.title, EventKind.TASK, task.estimated_sections, task.deadline_at, now, task_id=task.pk)
    if trigger.target_type == TargetType.SCHEDULE_EVENT:
        event = (
            ScheduleEvent.objects.select_related("task", "task_item__task_class")
            .filter(pk=trigger.target_id, user_id=trigger.user_id)
            .first()
        )
        if event is None:
            raise _Skip("target_gone")
        ended = clock.span(event.week, event.day, event.start_section, event.end_section)[1]
        deadline = event.task.deadline_at if event.task else _item_deadline(event.task_item, clock)
        return _Need(
            event.title,
            event.kind,
            event.end_section - event.start_section + 1,
            deadline,
            max(now, ended),
            task_id=event.task_id,
            task_item_id=event.task_item_id,
        )
    item = (
        TaskClassItem.objects.select_related("task_class").filter(pk=trigger.target_id, user_id=trigger.user_id).first()
    )
    if item is None or item.status == Status.DONE:
        raise _Skip("task_done")
    return _Need(
        item.title, EventKind.TASK_ITEM, item.estimated_sections, _item_deadline(item, clock), now, task_item_id=item.pk
    )


def _item_deadline(item, clock: Clock) -> datetime | None:
    end_date = item.task_class.end_date if item and item.task_class_id else None
    if end_date is None:
        return None
    return datetime.combine(end_date, clock.sections[-1][1], tzinfo=clock.tz)


def _candidates(need: _Need, clock: Clock, user_id: int, now: datetime) -> list[dict]:
    horizon = now + timedelta(days=settings.ACTIVE_SCHEDULE_HORIZON_DAYS)
    bounds = placement.window(clock, need.earliest, min(need.deadline, horizon) if need.deadline else horizon)
    if bounds is None:
        return []
    earliest, latest = bounds
    occupied = placement.taken_slots(user_id=user_id, first_week=earliest[0], last_week=latest[0])
    candidates = []
    for index, span in enumerate(
        placement.spans(clock=clock, occupied=occupied, length=need.length, earliest=earliest, latest=latest),
        start=1,
    ):
        start_at, end_at = clock.span(span.week, span.day, span.start_section, span.end_section)
        change = placement.block_change(
            title=need.title,
            kind=need.kind,
            task_id=need.task_id,
            task_item_id=need.task_item_id,
            **placement.span_position(span),
        )
        candidates.append(
            {
                "id": f"c{index}",
                "summary": f"{need.title}: {start_at:%a %m-%d %H:%M}-{end_at:%H:%M}",
                "score": planner.candidate_score(span),
                "start_at": start_at.isoformat(),
                "end_at": end_at.isoformat(),
                "changes": [change],
            }
        )
    return candidates


def preview_build(*, trigger_id, now: datetime | None = None) -> ActiveSchedulePreview | None:
    """The worker's step: pending trigger → preview (ready) or a closed/skipped trigger.

    Idempotent: a trigger that is no longer pending (a redelivered event) is left alone."""
    now = now or timezone.now()
    with transaction.atomic():
        trigger = ActiveScheduleTrigger.objects.select_for_update().select_related("user").filter(pk=trigger_id).first()
        if trigger is None or trigger.status != TriggerStatus.PENDING:
            return getattr(trigger, "preview", None) if trigger else None
        if trigger.is_dry_run and trigger.mock_now:
            now = trigger.mock_now
        trigger.status, trigger.processed_at = TriggerStatus.PROCESSING, timezone.now()
        user = trigger.user
        clock = clock_for(user)
        try:
            need = _need_for(trigger, now, clock)
        except _Skip as skip:
            return _finish_trigger(trigger, TriggerStatus.SKIPPED, code=skip.code)
        # Read the version before the slots, in one transaction: the preview's base is
        # never newer than what it saw (a write in between makes it stale, which is safe).
        base_version = schedule_version_get(user)
        candidates = _candidates(need, clock, user.pk, now)
        if not candidates:
            _finish_trigger(trigger, TriggerStatus.CLOSED, code="no_free_slot")
            if not trigger.is_dry_run:
                _request_notification(trigger, None, need.title, [])
            return None
        preview = ActiveSchedulePreview.objects.create(
            user=user,
            trigger=trigger,
            status=PreviewStatus.READY,
            summary=f"{len(candidates)} option{'s' if len(candidates) > 1 else ''} for {need.title}"[:500],
            candidates=candidates,
            base_version=base_version,
            expires_at=now + timedelta(seconds=settings.ACTIVE_SCHEDULE_PREVIEW_TTL_SECONDS),
            is_dry_run=trigger.is_dry_run,
        )
        _finish_trigger(trigger, TriggerStatus.PREVIEW_GENERATED)
        if not trigger.is_dry_run:
            _request_notification(trigger, preview, need.title, candidates)
        return preview


def _finish_trigger(trigger, status, *, code: str = "", error: str = ""):
    trigger.status, trigger.error_code, trigger.error = status, code, error
    trigger.completed_at = timezone.now()
    trigger.save(update_fields=["status", "error_code", "error", "processed_at", "completed_at", "updated_at"])


def _request_notification(trigger, preview, title: str, candidates: list[dict]) -> None:
    kind = "preview_ready" if preview else "no_free_slot"
    enqueue(
        biz_type=NOTIFICATION_REQUESTED,
        topic=NOTIFICATION_TOPIC,
        message_key=f"preview:{preview.pk}" if preview else f"trigger:{trigger.pk}",
        data={
            "user_id": trigger.user_id,
            "dedupe_key": f"preview:{preview.pk}" if preview else f"trigger:{trigger.pk}:no_free_slot",
            "kind": kind,
            "preview_id": str(preview.pk) if preview else None,
            "trigger_id": str(trigger.pk),
            "trigger_type": trigger.trigger_type,
            "target_type": trigger.target_type,
            "target_id": trigger.target_id,
            "task_title": title,
            "slots": [{"start_at": c["start_at"], "end_at": c["end_at"]} for c in candidates],
        },
    )


# --- apply, ignore, expiry ---------------------------------------------------------------------


def preview_apply(
    *, user, preview_id, candidate_id: str, idempotency_key: str = "", now: datetime | None = None
) -> ActiveSchedulePreview:
    """Apply one candidate, all or nothing, by the rules of `scheduling.services.applying`."""

    def proposed(preview: ActiveSchedulePreview) -> list[dict]:
        candidate = next((c for c in preview.candidates if c["id"] == candidate_id), None)
        if candidate is None:
            raise ApiError(
                "No such candidate in this preview.",
                code="validation_error",
                fields={"candidate_id": [f"Must be one of {', '.join(c['id'] for c in preview.candidates)}."]},
            )
        return candidate["changes"]

    return applying.proposal_apply(
        ActiveSchedulePreview,
        user=user,
        pk=preview_id,
        source=EventSource.ACTIVE_SCHEDULE,
        proposed=proposed,
        applied_fields={"applied_candidate_id": candidate_id},
        idempotency_key=idempotency_key,
        now=now,
    )


def preview_ignore(*, user, preview_id, now: datetime | None = None) -> ActiveSchedulePreview:
    with transaction.atomic():
        preview = applying.proposal_get_for_update(ActiveSchedulePreview, user=user, pk=preview_id)
        if preview.status == PreviewStatus.IGNORED:
            return preview
        error = applying.state_error(preview, now)
        if error is not None and error.error_code != "preview_not_ready":
            raise error
        preview.status = PreviewStatus.IGNORED
        preview.save(update_fields=["status", "updated_at"])
        return preview


def previews_expire(*, now: datetime | None = None) -> int:
    """Persist what reads already show: ready previews past expires_at are expired."""
    return ActiveSchedulePreview.objects.expire(now)
