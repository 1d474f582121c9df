"""Credits in the admin: accounts with their newest entries inline, a grant action with an
intermediate form (amount and reason, written as a `grant` entry, never by editing a balance),
entries and model calls read-only (AuditAdmin) with a refund action on spends. Granting and
refunding need the `accounts.grant_credits` permission."""

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from accounts.credits.models import CreditAccount, CreditEntry, EntryKind, LlmCall
from accounts.credits.services import REASON_MAX, credit_grant, credit_refund
from smartmate.admin import AuditAdmin

GRANT_PERMISSION = "accounts.grant_credits"
GRANT_MAX = 1_000_000
INLINE_ENTRIES = 50
ENTRY_FIELDS = ("created_at", "kind", "amount", "balance_after", "reason", "ref", "created_by")


class GrantForm(forms.Form):
    amount = forms.IntegerField(
        min_value=-GRANT_MAX, max_value=GRANT_MAX, help_text="Credits to give; negative takes them back."
    )
    reason = forms.CharField(max_length=REASON_MAX, help_text="Shown to the user in their ledger.")
    # One token per form shown: sending the same form twice writes one entry per account.
    token = forms.CharField(widget=forms.HiddenInput, max_length=32)

    def clean_amount(self):
        if self.cleaned_data["amount"] == 0:
            raise forms.ValidationError("A grant of 0 changes nothing.")
        return self.cleaned_data["amount"]

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why.")
        return reason


class NewestEntriesFormSet(BaseInlineFormSet):
    def get_queryset(self):
        return super().get_queryset().order_by("-created_at", "-id")[:INLINE_ENTRIES]


class CreditEntryInline(admin.TabularInline):
    model = CreditEntry
    formset = NewestEntriesFormSet
    fields = ENTRY_FIELDS
    readonly_fields = ENTRY_FIELDS
    extra = 0
    can_delete = False
    verbose_name_plural = f"ledger (newest {INLINE_ENTRIES})"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class NewAccountForm(forms.ModelForm):
    """A first grant to a user with no account yet: the account comes with the entry."""

    amount = GrantForm.base_fields["amount"]
    reason = GrantForm.base_fields["reason"]

    class Meta:
        model = CreditAccount
        fields = ("user",)

    clean_amount = GrantForm.clean_amount
    clean_reason = GrantForm.clean_reason


@admin.register(CreditAccount)
class CreditAccountAdmin(admin.ModelAdmin):
    list_display = ("user", "balance", "version", "updated_at")
    search_fields = ("user__username", "user__email")
    list_select_related = ("user",)
    readonly_fields = ("user", "balance", "version", "updated_at", "all_entries")
    autocomplete_fields = ("user",)
    inlines = [CreditEntryInline]
    actions = ["grant"]
    show_full_result_count = False

    def has_grant_permission(self, request):
        return request.user.has_perm(GRANT_PERMISSION)

    def has_add_permission(self, request):
        return self.has_grant_permission(request)

    def has_change_permission(self, request, obj=None):
        return False  # a balance moves only by an entry: see the grant action

    def has_delete_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = NewAccountForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ("user", "amount", "reason") if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        entry, _ = credit_grant(
            user=data["user"],
            amount=data["amount"],
            reason=data["reason"],
            granted_by=request.user,
            ref=f"grant:{uuid.uuid4().hex}",
        )
        obj.pk = entry.account_id  # the account the grant made; nothing else is saved

    def save_related(self, request, form, formsets, change):
        pass

    @admin.display(description="ledger")
    def all_entries(self, obj):
        url = reverse("admin:accounts_creditentry_changelist") + f"?account__exact={obj.pk}"
        return format_html('<a href="{}">every entry of this account</a>', url)

    @admin.action(description="Grant or take back credits (with a reason)", permissions=["grant"])
    def grant(self, request, queryset):
        accounts = list(queryset.select_related("user"))
        if "apply" in request.POST:
            form = GrantForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                written = sum(
                    credit_grant(
                        user=account.user,
                        amount=data["amount"],
                        reason=data["reason"],
                        granted_by=request.user,
                        ref=f"grant:{data['token']}",
                    )[1]
                    for account in accounts
                )
                self.message_user(request, f"{written} grant entr{'y' if written == 1 else 'ies'} written.")
                return None
        else:
            form = GrantForm(initial={"token": uuid.uuid4().hex})
        context = {
            **self.admin_site.each_context(request),
            "title": "Grant or take back credits",
            "opts": self.model._meta,
            "form": form,
            "accounts": accounts,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/accounts/creditaccount/grant.html", context)


@admin.register(CreditEntry)
class CreditEntryAdmin(AuditAdmin):
    list_display = ("account", "kind", "amount", "balance_after", "reason", "ref", "created_at")
    list_filter = ("kind",)
    search_fields = ("account__user__username", "ref")
    list_select_related = ("account__user",)
    actions = ["refund"]

    def has_grant_permission(self, request):
        return request.user.has_perm(GRANT_PERMISSION)

    @admin.action(description="Refund the selected spends", permissions=["grant"])
    def refund(self, request, queryset):
        spends = [entry for entry in queryset if entry.kind == EntryKind.SPEND]
        written = sum(credit_refund(spend=spend, refunded_by=request.user)[1] for spend in spends)
        self.message_user(request, f"{written} refund(s) written.")
        if len(spends) < len(queryset):
            self.message_user(request, "Only spends can be refunded; the other entries were left.", messages.WARNING)


@admin.register(LlmCall)
class LlmCallAdmin(AuditAdmin):
    list_display = (
        "user",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "allowance_tokens",
        "credits",
        "estimated",
        "created_at",
        "settled_at",
    )
    list_filter = ("model", "estimated")
    search_fields = ("user__username", "request_id")
    list_select_related = ("user",)
