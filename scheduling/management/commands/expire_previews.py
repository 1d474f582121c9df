from django.core.management.base import BaseCommand

from scheduling.services.active import previews_expire


class Command(BaseCommand):
    help = "Mark ready previews past their expiry as expired."

    def handle(self, *args, **options):
        self.stdout.write(f"expired {previews_expire()} preview(s)")
