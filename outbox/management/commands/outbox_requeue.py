from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from outbox.models import OutboxEvent
from outbox.services import requeue


class Command(BaseCommand):
    help = "Dead outbox rows back to pending with a fresh retry budget."

    def add_arguments(self, parser):
        parser.add_argument("--dead", action="store_true", help="every dead row")
        parser.add_argument("--id", action="append", dest="ids", default=[], help="one row (repeatable)")
        parser.add_argument("--biz-type", help="with --dead: only this event type")
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, dead=False, ids=(), biz_type=None, batch_size=1000, **options):
        if not dead and not ids:
            raise CommandError("say which rows: --dead or --id <uuid>")
        if ids:
            total = requeue(ids)
            self.stdout.write(f"requeued {total} of {len(ids)}")
            return
        rows = OutboxEvent.objects.filter(status=OutboxEvent.Status.DEAD).order_by()
        if biz_type:
            rows = rows.filter(biz_type=biz_type)
        total = 0
        with tqdm(total=rows.count(), unit="event", disable=None, file=self.stderr._out) as bar:
            while True:
                batch = list(rows.values_list("id", flat=True)[:batch_size])
                if not batch:
                    break
                done = requeue(batch)
                total += done
                bar.update(len(batch))
                if done == 0:
                    break
        self.stdout.write(f"requeued {total}")
