"""The ledger: a balance moves only with an appended entry, each entry idempotent by its ref."""

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from accounts.credits.models import CreditAccount, CreditEntry, EntryKind
from accounts.credits.services import credit_entry_append, credit_refund, credits_check
from tests.concurrency import errors_of, run_concurrently

pytestmark = pytest.mark.django_db


def entry_sum(user):
    return sum(CreditEntry.objects.filter(account_id=user.pk).values_list("amount", flat=True))


def test_each_entry_moves_the_balance_and_records_the_balance_after(user, grant):
    first = grant(user, 30)
    second, created = credit_entry_append(user_id=user.pk, kind=EntryKind.SPEND, amount=-12, ref="llm:r1", reason="x")
    assert created and (first.balance_after, second.balance_after) == (30, 18)
    account = CreditAccount.objects.get(user=user)
    assert (account.balance, account.version) == (18, 2) == (entry_sum(user), CreditEntry.objects.count())


def test_a_retried_entry_with_the_same_ref_is_the_first_entry(user):
    first, created = credit_entry_append(user_id=user.pk, kind=EntryKind.REWARD, amount=5, ref="same", reason="a")
    again, created_again = credit_entry_append(user_id=user.pk, kind=EntryKind.REWARD, amount=9, ref="same", reason="b")
    assert created and not created_again and again.pk == first.pk and again.amount == 5
    assert CreditAccount.objects.get(user=user).balance == 5


def test_the_same_ref_on_another_account_is_another_entry(user, make_user):
    bob = make_user("bob")
    credit_entry_append(user_id=user.pk, kind=EntryKind.REWARD, amount=5, ref="r", reason="a")
    credit_entry_append(user_id=bob.pk, kind=EntryKind.REWARD, amount=5, ref="r", reason="a")
    assert CreditEntry.objects.count() == 2


@pytest.mark.parametrize(
    ("kind", "amount"), [(EntryKind.SPEND, 3), (EntryKind.REWARD, -1), (EntryKind.REFUND, -2), (EntryKind.GRANT, 0)]
)
def test_the_database_refuses_an_amount_of_the_wrong_sign_for_its_kind(user, kind, amount):
    account = CreditAccount.objects.create(user=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditEntry.objects.create(account=account, kind=kind, amount=amount, balance_after=amount, reason="x", ref="x")


def test_zero_amounts_and_missing_refs_are_refused_before_the_database(user):
    with pytest.raises(ValueError):
        credit_entry_append(user_id=user.pk, kind=EntryKind.GRANT, amount=0, ref="x", reason="x")
    with pytest.raises(ValueError):
        credit_entry_append(user_id=user.pk, kind=EntryKind.GRANT, amount=1, ref="", reason="x")
    assert not CreditEntry.objects.exists()


def test_entries_cannot_be_updated_even_by_sql(user, grant):
    entry = grant(user, 10)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        CreditEntry.objects.filter(pk=entry.pk).update(amount=1000)
    entry.amount = 1000
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        entry.save()
    assert CreditEntry.objects.get(pk=entry.pk).amount == 10


def test_deleting_the_staff_user_who_granted_keeps_the_entry(user, make_user):
    from accounts.credits.services import credit_grant

    staff = make_user("staff")
    entry, _ = credit_grant(user=user, amount=7, reason="welcome", granted_by=staff, ref="grant:1")
    staff.delete()
    entry.refresh_from_db()
    assert entry.created_by is None and entry.amount == 7


def test_a_spend_is_refunded_once(user, grant):
    grant(user, 10)
    spend, _ = credit_entry_append(user_id=user.pk, kind=EntryKind.SPEND, amount=-4, ref="llm:abc", reason="m: 1 + 2")
    refund, created = credit_refund(spend=spend, refunded_by=None)
    _, created_again = credit_refund(spend=spend, refunded_by=None)
    assert created and not created_again
    assert (refund.kind, refund.amount, refund.ref) == ("refund", 4, "refund:llm:abc")
    assert CreditAccount.objects.get(user=user).balance == 10
    with pytest.raises(ValueError):
        credit_refund(spend=refund, refunded_by=None)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_hundred_concurrent_appends_of_one_ref_make_one_entry(user):
    outcomes = run_concurrently(
        100,
        lambda i: credit_entry_append(user_id=user.pk, kind=EntryKind.REWARD, amount=3, ref="once", reason="r"),
        close_caller_connection=True,
    )
    assert errors_of(outcomes) == []
    assert sum(created for _, created in outcomes) == 1
    assert CreditEntry.objects.count() == 1 and CreditAccount.objects.get(user=user).balance == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_entries_of_distinct_refs_never_lose_an_update(user):
    outcomes = run_concurrently(
        100,
        lambda i: credit_entry_append(
            user_id=user.pk, kind=EntryKind.GRANT, amount=(i % 7) - 3 or 5, ref=f"g{i}", reason="r"
        ),
        close_caller_connection=True,
    )
    assert errors_of(outcomes) == []
    account = CreditAccount.objects.get(user=user)
    assert account.balance == entry_sum(user) == sum((i % 7) - 3 or 5 for i in range(100))
    assert account.version == 100
    after = sorted(CreditEntry.objects.values_list("id", "balance_after"))
    assert after[-1][1] == account.balance
    assert credits_check() == []  # every balance_after follows from the entry before it
