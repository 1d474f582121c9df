"""Thin DRF views: validate input, call a service or selector, render."""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from icalendar import Calendar
from icalendar import Event as VEvent
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from accounts.selectors import user_by_calendar_secret
from scheduling import cache as scheduling_cache
from scheduling import etags, selectors, services
from scheduling.models import Course, ScheduleEvent, StudyPlan, Task, TaskClass, TaskClassItem
from scheduling.serializers import (
    CourseImportSerializer,
    CourseInputSerializer,
    CourseSerializer,
    EventInputSerializer,
    EventSerializer,
    EventUpdateSerializer,
    FreeSlotsSerializer,
    OngoingSerializer,
    RecentQuerySerializer,
    RecentSerializer,
    StudyPlanCreateSerializer,
    StudyPlanSerializer,
    TaskClassInputSerializer,
    TaskClassItemInputSerializer,
    TaskClassItemSerializer,
    TaskClassSerializer,
    TaskInputSerializer,
    TaskSerializer,
    TaskStatusesSerializer,
    TaskStatusQuerySerializer,
    TimetablePhotoInputSerializer,
    TimetablePhotoSerializer,
    TodaySerializer,
    WeekQuerySerializer,
    WeekSerializer,
    render_ongoing,
    render_today,
    render_week,
)
from scheduling.services import EventSpec, planning
from scheduling.services.photo import timetable_photo_parse
from smartmate import request_reads
from smartmate.api import validated
from smartmate.errors import ApiError
from smartmate.idempotency import idempotency_key, idempotent
from smartmate.throttling import CalendarFeedThrottle, window_hit


def _is_default_first_page(request) -> bool:
    """No filter, default ordering and page size, page 1: the list served from the cache."""
    params = request.query_params
    return set(params) <= {"page"} and params.get("page", "1") == "1"


def _first_page_response(request, count, results):
    page_size = selectors.DEFAULT_PAGE_SIZE
    url = request.build_absolute_uri()
    return Response(
        {
            "count": count,
            "next": replace_query_param(url, "page", 2) if count > page_size else None,
            "previous": None,
            "results": results,
        }
    )


def _user_parts(request) -> tuple:
    """What every per-user answer depends on besides its cache version: the user, their clock
    (zone, semester start) and the URL (absolute: pagination links carry the host)."""
    user = request.user
    return (user.pk, user.timezone, user.semester_start, request.build_absolute_uri())


def _conditional(request, ver, parts, render):
    """A per-user cached read answered 304 to its current ETag (scheduling.etags), else
    `render()` → (response, valid_until or None). `ver` None (the cache is down): no tag."""
    parts = (ver, *parts, *_user_parts(request))
    tag = etags.matched(request, *parts) if ver is not None else None
    if tag is not None:
        return etags.private(etags.not_modified(), tag)
    response, valid_until = render()
    tag = etags.etag(*parts, valid_until=valid_until.timestamp() if valid_until else None) if ver else None
    return etags.private(response, tag)


def _conditional_first_page(request, family, render):
    """The default first page of a cached list (its tag also names the page's next promotion)."""
    ver = selectors.tasks_cache_version(request.user, family)
    return _conditional(request, ver, (family,), lambda: render(request))


def _documents_input(serializer_class):
    """The schema of a viewset whose writes take `serializer_class` and answer its output serializer."""
    return extend_schema_view(
        create=extend_schema(request=serializer_class),
        update=extend_schema(request=serializer_class),
        partial_update=extend_schema(request=serializer_class),
    )


class OwnedModelViewSet(viewsets.GenericViewSet):
    """Objects of other users are invisible: their ids answer 404."""

    input_serializer_class = None
    model = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return self.model.objects.none()
        return self.owned_queryset()

    def input(self, partial=False, instance=None):
        return validated(self.input_serializer_class, self.request, partial=partial, instance=instance)

    def render(self, obj, status_code=status.HTTP_200_OK):
        return Response(self.get_serializer(obj).data, status=status_code)


# --- tasks -----------------------------------------------------------------------------------


@_documents_input(TaskInputSerializer)
class TaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OwnedModelViewSet):
    serializer_class = TaskSerializer
    input_serializer_class = TaskInputSerializer

    model = Task

    def owned_queryset(self):
        return selectors.task_queryset(user=self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=["todo", "done"]),
            OpenApiParameter("priority", str, description="Comma list of 1-4 (effective priority)"),
            OpenApiParameter("deadline_before", OpenApiTypes.DATETIME),
            OpenApiParameter("deadline_after", OpenApiTypes.DATETIME),
            OpenApiParameter("q", str),
            OpenApiParameter("ordering", str, description="deadline_at, priority or created_at; - for descending"),
        ]
    )
    @etags.conditional
    @request_reads.prefetch(lambda user_id: [scheduling_cache.version_key(scheduling_cache.TASKS, user_id)])
    def list(self, request):
        if _is_default_first_page(request):
            return _conditional_first_page(request, scheduling_cache.TASKS, self._first_page)
        queryset = selectors.task_list(user=request.user, filters=request.query_params)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(TaskSerializer(page, many=True).data)

    def _first_page(self, request):
        now = timezone.now()
        count, tasks = selectors.task_first_page(user=request.user, now=now)
        response = _first_page_response(request, count, TaskSerializer(tasks, many=True).data)
        return response, selectors.next_promotion(tasks, now)

    def _reload(self, task):
        return selectors.task_get(user=self.request.user, task_id=task.pk)

    @idempotent()
    def create(self, request):
        task = services.task_create(user=request.user, **self.input())
        return self.render(self._reload(task), status.HTTP_201_CREATED)

    def update(self, request, pk=None):
        task = services.task_update(user=request.user, task=self.get_object(), **self.input())
        return self.render(self._reload(task))

    def partial_update(self, request, pk=None):
        task = self.get_object()
        task = services.task_update(user=request.user, task=task, **self.input(partial=True, instance=task))
        return self.render(self._reload(task))

    def destroy(self, request, pk=None):
        services.task_delete(user=request.user, task=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    @idempotent()
    def complete(self, request, pk=None):
        """Mark a task done (idempotent: it keeps its first completed_at)"""
        task = services.task_complete(user=request.user, task=self.get_object())
        return self.render(self._reload(task))

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Mark a done task to do again"""
        task = services.task_reopen(user=request.user, task=self.get_object())
        return self.render(self._reload(task))

    @extend_schema(request=TaskStatusQuerySerializer, responses=TaskStatusesSerializer)
    @action(detail=False, methods=["post"], url_path="status")
    def statuses(self, request):
        """The status of many tasks at once

        Up to 100 ids; the answer keeps their order and leaves out other users' and missing ones."""
        ids = validated(TaskStatusQuerySerializer, request)["ids"]
        results = selectors.task_statuses(user=request.user, ids=ids)
        return Response(TaskStatusesSerializer({"results": results}).data)


# --- task classes ------------------------------------------------------------------------


@_documents_input(TaskClassInputSerializer)
class TaskClassViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OwnedModelViewSet):
    serializer_class = TaskClassSerializer
    input_serializer_class = TaskClassInputSerializer

    model = TaskClass

    def owned_queryset(self):
        return selectors.task_class_queryset(user=self.request.user).prefetch_related("items")

    @etags.conditional
    @request_reads.prefetch(lambda user_id: [scheduling_cache.version_key(scheduling_cache.TASK_CLASSES, user_id)])
    def list(self, request):
        if _is_default_first_page(request):
            return _conditional_first_page(request, scheduling_cache.TASK_CLASSES, self._first_page)
        return super().list(request)

    def _first_page(self, request):
        count, classes = selectors.task_class_first_page(user=request.user)
        return _first_page_response(request, count, TaskClassSerializer(classes, many=True).data), None

    @idempotent()
    def create(self, request):
        task_class = services.task_class_create(user=request.user, **self.input())
        return self.render(task_class, status.HTTP_201_CREATED)

    def update(self, request, pk=None):
        services.task_class_update(user=request.user, task_class=self.get_object(), **self.input())
        return self.render(self.get_object())

    def partial_update(self, request, pk=None):
        task_class = self.get_object()
        data = self.input(partial=True, instance=task_class)
        services.task_class_update(user=request.user, task_class=task_class, **data)
        return self.render(self.get_object())

    def destroy(self, request, pk=None):
        services.task_class_delete(user=request.user, task_class=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=StudyPlanCreateSerializer, responses={201: StudyPlanSerializer})
    @action(detail=False, methods=["post"])
    @idempotent()
    def plan(self, request):
        """Place every unscheduled item of some task classes into free time (nothing written yet)"""
        data = validated(StudyPlanCreateSerializer, request)
        plan = planning.study_plan_create(user=request.user, class_ids=data["class_ids"])
        return Response(StudyPlanSerializer(plan).data, status=status.HTTP_201_CREATED)


class StudyPlanViewSet(viewsets.GenericViewSet):
    """Apply a study plan made by `task-classes/plan/` (the preview apply rules)."""

    serializer_class = StudyPlanSerializer
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return StudyPlan.objects.none()
        return StudyPlan.objects.filter(user=self.request.user)

    @extend_schema(request=None, responses=StudyPlanSerializer)
    @action(detail=True, methods=["post"])
    @idempotent(required=True)
    def apply(self, request, pk=None):
        """Apply a study plan: its events are written, or nothing on any refusal"""
        plan = planning.study_plan_apply(user=request.user, plan_id=pk, idempotency_key=idempotency_key(request) or "")
        return Response(StudyPlanSerializer(plan).data)


@extend_schema_view(
    create=extend_schema(request=TaskClassItemInputSerializer),
    partial_update=extend_schema(request=TaskClassItemInputSerializer),
)
class TaskClassItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OwnedModelViewSet):
    serializer_class = TaskClassItemSerializer
    input_serializer_class = TaskClassItemInputSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def task_class(self) -> TaskClass:
        found = selectors.task_class_queryset(user=self.request.user).filter(pk=self.kwargs["class_pk"]).first()
        if found is None:
            raise Http404
        return found

    model = TaskClassItem

    def owned_queryset(self):
        return selectors.task_class_items(user=self.request.user, task_class_id=self.task_class().pk)

    @idempotent()
    def create(self, request, class_pk=None):
        task_class = self.task_class()
        item = services.task_class_item_create(user=request.user, task_class=task_class, **self.input())
        return self.render(item, status.HTTP_201_CREATED)

    def partial_update(self, request, class_pk=None, pk=None):
        item = self.get_object()
        item = services.task_class_item_update(user=request.user, item=item, **self.input(partial=True))
        return self.render(item)

    def destroy(self, request, class_pk=None, pk=None):
        services.task_class_item_delete(user=request.user, item=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def unschedule(self, request, class_pk=None, pk=None):
        """Take an item off the schedule (its event is removed)"""
        item = services.task_class_item_unschedule(user=request.user, item=self.get_object())
        return self.render(item)


# --- courses ---------------------------------------------------------------------------------


@_documents_input(CourseInputSerializer)
class CourseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OwnedModelViewSet):
    serializer_class = CourseSerializer
    input_serializer_class = CourseInputSerializer

    model = Course

    def owned_queryset(self):
        return selectors.course_queryset(user=self.request.user)

    @idempotent()
    def create(self, request):
        course = services.course_create(user=request.user, **self.input())
        return self.render(course, status.HTTP_201_CREATED)

    def update(self, request, pk=None):
        course = services.course_update(user=request.user, course=self.get_object(), **self.input())
        return self.render(course)

    def partial_update(self, request, pk=None):
        course = self.get_object()
        course = services.course_update(user=request.user, course=course, **self.input(partial=True, instance=course))
        return self.render(course)

    def destroy(self, request, pk=None):
        services.course_delete(user=request.user, course=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=CourseImportSerializer, responses={201: CourseSerializer(many=True)})
    @action(detail=False, methods=["post"], url_path="import")
    @idempotent()
    def import_courses(self, request):
        """Create a whole timetable at once: all courses or none"""
        body = {"courses": request.data} if isinstance(request.data, list) else request.data
        data = validated(CourseImportSerializer, body)
        courses = services.courses_create(user=request.user, courses=data["courses"])
        return Response(CourseSerializer(courses, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": TimetablePhotoInputSerializer},
        responses={200: TimetablePhotoSerializer, 501: None},
    )
    @action(detail=False, methods=["post"], url_path="parse-image", parser_classes=[MultiPartParser])
    def parse_image(self, request):
        """Read a timetable from a photo

        Rows as courses/import/ takes them, each with the model's confidence, and warnings for what
        was left out or is doubtful. Nothing is written: the client imports the rows it accepts."""
        upload = validated(TimetablePhotoInputSerializer, request)["image"]
        image = upload.read(settings.SCHEDULING_PHOTO_MAX_BYTES + 1)  # one byte over is enough to refuse it
        result = timetable_photo_parse(user=request.user, image=image)
        return Response(TimetablePhotoSerializer(result).data)


# --- schedule ------------------------------------------------------------------------------


def _clock_context(request):
    return {"clock": selectors.clock_for(request.user), "request": request}


@extend_schema_view(
    create=extend_schema(request=EventInputSerializer),
    partial_update=extend_schema(request=EventUpdateSerializer),
)
class EventViewSet(mixins.RetrieveModelMixin, OwnedModelViewSet):
    serializer_class = EventSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    model = ScheduleEvent

    def owned_queryset(self):
        return selectors.event_queryset(user=self.request.user)

    def get_serializer_context(self):
        return _clock_context(self.request)

    @extend_schema(
        parameters=[
            OpenApiParameter("week", int),
            OpenApiParameter("day", int),
            OpenApiParameter("kind", str, enum=["course", "task", "task_item", "custom"]),
        ]
    )
    def list(self, request):
        queryset = selectors.event_list(user=request.user, filters=request.query_params)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @idempotent()
    def create(self, request):
        data = validated(EventInputSerializer, request)
        _check_links(request.user, data)
        event = services.events_create(user=request.user, events=[EventSpec(**data)])[0]
        return self.render(event, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        event = self.get_object()
        data = validated(EventUpdateSerializer, request, instance=event, partial=True)
        return self.render(services.event_update(user=request.user, event=event, **data))

    def destroy(self, request, pk=None):
        services.event_delete(user=request.user, event=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _check_links(user, data):
    if data.get("task_id") and not selectors.task_queryset(user=user).filter(pk=data["task_id"]).exists():
        raise ApiError("Invalid input: task_id.", code="validation_error", fields={"task_id": ["No such task."]})
    if (
        data.get("task_item_id")
        and not selectors.task_class_item_queryset(user=user).filter(pk=data["task_item_id"]).exists()
    ):
        raise ApiError(
            "Invalid input: task_item_id.", code="validation_error", fields={"task_item_id": ["No such item."]}
        )


def _schedule_version_key(user_id):
    return [scheduling_cache.version_key(scheduling_cache.SCHEDULE, user_id)]


class ScheduleViewSet(viewsets.ViewSet):
    """Week, today, ongoing, recently completed and free slots: cached per user."""

    def _week(self, request):
        week = validated(WeekQuerySerializer, request.query_params).get("week")
        if week is None:
            week = selectors.current_week(user=request.user) or 1
        return week

    @extend_schema(parameters=[WeekQuerySerializer], responses=WeekSerializer)
    @action(detail=False, methods=["get"])
    @etags.conditional
    @request_reads.prefetch(_schedule_version_key)
    def week(self, request):
        """A week of the timetable, day by day"""
        week = self._week(request)
        ver = selectors.schedule_cache_version(request.user)

        def render():
            view = selectors.week_view(user=request.user, week=week, ver=ver)
            return Response(render_week(view, selectors.clock_for(request.user))), None

        return _conditional(request, ver, ("week", week), render)

    @extend_schema(responses=TodaySerializer)
    @action(detail=False, methods=["get"])
    @etags.conditional
    @request_reads.prefetch(_schedule_version_key)
    def today(self, request):
        """Today's events"""
        now = timezone.now()
        on = selectors.clock_for(request.user).locate(now)[0]
        ver = selectors.schedule_cache_version(request.user)

        def render():
            today = selectors.today_view(user=request.user, now=now, ver=ver)
            return Response(render_today(today, selectors.clock_for(request.user))), None

        return _conditional(request, ver, ("today", on), render)

    @extend_schema(responses=OngoingSerializer)
    @action(detail=False, methods=["get"])
    def ongoing(self, request):
        """The event going on now and the next one"""
        return Response(render_ongoing(selectors.ongoing(user=request.user), selectors.clock_for(request.user)))

    @extend_schema(parameters=[RecentQuerySerializer], responses=RecentSerializer)
    @action(detail=False, methods=["get"], url_path="recent-completed")
    def recent_completed(self, request):
        """Tasks done and task blocks past, newest first"""
        limit = validated(RecentQuerySerializer, request.query_params)["limit"]
        results = selectors.recent_completed(user=request.user, limit=limit)
        return Response(RecentSerializer({"results": results}).data)

    @extend_schema(parameters=[WeekQuerySerializer], responses=FreeSlotsSerializer)
    @action(detail=False, methods=["get"], url_path="free-slots")
    def free_slots(self, request):
        """Free sections of a week, day by day"""
        week = self._week(request)
        return Response({"week": week, "free": selectors.free_slots(user=request.user, week=week)})


class _FirstRenderer(BaseContentNegotiation):
    """The feed answers text/calendar whatever the Accept header says (errors stay JSON)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class CalendarFeedView(APIView):
    """GET /api/v1/calendar/{secret}.ics — the user's events as iCalendar (RFC 5545). No auth:
    the secret is the credential; an unknown secret is a 404."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [CalendarFeedThrottle]  # per client address
    content_negotiation_class = _FirstRenderer

    @extend_schema(
        responses={(200, "text/calendar"): OpenApiTypes.STR},
        operation_id="calendar_feed_retrieve",
        summary="The user's events as an iCalendar feed (the secret in the URL is the credential)",
    )
    def get(self, request, secret):
        # per secret too: a leaked URL polled from many addresses is still bounded
        window_hit(scope="calendar_secret", ident=secret, rate=settings.THROTTLE_CALENDAR_SECRET_RATE)
        user = user_by_calendar_secret(secret=secret)
        if user is None:
            raise Http404
        return HttpResponse(calendar_ics(user), content_type="text/calendar; charset=utf-8")


def calendar_ics(user) -> bytes:
    clock = selectors.clock_for(user)
    calendar = Calendar()
    calendar.add("prodid", "-//SmartMate//Schedule//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"SmartMate — {user.username}")
    calendar.add("x-wr-timezone", str(clock.tz))
    stamp = timezone.now()
    # UIDs must be unique across every calendar a client subscribes to: name this deployment.
    domain = urlsplit(settings.PUBLIC_BASE_URL).netloc or "smartmate"
    for event in selectors.calendar_events(user=user):
        start, end = clock.span(event.week, event.day, event.start_section, event.end_section)
        vevent = VEvent()
        vevent.add("uid", f"event-{event.pk}@{domain}")
        vevent.add("dtstamp", stamp)
        vevent.add("last-modified", event.updated_at)
        vevent.add("dtstart", start)
        vevent.add("dtend", end)
        vevent.add("summary", event.title)
        if event.location:
            vevent.add("location", event.location)
        if event.note:
            vevent.add("description", event.note)
        vevent.add("categories", [event.kind])
        calendar.add_component(vevent)
    calendar.add_missing_timezones()  # a VTIMEZONE for every TZID used (RFC 5545 §3.2.19)
    return calendar.to_ical()
