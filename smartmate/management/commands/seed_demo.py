"""A demo user with a semester, courses, tasks and a study plan, so a newcomer sees a filled week.

Idempotent: running it again changes nothing. Apps add their part through
`demo_steps` (each a function of the user), run in order with a progress bar.
"""

from django.core.management.base import BaseCommand
from django.db import transaction
from tqdm import tqdm

from accounts.models import User
from accounts.services import user_register

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "smartmate-demo-2026"


def demo_steps():
    """(label, function(user)) pairs; each function must be idempotent."""
    steps = []
    try:
        from scheduling.demo import DEMO_STEPS
    except ImportError:
        DEMO_STEPS = []
    steps.extend(DEMO_STEPS)
    return steps


class Command(BaseCommand):
    help = "Create (or complete) the demo user with a semester, courses, tasks and a study plan."

    def handle(self, *args, **options):
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            user = user_register(username=DEMO_USERNAME, password=DEMO_PASSWORD, email="demo@example.com")
        steps = demo_steps()
        for _label, step in tqdm(steps, desc="seeding demo", unit="step", disable=not steps):
            with transaction.atomic():
                step(user)
        self.stdout.write(f"demo user ready: {DEMO_USERNAME} / {DEMO_PASSWORD}")
