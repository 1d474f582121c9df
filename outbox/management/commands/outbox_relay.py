from django.core.management.base import BaseCommand

from outbox.relay import relay_loop, relay_until_idle
from smartmate.loops import Stop, mode_arguments, start_up_checks


class Command(BaseCommand):
    help = "Publish due outbox rows: --once until none is due, --loop as a dedicated process (SIGTERM-clean)."

    def add_arguments(self, parser):
        mode_arguments(
            parser,
            once="relay until no row is due, then exit (default)",
            loop="run until SIGTERM; the current batch finishes",
        )

    def handle(self, *args, loop=False, **options):
        if loop:
            # The loop skeleton's start-up checks and stop (docs/ARCHITECTURE.md §5); relay_loop
            # runs its passes through the skeleton too.
            start_up_checks("outbox_relay")
            with Stop("outbox_relay") as stop:
                result = relay_loop(stop=stop)
        else:
            result = relay_until_idle()
        self.stdout.write(
            f"claimed={result.claimed} published={result.published} retrying={result.retrying} dead={result.dead}"
        )
