"""Email: the notification as a plain-text part and an HTML part (escaped), with the link to
the preview, sent through Django's email backend — the one configuration the password-reset
mail uses (EMAIL_URL → SMTP; unset, the embedded default writes each mail under var/mail).

Which failures are final (docs/DOMAIN.md §3): a 5xx reply to the recipient or to the message
(no such mailbox, refused as spam) will not change by sending again → dead. A 4xx reply
(greylisting, a full mailbox, a busy server) is passing, and so is everything the operator can
fix (no connection, a timeout, a refused login): the row retries on its schedule, bounded by
its attempts. There are no quick retries inside the send: a greylisting server wants minutes.

Every attempt of one notification carries the same Message-ID, so a mail that was accepted
but not recorded as sent (the worker died in between) is one message to mail clients.
"""

import smtplib
import uuid
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import EmailValidator
from django.template.loader import render_to_string

from notifications.channels.http import DeliveryError
from notifications.messages import Message

MAX_ADDRESS_LENGTH = 254
# No "localhost" (Django's default allowlist) and no address literals: a relay is not to be
# aimed at a host by its address.
_validate = EmailValidator(allowlist=[])


def address_problem(address: str) -> str | None:
    """Why `address` cannot be a channel's address, or None. Checked at save and before each send."""
    if not isinstance(address, str) or not address or len(address) > MAX_ADDRESS_LENGTH:
        return f"Enter an email address of at most {MAX_ADDRESS_LENGTH} characters."
    try:
        _validate(address)
    except ValidationError:
        return "Enter a valid email address."
    if address.rpartition("@")[2].startswith("["):
        return "The address must name a mail domain, not an IP address."
    return None


def check(target: str) -> None:
    problem = address_problem(target)
    if problem:
        raise DeliveryError(f"Refused: {problem}", permanent=True)


def mask(address: str) -> str:
    """`a***@example.com`: the domain stays readable, the mailbox does not."""
    local, at, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}" if at and local else "***"


def message_id(context: dict) -> str:
    """Stable across the attempts of one notification; a connection test gets a fresh one."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "smartmate.invalid"
    notification_id = context.get("notification_id")
    local = f"notification.{notification_id}" if notification_id is not None else f"test.{uuid.uuid4().hex}"
    return f"<smartmate.{local}@{domain}>"


def build(message: Message, *, target: str, context: dict) -> EmailMultiAlternatives:
    values = {"message": message}
    text = render_to_string("notifications/email/notification.txt", values)
    html = render_to_string("notifications/email/notification.html", values)
    mail = EmailMultiAlternatives(
        subject=" ".join(message.title.split()),  # one line: a newline in a subject is a header injection
        body=text,
        to=[target],
        headers={
            "Message-ID": message_id(context),
            "Auto-Submitted": "auto-generated",  # RFC 3834: no vacation auto-replies to us
            "X-SmartMate-Event": str(context.get("event") or ""),
        },
    )
    mail.attach_alternative(html, "text/html")
    return mail


def _smtp_error(code: int, reply, target: str) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    text = " ".join(text.replace(target, mask(target)).split())[:300]  # the mailbox stays out of logs
    return DeliveryError(f"SMTP {code}: {text}", permanent=500 <= code < 600, status=code)


def send(*, target: str, secret: str, message: Message, context: dict, now, previous_secret: str = "") -> None:
    mail = build(message, target=target, context=context)
    try:
        with get_connection(fail_silently=False) as connection:
            connection.send_messages([mail])
    except smtplib.SMTPRecipientsRefused as exc:  # the one recipient refused at RCPT
        code, reply = next(iter(exc.recipients.values()))
        raise _smtp_error(code, reply, target)
    except smtplib.SMTPAuthenticationError as exc:  # the relay's login: the operator's to fix
        raise DeliveryError(
            f"SMTP {exc.smtp_code}: the mail server refused our login.", permanent=False, status=exc.smtp_code
        )
    except smtplib.SMTPResponseException as exc:  # MAIL FROM, DATA, HELO
        raise _smtp_error(exc.smtp_code, exc.smtp_error, target)
    except (smtplib.SMTPException, OSError) as exc:  # no connection, a timeout, a dropped line
        raise DeliveryError(f"Connection failed: {type(exc).__name__}.", permanent=False)


__all__ = ["address_problem", "build", "check", "mask", "message_id", "send"]
