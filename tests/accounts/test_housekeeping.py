from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import IdempotencyRecord, UsedRefreshToken
from accounts.services import session_start, token_refresh
from accounts.tasks import flush_expired_tokens

pytestmark = pytest.mark.django_db


def test_expired_used_tokens_are_flushed_and_live_ones_kept(user):
    token_refresh(refresh=session_start(user=user)["refresh"])
    token_refresh(refresh=session_start(user=user)["refresh"])
    UsedRefreshToken.objects.filter(pk=UsedRefreshToken.objects.first().pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert flush_expired_tokens() == 1
    assert UsedRefreshToken.objects.count() == 1


def test_the_command_purges_old_idempotency_records(user, capsys):
    now = timezone.now()
    IdempotencyRecord.objects.create(
        user=user, key="old", request_hash="h", locked_until=now, expires_at=now - timedelta(hours=1)
    )
    IdempotencyRecord.objects.create(
        user=user, key="new", request_hash="h", locked_until=now, expires_at=now + timedelta(hours=1)
    )
    call_command("flush_expired_tokens")
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    assert "1 idempotency records" in capsys.readouterr().out
