"""Courses, schedule events, the slot table that makes a slot hold one event, and the
per-user schedule version."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from scheduling.timetable import DAYS, MAX_WEEKS, SECTIONS


def _ranges(prefix):
    return [
        models.CheckConstraint(condition=Q(day__gte=1, day__lte=DAYS), name=f"{prefix}_day_1_7"),
        models.CheckConstraint(
            condition=Q(start_section__gte=1, start_section__lte=F("end_section"), end_section__lte=SECTIONS),
            name=f"{prefix}_sections_ordered_1_12",
        ),
    ]


class Course(models.Model):
    """A fixed timetable entry; its schedule events (one per week) are written with it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="courses")
    name = models.CharField(max_length=100)
    location = models.CharField(max_length=100, blank=True, default="")
    teacher = models.CharField(max_length=100, blank=True, default="")
    weeks = models.JSONField(default=list)
    day = models.PositiveSmallIntegerField()
    start_section = models.PositiveSmallIntegerField()
    end_section = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day", "start_section", "id"]
        constraints = [models.CheckConstraint(condition=~Q(name=""), name="course_name_not_empty"), *_ranges("course")]

    def __str__(self):
        return self.name


class EventKind(models.TextChoices):
    COURSE = "course"
    TASK = "task"
    TASK_ITEM = "task_item"
    CUSTOM = "custom"


class EventSource(models.TextChoices):
    MANUAL = "manual"
    ACTIVE_SCHEDULE = "active_schedule"
    AGENT = "agent"
    COURSE = "course"


class ScheduleEvent(models.Model):
    """A block of consecutive sections on one day of one week. Its slots live in ScheduleSlot."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schedule_events")
    kind = models.CharField(max_length=16, choices=EventKind.choices, default=EventKind.CUSTOM)
    title = models.CharField(max_length=200)
    week = models.PositiveSmallIntegerField()
    day = models.PositiveSmallIntegerField()
    start_section = models.PositiveSmallIntegerField()
    end_section = models.PositiveSmallIntegerField()
    location = models.CharField(max_length=100, blank=True, default="")
    note = models.CharField(max_length=1000, blank=True, default="")
    task = models.ForeignKey(
        "scheduling.Task", on_delete=models.CASCADE, null=True, blank=True, related_name="schedule_events"
    )
    task_item = models.ForeignKey(
        "scheduling.TaskClassItem", on_delete=models.CASCADE, null=True, blank=True, related_name="schedule_events"
    )
    course = models.ForeignKey(Course, on_delete=models.CASCADE, null=True, blank=True, related_name="events")
    source = models.CharField(max_length=16, choices=EventSource.choices, default=EventSource.MANUAL)
    done = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["week", "day", "start_section", "id"]
        indexes = [models.Index(fields=["user", "week", "day", "start_section"])]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="event_title_not_empty"),
            models.CheckConstraint(condition=Q(week__gte=1, week__lte=MAX_WEEKS), name="event_week_1_30"),
            models.CheckConstraint(condition=Q(kind__in=EventKind.values), name="event_kind_valid"),
            models.CheckConstraint(condition=Q(source__in=EventSource.values), name="event_source_valid"),
            *_ranges("event"),
        ]

    def __str__(self):
        return f"{self.title} (w{self.week} d{self.day} {self.start_section}-{self.end_section})"


class ScheduleSlot(models.Model):
    """One row per (user, week, day, section) an event occupies: the UNIQUE constraint is what
    makes two concurrent writes wanting the same section end with exactly one winner."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    week = models.PositiveSmallIntegerField()
    day = models.PositiveSmallIntegerField()
    section = models.PositiveSmallIntegerField()
    event = models.ForeignKey(ScheduleEvent, on_delete=models.CASCADE, related_name="slots")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "week", "day", "section"], name="slot_one_event_per_section"),
            models.CheckConstraint(
                condition=Q(
                    week__gte=1, week__lte=MAX_WEEKS, day__gte=1, day__lte=DAYS, section__gte=1, section__lte=SECTIONS
                ),
                name="slot_in_timetable",
            ),
        ]
        indexes = [models.Index(fields=["event"], name="slot_event_idx")]

    def __str__(self):
        return f"{self.user_id}: w{self.week} d{self.day} s{self.section}"


class ScheduleVersion(models.Model):
    """Bumped by every schedule write, in its transaction (previews compare it before applying)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="schedule_version"
    )
    version = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.user_id}: v{self.version}"
