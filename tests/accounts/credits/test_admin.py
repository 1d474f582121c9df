"""Credits in the admin: grants and take-backs as entries through an intermediate form, gated by
the grant permission; entries read-only; the ledger inline."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.credits.models import CreditAccount, CreditEntry, EntryKind
from accounts.credits.services import credit_entry_append

pytestmark = pytest.mark.django_db

ACCOUNTS = reverse("admin:accounts_creditaccount_changelist")
ENTRIES = reverse("admin:accounts_creditentry_changelist")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("clerk", password="Correct-Horse-9", is_staff=True)


@pytest.fixture
def clerk(client, staff):
    """Staff who may see credits but not grant them."""
    for codename in ("view_creditaccount", "view_creditentry", "view_user"):
        staff.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(staff)
    return client


@pytest.fixture
def granter(clerk, staff):
    staff.user_permissions.add(Permission.objects.get(codename="grant_credits"))
    return clerk


def grant_action(client, accounts, **fields):
    data = {"action": "grant", "_selected_action": [a.pk for a in accounts], **fields}
    return client.post(ACCOUNTS, data)


def test_grant_shows_a_form_then_writes_one_entry_per_account(granter, user, make_user, grant):
    grant(user, 1)
    bob = make_user("bob")
    grant(bob, 1)
    accounts = list(CreditAccount.objects.all())
    form = grant_action(granter, accounts)
    assert form.status_code == 200 and b"Write the entries" in form.content
    token = form.context["form"].initial["token"]
    fields = {"apply": "1", "amount": "-3", "reason": "duplicate reward", "token": token}
    done = grant_action(granter, accounts, **fields)
    assert done.status_code == 302
    grant_action(granter, accounts, **fields)  # the same form sent again
    taken = CreditEntry.objects.filter(reason="duplicate reward")
    assert sorted(taken.values_list("account_id", "amount")) == sorted([(user.pk, -3), (bob.pk, -3)])
    assert {e.created_by.username for e in taken} == {"clerk"} and {e.kind for e in taken} == {"grant"}
    assert set(CreditAccount.objects.values_list("balance", flat=True)) == {-2}


@pytest.mark.parametrize(("amount", "reason"), [("0", "why"), ("5", "   "), ("2000000", "why")])
def test_a_grant_without_an_amount_or_a_reason_writes_nothing(granter, user, grant, amount, reason):
    grant(user, 1)
    response = grant_action(
        granter, CreditAccount.objects.all(), apply="1", amount=amount, reason=reason, token="t" * 32
    )
    assert response.status_code == 200 and response.context["form"].errors
    assert CreditEntry.objects.count() == 1


def test_staff_without_the_grant_permission_cannot_grant(clerk, user, grant):
    grant(user, 1)
    page = clerk.get(ACCOUNTS)
    assert page.status_code == 200 and b'value="grant"' not in page.content
    grant_action(clerk, CreditAccount.objects.all(), apply="1", amount="50", reason="me", token="t" * 32)
    assert CreditEntry.objects.count() == 1
    assert clerk.get(reverse("admin:accounts_creditaccount_add")).status_code == 403


def test_a_first_grant_from_the_add_page_makes_the_account_with_its_entry(granter, user):
    response = granter.post(
        reverse("admin:accounts_creditaccount_add"), {"user": user.pk, "amount": "20", "reason": "welcome"}
    )
    assert response.status_code == 302, response.content
    account = CreditAccount.objects.get(user=user)
    assert (account.balance, account.version) == (20, 1)
    assert CreditEntry.objects.get().reason == "welcome"


def test_the_account_page_shows_its_ledger_read_only_and_no_balance_can_be_edited(granter, user, grant):
    grant(user, 9, reason="for the demo")
    page = granter.get(reverse("admin:accounts_creditaccount_change", args=[user.pk]))
    assert page.status_code == 200
    assert b"for the demo" in page.content and b"every entry of this account" in page.content
    assert b'name="balance"' not in page.content and b'name="entries-0-amount"' not in page.content
    granter.post(reverse("admin:accounts_creditaccount_change", args=[user.pk]), {"balance": "1000"})
    assert CreditAccount.objects.get(user=user).balance == 9
    listing = granter.get(ENTRIES + f"?account__exact={user.pk}")
    assert listing.status_code == 200 and b"for the demo" in listing.content


def test_entries_cannot_be_added_changed_or_deleted_in_the_admin(granter, user, grant):
    entry = grant(user, 9)
    assert granter.get(reverse("admin:accounts_creditentry_add")).status_code == 403
    granter.post(reverse("admin:accounts_creditentry_change", args=[entry.pk]), {"amount": "1"})
    assert (
        granter.post(reverse("admin:accounts_creditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    )
    assert CreditEntry.objects.get(pk=entry.pk).amount == 9


def test_spends_are_refunded_once_by_the_refund_action(granter, user, grant):
    grant(user, 10)
    credit_entry_append(user_id=user.pk, kind=EntryKind.SPEND, amount=-4, ref="llm:r", reason="m: 1 + 2")
    data = {"action": "refund", "_selected_action": list(CreditEntry.objects.values_list("pk", flat=True))}
    granter.post(ENTRIES, data)
    granter.post(ENTRIES, data)
    assert list(CreditEntry.objects.filter(kind="refund").values_list("amount", flat=True)) == [4]
    assert CreditAccount.objects.get(user=user).balance == 10
