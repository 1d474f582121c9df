"""Send due notifications: `--once` (one sweep, for tests and ops) or `--loop` (a process).

Each sweep returns expired `sending` leases to `pending`, then sends one batch of due
rows. The loop stops cleanly on SIGTERM/SIGINT after the sweep in progress.
"""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, connection

from notifications.services import notifications_sweep


class Command(BaseCommand):
    help = "Deliver due notifications and recover expired sending leases."

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--once", action="store_true", help="one sweep, then exit (default)")
        mode.add_argument("--loop", action="store_true", help="sweep until SIGTERM/SIGINT")
        parser.add_argument(
            "--interval", type=float, default=None, help="seconds between sweeps in --loop when idle (default: setting)"
        )

    def handle(self, *args, **options):
        if not options["loop"]:
            self._report(notifications_sweep())
            return
        from smartmate.health import exit_unless_parts_reachable

        exit_unless_parts_reachable("deliver_notifications")
        interval = options["interval"] or settings.NOTIFICATIONS_SWEEP_SECONDS
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
        self.stdout.write(f"deliver_notifications: sweeping every {interval:g} s (SIGTERM to stop)")
        try:
            while not stop.is_set():
                try:
                    results = notifications_sweep()
                except DatabaseError as exc:
                    # A database outage must not end the process: sweep again after the interval.
                    self.stderr.write(f"sweep failed, retrying: {type(exc).__name__}: {str(exc).strip()[:200]}")
                    connection.close()
                    stop.wait(interval)
                    continue
                self._report(results, quiet=not results)
                # A full batch means more may be due: go again at once.
                full = sum(v for k, v in results.items() if k != "recovered") >= settings.NOTIFICATIONS_BATCH_SIZE
                if not full:
                    stop.wait(interval)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("deliver_notifications: stopped")

    def _report(self, results, quiet=False):
        if quiet:
            return
        text = ", ".join(f"{k} {v}" for k, v in sorted(results.items())) or "nothing due"
        self.stdout.write(f"notifications: {text}")
