"""Study plans (docs/DOMAIN.md §2, "Study plans"): the planner's placements for task classes, kept until applied."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from scheduling.models.active import Applicable, ApplyStatus


class PlanStatus(models.TextChoices):
    READY = "ready"
    APPLIED = "applied"
    EXPIRED = "expired"


class StudyPlan(Applicable):
    """Placements of every unscheduled item of `class_ids`, applicable once, before `expires_at`,
    while the user's schedule is still at `base_version` (the same rules as a preview)."""

    states = PlanStatus
    noun = "plan"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_plans")
    class_ids = models.JSONField(default=list)
    # [{"item_id", "title", "week", "day", "start_section", "end_section"}], sorted by position.
    placements = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=PlanStatus.choices, default=PlanStatus.READY)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="study_plan_user_recent")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=PlanStatus.values), name="study_plan_status"),
            models.CheckConstraint(condition=Q(apply_status__in=ApplyStatus.values), name="study_plan_apply"),
        ]

    def __str__(self):
        return f"plan {self.pk} {self.status}/{self.apply_status}"
