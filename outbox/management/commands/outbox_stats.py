from django.core.management.base import BaseCommand

from outbox.services import stats


class Command(BaseCommand):
    help = "Outbox counts by status and topic, and the oldest pending age."

    def handle(self, *args, **options):
        data = stats()
        for status in ("pending", "published", "consumed", "dead"):
            self.stdout.write(f"{status:<10} {data['by_status'].get(status, 0)}")
        self.stdout.write("")
        for row in data["by_topic"]:
            self.stdout.write(f"{row['topic']:<40} {row['status']:<10} {row['n']}")
        self.stdout.write(f"\noldest pending age: {data['oldest_pending_age_seconds']:.1f} s")
