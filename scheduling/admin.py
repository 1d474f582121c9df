from django.contrib import admin

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

AUDIT = ("created_at", "updated_at")


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "user", "priority", "status", "deadline_at", "urgency_threshold_at", "created_at")
    list_filter = ("status", "priority")
    search_fields = ("title", "description", "user__username")
    list_select_related = ("user",)
    raw_id_fields = ("user", "task_class")
    readonly_fields = (*AUDIT, "completed_at")
    date_hierarchy = "created_at"


class TaskClassItemInline(admin.TabularInline):
    model = TaskClassItem
    fields = ("title", "order", "estimated_sections", "status", "scheduled_event")
    raw_id_fields = ("scheduled_event",)
    extra = 0


@admin.register(TaskClass)
class TaskClassAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "user", "strategy", "start_date", "end_date", "daily_max_sections", "created_at")
    list_filter = ("strategy",)
    search_fields = ("name", "description", "user__username")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = AUDIT
    inlines = [TaskClassItemInline]

    def save_formset(self, request, form, formset, change):
        for item in formset.save(commit=False):
            item.user_id = form.instance.user_id
            item.save()
        for item in formset.deleted_objects:
            item.delete()


@admin.register(TaskClassItem)
class TaskClassItemAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "task_class", "user", "order", "estimated_sections", "status", "scheduled_event")
    list_filter = ("status",)
    search_fields = ("title", "task_class__name", "user__username")
    list_select_related = ("task_class", "user", "scheduled_event")
    raw_id_fields = ("task_class", "user", "scheduled_event")
    readonly_fields = AUDIT


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "user", "day", "start_section", "end_section", "location", "teacher")
    list_filter = ("day",)
    search_fields = ("name", "teacher", "location", "user__username")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = AUDIT


@admin.register(ScheduleEvent)
class ScheduleEventAdmin(admin.ModelAdmin):
    """Read-only positions: a move must claim slots, which only the services do."""

    list_display = ("id", "title", "user", "kind", "source", "week", "day", "start_section", "end_section", "done")
    list_filter = ("kind", "source", "done")
    search_fields = ("title", "note", "user__username")
    list_select_related = ("user",)
    raw_id_fields = ("user", "task", "task_item", "course")
    readonly_fields = (*AUDIT, "user", "week", "day", "start_section", "end_section", "kind", "source")
    show_full_result_count = False

    def has_add_permission(self, request):
        return False


@admin.register(ScheduleSlot)
class ScheduleSlotAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "week", "day", "section", "event")
    list_filter = ("day",)
    search_fields = ("user__username", "event__title")
    list_select_related = ("user", "event")
    readonly_fields = ("user", "week", "day", "section", "event")
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ScheduleVersion)
class ScheduleVersionAdmin(admin.ModelAdmin):
    list_display = ("user", "version", "updated_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)
    readonly_fields = ("user", "version", "updated_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit views: the pipeline writes these rows; staff read them."""

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(ActiveScheduleJob)
class ActiveScheduleJobAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "task", "status", "trigger_at", "last_scanned_at", "last_error_code")
    list_filter = ("status", "trigger_type")
    search_fields = ("user__username", "task__title", "=id")
    list_select_related = ("user", "task")
    date_hierarchy = "trigger_at"


@admin.register(ActiveScheduleTrigger)
class ActiveScheduleTriggerAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
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


@admin.register(ActiveSchedulePreview)
class ActiveSchedulePreviewAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "status", "apply_status", "summary", "expires_at", "is_dry_run", "created_at")
    list_filter = ("status", "apply_status", "is_dry_run")
    search_fields = ("=id", "user__username", "summary")
    list_select_related = ("user",)


@admin.register(StudyPlan)
class StudyPlanAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "status", "apply_status", "base_version", "expires_at", "created_at")
    list_filter = ("status", "apply_status")
    search_fields = ("=id", "user__username")
    list_select_related = ("user",)
