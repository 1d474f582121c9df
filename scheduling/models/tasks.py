"""Tasks and task classes (study plans)."""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Now

from scheduling.timetable import SECTIONS


class Priority(models.IntegerChoices):
    IMPORTANT_URGENT = 1, "important and urgent"
    IMPORTANT = 2, "important, not urgent"
    URGENT = 3, "urgent, not important"
    NEITHER = 4, "neither"


# Once now ≥ urgency_threshold_at the "not urgent" quadrants become urgent.
PROMOTION = {Priority.IMPORTANT: Priority.IMPORTANT_URGENT, Priority.NEITHER: Priority.URGENT}


def effective_priority_expression():
    """The urgency promotion as a database expression, for filters and ordering."""
    due = Q(urgency_threshold_at__isnull=False, urgency_threshold_at__lte=Now())
    return Case(
        *(When(due & Q(priority=old), then=Value(int(new))) for old, new in PROMOTION.items()),
        default=F("priority"),
        output_field=models.PositiveSmallIntegerField(),
    )


def effective_priority(priority: int, urgency_threshold_at: datetime | None, now: datetime) -> int:
    """The same rule in Python, for rows served from the cache."""
    if urgency_threshold_at is not None and now >= urgency_threshold_at:
        return int(PROMOTION.get(priority, priority))
    return priority


class Status(models.TextChoices):
    TODO = "todo"
    DONE = "done"


class Task(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    description = models.CharField(max_length=5000, blank=True, default="")
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NEITHER)
    deadline_at = models.DateTimeField(null=True, blank=True)
    urgency_threshold_at = models.DateTimeField(null=True, blank=True)
    estimated_sections = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.TODO)
    completed_at = models.DateTimeField(null=True, blank=True)
    task_class = models.ForeignKey(
        "scheduling.TaskClass", on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "status", "-created_at"]),
            models.Index(fields=["user", "deadline_at"]),
            models.Index(fields=["user", "-completed_at"], condition=Q(status="done"), name="task_done_recent"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="task_title_not_empty"),
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=4), name="task_priority_quadrant"),
            models.CheckConstraint(
                condition=Q(estimated_sections__gte=1, estimated_sections__lte=4), name="task_estimated_sections_1_4"
            ),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="task_status_valid"),
            models.CheckConstraint(
                condition=Q(urgency_threshold_at__isnull=True)
                | Q(deadline_at__isnull=True)
                | Q(urgency_threshold_at__lte=F("deadline_at")),
                name="task_threshold_not_after_deadline",
            ),
            models.CheckConstraint(
                condition=Q(status=Status.DONE, completed_at__isnull=False)
                | Q(status=Status.TODO, completed_at__isnull=True),
                name="task_completed_at_iff_done",
            ),
        ]

    def __str__(self):
        return self.title


class Strategy(models.TextChoices):
    STEADY = "steady"  # spread evenly over the dates
    RAPID = "rapid"  # as early as possible


class TaskClass(models.Model):
    """A study plan: items to place into free time between `start_date` and `end_date`."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="task_classes")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=5000, blank=True, default="")
    color = models.CharField(max_length=7, default="#4f86f7")
    # Planning fields (read by the planner, docs/DOMAIN.md §2 "Study plans").
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    strategy = models.CharField(max_length=8, choices=Strategy.choices, default=Strategy.STEADY)
    excluded_days = models.JSONField(default=list, blank=True)
    excluded_sections = models.JSONField(default=list, blank=True)
    daily_max_sections = models.PositiveSmallIntegerField(default=4)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "task classes"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="taskclass_name_unique_per_user"),
            models.CheckConstraint(condition=~Q(name=""), name="taskclass_name_not_empty"),
            models.CheckConstraint(condition=Q(color__regex=r"^#[0-9a-fA-F]{6}$"), name="taskclass_color_hex"),
            models.CheckConstraint(condition=Q(strategy__in=Strategy.values), name="taskclass_strategy_valid"),
            models.CheckConstraint(
                condition=Q(daily_max_sections__gte=1, daily_max_sections__lte=SECTIONS),
                name="taskclass_daily_max_1_12",
            ),
            models.CheckConstraint(
                condition=Q(start_date__isnull=True) | Q(end_date__isnull=True) | Q(start_date__lte=F("end_date")),
                name="taskclass_dates_ordered",
            ),
        ]

    def __str__(self):
        return self.name


class TaskClassItem(models.Model):
    task_class = models.ForeignKey(TaskClass, on_delete=models.CASCADE, related_name="items")
    # Denormalised owner: scoping and cache keys need no join.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200)
    order = models.PositiveIntegerField(default=0)
    estimated_sections = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.TODO)
    scheduled_event = models.OneToOneField(
        "scheduling.ScheduleEvent", on_delete=models.SET_NULL, null=True, blank=True, related_name="scheduled_item"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["task_class_id", "order", "id"]
        indexes = [models.Index(fields=["task_class", "order"])]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="taskclassitem_title_not_empty"),
            models.CheckConstraint(
                condition=Q(estimated_sections__gte=1, estimated_sections__lte=4), name="taskclassitem_sections_1_4"
            ),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="taskclassitem_status_valid"),
        ]

    def __str__(self):
        return self.title
