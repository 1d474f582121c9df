from django.core.management.base import BaseCommand

from outbox.services import recover_leases


class Command(BaseCommand):
    help = "Clear expired relay leases and re-send rows published but never consumed."

    def handle(self, *args, **options):
        result = recover_leases()
        self.stdout.write(" ".join(f"{k}={v}" for k, v in result.items()))
