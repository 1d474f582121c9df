from scheduling.models.active import ActiveScheduleJob, ActiveSchedulePreview, ActiveScheduleTrigger
from scheduling.models.planning import PlanStatus, StudyPlan
from scheduling.models.tasks import Task, TaskClass, TaskClassItem
from scheduling.models.timetable import Course, ScheduleEvent, ScheduleSlot, ScheduleVersion

__all__ = [
    "ActiveScheduleJob",
    "ActiveSchedulePreview",
    "ActiveScheduleTrigger",
    "Course",
    "PlanStatus",
    "ScheduleEvent",
    "ScheduleSlot",
    "ScheduleVersion",
    "StudyPlan",
    "Task",
    "TaskClass",
    "TaskClassItem",
]
