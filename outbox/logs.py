"""Quiet routine ticks (docs/ARCHITECTURE.md §9): beat runs the relay every second and a few
sweeps every 30-60 s, and Celery logs each run at INFO three times (beat sending it, the worker
receiving it, the worker's "succeeded"). For the tasks of the beat schedule, while a run did
nothing, those lines say nothing: they go to DEBUG. A run that did something (a count that is
not 0) keeps its INFO "succeeded" line, with the counts; a failure keeps its ERROR; any other
task keeps its INFO lines. A filter on the Celery loggers, so every handler sees the same."""

import logging
import re

RELAY_TASK = "outbox.tasks.relay"
CELERY_LOGGERS = ("celery.beat", "celery.worker.strategy", "celery.app.trace")
_NONZERO = re.compile(r"(?<![\w.])[1-9]\d*")


def routine_tasks() -> frozenset:
    """The tasks beat fires on a schedule (settings.CELERY_BEAT_SCHEDULE), the relay among them."""
    from django.conf import settings

    schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", {}) or {}
    return frozenset({RELAY_TASK, *(entry["task"] for entry in schedule.values() if "task" in entry)})


def _is_idle_tick(record: logging.LogRecord) -> bool:
    args = record.args
    if record.name == "celery.beat":  # "Scheduler: Sending due task %s (%s)"
        return isinstance(args, tuple) and len(args) == 2 and args[1] in routine_tasks()
    if not isinstance(args, dict) or args.get("name") not in routine_tasks():
        return False
    if record.name == "celery.worker.strategy":  # "Task %(name)s[%(id)s] received"
        return True
    returned = str(args.get("return_value", ""))  # "succeeded in …: {'claimed': 0, …}"
    return "'skipped'" in returned or not _NONZERO.search(returned)


class IdleRelayTicks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not _is_idle_tick(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_idle_relay_ticks() -> None:
    for name in CELERY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, IdleRelayTicks) for f in logger.filters):
            logger.addFilter(IdleRelayTicks())
