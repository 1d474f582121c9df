import signal
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, connection

from scheduling.services.active import due_jobs_scan


class Command(BaseCommand):
    help = "Trigger active scheduling for due jobs: --once (default) drains what is due; --loop keeps scanning."

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--once", action="store_true", help="scan until nothing is due, then exit (default)")
        mode.add_argument("--loop", action="store_true", help="scan every --interval seconds until SIGTERM")
        parser.add_argument("--interval", type=float, default=60.0)

    def handle(self, *args, loop, interval, **options):
        stopping = {"now": False}

        def stop(signum, frame):
            stopping["now"] = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while True:
            try:
                result = due_jobs_scan()
            except DatabaseError as exc:
                if not loop:
                    raise
                # A database outage must not end the process: scan again after the interval.
                self.stderr.write(f"scan failed, retrying: {type(exc).__name__}: {str(exc).strip()[:200]}")
                connection.close()
            else:
                self.stdout.write(
                    f"triggered {result.triggered}, canceled {result.canceled}, skipped {result.skipped}, "
                    f"failed {result.failed} in {result.batches} batch(es)"
                )
            if not loop:
                return
            deadline = time.monotonic() + interval
            while not stopping["now"] and time.monotonic() < deadline:
                time.sleep(0.2)
            if stopping["now"]:
                return
