from django.core.management.base import BaseCommand

from smartmate.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERNAME


class Command(BaseCommand):
    help = "Print where to go once `make run` is up, and how to get a login."

    def add_arguments(self, parser):
        parser.add_argument("--port", default="8000")

    def handle(self, *args, port, **options):
        base = f"http://127.0.0.1:{port}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "SmartMate is starting (API + Celery worker + beat). Ctrl-C stops all of them.",
                    f"  API docs   {base}/api/docs/",
                    f"  Health     {base}/healthz",
                    f"  Metrics    {base}/metrics",
                    f"  Admin      {base}/admin/   (python manage.py createsuperuser)",
                    f"  Demo login {DEMO_USERNAME} / {DEMO_PASSWORD}:",
                    f"    curl -s -X POST {base}/api/v1/auth/login/ -H 'Content-Type: application/json' \\",
                    f'         -d \'{{"username": "{DEMO_USERNAME}", "password": "{DEMO_PASSWORD}"}}\'',
                    "",
                ]
            )
        )
