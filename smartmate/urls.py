from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from smartmate.health import healthz
from smartmate.observability import metrics_view

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("scheduling.urls")),
    path("", include("notifications.urls")),
    path("agent/", include("agent.urls")),
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
