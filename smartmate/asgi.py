"""The web process's application (smartmate/serving.py): the chat streams through Django's
ASGI handler, every other request through its WSGI handler, one port."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartmate.settings")

from smartmate.body_limit import BodyLimitMiddleware
from smartmate.health import start_or_exit


def _build():
    from django.core.asgi import get_asgi_application
    from django.core.handlers.wsgi import WSGIHandler

    from smartmate.serving import PathRouter, WSGIBridge

    streaming = get_asgi_application()  # django.setup() first, then both handlers share it
    threads = int(os.environ.get("WEB_THREADS", "8"))
    return PathRouter(streaming=streaming, default=WSGIBridge(WSGIHandler(), threads=threads))


# Fails fast, with one line, on a configuration mistake or a configured part that is down.
# Then no body over MAX_BODY_BYTES reaches Django, chunked or not (smartmate/body_limit.py).
application = BodyLimitMiddleware(start_or_exit(_build))
