"""Thin Celery tasks: housekeeping of token and idempotency records."""

from celery import shared_task

from accounts import services


@shared_task(name="accounts.flush_expired_tokens", ignore_result=True)
def flush_expired_tokens():
    return services.tokens_flush_expired()


@shared_task(name="accounts.purge_idempotency_records", ignore_result=True)
def purge_idempotency_records():
    return services.idempotency_records_purge()


@shared_task(name="accounts.send_password_reset_mail", ignore_result=True)
def send_password_reset_mail(user_id):
    return services.password_reset_mail_send(user_id=user_id)


from accounts.credits.tasks import credits_check  # noqa: E402, F401  (registered under accounts.*)
