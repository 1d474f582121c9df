"""The floor of bench/week_view.py: a minimal Django project in one module — settings, URLconf
and WSGI application — with no apps, no middleware and no database, answering the same week
JSON (BENCH_PAYLOAD) with a JsonResponse. Whatever the project adds is measured against it.

    DJANGO_SETTINGS_MODULE=week_view_floor gunicorn week_view_floor:application
"""

import json
import os
from pathlib import Path

from django.core.wsgi import get_wsgi_application
from django.http import JsonResponse
from django.urls import path

DEBUG = False
SECRET_KEY = "bench-floor-only"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = __name__
INSTALLED_APPS: list = []
MIDDLEWARE: list = []
DATABASES: dict = {}
USE_TZ = True

PAYLOAD = json.loads(Path(os.environ["BENCH_PAYLOAD"]).read_text()) if os.environ.get("BENCH_PAYLOAD") else {}


def floor(request):
    return JsonResponse(PAYLOAD)


urlpatterns = [path("bench/floor/", floor)]

application = get_wsgi_application()
