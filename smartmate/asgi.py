import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartmate.settings")

from smartmate.health import start_or_exit

# Fails fast, with one line, on a configuration mistake or a configured part that is down.
application = start_or_exit(get_asgi_application)
