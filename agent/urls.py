from django.urls import path
from rest_framework.routers import DefaultRouter

from agent import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("conversations", views.ConversationViewSet, basename="agent-conversation")
router.register("memory/items", views.MemoryItemViewSet, basename="agent-memory-item")
router.register("chat", views.ChatViewSet, basename="agent-chat")
router.register("actions", views.PendingActionViewSet, basename="agent-action")

urlpatterns = [
    path("memory/settings/", views.MemorySettingsView.as_view(), name="agent-memory-settings"),
    path("models/", views.ModelListView.as_view(), name="agent-models"),
    *router.urls,
]
