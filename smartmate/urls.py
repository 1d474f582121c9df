from importlib import import_module

from django.contrib import admin
from django.urls import URLPattern, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from smartmate.health import healthz
from smartmate.observability import metrics_view


def routes(module: str) -> list:
    """An app's URL patterns without the `.json`-style twins DRF's routers add to every route
    (the API answers JSON by Accept, never by suffix): Django tries patterns one by one, and the
    twins made every request of a route late in the list pay for twice as many failed matches
    (docs/BENCHMARKS.md, "Per-request cost")."""
    patterns = import_module(module).urlpatterns
    return [p for p in patterns if not (isinstance(p, URLPattern) and "(?P<format>" in str(p.pattern))]


# The most requested routes first: a request pays for every pattern tried before its own.
api_v1 = [
    path("", include(routes("scheduling.urls"))),
    path("", include(routes("accounts.urls"))),
    path("plan-square/", include(routes("scheduling.plansquare.urls"))),
    path("agent/", include(routes("agent.urls"))),
    path("", include(routes("notifications.urls"))),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="smartmate/redoc.html"),
        name="redoc",
    ),
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
]

handler400 = "smartmate.errors.handler400"
handler403 = "smartmate.errors.handler403"
handler404 = "smartmate.errors.handler404"
handler500 = "smartmate.errors.handler500"
