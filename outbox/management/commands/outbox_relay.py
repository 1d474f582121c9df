from django.core.management.base import BaseCommand

from outbox.relay import StopFlag, relay_loop, relay_until_idle


class Command(BaseCommand):
    help = "Publish due outbox rows: --once until none is due, --loop as a dedicated process (SIGTERM-clean)."

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--once", action="store_true", help="relay until no row is due, then exit (default)")
        mode.add_argument("--loop", action="store_true", help="run until SIGTERM; the current batch finishes")

    def handle(self, *args, loop=False, **options):
        if loop:
            from smartmate.health import exit_unless_parts_reachable

            exit_unless_parts_reachable("outbox_relay")
            result = relay_loop(stop=StopFlag().install())
        else:
            result = relay_until_idle()
        self.stdout.write(
            f"claimed={result.claimed} published={result.published} retrying={result.retrying} dead={result.dead}"
        )
