from django.urls import path
from rest_framework.routers import DefaultRouter

from scheduling import views, views_active

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
# The most read routes first: Django tries patterns in order (smartmate/urls.py).
router.register("schedule/events", views.EventViewSet, basename="schedule-event")
router.register("schedule", views.ScheduleViewSet, basename="schedule")
router.register("tasks", views.TaskViewSet, basename="task")
router.register("task-classes/plans", views.StudyPlanViewSet, basename="study-plan")
router.register(r"task-classes/(?P<class_pk>\d+)/items", views.TaskClassItemViewSet, basename="task-class-item")
router.register("task-classes", views.TaskClassViewSet, basename="task-class")
router.register("courses", views.CourseViewSet, basename="course")
router.register("active-schedule/previews", views_active.PreviewViewSet, basename="active-preview")
router.register("active-schedule/triggers", views_active.TriggerViewSet, basename="active-trigger")
router.register("active-schedule/feedback", views_active.FeedbackViewSet, basename="active-feedback")

urlpatterns = [
    path("calendar/<str:secret>.ics", views.CalendarFeedView.as_view(), name="calendar-feed"),
    *router.urls,
]
