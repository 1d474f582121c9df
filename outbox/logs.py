"""Quiet idle relay ticks: beat runs the relay every second, and Celery logs each run at INFO
three times (beat sending it, the worker receiving it, the worker's "succeeded"). While there
is nothing to relay those lines say nothing; they go to DEBUG. A run that relayed something
keeps its INFO "succeeded" line, with the counts."""

import logging

RELAY_TASK = "outbox.tasks.relay"
CELERY_LOGGERS = ("celery.beat", "celery.worker.strategy", "celery.app.trace")


def _is_idle_relay_tick(record: logging.LogRecord) -> bool:
    args = record.args
    if record.name == "celery.beat":  # "Scheduler: Sending due task %s (%s)"
        return isinstance(args, tuple) and RELAY_TASK in args
    if not isinstance(args, dict) or args.get("name") != RELAY_TASK:
        return False
    if record.name == "celery.worker.strategy":  # "Task %(name)s[%(id)s] received"
        return True
    returned = str(args.get("return_value", ""))  # "succeeded in …: {'claimed': 0, …}"
    return "'claimed': 0," in returned or "'skipped'" in returned


class IdleRelayTicks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not _is_idle_relay_tick(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_idle_relay_ticks() -> None:
    for name in CELERY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, IdleRelayTicks) for f in logger.filters):
            logger.addFilter(IdleRelayTicks())
