from scheduling.models.tasks import Task, TaskClass, TaskClassItem
from scheduling.models.timetable import Course, ScheduleEvent, ScheduleSlot, ScheduleVersion

__all__ = ["Course", "ScheduleEvent", "ScheduleSlot", "ScheduleVersion", "Task", "TaskClass", "TaskClassItem"]
