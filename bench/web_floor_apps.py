"""The reference servers of bench/web_floor.py, all returning the same week JSON bytes
(BENCH_PAYLOAD): `raw`, an ASGI app with no framework at all; `floor`, a minimal Django
project (no middleware, no apps, no database) whose one view returns a JsonResponse, as a
WSGI app; `floor_bridged` and `floor_asgi`, the same Django view behind the project's
serving layer (smartmate/serving.py's WSGI bridge) and behind Django's ASGIHandler."""

import json
import os
from pathlib import Path

SECRET_KEY = "bench-only-secret-key-0123456789-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "web_floor_apps"
INSTALLED_APPS: list = []
MIDDLEWARE: list = []
DATABASES: dict = {}
USE_TZ = True

BODY = Path(os.environ["BENCH_PAYLOAD"]).read_bytes()
PAYLOAD = json.loads(BODY)

os.environ["DJANGO_SETTINGS_MODULE"] = "web_floor_apps"

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402


def view(request):
    return JsonResponse(PAYLOAD)


urlpatterns = [path("floor/", view)]

floor = get_wsgi_application()
floor_asgi = get_asgi_application()


def _bridged():
    from smartmate.serving import WSGIBridge

    return WSGIBridge(floor, threads=int(os.environ.get("WEB_THREADS", "8")))


floor_bridged = _bridged()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def raw(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
