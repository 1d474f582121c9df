"""The outbox benches' handlers, and `outbox_consume` as a process of its own that knows them.

    .venv/bin/python bench/_outbox_child.py [outbox_consume arguments…]

runs `manage.py outbox_consume` (the real command: its signal handling, start-up checks
and consumer groups) after registering the handlers below, which live in no app:

- `bench.noop` (service `bench`): does nothing, the per-event form;
- `bench.noop_batch` (service `bench`): does nothing, the batch form (`many=True`);
- `chaos.effect` (service `chaos`): appends a row to `bench_chaos_effect`, a table without a
  unique key, so an event applied twice shows as two rows; then sleeps CHAOS_HANDLER_MS.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def register() -> None:
    from django.db import connection

    from outbox.registry import handles

    @handles("bench.noop", service="bench")
    def noop(event):
        pass

    @handles("bench.noop_batch", service="bench", many=True)
    def noop_batch(events):
        pass

    pause = float(os.environ.get("CHAOS_HANDLER_MS", "0")) / 1000

    @handles("chaos.effect", service="chaos")
    def chaos_effect(event):
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_chaos_effect (event_id) VALUES (%s)", [event.event_id])
        time.sleep(pause)  # long enough batches for the chaos run to cut one


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartmate.settings_test")
    import django

    django.setup()
    register()
    from django.core.management import call_command

    call_command("outbox_consume", *sys.argv[1:])


if __name__ == "__main__":
    main()
