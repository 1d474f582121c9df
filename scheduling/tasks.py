"""Thin Celery tasks of the scheduling service."""

from celery import shared_task

from scheduling.services import active


@shared_task(name="scheduling.scan_due_jobs", ignore_result=True, expires=55)
def scan_due_jobs():
    return active.due_jobs_scan().processed


@shared_task(name="scheduling.expire_previews", ignore_result=True)
def expire_previews():
    return active.previews_expire()
