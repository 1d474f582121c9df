from django.core.management.base import BaseCommand

from accounts.services import idempotency_records_purge, tokens_flush_expired


class Command(BaseCommand):
    help = "Delete used-refresh-token rows whose tokens have expired, and Idempotency-Key records past 24 h."

    def handle(self, *args, **options):
        tokens = tokens_flush_expired()
        records = idempotency_records_purge()
        self.stdout.write(f"deleted {tokens} expired token rows and {records} idempotency records")
