"""Demo data for `manage.py seed_demo`: a semester starting this week, six courses, six tasks
and the study plan "Linear algebra review" with items placed into this week's free time.

Each step is idempotent: it only adds what is missing, so running it again changes nothing.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.services import user_update
from accounts.timezones import user_zone
from scheduling import selectors, services
from scheduling.models import Course, Task, TaskClass
from scheduling.services import EventSpec
from scheduling.timetable import monday_of
from smartmate.errors import Conflict

COURSES = [
    {"name": "Calculus II", "location": "A-101", "teacher": "Dr. Chen", "day": 1, "start_section": 1, "end_section": 2},
    {
        "name": "University Physics",
        "location": "B-204",
        "teacher": "Dr. Wang",
        "day": 1,
        "start_section": 5,
        "end_section": 6,
    },
    {
        "name": "Linear Algebra",
        "location": "A-305",
        "teacher": "Dr. Liu",
        "day": 2,
        "start_section": 3,
        "end_section": 4,
    },
    {
        "name": "Academic English",
        "location": "C-110",
        "teacher": "Ms. Smith",
        "day": 3,
        "start_section": 1,
        "end_section": 2,
    },
    {
        "name": "Data Structures",
        "location": "Lab 2",
        "teacher": "Dr. Zhao",
        "day": 4,
        "start_section": 5,
        "end_section": 7,
    },
    {"name": "Probability", "location": "A-202", "teacher": "Dr. Sun", "day": 5, "start_section": 3, "end_section": 4},
]

TASKS = [
    ("Finish calculus problem set 5", 1, 2, 2),
    ("Physics lab report", 2, 4, 3),
    ("Read chapter 3 of Data Structures", 4, 6, 1),
    ("Prepare English presentation", 3, 3, 2),
    ("Register for the probability midterm", 3, 1, 1),
    ("Review linear algebra notes", 2, 9, 2),
]

PLAN = "Linear algebra review"
PLAN_ITEMS = ["Vectors and spans", "Linear maps", "Determinants", "Eigenvalues", "Orthogonality", "Past paper"]
# This week's slots for the first three items: (day, start_section, end_section).
PLAN_SLOTS = [(2, 9, 10), (4, 9, 10), (6, 3, 4)]


def semester(user):
    start = monday_of(timezone.localdate(timezone=user_zone(user)))
    if user.semester_start != start:
        user_update(user=user, semester_start=start)


def courses(user):
    have = set(Course.objects.filter(user=user).values_list("name", flat=True))
    missing = [{**c, "weeks": list(range(1, 17))} for c in COURSES if c["name"] not in have]
    if missing:
        services.courses_create(user=user, courses=missing)


def tasks(user):
    have = set(Task.objects.filter(user=user).values_list("title", flat=True))
    tz = user_zone(user)
    today = timezone.localdate(timezone=tz)
    for index, (title, priority, days, sections) in enumerate(TASKS):
        if title in have:
            continue
        deadline = datetime.combine(today + timedelta(days=days), datetime.min.time(), tzinfo=tz).replace(hour=23)
        fields = {"priority": priority, "deadline_at": deadline, "estimated_sections": sections}
        if index == 1:  # important, not yet urgent: promoted to 1 a day before the deadline
            fields["urgency_threshold_at"] = deadline - timedelta(days=1)
        services.task_create(user=user, title=title, **fields)


def study_plan(user):
    task_class = TaskClass.objects.filter(user=user, name=PLAN).first()
    if task_class is None:
        today = timezone.localdate(timezone=user_zone(user))
        task_class = services.task_class_create(
            user=user,
            name=PLAN,
            description="Two weeks of review before the linear algebra midterm.",
            color="#7b61ff",
            start_date=today,
            end_date=today + timedelta(days=14),
            strategy="steady",
            excluded_days=[7],
            daily_max_sections=2,
        )
    have = set(task_class.items.values_list("title", flat=True))
    for order, title in enumerate(PLAN_ITEMS, start=1):
        if title not in have:
            services.task_class_item_create(
                user=user, task_class=task_class, title=title, order=order, estimated_sections=2
            )
    week = selectors.current_week(user=user) or 1
    for item, (day, start, end) in zip(task_class.items.order_by("order"), PLAN_SLOTS, strict=False):
        if item.scheduled_event_id:
            continue
        spec = EventSpec(
            title=item.title,
            week=week,
            day=day,
            start_section=start,
            end_section=end,
            kind="task_item",
            task_item_id=item.pk,
        )
        try:
            with transaction.atomic():
                services.events_create(user=user, events=[spec])
        except Conflict:
            pass  # the user already has something there: leave the item unscheduled


DEMO_STEPS = [
    ("semester starting this Monday", semester),
    ("six courses", courses),
    ("six tasks", tasks),
    ("study plan with items", study_plan),
]
