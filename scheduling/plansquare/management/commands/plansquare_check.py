"""Recompute every post's counters (likes, imports, visible comments) and snapshot sizes from
their rows; list each difference and exit 1 if there is one. `--fix` writes the recomputed values."""

from django.core.management.base import BaseCommand, CommandError

from scheduling.plansquare import selectors, services


class Command(BaseCommand):
    help = "Check the plan square's counters against their rows (exit 1 on a difference)."

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="write the recomputed counters")

    def handle(self, *args, fix=False, **options):
        drift = selectors.counter_drift()
        for entry in drift:
            self.stdout.write("post {post_id}: {field} stored {stored}, counted {actual}".format(**entry))
        if not drift:
            self.stdout.write("plan square counters: ok")
            return
        if fix:
            fixed = services.counters_repair(drift=drift)
            self.stdout.write(f"fixed {fixed} posts")
            return
        raise CommandError(f"{len(drift)} counter differences", returncode=1)
