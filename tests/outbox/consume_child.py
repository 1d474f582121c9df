"""`manage.py outbox_consume` as a process of its own that knows the test handlers:

python tests/outbox/consume_child.py [outbox_consume arguments…]
"""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartmate.settings_test")
    import django

    django.setup()
    from django.core.management import call_command

    import tests.outbox.handlers_for_tests  # noqa: F401  (registers the handlers)

    call_command("outbox_consume", *sys.argv[1:])
