from django.urls import include, path
from rest_framework.routers import DefaultRouter

from accounts.views import AuthViewSet, MeViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("auth", AuthViewSet, basename="auth")

me = MeViewSet.as_view({"get": "retrieve", "patch": "partial_update"})

urlpatterns = [
    path("me/", me, name="me"),
    path("me/password/", MeViewSet.as_view({"post": "password"}), name="me-password"),
    path("me/quota/", MeViewSet.as_view({"get": "quota"}), name="me-quota"),
    path("me/calendar-token/", MeViewSet.as_view({"post": "calendar_token"}), name="me-calendar-token"),
    path("credits/", include("accounts.credits.urls")),
    *router.urls,
]
