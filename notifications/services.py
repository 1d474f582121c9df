"""Notification writes: channels, records from events, and delivery.

Delivery follows one pattern (healthchecks' sendalerts): claim due rows in a short
transaction (SELECT … FOR UPDATE SKIP LOCKED, then `sending` with a lease and a claim
token), POST outside any transaction, settle each row with a compare-and-set on its
claim token. A worker that dies mid-send leaves its rows in `sending`; once the lease
has passed, `notifications_recover_stuck` puts them back to `pending`.

Every function that depends on the clock takes `now=` so tests drive time.
"""

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from notifications import channels, ssrf
from notifications.channels import email as email_channel
from notifications.messages import InvalidEvent, Message, compose, connection_test_message, validate_event
from notifications.metrics import DELIVERIES
from notifications.models import ChannelKind, NotificationChannel, NotificationRecord
from smartmate.errors import UpstreamError

logger = logging.getLogger("smartmate.notifications")

Status = NotificationRecord.Status
DUE = (Status.PENDING, Status.FAILED)
UNSET = object()
MAX_ERROR = 2000


# --- settings -----------------------------------------------------------------------------------


def _lease() -> timedelta:
    return timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS)


def _max_attempts() -> int:
    return settings.NOTIFICATIONS_MAX_ATTEMPTS


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 5, 10, 20, 30 min by default."""
    delays = settings.NOTIFICATIONS_RETRY_DELAYS_MINUTES
    return timedelta(minutes=delays[min(max(attempts, 1), len(delays)) - 1])


# --- channels -----------------------------------------------------------------------------------


def _check_url(kind: str, url: str) -> None:
    """At save time: shape, scheme, port, the kind's hosts, credentials, length, and where the
    host resolves now (within NOTIFICATIONS_DNS_TIMEOUT: a slow resolver is a 400, not a held worker)."""
    try:
        ssrf.check_channel_url(kind, url)
        ssrf.resolve(url)
    except ssrf.UnsafeUrl as exc:
        raise ValidationError({"webhook_url": [str(exc)]})


def _checked_target(kind: str, *, webhook_url: str, address: str) -> tuple[str, str]:
    """(webhook_url, address) as stored: the kind's own target checked, the other one empty."""
    if kind == ChannelKind.EMAIL:
        address = (address or "").strip()
        problem = email_channel.address_problem(address)
        if problem:
            raise ValidationError({"address": [problem]})
        local, _, domain = address.rpartition("@")
        return "", f"{local}@{domain.lower()}"
    _check_url(kind, webhook_url)
    return webhook_url, ""


def channel_upsert(
    *, user, kind: str, webhook_url: str = "", address: str = "", secret=UNSET, enabled: bool = True
) -> NotificationChannel:
    """Create or replace the user's channel of `kind`: a URL for Feishu and webhooks, an address
    for email. `secret` left out keeps the stored one; an empty secret removes it. A new target or
    secret clears the last test result."""
    webhook_url, address = _checked_target(kind, webhook_url=webhook_url, address=address)
    with transaction.atomic():
        channel, created = NotificationChannel.objects.select_for_update().get_or_create(
            user=user, kind=kind, defaults={"webhook_url": webhook_url, "address": address, "enabled": enabled}
        )
        changed = created or (channel.webhook_url, channel.address) != (webhook_url, address)
        channel.webhook_url, channel.address = webhook_url, address
        channel.enabled = enabled
        if secret is not UNSET:
            secret = secret or ""
            if channel.secret != secret:
                changed = True
                _rotate(channel, new_secret=secret)
            channel.secret = secret
        if changed:
            channel.last_test_status, channel.last_test_error, channel.last_test_at = None, "", None
        channel.save()
    logger.info(
        "notification channel saved",
        extra={"user_id": user.pk, "kind": kind, "host": channels.get(kind).mask(channel.target), "enabled": enabled},
    )
    return channel


def _rotate(channel: NotificationChannel, *, new_secret: str) -> None:
    """A replaced secret keeps signing beside the new one for NOTIFICATIONS_SECRET_ROTATION_HOURS,
    so a receiver may switch keys any time in that window; removing the secret ends it at once."""
    if channel.secret and new_secret:
        channel.previous_secret = channel.secret
        channel.previous_secret_expires_at = timezone.now() + timedelta(
            hours=settings.NOTIFICATIONS_SECRET_ROTATION_HOURS
        )
    else:
        channel.previous_secret, channel.previous_secret_expires_at = "", None


def channel_set_enabled(*, channel: NotificationChannel, enabled: bool) -> NotificationChannel:
    """Switch a channel on or off (staff in the admin); its URL and secret stay as they are."""
    NotificationChannel.objects.filter(pk=channel.pk).update(enabled=enabled, updated_at=timezone.now())
    channel.refresh_from_db()
    return channel


def channel_delete(*, user, kind: str) -> bool:
    deleted, _ = NotificationChannel.objects.filter(user=user, kind=kind).delete()
    return bool(deleted)


UNREACHABLE = "The endpoint could not be reached."


def channel_test(*, channel: NotificationChannel, now: datetime | None = None) -> None:
    """Send a test message now, synchronously; record the result on the channel.

    Raises UpstreamError (502) carrying the endpoint's status when delivery fails."""
    now = now or timezone.now()
    message = connection_test_message(kind=channel.kind, base_url=settings.PUBLIC_BASE_URL)
    context = {"event": "test", "notification_id": None, "user_id": channel.user_id}
    previous = channel.rotating_secret(now)
    error = _send(channel.kind, channel.target, channel.secret, message, context, now, previous)
    if error is not None and error.status is None:
        # Refused, reset, timed out, no such host: one answer, so the test is no port scanner.
        error = channels.DeliveryError(UNREACHABLE, permanent=error.permanent)
    NotificationChannel.objects.filter(pk=channel.pk).update(
        last_test_status=(NotificationChannel.TestStatus.FAILED if error else NotificationChannel.TestStatus.DELIVERED),
        last_test_error=str(error)[:MAX_ERROR] if error else "",
        last_test_at=now,
    )
    _log_result(channel.kind, None, channel.target, "test_failed" if error else "test_sent", error)
    if error:
        details = {"status": error.status}
        if error.code is not None:
            details["code"] = error.code
        raise UpstreamError(f"The {channel.kind} endpoint refused the test message: {error}", details=details)


# --- records from events ----------------------------------------------------------------------------


def notifications_request(*, event_id: str, data: dict, now: datetime | None = None) -> list[int]:
    """The `notification.requested` handler's write: one record per enabled channel.

    Idempotent per (user, dedupe_key): a repeat of the event creates nothing. A user with
    no enabled channel gets one `skipped` record on channel `none`. Returns the ids of
    the records that now wait for delivery. Raises InvalidEvent on a malformed event.
    """
    now = now or timezone.now()
    data = validate_event(data)
    user = get_user_model().objects.filter(pk=data["user_id"]).only("pk", "timezone").first()
    if user is None:
        logger.warning("notification for an unknown user dropped", extra={"user_id": data["user_id"]})
        return []
    dedupe_key = data["dedupe_key"]
    if NotificationRecord.objects.filter(user=user, dedupe_key=dedupe_key).exists():
        return []
    message = compose(data, timezone_name=user.timezone, base_url=settings.PUBLIC_BASE_URL)
    payload = {k: v for k, v in data.items() if not k.startswith("_")}
    kinds = list(
        NotificationChannel.objects.filter(user=user, enabled=True).order_by("kind").values_list("kind", flat=True)
    )
    common = dict(
        user=user,
        event=data["kind"],
        dedupe_key=dedupe_key,
        source_event_id=str(event_id)[:64],
        preview_id=data["preview_id"],
        trigger_id=data["trigger_id"][:64],
        payload=payload,
        message=message.as_dict(),
    )
    if kinds:
        rows = [NotificationRecord(channel=kind, status=Status.PENDING, next_retry_at=now, **common) for kind in kinds]
    else:
        rows = [
            NotificationRecord(
                channel=NotificationRecord.Channel.NONE,
                status=Status.SKIPPED,
                last_error="No enabled notification channel.",
                **common,
            )
        ]
    # ON CONFLICT DO NOTHING: a concurrent twin of this event leaves no error in the
    # consumer's transaction.
    NotificationRecord.objects.bulk_create(rows, ignore_conflicts=True)
    if not kinds:
        transaction.on_commit(lambda: DELIVERIES.labels("none", "skipped").inc(), robust=True)
        return []
    ids = list(
        NotificationRecord.objects.filter(user=user, dedupe_key=dedupe_key, status=Status.PENDING).values_list(
            "id", flat=True
        )
    )
    for record_id in ids:
        transaction.on_commit(lambda record_id=record_id: _enqueue(record_id), robust=True)
    return ids


def _enqueue(record_id: int) -> None:
    """Best effort: the beat sweep delivers anyway if the broker is away."""
    from notifications.tasks import deliver_notification

    deliver_notification.delay(record_id)


# --- delivery -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    id: int
    user_id: int
    channel: str
    event: str
    attempts: int
    token: uuid.UUID
    message: dict
    payload: dict
    preview_id: str | None
    trigger_id: str


def notifications_claim(*, now: datetime, limit: int, record_ids=None) -> list[Claim]:
    """Take up to `limit` due rows: `sending`, a lease, attempts + 1. Short transaction."""
    token = uuid.uuid4()
    with transaction.atomic():
        due = NotificationRecord.objects.filter(status__in=DUE, next_retry_at__lte=now)
        if record_ids is not None:
            due = due.filter(id__in=list(record_ids))
        ids = list(
            due.select_for_update(skip_locked=True).order_by("next_retry_at", "id").values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        NotificationRecord.objects.filter(id__in=ids, status__in=DUE).update(
            status=Status.SENDING,
            locked_until=now + _lease(),
            claim_token=token,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    rows = NotificationRecord.objects.filter(id__in=ids, claim_token=token, status=Status.SENDING).values(
        "id", "user_id", "channel", "event", "attempts", "message", "payload", "preview_id", "trigger_id"
    )
    return [Claim(token=token, **row) for row in rows]


def _send(kind: str, target: str, secret: str, message: Message, context: dict, now: datetime, previous_secret=""):
    """One send; returns None on success or the DeliveryError. Never raises for delivery."""
    channel = channels.get(kind)
    try:
        channel.check(target)  # a channel saved before one of the kind's rules existed
        channel.send(
            target=target, secret=secret, message=message, context=context, now=now, previous_secret=previous_secret
        )
    except channels.DeliveryError as exc:
        return exc
    except Exception as exc:  # a bug must not leave the row in `sending` until the lease runs out
        logger.exception("notification send crashed", extra={"kind": kind, "host": channel.mask(target)})
        return channels.DeliveryError(f"Internal error: {type(exc).__name__}.", permanent=False)
    return None


def _context(claim: Claim) -> dict:
    payload = claim.payload or {}
    return {
        "event": claim.event,
        "notification_id": claim.id,
        "user_id": claim.user_id,
        "preview_id": claim.preview_id,
        "trigger_id": claim.trigger_id or payload.get("trigger_id"),
        "trigger_type": payload.get("trigger_type"),
        "target_type": payload.get("target_type"),
        "target_id": payload.get("target_id"),
    }


def _settle(claim: Claim, error, *, now: datetime, skip_reason: str | None = None) -> str | None:
    """Compare-and-set on the claim token; returns the outcome, or None if the lease was lost."""
    if skip_reason:
        fields = dict(status=Status.SKIPPED, last_error=skip_reason, next_retry_at=None)
        outcome = "skipped"
    elif error is None:
        fields = dict(status=Status.SENT, sent_at=now, last_error="", next_retry_at=None, last_status_code=None)
        outcome = "sent"
    else:
        text = str(error)[:MAX_ERROR]
        fields = dict(last_error=text, last_status_code=error.status)
        if error.permanent:
            fields.update(status=Status.DEAD, next_retry_at=None)
            outcome = "dead"
        elif claim.attempts >= _max_attempts():
            fields.update(
                status=Status.DEAD,
                next_retry_at=None,
                last_error=f"Gave up after {claim.attempts} attempts. {text}"[:MAX_ERROR],
            )
            outcome = "dead"
        else:
            fields.update(status=Status.FAILED, next_retry_at=now + retry_delay(claim.attempts))
            outcome = "retry"
    updated = NotificationRecord.objects.filter(pk=claim.id, status=Status.SENDING, claim_token=claim.token).update(
        locked_until=None, claim_token=None, updated_at=now, **fields
    )
    if not updated:
        logger.warning("notification lease lost before settling", extra={"notification_id": claim.id})
        return None
    DELIVERIES.labels(claim.channel, outcome).inc()
    return outcome


def _log_result(kind, record_id, target, outcome, error) -> None:
    extra = {"notification_id": record_id, "kind": kind, "host": channels.get(kind).mask(target), "outcome": outcome}
    if error is None:
        logger.info("notification %s", outcome, extra=extra)
    else:
        logger.warning("notification %s: %s", outcome, error, extra={**extra, "status": error.status})


def _refuse_open_transaction() -> None:
    """Sends hold no transaction open (a test case's own wrapping transaction aside)."""
    connection = transaction.get_connection()
    if any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        raise RuntimeError("notifications_deliver must not run inside a transaction")


def notifications_deliver(*, now: datetime | None = None, limit: int | None = None, record_ids=None) -> dict[str, int]:
    """Claim a batch of due rows, send them (in parallel, no transaction open), settle each.

    Returns {outcome: count}. Must not be called inside a transaction: the POSTs would
    hold it open and the claim would not be visible to other workers."""
    _refuse_open_transaction()
    fixed_now = now
    now = now or timezone.now()
    limit = limit or settings.NOTIFICATIONS_BATCH_SIZE
    claims = notifications_claim(now=now, limit=limit, record_ids=record_ids)
    if not claims:
        return {}
    configs = {
        (c.user_id, c.kind): c
        for c in NotificationChannel.objects.filter(
            user_id__in={claim.user_id for claim in claims}, kind__in={claim.channel for claim in claims}
        )
    }
    results: dict[str, int] = {}

    def tally(outcome):
        if outcome:
            results[outcome] = results.get(outcome, 0) + 1

    jobs = []
    for claim in claims:
        config = configs.get((claim.user_id, claim.channel))
        if config is None or not config.enabled or claim.channel not in ChannelKind.values:
            reason = "Channel removed before delivery." if config is None else "Channel disabled before delivery."
            tally(_settle(claim, None, now=now, skip_reason=reason))
            continue
        jobs.append((claim, config))

    def run(job):
        claim, config = job
        return _send(
            config.kind,
            config.target,
            config.secret,
            Message.from_dict(claim.message),
            _context(claim),
            now,
            config.rotating_secret(now),
        )

    workers = max(1, min(settings.NOTIFICATIONS_SEND_CONCURRENCY, len(jobs)))
    if workers == 1:
        errors = [run(job) for job in jobs]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="notify") as pool:
            errors = list(pool.map(run, jobs))
    for (claim, config), error in zip(jobs, errors, strict=True):
        settle_now = fixed_now or timezone.now()
        outcome = _settle(claim, error, now=settle_now)
        _log_result(claim.channel, claim.id, config.target, outcome or "lease_lost", error)
        tally(outcome)
    return results


def notifications_recover_stuck(*, now: datetime | None = None) -> int:
    """Rows left in `sending` past their lease (their worker died) go back to `pending`, due
    now; a row whose lost attempt was its last goes to `dead` instead."""
    now = now or timezone.now()
    stuck = NotificationRecord.objects.filter(status=Status.SENDING, locked_until__lt=now)
    released = dict(locked_until=None, claim_token=None, updated_at=now)
    final = list(stuck.filter(attempts__gte=_max_attempts()).values_list("id", "channel"))
    dead = stuck.filter(id__in=[pk for pk, _ in final]).update(
        status=Status.DEAD,
        next_retry_at=None,
        last_error="The worker stopped during the final attempt (lease expired).",
        **released,
    )
    pending = stuck.update(
        status=Status.PENDING,
        next_retry_at=now,
        last_error="The worker stopped while sending (lease expired); retrying.",
        **released,
    )
    if dead or pending:
        logger.warning("notification leases recovered", extra={"pending": pending, "dead": dead})
    if dead:
        for _, channel in final:
            DELIVERIES.labels(channel, "dead").inc()
    return dead + pending


def notifications_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """The beat's job: recover expired leases, then deliver one batch of due rows."""
    recovered = notifications_recover_stuck(now=now)
    results = notifications_deliver(now=now)
    if recovered:
        results = {**results, "recovered": recovered}
    return results


def notifications_retry_now(*, record_ids, now: datetime | None = None) -> int:
    """Staff "retry now": failed, dead or pending rows become due at once (dead rows get a
    fresh set of attempts). Sent, skipped and in-flight rows are left alone."""
    now = now or timezone.now()
    rows = NotificationRecord.objects.filter(id__in=list(record_ids))
    waiting = rows.filter(status__in=DUE).update(status=Status.PENDING, next_retry_at=now, updated_at=now)
    revived = (
        rows.filter(status=Status.DEAD)
        .exclude(channel=NotificationRecord.Channel.NONE)
        .update(status=Status.PENDING, attempts=0, next_retry_at=now, updated_at=now)
    )
    return revived + waiting


__all__ = [
    "InvalidEvent",
    "channel_delete",
    "channel_set_enabled",
    "channel_test",
    "channel_upsert",
    "notifications_claim",
    "notifications_deliver",
    "notifications_recover_stuck",
    "notifications_request",
    "notifications_retry_now",
    "notifications_sweep",
    "retry_delay",
]
