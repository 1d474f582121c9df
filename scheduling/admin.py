"""Scheduling in the admin: writes through scheduling.services (the API's rules: a task marked
done gets its completed_at from task_complete, a course change rewrites its events, a clash
is refused on the form), audit rows view-only."""

from django.contrib import admin
from django.db.models import Q
from django.utils import timezone

from scheduling import services
from scheduling.models import (
    ActiveScheduleJob,
    ActiveSchedulePreview,
    ActiveScheduleTrigger,
    Course,
    ScheduleEvent,
    ScheduleSlot,
    ScheduleVersion,
    StudyPlan,
    Task,
    TaskClass,
    TaskClassItem,
)
from scheduling.models.tasks import Status
from scheduling.services.tasks import CLASS_FIELDS, ITEM_FIELDS
from smartmate.admin import (
    AuditAdmin,
    OwnerCheckedInline,
    ServiceAdmin,
    changed,
    one_choice_filter,
    short_id,
    truncated,
)

AUDIT = ("created_at", "updated_at")


@admin.register(Task)
class TaskAdmin(ServiceAdmin):
    list_display = ("id", "short_title", "user", "priority", "status", "deadline_at", "created_at")
    list_filter = ("status", "priority")
    search_fields = ("title", "description", "user__username")
    list_select_related = ("user",)
    raw_id_fields = ("user", "task_class")
    readonly_fields = (*AUDIT, "completed_at")
    date_hierarchy = "created_at"
    short_title = truncated("title", 50)

    FIELDS = ("title", "description", "priority", "deadline_at", "urgency_threshold_at", "estimated_sections")

    def service_save(self, request, obj, form, change):
        fields = changed(form, *self.FIELDS, "task_class", rename={"task_class": "task_class_id"})
        if change:
            task = services.task_update(user=obj.user, task=obj, **fields)
        else:
            fields = {name: getattr(obj, name) for name in self.FIELDS if name != "title"}
            task = services.task_create(user=obj.user, title=obj.title, task_class_id=obj.task_class_id, **fields)
        if "status" in form.changed_data or (not change and obj.status == Status.DONE):
            transition = services.task_complete if obj.status == Status.DONE else services.task_reopen
            task = transition(user=obj.user, task=task)
        return task

    def service_delete(self, request, obj):
        services.task_delete(user=obj.user, task=obj)


class TaskClassItemInline(OwnerCheckedInline):
    model = TaskClassItem
    fields = ("title", "order", "estimated_sections", "status", "scheduled_event")
    readonly_fields = ("scheduled_event",)  # placed and removed by plans and `unschedule` only
    extra = 0


@admin.register(TaskClass)
class TaskClassAdmin(ServiceAdmin):
    list_display = ("id", "short_name", "user", "strategy", "start_date", "end_date", "daily_max_sections")
    list_filter = ("strategy",)
    search_fields = ("name", "description", "user__username")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = AUDIT
    inlines = [TaskClassItemInline]
    short_name = truncated("name", 40)

    def service_save(self, request, obj, form, change):
        if change:
            return services.task_class_update(user=obj.user, task_class=obj, **changed(form, *CLASS_FIELDS))
        fields = {name: getattr(obj, name) for name in CLASS_FIELDS if name != "name"}
        return services.task_class_create(user=obj.user, name=obj.name, **fields)

    def service_delete(self, request, obj):
        services.task_class_delete(user=obj.user, task_class=obj)

    def save_formset(self, request, form, formset, change):
        task_class = form.instance
        # What formset.save() would record, for the change message.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for item_form in formset.forms:
            if not item_form.has_changed() or item_form in formset.deleted_forms:
                continue
            item = item_form.instance
            if item.pk is None:
                fields = {name: getattr(item, name) for name in ITEM_FIELDS if name != "title"}
                formset.new_objects.append(
                    services.task_class_item_create(
                        user=task_class.user, task_class=task_class, title=item.title, **fields
                    )
                )
            else:
                fields = changed(item_form, *ITEM_FIELDS)
                services.task_class_item_update(user=task_class.user, item=item, **fields)
                formset.changed_objects.append((item, list(fields)))
        for item_form in formset.deleted_forms:
            if item_form.instance.pk is not None:
                services.task_class_item_delete(user=task_class.user, item=item_form.instance)
                formset.deleted_objects.append(item_form.instance)


@admin.register(TaskClassItem)
class TaskClassItemAdmin(ServiceAdmin):
    list_display = ("id", "short_title", "task_class", "user", "order", "estimated_sections", "status")
    list_filter = ("status",)
    search_fields = ("title", "task_class__name", "user__username")
    list_select_related = ("task_class", "user")
    raw_id_fields = ("task_class",)
    exclude = ("user",)  # the class's owner
    readonly_fields = (*AUDIT, "scheduled_event")
    short_title = truncated("title", 40)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "task_class"] if obj is not None else fields

    def service_save(self, request, obj, form, change):
        if change:
            return services.task_class_item_update(user=obj.user, item=obj, **changed(form, *ITEM_FIELDS))
        owner = obj.task_class.user
        fields = {name: getattr(obj, name) for name in ITEM_FIELDS if name != "title"}
        return services.task_class_item_create(user=owner, task_class=obj.task_class, title=obj.title, **fields)

    def service_delete(self, request, obj):
        services.task_class_item_delete(user=obj.user, item=obj)


@admin.register(Course)
class CourseAdmin(ServiceAdmin):
    list_display = ("id", "short_name", "user", "day", "start_section", "end_section", "location", "teacher")
    list_filter = ("day",)
    search_fields = ("name", "teacher", "location", "user__username")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = AUDIT
    short_name = truncated("name", 40)

    FIELDS = ("name", "location", "teacher", "weeks", "day", "start_section", "end_section")

    def service_save(self, request, obj, form, change):
        if change:
            return services.course_update(user=obj.user, course=obj, **changed(form, *self.FIELDS))
        return services.course_create(user=obj.user, **{name: getattr(obj, name) for name in self.FIELDS})

    def service_delete(self, request, obj):
        services.course_delete(user=obj.user, course=obj)


@admin.register(ScheduleEvent)
class ScheduleEventAdmin(ServiceAdmin):
    """Positions and links are read-only: a move must claim slots, which the API's move does."""

    list_display = ("id", "short_title", "user", "kind", "source", "week", "day", "start_section", "done")
    list_filter = ("kind", "source", "done")
    search_fields = ("title", "note", "user__username")
    list_select_related = ("user",)
    readonly_fields = (
        *AUDIT,
        "user",
        "week",
        "day",
        "start_section",
        "end_section",
        "kind",
        "source",
        "task",
        "task_item",
        "course",
    )
    show_full_result_count = False
    short_title = truncated("title", 40)

    def has_add_permission(self, request):
        return False

    def service_save(self, request, obj, form, change):
        return services.event_update(user=obj.user, event=obj, **changed(form, "title", "location", "note", "done"))

    def service_delete(self, request, obj):
        services.event_delete(user=obj.user, event=obj)


@admin.register(ScheduleSlot)
class ScheduleSlotAdmin(AuditAdmin):
    list_display = ("id", "user", "week", "day", "section", "event")
    list_filter = ("day",)
    search_fields = ("user__username", "event__title")
    list_select_related = ("user", "event")


@admin.register(ScheduleVersion)
class ScheduleVersionAdmin(AuditAdmin):
    list_display = ("user", "version", "updated_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)


def jobs_due():
    """Pending jobs whose trigger time has come (served by the active_job_due partial index)."""
    return Q(status="pending", trigger_at__lte=timezone.now())


DueJobFilter = one_choice_filter(title="due", parameter="due", value="now", label="due now", condition=jobs_due)
ActionablePreviewFilter = one_choice_filter(
    title="actionable",
    parameter="actionable",
    value="ready",
    label="ready, not expired",
    condition=ActiveSchedulePreview.live_condition,
)


@admin.register(ActiveScheduleJob)
class ActiveScheduleJobAdmin(AuditAdmin):
    list_display = ("id", "user", "task", "status", "trigger_at", "last_scanned_at", "last_error_code")
    list_filter = (DueJobFilter, "status", "trigger_type")
    search_fields = ("user__username", "task__title", "=id")
    list_select_related = ("user", "task")
    date_hierarchy = "trigger_at"


@admin.register(ActiveScheduleTrigger)
class ActiveScheduleTriggerAdmin(AuditAdmin):
    list_display = (
        "short_id",
        "user",
        "trigger_type",
        "source",
        "target_type",
        "target_id",
        "status",
        "error_code",
        "is_dry_run",
        "created_at",
    )
    list_filter = ("status", "trigger_type", "source", "is_dry_run")
    search_fields = ("=id", "user__username", "dedupe_key")
    list_select_related = ("user",)
    short_id = short_id()


@admin.register(ActiveSchedulePreview)
class ActiveSchedulePreviewAdmin(AuditAdmin):
    list_display = ("short_id", "user", "status", "apply_status", "short_summary", "expires_at", "is_dry_run")
    list_filter = (ActionablePreviewFilter, "status", "apply_status", "is_dry_run")
    search_fields = ("=id", "user__username", "summary")
    list_select_related = ("user",)
    short_id = short_id()
    short_summary = truncated("summary", 50)


@admin.register(StudyPlan)
class StudyPlanAdmin(AuditAdmin):
    list_display = ("short_id", "user", "status", "apply_status", "base_version", "expires_at", "created_at")
    list_filter = ("status", "apply_status")
    search_fields = ("=id", "user__username")
    list_select_related = ("user",)
    short_id = short_id()
