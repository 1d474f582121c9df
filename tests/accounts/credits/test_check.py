"""`manage.py credits_check` and its daily beat task: every balance recomputed from its ledger."""

import io
import logging

import pytest
from django.core.management import call_command

from accounts.credits.models import CreditAccount
from accounts.credits.services import credits_check

pytestmark = pytest.mark.django_db


def run_check():
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("credits_check", stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_a_clean_ledger_passes(user, make_user, grant):
    grant(user, 10)
    grant(make_user("bob"), -3)
    code, out, _ = run_check()
    assert code == 0 and "every balance equals its ledger" in out


def test_a_balance_edited_by_hand_is_found_and_the_command_exits_1(user, make_user, grant):
    grant(user, 10)
    grant(user, 5)
    grant(make_user("bob"), 4)
    CreditAccount.objects.filter(user=user).update(balance=100)  # what no service ever does
    code, out, err = run_check()
    assert code == 1
    assert out.strip().splitlines() == [
        f"user alice (id {user.pk}): balance 100, ledger sum 15 (+85), version 2, entries 2"
    ]
    assert "1 account(s) differ" in err


def test_an_account_whose_version_lost_count_of_its_entries_is_found(user, grant):
    grant(user, 10)
    CreditAccount.objects.filter(user=user).update(version=7)
    (mismatch,) = credits_check()
    assert (mismatch.version, mismatch.entries) == (7, 1)


def test_an_entry_inserted_out_of_the_chain_is_found(user, grant):
    from accounts.credits.models import CreditEntry

    first = grant(user, 10)
    # A row written past the service: its balance_after does not follow from the entry before.
    CreditEntry.objects.create(account_id=user.pk, kind="grant", amount=2, balance_after=50, reason="sql", ref="x")
    CreditAccount.objects.filter(user=user).update(balance=12, version=2)
    (mismatch,) = credits_check()
    assert mismatch.balance == mismatch.ledger_sum == 12
    assert mismatch.broken_entry_ids == (CreditEntry.objects.exclude(pk=first.pk).get().pk,)


def test_the_daily_task_logs_each_difference(user, grant, caplog):
    from accounts.credits.tasks import credits_check as task

    grant(user, 1)
    with caplog.at_level(logging.INFO, logger="smartmate.credits"):
        assert task() == 0
    assert "every balance equals its ledger" in caplog.text
    CreditAccount.objects.filter(user=user).update(balance=-1)
    with caplog.at_level(logging.INFO, logger="smartmate.credits"):
        assert task() == 1
    assert any(r.levelno == logging.ERROR and "balance -1, ledger sum 1" in r.getMessage() for r in caplog.records)


def test_beat_runs_the_check_daily_and_the_task_is_registered(settings):
    from smartmate.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["accounts-credits-check"]
    assert entry["schedule"] == 24 * 3600
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
