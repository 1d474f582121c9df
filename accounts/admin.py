from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import IdempotencyRecord, TokenCharge, TokenFamily, TokenQuota, UsedRefreshToken, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "timezone", "semester_start", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_active", "timezone")
    search_fields = ("username", "email")
    fieldsets = (*BaseUserAdmin.fieldsets, ("Schedule", {"fields": ("timezone", "semester_start")}))
    readonly_fields = ("date_joined", "last_login")


@admin.register(TokenFamily)
class TokenFamilyAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "created_at", "revoked_at", "revoked_reason")
    list_filter = ("revoked_reason",)
    search_fields = ("user__username", "id")
    list_select_related = ("user",)
    readonly_fields = ("id", "user", "created_at")
    actions = ["revoke"]

    @admin.action(description="Revoke (log out every device of these logins)")
    def revoke(self, request, queryset):
        from accounts.services import family_revoke

        for family in queryset:
            family_revoke(family_pk=family.pk, reason="admin")


@admin.register(UsedRefreshToken)
class UsedRefreshTokenAdmin(admin.ModelAdmin):
    list_display = ("jti", "family", "reason", "created_at", "expires_at")
    list_filter = ("reason",)
    search_fields = ("jti", "family__user__username")
    readonly_fields = ("jti", "family", "reason", "created_at", "expires_at")
    show_full_result_count = False


@admin.register(TokenQuota)
class TokenQuotaAdmin(admin.ModelAdmin):
    list_display = ("user", "used", "window_started_at", "updated_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)
    readonly_fields = ("user", "updated_at")


@admin.register(TokenCharge)
class TokenChargeAdmin(admin.ModelAdmin):
    list_display = ("user", "request_id", "tokens", "window_started_at", "created_at")
    search_fields = ("user__username", "request_id")
    list_select_related = ("user",)
    readonly_fields = ("user", "request_id", "tokens", "window_started_at", "created_at")
    show_full_result_count = False


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ("user", "key", "state", "response_status", "created_at", "expires_at")
    list_filter = ("state",)
    search_fields = ("user__username", "key")
    list_select_related = ("user",)
    exclude = ("response_body",)
    readonly_fields = (
        "user",
        "key",
        "request_hash",
        "state",
        "response_status",
        "response_content_type",
        "created_at",
        "locked_until",
        "expires_at",
    )
    show_full_result_count = False


from accounts.credits import admin as credits_admin  # noqa: E402, F401  (registers the credits models)
