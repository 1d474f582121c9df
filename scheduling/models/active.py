"""Active scheduling (docs/DOMAIN.md §2): due jobs, triggers, previews and their states."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class JobStatus(models.TextChoices):
    PENDING = "pending"
    TRIGGERED = "triggered"
    CANCELED = "canceled"
    SKIPPED = "skipped"
    FAILED = "failed"


class TriggerType(models.TextChoices):
    IMPORTANT_URGENT_TASK = "important_urgent_task"
    UNFINISHED_FEEDBACK = "unfinished_feedback"


class TriggerSource(models.TextChoices):
    WORKER_DUE_JOB = "worker_due_job"
    API_TRIGGER = "api_trigger"
    API_DRY_RUN = "api_dry_run"
    USER_FEEDBACK = "user_feedback"


class TargetType(models.TextChoices):
    TASK_POOL = "task_pool"
    SCHEDULE_EVENT = "schedule_event"
    TASK_ITEM = "task_item"


# Which targets each trigger type accepts (docs/DOMAIN.md §2: others → 400).
VALID_TARGETS = {
    TriggerType.IMPORTANT_URGENT_TASK: {TargetType.TASK_POOL},
    TriggerType.UNFINISHED_FEEDBACK: {TargetType.SCHEDULE_EVENT, TargetType.TASK_ITEM},
}


class TriggerStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSING = "processing"
    PREVIEW_GENERATED = "preview_generated"
    SKIPPED = "skipped"
    CLOSED = "closed"
    FAILED = "failed"
    REJECTED = "rejected"


class PreviewStatus(models.TextChoices):
    PENDING = "pending"
    READY = "ready"
    APPLIED = "applied"
    IGNORED = "ignored"
    EXPIRED = "expired"
    FAILED = "failed"


class ApplyStatus(models.TextChoices):
    NONE = "none"
    APPLYING = "applying"
    APPLIED = "applied"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"


class ActiveScheduleJob(models.Model):
    """One per important task (priority 1 or 2) with an urgency threshold, due at that threshold.

    Kept in step with the task in the task write's transaction; the scan re-reads the task
    before acting, so a job is a reminder to look, never the truth about the task."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="active_jobs")
    # SET_NULL keeps the job (canceled) as an audit trail after its task is deleted.
    task = models.OneToOneField(
        "scheduling.Task", on_delete=models.SET_NULL, null=True, blank=True, related_name="active_job"
    )
    trigger_type = models.CharField(
        max_length=32, choices=TriggerType.choices, default=TriggerType.IMPORTANT_URGENT_TASK
    )
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    trigger_at = models.DateTimeField()
    dedupe_key = models.CharField(max_length=191, blank=True, default="")
    last_trigger = models.ForeignKey(
        "scheduling.ActiveScheduleTrigger", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_error_code = models.CharField(max_length=64, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    last_scanned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # The scan reads only due pending rows: its cost follows them, not the table.
            models.Index(fields=["trigger_at"], condition=Q(status="pending"), name="active_job_due"),
            models.Index(fields=["user", "status"], name="active_job_user_status"),
        ]
        constraints = [models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="active_job_status")]

    def __str__(self):
        return f"job {self.pk} task {self.task_id} {self.status} @ {self.trigger_at:%Y-%m-%d %H:%M}"


class ActiveScheduleTrigger(models.Model):
    """A normalised reason to propose a schedule change (due job, API call or user feedback)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="active_triggers")
    trigger_type = models.CharField(max_length=32, choices=TriggerType.choices)
    source = models.CharField(max_length=32, choices=TriggerSource.choices)
    target_type = models.CharField(max_length=32, choices=TargetType.choices)
    target_id = models.BigIntegerField()
    feedback_id = models.CharField(max_length=128, blank=True, default="")
    job = models.ForeignKey(
        ActiveScheduleJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="triggers"
    )
    # Empty for dry runs, which are never deduplicated; unique per user otherwise.
    dedupe_key = models.CharField(max_length=191, blank=True, default="")
    status = models.CharField(max_length=24, choices=TriggerStatus.choices, default=TriggerStatus.PENDING)
    is_dry_run = models.BooleanField(default=False)
    mock_now = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField()
    payload = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True, default="")
    processed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="active_trigger_user_recent"),
            models.Index(fields=["target_type", "target_id"], name="active_trigger_target"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "dedupe_key"], condition=~Q(dedupe_key=""), name="active_trigger_dedupe"
            ),
            models.CheckConstraint(condition=Q(status__in=TriggerStatus.values), name="active_trigger_status"),
        ]

    def __str__(self):
        return f"{self.trigger_type} {self.target_type}:{self.target_id} {self.status}"


class ApplicableQuerySet(models.QuerySet):
    """The expiry rule, once for the API, the expiry job and the admin: a `ready` row whose
    `expires_at` has come reads as expired, whether or not the job has persisted it yet."""

    def live(self, now: datetime | None = None) -> ApplicableQuerySet:
        """Ready and not past expiry: what a client reads as `ready`."""
        return self.filter(self.model.live_condition(now))

    def past_expiry(self, now: datetime | None = None) -> ApplicableQuerySet:
        """Still stored as ready, but read as expired."""
        return self.filter(status=self.model.states.READY, expires_at__lte=now or timezone.now())

    def reading(self, status: str, now: datetime | None = None) -> ApplicableQuerySet:
        """The rows a client reads with `status` (see `Applicable.effective_status`)."""
        states = self.model.states
        if status == states.READY:
            return self.live(now)
        if status == states.EXPIRED:
            now = now or timezone.now()
            return self.filter(Q(status=states.EXPIRED) | Q(status=states.READY, expires_at__lte=now))
        return self.filter(status=status)

    def expire(self, now: datetime | None = None) -> int:
        """Persist what reads already show; returns the rows expired."""
        now = now or timezone.now()
        return self.past_expiry(now).update(status=self.model.states.EXPIRED, updated_at=now)


class Applicable(models.Model):
    """What a preview and a study plan share: applicable once, before `expires_at`, while the
    user's schedule is still at `base_version`; the outcome of the apply is kept on the row.

    Subclasses name their status choices (`states`, with READY, APPLIED and EXPIRED) and the
    word a message uses for them (`noun`). The apply itself is `scheduling.services.applying`."""

    states: type[models.TextChoices]
    noun: str

    base_version = models.PositiveBigIntegerField(default=0)
    expires_at = models.DateTimeField()
    apply_status = models.CharField(max_length=16, choices=ApplyStatus.choices, default=ApplyStatus.NONE)
    applied_event_ids = models.JSONField(default=list, blank=True)
    apply_idempotency_key = models.CharField(max_length=255, blank=True, default="")
    apply_error_code = models.CharField(max_length=64, blank=True, default="")
    apply_error = models.TextField(blank=True, default="")
    applied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ApplicableQuerySet.as_manager()

    class Meta:
        abstract = True

    @classmethod
    def live_condition(cls, now: datetime | None = None) -> Q:
        """Ready and not past expiry, as a condition (the admin's "actionable" filter uses it)."""
        return Q(status=cls.states.READY, expires_at__gt=now or timezone.now())

    def is_past_expiry(self, now: datetime | None = None) -> bool:
        return self.status == self.states.READY and (now or timezone.now()) >= self.expires_at

    def effective_status(self, now: datetime | None = None) -> str:
        """The status a client reads: ready past expiry is expired before the job persists it."""
        return self.states.EXPIRED if self.is_past_expiry(now) else self.status


class ActiveSchedulePreview(Applicable):
    """Up to three candidate changes the user may apply once, before `expires_at`, while the
    schedule is still at `base_version`."""

    states = PreviewStatus
    noun = "preview"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="active_previews")
    trigger = models.OneToOneField(ActiveScheduleTrigger, on_delete=models.CASCADE, related_name="preview")
    status = models.CharField(max_length=16, choices=PreviewStatus.choices, default=PreviewStatus.PENDING)
    summary = models.CharField(max_length=500, blank=True, default="")
    candidates = models.JSONField(default=list, blank=True)
    is_dry_run = models.BooleanField(default=False)
    applied_candidate_id = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "is_dry_run", "-created_at"], name="active_preview_user_recent"),
            models.Index(fields=["expires_at"], condition=Q(status="ready"), name="active_preview_ready_expiry"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=PreviewStatus.values), name="active_preview_status"),
            models.CheckConstraint(condition=Q(apply_status__in=ApplyStatus.values), name="active_preview_apply"),
        ]

    def __str__(self):
        return f"preview {self.pk} {self.status}/{self.apply_status}"
