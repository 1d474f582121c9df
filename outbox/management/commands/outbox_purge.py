import re
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from outbox.services import purge

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([smhdw])", text.strip())
    if not match:
        raise CommandError(f"--older-than wants a number and a unit (s, m, h, d, w), e.g. 7d; got {text!r}")
    return timedelta(**{UNITS[match[2]]: int(match[1])})


class Command(BaseCommand):
    help = "Delete consumed outbox rows older than --older-than (default from OUTBOX_PURGE_AFTER_DAYS), in batches."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", default=None, help="e.g. 7d, 12h")
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args, older_than=None, batch_size=5000, **options):
        age = parse_age(older_than) if older_than else timedelta(days=settings.OUTBOX_PURGE_AFTER_DAYS)
        self.stdout.write(f"purged {purge(older_than=age, batch_size=batch_size)} consumed rows")
