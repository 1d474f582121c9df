import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartmate.settings")

from smartmate.body_limit import BodyLimitMiddleware
from smartmate.health import start_or_exit

# Fails fast, with one line, on a configuration mistake or a configured part that is down.
# Then no body over MAX_BODY_BYTES reaches Django, chunked or not (smartmate/body_limit.py).
application = BodyLimitMiddleware(start_or_exit(get_asgi_application))
