from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import TokenCharge, TokenQuota
from accounts.quota import QuotaExceeded, quota_charge, quota_check, quota_status
from tests.concurrency import errors_of, run_concurrently


@pytest.mark.django_db
def test_a_charge_is_recorded_once_per_request_id(user):
    quota_charge(user=user, request_id="req-1", tokens=120)
    quota_charge(user=user, request_id="req-1", tokens=120)
    quota_charge(user=user, request_id="req-2", tokens=30)
    assert quota_status(user=user).used == 150
    assert TokenCharge.objects.filter(user=user).count() == 2


@pytest.mark.django_db
def test_requests_are_refused_once_used_reaches_the_limit(user, settings):
    settings.LLM_TOKEN_QUOTA = 100
    quota_charge(user=user, request_id="a", tokens=99)
    quota_check(user=user)  # 99 < 100 still passes
    quota_charge(user=user, request_id="b", tokens=1)
    with pytest.raises(QuotaExceeded) as exc:
        quota_check(user=user)
    assert exc.value.status_code == 429
    assert exc.value.error_code == "quota_exceeded"
    assert "resets_at" in exc.value.details


@pytest.mark.django_db
def test_the_window_resets_lazily_at_the_first_charge_after_it_ended(user, settings):
    settings.LLM_TOKEN_QUOTA = 100
    start = timezone.now() - timedelta(days=8)
    quota_charge(user=user, request_id="old", tokens=100, now=start)
    assert quota_status(user=user).used == 0  # the old window is over
    quota_charge(user=user, request_id="new", tokens=5)
    status = quota_status(user=user)
    assert status.used == 5
    assert status.window_started_at > start + timedelta(days=7)
    assert status.resets_at == status.window_started_at + timedelta(days=7)


@pytest.mark.django_db
def test_quota_endpoint_reports_limit_used_remaining_and_reset(auth_api, user):
    quota_charge(user=user, request_id="x", tokens=1234)
    body = auth_api.get("/api/v1/me/quota/").json()
    assert body["limit"] == 100_000
    assert body["used"] == 1234
    assert body["remaining"] == 100_000 - 1234
    assert body["window_started_at"] and body["resets_at"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_hundred_concurrent_charges_of_one_request_id_make_one_ledger_row(user):
    errors = errors_of(
        run_concurrently(
            100, lambda i: quota_charge(user=user, request_id="same", tokens=50), close_caller_connection=True
        )
    )
    assert errors == []
    assert TokenCharge.objects.filter(user=user).count() == 1
    assert TokenQuota.objects.get(user=user).used == 50


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_distinct_charges_add_up_exactly(user):
    errors = errors_of(
        run_concurrently(
            100, lambda i: quota_charge(user=user, request_id=f"r{i}", tokens=7), close_caller_connection=True
        )
    )
    assert errors == []
    assert TokenQuota.objects.get(user=user).used == 700
    assert sum(TokenCharge.objects.filter(user=user).values_list("tokens", flat=True)) == 700
