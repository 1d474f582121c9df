"""The admin as staff meet it: one site ("SmartMate", an overview of what needs attention) and
the base classes every app's admin.py uses (docs/ARCHITECTURE.md, "Admin").

- `ServiceAdmin`: add, change and delete go through the app's service functions, the same
  rules as the API; a service's refusal comes back on the form, never as a 500.
- `OwnerCheckedForm` (the form of every admin here): a raw-id field may only name a row of
  the same user as the object itself.
- `AuditAdmin`: rows the system writes (tokens, idempotency records, deliveries, the outbox):
  view only, no add, no delete; actions declare the permission they need.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ForeignKey, OneToOneField
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from smartmate.errors import ApiError

# An overview count stops here: "1000+" costs at most this many index entries.
ATTENTION_CAP = 1000


# --- list columns that fit 1366 px -------------------------------------------------------------


def short_id(field: str = "id", length: int = 8, description: str = "id"):
    """A column showing the first `length` characters of an id (a UUID spans four lines otherwise)."""

    @admin.display(description=description, ordering=field)
    def column(*args):  # (admin, obj) as a ModelAdmin attribute, (obj) as a plain function
        obj = args[-1]
        value = str(getattr(obj, field) or "")
        if len(value) <= length:
            return value
        return format_html('<span title="{}">{}…</span>', value, value[:length])

    return column


def truncated(field: str, length: int = 40, description: str | None = None):
    """A column showing at most `length` characters of a text, the whole of it on hover."""

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def column(*args):
        obj = args[-1]
        value = str(getattr(obj, field) or "")
        if len(value) <= length:
            return value
        return format_html('<span title="{}">{}</span>', value, Truncator(value).chars(length))

    return column


def one_choice_filter(*, title: str, parameter: str, value: str, label: str, condition):
    """A list filter with one choice, `?{parameter}={value}`, applying `condition()` (a Q made at
    request time, e.g. "due by now"); the overview links to it."""

    class OneChoiceFilter(admin.SimpleListFilter):
        parameter_name = parameter

        def lookups(self, request, model_admin):
            return [(value, label)]

        def queryset(self, request, queryset):
            return queryset.filter(condition()) if self.value() == value else queryset

    OneChoiceFilter.title = title
    return OneChoiceFilter


# --- owner checks ----------------------------------------------------------------------------------


def _owned(model) -> bool:
    try:
        field = model._meta.get_field("user")
    except FieldDoesNotExist:
        return False
    return isinstance(field, ForeignKey | OneToOneField)


def _owner_id(form) -> int | None:
    """The user the object belongs to: its own `user`, else that of the row it hangs under."""
    user = form.cleaned_data.get("user") if "user" in form.fields else None
    if user is not None:
        return user.pk
    instance = form.instance
    if getattr(instance, "user_id", None):
        return instance.user_id
    parent = getattr(form, "owner_parent", None)
    return getattr(parent, "user_id", None)


class OwnerCheckedForm(forms.ModelForm):
    """Refuses links across users: every chosen row that has an owner must have the object's.

    A service refusal from the previous attempt to save (`ServiceAdmin`) is attached here,
    to the field it names, so the form comes back with the service's own message."""

    service_refusal: Exception | None = None

    def clean(self):
        cleaned = super().clean()
        owner = _owner_id(self)
        for name, field in self.fields.items():
            if name == "user" or not isinstance(field, forms.ModelChoiceField):
                continue
            chosen = cleaned.get(name)
            if chosen is not None and owner is not None and _owned(type(chosen)) and chosen.user_id != owner:
                self.add_error(name, "This belongs to another user.")
        if self.service_refusal is not None:
            self._attach(self.service_refusal)
        return cleaned

    def _attach(self, refusal: Exception) -> None:
        for name, messages in refusal_fields(refusal).items():
            target = name if name in self.fields else name.removesuffix("_id")
            for message in messages:
                self.add_error(target if target in self.fields else None, message)


def refusal_fields(refusal: Exception) -> dict[str, list[str]]:
    """A service's ApiError or ValidationError as {field or "__all__": [message, ...]}."""
    if isinstance(refusal, ApiError):
        return {name: list(messages) for name, messages in (refusal.fields or {}).items()} or {
            "__all__": [refusal.message]
        }
    if isinstance(refusal, DjangoValidationError):
        if hasattr(refusal, "error_dict"):
            return {name: list(messages) for name, messages in refusal.message_dict.items()}
        return {"__all__": list(refusal.messages)}
    return {"__all__": [str(refusal)]}


REFUSALS = (ApiError, DjangoValidationError)


class OwnerCheckedInline(admin.TabularInline):
    form = OwnerCheckedForm

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        parent = obj

        class Formset(formset):
            def _construct_form(self, i, **form_kwargs):
                form = super()._construct_form(i, **form_kwargs)
                form.owner_parent = parent or self.instance
                return form

        return Formset


# --- writes through services ---------------------------------------------------------------------


class ServiceAdmin(admin.ModelAdmin):
    """Saves and deletes through the app's services. Subclasses implement `service_save`
    (return the saved object) and `service_delete`; `owner_field_readonly_on_change` keeps
    an object's owner fixed (moving rows between users is no service's job)."""

    form = OwnerCheckedForm
    owner_readonly_on_change = True

    def service_save(self, request, obj, form, change):
        raise NotImplementedError

    def service_delete(self, request, obj) -> None:
        raise NotImplementedError

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        shown = (*fields, *(self.exclude or ()))
        if obj is not None and self.owner_readonly_on_change and _owned(self.model) and "user" not in shown:
            fields.append("user")
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        refusal = getattr(request, "_service_refusal", None)
        return type(form.__name__, (form,), {"service_refusal": refusal}) if refusal else form

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except REFUSALS as refusal:
            # The attempt's transaction has rolled back; show the form again with the refusal on it.
            request._service_refusal = refusal
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        saved = self.service_save(request, obj, form, change)
        if saved is not None and saved is not obj:
            obj.pk = saved.pk
            obj.refresh_from_db()

    def delete_model(self, request, obj):
        self.service_delete(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.service_delete(request, obj)


def changed(form, *names, rename: dict | None = None) -> dict:
    """The changed form fields among `names`, as service keyword arguments
    (`rename` maps a form field to its keyword, e.g. task_class → task_class_id)."""
    rename = rename or {}
    out = {}
    for name in names:
        if name in form.changed_data and name in form.cleaned_data:
            value = form.cleaned_data[name]
            keyword = rename.get(name, name)
            out[keyword] = value.pk if keyword.endswith("_id") and hasattr(value, "pk") else value
    return out


# --- read-only rows ------------------------------------------------------------------------------


class AuditAdmin(admin.ModelAdmin):
    """Rows the system writes: staff read them, nobody adds or deletes them here. The change
    permission still counts for the list's actions (obj=None), which declare it."""

    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)

    def get_model_perms(self, request):
        return {**super().get_model_perms(request), "change": False}  # the index says "View"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields if field.name not in (self.exclude or ())]


# --- the site ----------------------------------------------------------------------------------------


def _capped(queryset) -> int:
    return queryset.order_by()[: ATTENTION_CAP + 1].count()


def attention_rows(request) -> list[dict]:
    """What needs staff's attention, each a capped count served by a partial or leading index
    (the outbox table is large: never a COUNT(*) over it unfiltered), linked to its list."""
    from notifications.models import NotificationRecord
    from outbox.models import OutboxEvent
    from scheduling.admin import jobs_due
    from scheduling.models import ActiveScheduleJob, ActiveSchedulePreview
    from scheduling.plansquare.models import PostReport

    rows = [
        ("Outbox rows dead", OutboxEvent, OutboxEvent.objects.filter(status="dead"), "status__exact=dead"),
        ("Outbox rows pending", OutboxEvent, OutboxEvent.objects.filter(status="pending"), "status__exact=pending"),
        (
            "Notifications failed",
            NotificationRecord,
            NotificationRecord.objects.filter(status="failed"),
            "status__exact=failed",
        ),
        (
            "Notifications dead",
            NotificationRecord,
            NotificationRecord.objects.filter(status="dead"),
            "status__exact=dead",
        ),
        (
            "Previews ready",
            ActiveSchedulePreview,
            ActiveSchedulePreview.objects.live(),  # the one expiry rule (docs/DOMAIN.md §2)
            "actionable=ready",
        ),
        (
            "Active-schedule jobs due",
            ActiveScheduleJob,
            ActiveScheduleJob.objects.filter(jobs_due()),
            "due=now",
        ),
        (
            "Plan-square reports open",
            PostReport,
            PostReport.objects.filter(resolved_at__isnull=True),
            "state=open",
        ),
    ]
    out = []
    for label, model, queryset, query in rows:
        if not request.user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}"):
            continue
        try:
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") + "?" + query
        except NoReverseMatch:
            continue
        count = _capped(queryset)
        out.append(
            {
                "label": label,
                "count": f"{ATTENTION_CAP}+" if count > ATTENTION_CAP else str(count),
                "url": url,
                "attention": count > 0,
            }
        )
    return out


class SmartMateAdminSite(admin.AdminSite):
    site_header = "SmartMate"
    site_title = "SmartMate"
    index_title = "Operations"
    site_url = "/api/docs/"  # "View site": the API has no home page of its own
    index_template = "admin/smartmate_index.html"
    enable_nav_sidebar = False  # its 300 px are the lists' width at 1366 px

    def index(self, request, extra_context=None):
        return super().index(request, {**(extra_context or {}), "attention": attention_rows(request)})
