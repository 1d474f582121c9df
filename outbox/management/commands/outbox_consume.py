import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from outbox.consumer import ConsumerLoop
from outbox.registry import consumer_services, topics_for
from smartmate.loops import Stop, mode_arguments, start_up_checks


class Command(BaseCommand):
    help = "Kafka consumer groups (one per service with handlers): apply each event once, commit offsets after."

    def add_arguments(self, parser):
        parser.add_argument("--service", action="append", help="a service to consume for (repeatable; default all)")
        parser.add_argument("--topic", action="append", help="topics to read (default: the service's topics)")
        mode_arguments(parser, once="process what is available and exit", loop="run until SIGTERM (default)")
        parser.add_argument("--max-seconds", type=float, default=60.0, help="--once gives up after this")

    def handle(self, *args, service=None, topic=None, once=False, max_seconds=60.0, **options):
        if settings.OUTBOX_TRANSPORT != "kafka":
            raise CommandError("OUTBOX_TRANSPORT is 'local': the relay applies events in-process, nothing to consume")
        if not once:
            start_up_checks("outbox_consume")
        services = service or sorted(consumer_services())
        if not services:
            raise CommandError("no service has @handles handlers")
        with Stop("outbox_consume") as stop:
            results = self._consume(services, topic, stop=stop, once=once, max_seconds=max_seconds)
        for name, counts in sorted(results.items()):
            self.stdout.write(f"{name}: " + " ".join(f"{k}={v}" for k, v in counts.items()))

    def _consume(self, services, topic, *, stop, once, max_seconds) -> dict:
        """One thread per service, each a ConsumerLoop on the loop skeleton (docs/ARCHITECTURE.md §5)."""
        results = {}

        def run(name):
            try:
                loop = ConsumerLoop(service=name, topics=topic or topics_for(name))
                results[name] = loop.run(stop=stop, once=once, max_seconds=max_seconds)
            finally:
                connection.close()

        threads = [threading.Thread(target=run, args=(name,), name=f"outbox-{name}") for name in services]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)  # the main thread keeps receiving SIGTERM
        return results
