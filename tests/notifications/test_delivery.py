"""Delivery against a real HTTP server on loopback: signatures, retries, dead-lettering,
lease recovery, dedupe and the send-time SSRF check. Time is driven with `now=`."""

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from werkzeug import Response

from notifications import services
from notifications.models import NotificationRecord
from tests.notifications.conftest import envelope, event_data

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

Status = NotificationRecord.Status
FEISHU_OK = {"code": 0, "msg": "success", "data": {}}


def add_channel(user, kind, url, secret=""):
    return services.channel_upsert(user=user, kind=kind, webhook_url=url, secret=secret)


def requested(user, t0, **overrides):
    data = event_data(user, **overrides)
    services.notifications_request(event_id="evt-1", data=data, now=t0)
    return data


def only_record(user, channel=None):
    records = NotificationRecord.objects.filter(user=user)
    if channel:
        records = records.filter(channel=channel)
    (record,) = records
    return record


def test_webhook_body_and_signature_verify_with_the_secret(user, hook, t0):
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    add_channel(user, "webhook", hook.url_for("/hook"), secret="whsec-0123456789")
    data = requested(user, t0)

    assert services.notifications_deliver(now=t0) == {"sent": 1}

    (request, _response), *_ = hook.log
    raw = request.get_data()
    expected = "sha256=" + hmac.new(b"whsec-0123456789", raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-SmartMate-Signature"], expected)
    body = json.loads(raw)
    record = only_record(user)
    assert set(body) == {
        "event",
        "version",
        "notification_id",
        "user_id",
        "preview_id",
        "trigger_id",
        "trigger_type",
        "target_type",
        "target_id",
        "message",
        "sent_at",
    }
    assert body["version"] == 1
    assert body["event"] == "preview_ready"
    assert body["notification_id"] == record.pk
    assert body["user_id"] == user.pk
    assert body["preview_id"] == data["preview_id"]
    assert body["trigger_id"] == data["trigger_id"]
    assert (body["trigger_type"], body["target_type"], body["target_id"]) == ("important_urgent_task", "task_pool", 42)
    assert set(body["message"]) == {"title", "summary", "action_text", "action_url"}
    assert body["message"]["action_url"] == (
        f"https://smartmate.example.com/api/v1/active-schedule/previews/{data['preview_id']}/"
    )
    assert request.headers["X-SmartMate-Delivery"] == str(record.pk)
    assert record.status == Status.SENT and record.attempts == 1 and record.sent_at == t0


def test_webhook_without_secret_sends_no_signature(user, hook, t0):
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    add_channel(user, "webhook", hook.url_for("/hook"))
    requested(user, t0)
    services.notifications_deliver(now=t0)
    (request, _), *_ = hook.log
    assert "X-SmartMate-Signature" not in request.headers


def test_feishu_card_is_signed_the_way_feishu_verifies_it(user, hook, t0):
    hook.expect_request("/open-apis/bot/v2/hook/tok", method="POST").respond_with_json(FEISHU_OK)
    secret = "feishu-signing-secret"
    add_channel(user, "feishu", hook.url_for("/open-apis/bot/v2/hook/tok"), secret=secret)
    requested(user, t0)

    assert services.notifications_deliver(now=t0) == {"sent": 1}

    (request, _), *_ = hook.log
    body = json.loads(request.get_data())
    # Feishu's check: HMAC-SHA256 keyed with "timestamp\nsecret" over an empty message, base64.
    string_to_sign = f"{body['timestamp']}\n{secret}".encode()
    expected = base64.b64encode(hmac.new(string_to_sign, b"", hashlib.sha256).digest()).decode()
    assert body["sign"] == expected
    assert int(body["timestamp"]) == int(t0.timestamp())
    assert body["msg_type"] == "interactive"
    card = body["card"]
    assert card["header"]["title"]["content"].startswith("Schedule suggestion: Linear algebra problem set")
    texts = json.dumps(card["elements"], ensure_ascii=False)
    assert "Tue 24 Nov 14:00\u201315:40" in texts  # 06:00 UTC in Asia/Shanghai
    button = card["elements"][-1]["actions"][0]
    assert button["tag"] == "button" and button["url"].endswith("/previews/" + only_record(user).preview_id + "/")


def test_two_failures_then_success_is_sent_on_the_third_attempt_with_backoff_gaps(user, hook, t0):
    hook.expect_ordered_request("/hook", method="POST").respond_with_data("busy", status=503)
    hook.expect_ordered_request("/hook", method="POST").respond_with_data("busy", status=500)
    hook.expect_ordered_request("/hook", method="POST").respond_with_data("ok", status=200)
    add_channel(user, "webhook", hook.url_for("/hook"), secret="s3cret")
    requested(user, t0)

    assert services.notifications_deliver(now=t0) == {"retry": 1}
    record = only_record(user)
    assert (record.status, record.attempts, record.next_retry_at) == (Status.FAILED, 1, t0 + timedelta(minutes=5))
    assert record.last_error.startswith("HTTP 503")

    # Not due a second early.
    assert services.notifications_deliver(now=t0 + timedelta(minutes=5) - timedelta(seconds=1)) == {}
    t1 = t0 + timedelta(minutes=5)
    assert services.notifications_deliver(now=t1) == {"retry": 1}
    record.refresh_from_db()
    assert (record.status, record.attempts, record.next_retry_at) == (Status.FAILED, 2, t1 + timedelta(minutes=10))

    t2 = t1 + timedelta(minutes=10)
    assert services.notifications_deliver(now=t2) == {"sent": 1}
    record.refresh_from_db()
    assert (record.status, record.attempts, record.sent_at, record.next_retry_at) == (Status.SENT, 3, t2, None)
    assert record.last_error == ""
    hook.check_assertions()
    assert len(hook.log) == 3


def test_gives_up_after_five_attempts(user, hook, t0):
    hook.expect_request("/hook", method="POST").respond_with_data("down", status=502)
    add_channel(user, "webhook", hook.url_for("/hook"))
    requested(user, t0)
    now = t0
    gaps = []
    for _ in range(5):
        services.notifications_deliver(now=now)
        record = only_record(user)
        if record.next_retry_at:
            gaps.append(record.next_retry_at - now)
            now = record.next_retry_at
    assert gaps == [timedelta(minutes=m) for m in (5, 10, 20, 30)]
    assert (record.status, record.attempts) == (Status.DEAD, 5)
    assert "Gave up after 5 attempts" in record.last_error
    assert len(hook.log) == 5
    assert services.notifications_deliver(now=now + timedelta(days=1)) == {}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_permanent_client_error_is_dead_after_one_attempt(user, hook, t0, status):
    hook.expect_request("/hook", method="POST").respond_with_data("no such hook", status=status)
    add_channel(user, "webhook", hook.url_for("/hook"))
    requested(user, t0)

    assert services.notifications_deliver(now=t0) == {"dead": 1}
    record = only_record(user)
    assert (record.status, record.attempts, record.next_retry_at) == (Status.DEAD, 1, None)
    assert record.last_error.startswith(f"HTTP {status}")
    assert services.notifications_deliver(now=t0 + timedelta(hours=2)) == {}
    assert len(hook.log) == 1


def test_429_is_retried(user, hook, t0):
    hook.expect_request("/hook", method="POST").respond_with_data("slow down", status=429)
    add_channel(user, "webhook", hook.url_for("/hook"))
    requested(user, t0)
    assert services.notifications_deliver(now=t0) == {"retry": 1}
    assert only_record(user).status == Status.FAILED


def test_redirect_is_not_followed_and_is_permanent(user, hook, t0):
    hook.expect_request("/hook", method="POST").respond_with_response(
        Response(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    )
    add_channel(user, "webhook", hook.url_for("/hook"))
    requested(user, t0)
    assert services.notifications_deliver(now=t0) == {"dead": 1}
    assert len(hook.log) == 1
    assert "redirect" in only_record(user).last_error


def test_timeout_is_retried(user, hook, t0, settings):
    settings.NOTIFICATIONS_HTTP_TIMEOUT = 0.3

    def slow(request):
        time.sleep(1.0)
        return Response("late")

    hook.expect_request("/hook", method="POST").respond_with_handler(slow)
    add_channel(user, "webhook", hook.url_for("/hook"))
    requested(user, t0)
    assert services.notifications_deliver(now=t0) == {"retry": 1}
    record = only_record(user)
    assert record.status == Status.FAILED and "Timed out" in record.last_error


def test_connection_refused_is_retried(user, t0):
    from tests.conftest import free_port

    add_channel(user, "webhook", f"http://127.0.0.1:{free_port()}/hook")
    requested(user, t0)
    assert services.notifications_deliver(now=t0) == {"retry": 1}
    assert "Connection failed" in only_record(user).last_error


def test_feishu_200_with_nonzero_code_is_dead_with_its_msg(user, hook, t0):
    hook.expect_request("/feishu", method="POST").respond_with_json({"code": 19021, "msg": "sign match fail"})
    add_channel(user, "feishu", hook.url_for("/feishu"), secret="wrong")
    requested(user, t0)
    assert services.notifications_deliver(now=t0) == {"dead": 1}
    record = only_record(user)
    assert record.status == Status.DEAD and record.attempts == 1
    assert "sign match fail" in record.last_error


def test_worker_killed_while_sending_is_recovered_after_the_lease_and_sent_once(user, hook, t0):
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    add_channel(user, "webhook", hook.url_for("/hook"))
    requested(user, t0)
    # A worker claims the row, then dies before its POST (nothing settles it).
    (claim,) = services.notifications_claim(now=t0, limit=10)
    record = only_record(user)
    assert (record.status, record.locked_until) == (Status.SENDING, t0 + timedelta(minutes=10))

    # While the lease holds, nobody else takes or recovers it.
    during = t0 + timedelta(minutes=9)
    assert services.notifications_sweep(now=during) == {}
    assert only_record(user).status == Status.SENDING

    after = t0 + timedelta(minutes=10, seconds=1)
    assert services.notifications_sweep(now=after) == {"sent": 1, "recovered": 1}
    record.refresh_from_db()
    assert (record.status, record.attempts) == (Status.SENT, 2)
    assert len(hook.log) == 1
    # The dead worker's late settle loses: its claim token is gone.
    assert services._settle(claim, None, now=after) is None
    record.refresh_from_db()
    assert record.status == Status.SENT
    assert services.notifications_sweep(now=after + timedelta(hours=1)) == {}
    assert len(hook.log) == 1


def test_a_lease_lost_on_the_final_attempt_goes_dead(user, t0):
    add_channel(user, "webhook", "http://127.0.0.1:9/hook")
    requested(user, t0)
    NotificationRecord.objects.filter(user=user).update(
        status=Status.SENDING, attempts=5, locked_until=t0 - timedelta(seconds=1)
    )
    assert services.notifications_recover_stuck(now=t0) == 1
    assert only_record(user).status == Status.DEAD


def test_same_dedupe_key_twice_delivers_once(user, hook, t0):
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    add_channel(user, "webhook", hook.url_for("/hook"))
    data = event_data(user)
    services.notifications_request(event_id="evt-1", data=data, now=t0)
    services.notifications_request(event_id="evt-2", data=data, now=t0)
    services.notifications_deliver(now=t0)
    services.notifications_request(event_id="evt-3", data=data, now=t0 + timedelta(minutes=1))
    services.notifications_deliver(now=t0 + timedelta(hours=1))
    assert NotificationRecord.objects.filter(user=user).count() == 1
    assert len(hook.log) == 1


def test_private_address_is_refused_at_send_time_after_dns_changes(user, hook, t0, public_dns):
    public_dns["hooks.example.net"] = ["93.184.216.34"]
    add_channel(user, "webhook", "https://hooks.example.net/h/abc")  # accepted: a public address
    requested(user, t0)
    public_dns["hooks.example.net"] = ["10.0.0.7"]  # DNS now points inside

    assert services.notifications_deliver(now=t0) == {"dead": 1}
    record = only_record(user)
    assert record.status == Status.DEAD and "private" in record.last_error
    assert "/h/abc" not in record.last_error


def test_a_host_that_does_not_resolve_at_send_time_is_retried(user, t0, public_dns, monkeypatch):
    from notifications import ssrf

    public_dns["hooks.example.net"] = ["93.184.216.34"]
    add_channel(user, "webhook", "https://hooks.example.net/h/abc")
    requested(user, t0)

    def nxdomain(host, port):
        raise OSError("Name or service not known")

    monkeypatch.setattr(ssrf, "lookup", nxdomain)
    assert services.notifications_deliver(now=t0) == {"retry": 1}
    assert "could not be resolved" in only_record(user).last_error


def test_http_to_a_host_not_allowed_is_refused_at_send_time(user, hook, t0, settings):
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    add_channel(user, "webhook", hook.url_for("/hook"))
    requested(user, t0)
    settings.NOTIFICATIONS_ALLOWED_HOSTS = []
    assert services.notifications_deliver(now=t0) == {"dead": 1}
    assert len(hook.log) == 0


def test_channel_disabled_before_delivery_skips_the_record(user, hook, t0):
    add_channel(user, "webhook", hook.url_for("/hook"))
    requested(user, t0)
    services.channel_upsert(user=user, kind="webhook", webhook_url=hook.url_for("/hook"), enabled=False)
    assert services.notifications_deliver(now=t0) == {"skipped": 1}
    assert only_record(user).status == Status.SKIPPED
    assert len(hook.log) == 0


def test_each_enabled_channel_gets_its_own_record_and_delivery(user, hook, t0):
    hook.expect_request("/feishu", method="POST").respond_with_json(FEISHU_OK)
    hook.expect_request("/hook", method="POST").respond_with_data("", status=500)
    add_channel(user, "feishu", hook.url_for("/feishu"))
    add_channel(user, "webhook", hook.url_for("/hook"))
    requested(user, t0)
    assert services.notifications_deliver(now=t0) == {"sent": 1, "retry": 1}
    assert only_record(user, "feishu").status == Status.SENT
    assert only_record(user, "webhook").status == Status.FAILED


def test_deliver_notifications_command_once_sends_due_rows(user, hook, t0, capsys):
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    add_channel(user, "webhook", hook.url_for("/hook"))
    requested(user, t0)
    call_command("deliver_notifications", "--once")
    assert only_record(user).status == Status.SENT
    assert "sent 1" in capsys.readouterr().out


def test_retry_now_makes_dead_rows_due_with_fresh_attempts(user, hook, t0):
    hook.expect_ordered_request("/hook", method="POST").respond_with_data("gone", status=404)
    hook.expect_ordered_request("/hook", method="POST").respond_with_data("ok")
    add_channel(user, "webhook", hook.url_for("/hook"))
    requested(user, t0)
    services.notifications_deliver(now=t0)
    record = only_record(user)
    assert record.status == Status.DEAD

    t1 = t0 + timedelta(minutes=1)
    assert services.notifications_retry_now(record_ids=[record.pk], now=t1) == 1
    assert services.notifications_deliver(now=t1) == {"sent": 1}
    record.refresh_from_db()
    assert (record.status, record.attempts) == (Status.SENT, 1)


def test_handler_enqueues_delivery_after_commit(user, hook, django_capture_on_commit_callbacks, monkeypatch):
    from notifications import tasks
    from notifications.handlers import on_notification_requested

    sent_ids = []
    monkeypatch.setattr(tasks.deliver_notification, "delay", lambda record_id: sent_ids.append(record_id))
    add_channel(user, "webhook", hook.url_for("/hook"))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        on_notification_requested(envelope(event_data(user)))
    assert len(callbacks) == 1
    assert sent_ids == [only_record(user).pk]


def test_deliver_task_sends_that_record(user, hook):
    from notifications.handlers import on_notification_requested
    from notifications.tasks import deliver_notification

    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    add_channel(user, "webhook", hook.url_for("/hook"))
    on_notification_requested(envelope(event_data(user)))
    assert deliver_notification(only_record(user).pk) == {"sent": 1}
    assert deliver_notification(only_record(user).pk) == {}
    assert len(hook.log) == 1


def test_deliver_notifications_loop_sends_and_stops_cleanly_on_sigterm(user, hook, monkeypatch, capsys):
    import os
    import signal
    import threading

    import smartmate.health

    monkeypatch.setattr(smartmate.health, "exit_unless_parts_reachable", lambda component: None)
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    add_channel(user, "webhook", hook.url_for("/hook"))
    services.notifications_request(event_id="e", data=event_data(user))
    before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        call_command("deliver_notifications", "--loop", "--interval", "0.05")
    finally:
        timer.cancel()
    out = capsys.readouterr().out
    assert "sent 1" in out and out.rstrip().endswith("stopped")
    assert only_record(user).status == Status.SENT
    assert signal.getsignal(signal.SIGTERM) == before  # the command put the old handler back


def test_delivery_refuses_to_run_inside_a_transaction(user, hook, t0):
    from django.db import transaction

    add_channel(user, "webhook", hook.url_for("/hook"))
    requested(user, t0)
    with pytest.raises(RuntimeError, match="inside a transaction"), transaction.atomic():
        services.notifications_deliver(now=t0)
    assert only_record(user).status == Status.PENDING
    assert len(hook.log) == 0
