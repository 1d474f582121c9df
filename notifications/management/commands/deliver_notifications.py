"""Send due notifications: `--once` (one sweep, for tests and ops) or `--loop` (a process).

Each sweep returns expired `sending` leases to `pending`, then sends one batch of due
rows. The loop runs on the loop skeleton (docs/ARCHITECTURE.md §5): start-up checks, a
clean stop on SIGTERM/SIGINT after the sweep in progress, a database outage survived.
"""

from django.conf import settings
from django.core.management.base import BaseCommand

from notifications.services import notifications_sweep
from smartmate.loops import mode_arguments, run_command_loop


class Command(BaseCommand):
    help = "Deliver due notifications and recover expired sending leases."

    def add_arguments(self, parser):
        mode_arguments(parser, once="one sweep, then exit (default)", loop="sweep until SIGTERM/SIGINT")
        parser.add_argument(
            "--interval", type=float, default=None, help="seconds between sweeps in --loop when idle (default: setting)"
        )

    def handle(self, *args, **options):
        if not options["loop"]:
            self._report(notifications_sweep())
            return
        interval = options["interval"] or settings.NOTIFICATIONS_SWEEP_SECONDS

        def one_pass() -> bool:
            results = notifications_sweep()
            self._report(results, quiet=not results)
            # A full batch means more may be due: go again at once.
            return sum(v for k, v in results.items() if k != "recovered") >= settings.NOTIFICATIONS_BATCH_SIZE

        def started() -> None:
            self.stdout.write(f"deliver_notifications: sweeping every {interval:g} s (SIGTERM to stop)")

        run_command_loop(
            "deliver_notifications",
            one_pass,
            idle=interval,
            what="sweep",
            report=self.stderr.write,
            started=started,
        )
        self.stdout.write("deliver_notifications: stopped")

    def _report(self, results, quiet=False):
        if quiet:
            return
        text = ", ".join(f"{k} {v}" for k, v in sorted(results.items())) or "nothing due"
        self.stdout.write(f"notifications: {text}")
