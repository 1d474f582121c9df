"""The project's URLs plus two reference views returning the same week JSON (loaded once from
BENCH_PAYLOAD): `bench/bare/`, a plain Django view, and `bench/auth-floor/`, a DRF view with the
project's default authentication and permissions — the floor every authenticated endpoint pays."""

import json
import os
from pathlib import Path

from django.http import JsonResponse
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

PAYLOAD = json.loads(Path(os.environ["BENCH_PAYLOAD"]).read_text()) if os.environ.get("BENCH_PAYLOAD") else {}


def bare(request):
    return JsonResponse(PAYLOAD)


class AuthFloor(APIView):
    def get(self, request):
        return Response(PAYLOAD)


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/auth-floor/", AuthFloor.as_view()),
    path("", include("smartmate.urls")),
]
