"""Log filters of the console handler (docs/ARCHITECTURE.md §9).

Beat fires the outbox relay every second and a few sweeps every minute; at INFO each firing
would print three lines (beat's "Sending due task", the worker's "received" and
"succeeded"), and an idle `make run` would scroll its welcome away. Those lines, for the
tasks of the beat schedule only, are DEBUG: shown with LOG_LEVEL=DEBUG, dropped otherwise.
A routine task that fails still logs its ERROR; any other task keeps its INFO lines.
"""

import logging

# The Celery loggers and the messages of a routine run (celery.app.trace, celery.worker.strategy, celery.beat).
_ROUTINE_MESSAGES = {
    "celery.app.trace": ("succeeded in",),
    "celery.worker.strategy": ("received",),
    "celery.beat": ("Sending due task",),
}


def _routine_tasks() -> frozenset:
    from django.conf import settings

    schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", {}) or {}
    return frozenset(entry["task"] for entry in schedule.values() if "task" in entry)


def _task_name(record: logging.LogRecord) -> str | None:
    if isinstance(record.args, dict):  # the worker's lines: {"name": ..., "id": ...}
        return record.args.get("name")
    if isinstance(record.args, tuple) and len(record.args) == 2:  # beat's: (entry name, task name)
        return record.args[1]
    return None


class RoutineTaskFilter(logging.Filter):
    """Demotes the routine lines of beat-scheduled tasks to DEBUG (dropped unless DEBUG is on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        markers = _ROUTINE_MESSAGES.get(record.name)
        if markers is None or record.levelno != logging.INFO:
            return True
        if not any(marker in str(record.msg) for marker in markers):
            return True
        if _task_name(record) not in _routine_tasks():
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
