from rest_framework.routers import DefaultRouter

from scheduling.plansquare import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("posts", views.PostViewSet, basename="plan-square-post")
router.register("comments", views.CommentViewSet, basename="plan-square-comment")
router.register("tags", views.TagViewSet, basename="plan-square-tag")

urlpatterns = router.urls
