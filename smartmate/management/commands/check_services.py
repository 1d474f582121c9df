from django.core.management.base import BaseCommand

from smartmate.health import STARTUP_PARTS, describe, failures, probe_parts


class Command(BaseCommand):
    help = "Report each part (database, cache, broker, kafka, llm) as up, down or disabled; exit 1 if one is down."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for each part")

    def handle(self, *args, timeout, **options):
        results = probe_parts(deadline=timeout, parts=STARTUP_PARTS)
        for part in STARTUP_PARTS:
            value = results[part]
            if value == "ok":
                self.stdout.write(f"{part:9} up        {describe(part)}")
            elif value == "disabled":
                self.stdout.write(f"{part:9} disabled  (not configured: the embedded default stands in)")
            else:
                self.stdout.write(self.style.ERROR(f"{part:9} down      {value}"))
        if failures(results):
            raise SystemExit(1)
