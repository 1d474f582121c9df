from django.core.management.base import BaseCommand

from scheduling.services.active import due_jobs_scan
from smartmate.loops import mode_arguments, run_command_loop


class Command(BaseCommand):
    help = "Trigger active scheduling for due jobs: --once (default) drains what is due; --loop keeps scanning."

    def add_arguments(self, parser):
        mode_arguments(
            parser,
            once="scan until nothing is due, then exit (default)",
            loop="scan every --interval seconds until SIGTERM",
        )
        parser.add_argument("--interval", type=float, default=60.0)

    def handle(self, *args, loop, interval, **options):
        if not loop:
            self._report(due_jobs_scan())  # --once fails loudly: an outage is the operator's to see
            return

        def one_pass() -> bool:
            self._report(due_jobs_scan())  # the scan drains what is due itself
            return False

        # The loop skeleton (docs/ARCHITECTURE.md §5): start-up checks, SIGTERM/SIGINT, outages.
        run_command_loop("scan_due_jobs", one_pass, idle=interval, what="scan", report=self.stderr.write)

    def _report(self, result) -> None:
        self.stdout.write(
            f"triggered {result.triggered}, canceled {result.canceled}, skipped {result.skipped}, "
            f"failed {result.failed} in {result.batches} batch(es)"
        )
