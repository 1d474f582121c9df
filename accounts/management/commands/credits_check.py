"""`manage.py credits_check`: recompute every balance from its ledger; exit 1 listing each
account that differs (docs/DOMAIN.md §9)."""

import sys

from django.core.management.base import BaseCommand

from accounts.credits.services import credits_check


class Command(BaseCommand):
    help = "Recompute every credit balance from its ledger; exit 1 and list the accounts that differ."

    def handle(self, *args, **options):
        mismatches = credits_check()
        for mismatch in mismatches:
            self.stdout.write(str(mismatch))
        if mismatches:
            self.stderr.write(f"credits_check: {len(mismatches)} account(s) differ from their ledger")
            sys.exit(1)
        self.stdout.write("credits_check: every balance equals its ledger")
