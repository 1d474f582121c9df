"""Thin Celery task: the daily ledger check (beat: accounts-credits-check)."""

from celery import shared_task

from accounts.credits import services


@shared_task(name="accounts.credits_check", ignore_result=True)
def credits_check():
    return services.credits_check_log()
