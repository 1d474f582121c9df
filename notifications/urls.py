from rest_framework.routers import DefaultRouter

from notifications.views import NotificationChannelViewSet, NotificationViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("notification-channels", NotificationChannelViewSet, basename="notification-channel")
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = router.urls
