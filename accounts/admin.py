from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm

from accounts.models import IdempotencyRecord, TokenCharge, TokenFamily, TokenQuota, UsedRefreshToken, User
from accounts.serializers import UserUpdateSerializer
from smartmate.admin import AuditAdmin, short_id, truncated


class UserAdminForm(UserChangeForm):
    """The profile fields the API validates (time zone name, a Monday for semester_start) are
    checked by the API's own serializer."""

    def clean(self):
        cleaned = super().clean()
        fields = {name: cleaned[name] for name in ("timezone", "semester_start") if cleaned.get(name) is not None}
        checker = UserUpdateSerializer(data=fields)
        if not checker.is_valid():
            for name, errors in checker.errors.items():
                for error in errors:
                    self.add_error(name if name in self.fields else None, str(error))
        return cleaned


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserAdminForm
    list_display = ("username", "email", "timezone", "semester_start", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_active", "timezone")
    search_fields = ("username", "email")
    fieldsets = (*BaseUserAdmin.fieldsets, ("Schedule", {"fields": ("timezone", "semester_start")}))
    readonly_fields = ("date_joined", "last_login")


@admin.register(TokenFamily)
class TokenFamilyAdmin(AuditAdmin):
    list_display = ("short_id", "user", "created_at", "revoked_at", "revoked_reason")
    list_filter = ("revoked_reason",)
    search_fields = ("user__username", "id")
    list_select_related = ("user",)
    actions = ["revoke"]
    short_id = short_id()

    @admin.action(description="Revoke (log out every device of these logins)", permissions=["change"])
    def revoke(self, request, queryset):
        from accounts.services import family_revoke

        count = 0
        for family in queryset.filter(revoked_at__isnull=True):
            family_revoke(family_pk=family.pk, reason="admin")
            count += 1
        self.message_user(request, f"{count} login(s) revoked.", messages.SUCCESS)


@admin.register(UsedRefreshToken)
class UsedRefreshTokenAdmin(AuditAdmin):
    list_display = ("short_jti", "short_family", "reason", "created_at", "expires_at")
    list_filter = ("reason",)
    search_fields = ("jti", "family__user__username")
    short_jti = short_id("jti", description="jti")
    short_family = short_id("family_id", description="family")


@admin.register(TokenQuota)
class TokenQuotaAdmin(AuditAdmin):
    list_display = ("user", "used", "window_started_at", "updated_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)


@admin.register(TokenCharge)
class TokenChargeAdmin(AuditAdmin):
    list_display = ("user", "short_request", "tokens", "window_started_at", "created_at")
    search_fields = ("user__username", "request_id")
    list_select_related = ("user",)
    short_request = short_id("request_id", 12, description="request id")


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(AuditAdmin):
    list_display = ("user", "short_key", "state", "response_status", "created_at", "expires_at")
    list_filter = ("state",)
    search_fields = ("user__username", "key")
    list_select_related = ("user",)
    exclude = ("response_body",)
    short_key = truncated("key", 30)


from accounts.credits import admin as credits_admin  # noqa: E402, F401  (registers the credits models)
