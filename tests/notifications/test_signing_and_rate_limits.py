"""Feishu rate limits are retried, not dead; the generic webhook verifies with the Standard
Webhooks reference library as the receiver (and across a key rotation). Real HTTP on loopback."""

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from notifications import services
from notifications.models import NotificationRecord
from tests.notifications.conftest import event_data

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

Status = NotificationRecord.Status
FEISHU_OK = {"code": 0, "msg": "success", "data": {}}
RATE_LIMITED = {"code": 9499, "msg": "too many request", "data": {}}


@pytest.fixture(autouse=True)
def quick_retries(settings):
    settings.NOTIFICATIONS_QUICK_RETRIES = 2
    settings.NOTIFICATIONS_QUICK_RETRY_BASE_SECONDS = 0.05
    settings.NOTIFICATIONS_QUICK_RETRY_CAP_SECONDS = 0.5


def _request(user, now=None):
    services.notifications_request(event_id="evt-1", data=event_data(user), now=now or timezone.now())


def _record(user):
    (record,) = NotificationRecord.objects.filter(user=user)
    return record


def test_feishu_9499_is_retried_with_backoff_and_delivered(user, hook):
    hook.expect_ordered_request("/feishu", method="POST").respond_with_json(RATE_LIMITED)
    hook.expect_ordered_request("/feishu", method="POST").respond_with_json(RATE_LIMITED)
    hook.expect_ordered_request("/feishu", method="POST").respond_with_json(FEISHU_OK)
    services.channel_upsert(user=user, kind="feishu", webhook_url=hook.url_for("/feishu"), secret="s")
    _request(user)
    started = time.monotonic()
    assert services.notifications_deliver() == {"sent": 1}
    assert time.monotonic() - started >= 0.05 * 0.5 + 0.1 * 0.5  # two backoff waits (jitter: at least half)
    hook.check_assertions()
    assert _record(user).status == Status.SENT


def test_feishu_rate_limited_past_the_quick_retries_waits_for_the_next_attempt_instead_of_dying(user, hook):
    hook.expect_request("/feishu", method="POST").respond_with_json(RATE_LIMITED)
    services.channel_upsert(user=user, kind="feishu", webhook_url=hook.url_for("/feishu"))
    _request(user)
    assert services.notifications_deliver() == {"retry": 1}
    record = _record(user)
    assert record.status == Status.FAILED and record.next_retry_at is not None
    assert "9499" in record.last_error
    assert len(hook.log) == 3  # the first try and two quick retries


def test_feishu_http_429_honours_retry_after_and_is_retried(user, hook):
    hook.expect_ordered_request("/feishu", method="POST").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "0.2"}
    )
    hook.expect_ordered_request("/feishu", method="POST").respond_with_json(FEISHU_OK)
    services.channel_upsert(user=user, kind="feishu", webhook_url=hook.url_for("/feishu"))
    _request(user)
    started = time.monotonic()
    assert services.notifications_deliver() == {"sent": 1}
    assert time.monotonic() - started >= 0.2


def test_feishu_5xx_is_retried(user, hook):
    hook.expect_ordered_request("/feishu", method="POST").respond_with_data("oops", status=502)
    hook.expect_ordered_request("/feishu", method="POST").respond_with_json(FEISHU_OK)
    services.channel_upsert(user=user, kind="feishu", webhook_url=hook.url_for("/feishu"))
    _request(user)
    assert services.notifications_deliver() == {"sent": 1}


@pytest.mark.parametrize("code", [19001, 19021, 19024])
def test_feishu_documented_permanent_codes_are_dead_at_once(user, hook, code):
    hook.expect_request("/feishu", method="POST").respond_with_json({"code": code, "msg": "no"})
    services.channel_upsert(user=user, kind="feishu", webhook_url=hook.url_for("/feishu"))
    _request(user)
    assert services.notifications_deliver() == {"dead": 1}
    assert len(hook.log) == 1


def test_an_unknown_feishu_code_is_retried_later_not_dead(user, hook):
    hook.expect_request("/feishu", method="POST").respond_with_json({"code": 12345, "msg": "new"})
    services.channel_upsert(user=user, kind="feishu", webhook_url=hook.url_for("/feishu"))
    _request(user)
    assert services.notifications_deliver() == {"retry": 1}
    assert len(hook.log) == 1  # no quick retry for an unknown code: only the row's schedule


# --- Standard Webhooks ---------------------------------------------------------------------------

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
NEW_WHSEC = "whsec_" + base64.b64encode(b"fedcba9876543210fedcba9876543210").decode()


def _delivered(hook):
    (request, _response), *_ = hook.log
    return request.get_data(), dict(request.headers)


def test_the_generic_webhook_verifies_with_the_standard_webhooks_library(user, hook):
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    services.channel_upsert(user=user, kind="webhook", webhook_url=hook.url_for("/hook"), secret=WHSEC)
    _request(user)
    assert services.notifications_deliver() == {"sent": 1}
    body, headers = _delivered(hook)
    payload = Webhook(WHSEC).verify(body, headers)
    assert payload["notification_id"] == _record(user).pk
    assert headers["Webhook-Id"] == f"msg_notification_{_record(user).pk}"
    assert headers["Webhook-Signature"].startswith("v1,")
    with pytest.raises(WebhookVerificationError):
        Webhook(NEW_WHSEC).verify(body, headers)
    with pytest.raises(WebhookVerificationError):  # a body changed in transit
        Webhook(WHSEC).verify(body.replace(b'"version":1', b'"version":2'), headers)


def test_the_old_signature_header_is_still_sent_for_one_release(user, hook):
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    services.channel_upsert(user=user, kind="webhook", webhook_url=hook.url_for("/hook"), secret=WHSEC)
    _request(user)
    services.notifications_deliver()
    body, headers = _delivered(hook)
    expected = "sha256=" + hmac.new(WHSEC.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Smartmate-Signature"], expected)


def test_a_replayed_delivery_is_refused_by_the_receiver_after_the_tolerance(user, hook):
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    services.channel_upsert(user=user, kind="webhook", webhook_url=hook.url_for("/hook"), secret=WHSEC)
    then = timezone.now() - timedelta(minutes=10)
    _request(user, now=then)
    services.notifications_deliver(now=then)
    body, headers = _delivered(hook)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(WHSEC).verify(body, headers)


def test_during_a_rotation_both_secrets_sign_and_after_it_only_the_new_one(user, hook, settings):
    settings.NOTIFICATIONS_SECRET_ROTATION_HOURS = 24
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    services.channel_upsert(user=user, kind="webhook", webhook_url=hook.url_for("/hook"), secret=WHSEC)
    services.channel_upsert(user=user, kind="webhook", webhook_url=hook.url_for("/hook"), secret=NEW_WHSEC)
    _request(user)
    services.notifications_deliver()
    body, headers = _delivered(hook)
    assert len(headers["Webhook-Signature"].split(" ")) == 2
    Webhook(WHSEC).verify(body, headers)  # a receiver not switched yet
    Webhook(NEW_WHSEC).verify(body, headers)  # a receiver already switched

    hook.clear_log()
    services.channel_test(
        channel=user.notification_channels.get(kind="webhook"), now=timezone.now() + timedelta(hours=25)
    )
    body, headers = _delivered(hook)
    stamp = datetime.fromtimestamp(int(headers["Webhook-Timestamp"]), UTC)
    assert headers["Webhook-Signature"] == Webhook(NEW_WHSEC).sign(headers["Webhook-Id"], stamp, body.decode())


def test_a_secret_that_is_not_whsec_signs_with_its_bytes(user, hook):
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    services.channel_upsert(user=user, kind="webhook", webhook_url=hook.url_for("/hook"), secret="plain-secret")
    _request(user)
    services.notifications_deliver()
    body, headers = _delivered(hook)
    Webhook(b"plain-secret").verify(body, headers)
