"""The email channel against a real SMTP server on loopback (aiosmtpd): the API, the two parts
of the mail, and the same records, retries, dedupe and dead-lettering as the HTTP channels."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from notifications import services
from notifications.models import NotificationChannel, NotificationRecord
from tests.notifications.conftest import event_data

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

Status = NotificationRecord.Status
CHANNELS = "/api/v1/notification-channels/"
ADDRESS = "Alice.Liddell@Example.COM"
STORED = "Alice.Liddell@example.com"  # the domain is case-blind, the mailbox may not be


def put_email(api, **body):
    return api.put(f"{CHANNELS}email/", {"address": ADDRESS, "enabled": True, **body}, format="json")


def requested(user, t0, **overrides):
    data = event_data(user, **overrides)
    services.notifications_request(event_id="evt-mail", data=data, now=t0)
    return data


def the_record(user):
    (record,) = NotificationRecord.objects.filter(user=user, channel="email")
    return record


# --- the API ---------------------------------------------------------------------------------------


def test_put_sets_up_the_email_channel_and_lists_it_masked(auth_api, user):
    response = put_email(auth_api)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        "kind": "email",
        "enabled": True,
        "webhook_url": None,
        "address": "A***@example.com",
        "has_secret": False,
        "last_test_status": None,
        "last_test_error": None,
        "last_test_at": None,
    }
    assert auth_api.get(CHANNELS).json() == [body]
    assert "Liddell" not in auth_api.get(CHANNELS).content.decode()
    assert NotificationChannel.objects.get(user=user, kind="email").address == STORED


def test_the_http_kinds_list_no_address(auth_api, hook):
    auth_api.put(f"{CHANNELS}webhook/", {"webhook_url": hook.url_for("/hook")}, format="json")
    put_email(auth_api)
    listed = {c["kind"]: c for c in auth_api.get(CHANNELS).json()}
    assert listed["webhook"]["address"] is None and listed["webhook"]["webhook_url"].endswith("/***")
    assert listed["email"]["webhook_url"] is None


@pytest.mark.parametrize(
    "address",
    ["not-an-address", "alice@", "alice@localhost", "alice@[127.0.0.1]", "a" * 250 + "@example.com", "a@b.c\n"],
)
def test_an_address_that_is_no_mail_domain_address_is_refused(auth_api, user, address):
    response = put_email(auth_api, address=address)
    assert response.status_code == 400, response.content
    assert "address" in response.json()["error"]["fields"]
    assert not NotificationChannel.objects.filter(user=user).exists()


def test_the_email_body_takes_an_address_not_a_url(auth_api):
    response = auth_api.put(f"{CHANNELS}email/", {"webhook_url": "https://example.com/x"}, format="json")
    assert response.status_code == 400
    assert "webhook_url" in response.json()["error"]["fields"]


def test_a_new_address_clears_the_last_test_result(auth_api, user, smtp):
    put_email(auth_api)
    assert auth_api.post(f"{CHANNELS}email/test/").status_code == 200
    assert auth_api.get(CHANNELS).json()[0]["last_test_status"] == "delivered"
    put_email(auth_api, enabled=False)  # the same address: the result stays
    assert auth_api.get(CHANNELS).json()[0]["last_test_status"] == "delivered"
    put_email(auth_api, address="other@example.com")
    assert auth_api.get(CHANNELS).json()[0]["last_test_status"] is None


def test_the_test_message_goes_out_now(auth_api, smtp):
    put_email(auth_api)
    response = auth_api.post(f"{CHANNELS}email/test/")
    assert response.status_code == 200 and response.json() == {"delivered": True}
    assert smtp.recipients == [[STORED]]
    mail = smtp.parsed()
    assert mail["Subject"] == "SmartMate test notification"
    assert "https://smartmate.example.com/api/v1/notifications/" in mail.get_body(("plain",)).get_content()


def test_a_refused_test_message_is_a_502_with_the_smtp_code(auth_api, smtp):
    put_email(auth_api)
    smtp.rcpt_replies.append(f"550 5.1.1 <{STORED}>: Recipient address rejected")
    response = auth_api.post(f"{CHANNELS}email/test/")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upstream_error" and error["details"] == {"status": 550}
    listed = auth_api.get(CHANNELS).json()[0]
    assert listed["last_test_status"] == "failed" and "SMTP 550" in listed["last_test_error"]
    assert "Liddell" not in listed["last_test_error"]  # the mailbox is masked in what is stored


def test_a_test_with_no_mail_server_says_it_could_not_be_reached(auth_api, smtp, settings):
    from tests.conftest import free_port

    put_email(auth_api)
    settings.EMAIL_PORT = free_port()  # nothing listens there
    response = auth_api.post(f"{CHANNELS}email/test/")
    assert response.status_code == 502
    assert response.json()["error"]["message"].endswith("The endpoint could not be reached.")


# --- delivery --------------------------------------------------------------------------------------


def test_a_notification_mail_has_a_text_and_an_escaped_html_part_with_the_preview_link(user, smtp, t0):
    services.channel_upsert(user=user, kind="email", address=ADDRESS)
    data = requested(user, t0, task_title='Essay <script>alert("x")</script> & notes')
    assert services.notifications_deliver(now=t0) == {"sent": 1}

    record = the_record(user)
    assert record.status == Status.SENT and record.attempts == 1
    mail = smtp.parsed()
    assert smtp.recipients == [[STORED]] and mail["To"] == STORED
    assert mail["From"] == "SmartMate <noreply@smartmate.example.com>"
    assert mail["Subject"] == record.message["title"]
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Message-ID"] == f"<smartmate.notification.{record.pk}@smartmate.example.com>"
    link = f"https://smartmate.example.com/api/v1/active-schedule/previews/{data['preview_id']}/"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert link in text and f'href="{link}"' in html
    assert 'Essay <script>alert("x")</script> & notes' in text  # plain text is not escaped
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; notes" in html
    for slot in record.message["slots"]:
        assert slot in text and slot in html


def test_a_4xx_reply_is_retried_on_the_schedule_with_the_same_message_id(user, smtp, t0):
    services.channel_upsert(user=user, kind="email", address=ADDRESS)
    requested(user, t0)
    smtp.rcpt_replies.append("451 4.7.1 Greylisted, try again later")
    assert services.notifications_deliver(now=t0) == {"retry": 1}
    record = the_record(user)
    assert record.status == Status.FAILED and record.attempts == 1
    assert record.last_status_code == 451 and record.last_error.startswith("SMTP 451")
    assert record.next_retry_at == t0 + timedelta(minutes=5)
    assert smtp.messages == []

    assert services.notifications_deliver(now=t0 + timedelta(minutes=4)) == {}  # not due yet
    assert services.notifications_deliver(now=t0 + timedelta(minutes=5)) == {"sent": 1}
    record.refresh_from_db()
    assert record.status == Status.SENT and record.attempts == 2
    assert smtp.parsed()["Message-ID"] == f"<smartmate.notification.{record.pk}@smartmate.example.com>"


def test_a_4xx_reply_to_the_message_is_retried_too(user, smtp, t0):
    services.channel_upsert(user=user, kind="email", address=ADDRESS)
    requested(user, t0)
    smtp.data_replies.append("452 4.3.1 Insufficient system storage")
    assert services.notifications_deliver(now=t0) == {"retry": 1}
    assert the_record(user).last_status_code == 452


@pytest.mark.parametrize(
    ("rcpt", "data", "code"),
    [
        (f"550 5.1.1 <{STORED}>: Recipient address rejected: User unknown", None, 550),
        (None, "554 5.7.1 Message rejected as spam", 554),
    ],
)
def test_a_5xx_reply_is_dead_at_once(user, smtp, t0, rcpt, data, code):
    services.channel_upsert(user=user, kind="email", address=ADDRESS)
    requested(user, t0)
    (smtp.rcpt_replies if rcpt else smtp.data_replies).append(rcpt or data)
    assert services.notifications_deliver(now=t0) == {"dead": 1}
    record = the_record(user)
    assert record.status == Status.DEAD and record.attempts == 1 and record.next_retry_at is None
    assert record.last_status_code == code and record.last_error.startswith(f"SMTP {code}")
    assert "Liddell" not in record.last_error
    assert services.notifications_deliver(now=t0 + timedelta(hours=2)) == {}


def test_no_mail_server_is_retried_then_dead_after_the_last_attempt(user, smtp, settings, t0):
    from tests.conftest import free_port

    services.channel_upsert(user=user, kind="email", address=ADDRESS)
    requested(user, t0)
    settings.EMAIL_PORT = free_port()
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2
    assert services.notifications_deliver(now=t0) == {"retry": 1}
    record = the_record(user)
    assert record.status == Status.FAILED and record.last_error.startswith("Connection failed")
    assert services.notifications_deliver(now=t0 + timedelta(minutes=5)) == {"dead": 1}
    record.refresh_from_db()
    assert record.status == Status.DEAD and record.last_error.startswith("Gave up after 2 attempts")


def test_a_repeated_event_mails_once_and_a_disabled_channel_not_at_all(user, make_user, smtp, t0):
    services.channel_upsert(user=user, kind="email", address=ADDRESS)
    data = requested(user, t0)
    services.notifications_request(event_id="evt-mail-again", data=data, now=t0)
    assert services.notifications_deliver(now=t0) == {"sent": 1}
    assert services.notifications_deliver(now=t0 + timedelta(hours=1)) == {}
    assert len(smtp.messages) == 1

    quiet = make_user("quiet")
    services.channel_upsert(user=quiet, kind="email", address="quiet@example.com", enabled=False)
    requested(quiet, t0)
    assert NotificationRecord.objects.get(user=quiet).channel == "none"


def test_email_and_webhook_channels_each_get_their_record(user, smtp, hook, t0):
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    services.channel_upsert(user=user, kind="webhook", webhook_url=hook.url_for("/hook"))
    services.channel_upsert(user=user, kind="email", address=ADDRESS)
    requested(user, t0)
    assert services.notifications_deliver(now=t0) == {"sent": 2}
    assert sorted(NotificationRecord.objects.filter(user=user).values_list("channel", flat=True)) == [
        "email",
        "webhook",
    ]
    assert len(smtp.messages) == 1 and len(hook.log) == 1


def test_a_lost_lease_on_an_email_row_is_recovered_like_any_other(user, smtp, t0):
    services.channel_upsert(user=user, kind="email", address=ADDRESS)
    requested(user, t0)
    (claim,) = services.notifications_claim(now=t0, limit=10)  # a worker that then dies
    assert services.notifications_deliver(now=t0) == {}  # the row is leased
    later = t0 + timedelta(seconds=601)
    assert services.notifications_recover_stuck(now=later) == 1
    assert services.notifications_deliver(now=later) == {"sent": 1}
    assert the_record(user).attempts == 2 and claim.channel == "email"


def test_an_address_stored_before_a_rule_is_refused_at_send_time(user, smtp, t0):
    channel = services.channel_upsert(user=user, kind="email", address=ADDRESS)
    NotificationChannel.objects.filter(pk=channel.pk).update(address="alice@[10.0.0.1]")
    requested(user, t0)
    assert services.notifications_deliver(now=t0) == {"dead": 1}
    assert the_record(user).last_error.startswith("Refused:") and smtp.messages == []


def test_the_embedded_default_writes_the_mail_as_a_file(user, settings, tmp_path, t0):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    services.channel_upsert(user=user, kind="email", address=ADDRESS)
    requested(user, t0)
    assert services.notifications_deliver(now=t0) == {"sent": 1}
    (written,) = tmp_path.iterdir()
    content = written.read_text()
    assert "Content-Type: text/plain" in content and "Content-Type: text/html" in content


def test_email_url_in_the_environment_sends_through_that_server(smtp_server):
    """The production settings read EMAIL_URL (the one mail configuration, shared with the
    password-reset mail) and the channel sends through it."""
    from tests.conftest import production_env

    handler, port = smtp_server
    env = production_env(EMAIL_URL=f"smtp://127.0.0.1:{port}", DEFAULT_FROM_EMAIL="SmartMate <noreply@sm.example>")
    code = (
        "import django; django.setup()\n"
        "from django.utils import timezone\n"
        "from notifications.channels import email\n"
        "from notifications.messages import connection_test_message\n"
        "message = connection_test_message(kind='email', base_url='https://sm.example')\n"
        "email.send(target='bob@example.com', secret='', message=message, context={}, now=timezone.now())\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, os.linesep.join([out.stdout, out.stderr])
    assert handler.recipients == [["bob@example.com"]]
    assert handler.parsed()["From"] == "SmartMate <noreply@sm.example>"
