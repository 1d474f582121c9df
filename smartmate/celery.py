"""The Celery app. Beat's schedule is declared statically in settings (CELERY_BEAT_SCHEDULE)."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartmate.settings")

app = Celery("smartmate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _fail_fast(component):
    from smartmate.health import exit_unless_parts_reachable

    try:
        exit_unless_parts_reachable(component)
    except SystemExit:
        os._exit(1)  # Celery would catch SystemExit inside a signal handler and print a traceback


@worker_init.connect
def _worker_preflight(**kwargs):
    _fail_fast("worker")


@beat_init.connect
def _beat_preflight(**kwargs):
    _fail_fast("beat")
