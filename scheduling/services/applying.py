"""Applying a proposal to the schedule, in one place: previews, study plans and the agent's
plan drafts all write through here.

- The state check (`state_error`): applied, ignored, expired (the rule itself lives on
  `Applicable` and its queryset), not ready.
- The versioned write (`changes_write`): lock the user's schedule version, lock the targets,
  write every event or none; any other change since the proposal's base → `stale_version`.
- The rejection record (`rejection_record`): a rolled-back apply leaves its outcome on the
  row in a separate short transaction.
- The entry point (`proposal_apply`) puts them together for an `Applicable` row.

A change is the one currency of every proposal: `{"op": "create", "title", "kind",
"task_id" | "task_item_id", "to": {"week", "day", "start_section", "end_section"}}`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from scheduling.models import ScheduleVersion, Task, TaskClassItem
from scheduling.models.active import Applicable, ApplyStatus
from scheduling.models.timetable import EventKind
from scheduling.services.events import EventSpec, events_create
from smartmate.errors import ApiError, Conflict

A = TypeVar("A", bound=Applicable)

POSITION_FIELDS = ("week", "day", "start_section", "end_section")


class ApplyRejected(Exception):
    """An apply refused after its row was locked: the transaction rolls back, and the outcome
    (`apply_status`, and `status` when the proposal can never apply) is recorded afterwards."""

    def __init__(self, error: ApiError, apply_status: str, status: str | None = None):
        super().__init__(error.message)
        self.error, self.apply_status, self.status = error, apply_status, status


def stale(message: str, expired_status: str | None) -> ApplyRejected:
    """Something the proposal relied on changed: rejected, and expired for good."""
    return ApplyRejected(Conflict(message, code="stale_version"), ApplyStatus.REJECTED, expired_status)


# --- the state check ---------------------------------------------------------------------------


def state_error(proposal: Applicable, now: datetime | None = None) -> ApiError | None:
    """Why this proposal cannot be applied now, or None."""
    states, noun = proposal.states, proposal.noun
    if getattr(proposal, "is_dry_run", False):
        return Conflict(f"A dry-run {noun} cannot be applied.", code="preview_not_ready")
    if proposal.status == states.APPLIED:
        return Conflict(f"This {noun} was already applied.", code="already_applied")
    if proposal.status == getattr(states, "IGNORED", None):
        return Conflict(f"This {noun} was ignored.", code="already_ignored")
    if proposal.status == states.EXPIRED or proposal.is_past_expiry(now):
        return Conflict(f"This {noun} has expired.", code="preview_expired")
    if proposal.status != states.READY:
        return Conflict(f"This {noun} is not ready.", code="preview_not_ready")
    return None


def _refusal(proposal: Applicable, error: ApiError) -> Exception:
    """Expired and not-ready refusals are recorded on the row; applied/ignored ones are not."""
    if error.error_code == "preview_expired":
        return ApplyRejected(error, ApplyStatus.EXPIRED, proposal.states.EXPIRED)
    if error.error_code == "preview_not_ready":
        return ApplyRejected(error, ApplyStatus.REJECTED)
    return error


# --- the versioned write -------------------------------------------------------------------------


def change_event_spec(change: dict) -> EventSpec:
    if change["op"] != "create":
        raise ValueError(f"unsupported change {change['op']}")
    to = change["to"]
    return EventSpec(
        title=change["title"][:200],
        kind=change.get("kind", EventKind.TASK),
        task_id=change.get("task_id"),
        task_item_id=change.get("task_item_id"),
        **{name: to[name] for name in POSITION_FIELDS},
    )


def changes_write(
    *,
    user,
    changes: list[dict],
    base_version: int,
    source: str,
    stale_message: str,
    expired_status: str | None,
    edited: Callable[[], list[dict]] | None = None,
):
    """The write step of every apply, inside the caller's transaction.

    Locks the user's schedule version row first (no schedule write of this user can commit
    until we do), writes the events (a clash → `ApplyRejected` slot_conflict), then compares
    the version: any other change since `base_version` → `ApplyRejected` stale_version (with
    `expired_status`, the proposal's status from then on). The caller rolls back on it.

    `edited`, when given, returns the changes to write instead (the user's edit of them). It
    runs once the version is locked and found unchanged, so it sees the schedule the proposal
    saw; what it raises (a 422) is no rejection: nothing is written or recorded."""
    version = (
        ScheduleVersion.objects.select_for_update().filter(user=user).values_list("version", flat=True).first() or 0
    )
    if edited is not None:
        if version != base_version:
            raise stale(stale_message, expired_status)
        changes = edited()
    specs = [change_event_spec(change) for change in changes]
    _targets_lock(user=user, specs=specs, stale_message=stale_message, expired_status=expired_status)
    # Slots before version: a clash names the sections; any other change is stale.
    try:
        events = events_create(user=user, events=specs, source=source)
    except Conflict as conflict:
        raise ApplyRejected(conflict, ApplyStatus.REJECTED) from None
    if version != base_version:
        raise stale(stale_message, expired_status)
    return events


def _targets_lock(*, user, specs: list[EventSpec], stale_message: str, expired_status: str | None) -> None:
    """Every task and item the proposal places must still exist: deleting a task with no events
    changes no schedule version, so the version check alone misses it, and the insert then failed
    on its foreign key. The rows are locked (FOR NO KEY UPDATE) until commit, so a delete cannot
    slip in between this check and the insert; a missing one → stale_version, like any change."""
    for model, ids in (
        (Task, {s.task_id for s in specs if s.task_id}),
        (TaskClassItem, {s.task_item_id for s in specs if s.task_item_id}),
    ):
        if ids and len(model.objects.select_for_update(no_key=True).filter(pk__in=ids, user=user)) != len(ids):
            raise stale(stale_message, expired_status)


# --- the rejection record ------------------------------------------------------------------------


def rejection_record(model: type[Applicable], *, pk, user, rejected: ApplyRejected) -> None:
    """Record a rolled-back apply in its own short transaction (only while still `ready`)."""
    fields = {
        "apply_status": rejected.apply_status,
        "apply_error_code": rejected.error.error_code,
        "apply_error": rejected.error.message,
        "updated_at": timezone.now(),
    }
    if rejected.status:
        fields["status"] = rejected.status
    model.objects.filter(pk=pk, user=user, status=model.states.READY).update(**fields)


# --- the entry point -----------------------------------------------------------------------------


def proposal_get_for_update(model: type[A], *, user, pk) -> A:
    proposal = model.objects.select_for_update().filter(pk=pk, user=user).first()
    if proposal is None:
        raise ApiError("Not found.", code="not_found", status_code=404)
    return proposal


ChangesCheck = Callable[[A, list[dict], list[dict]], list[dict]]
"""`(proposal, proposed changes, edited changes) -> the changes to write`, or raise a 422."""


def proposal_apply(
    model: type[A],
    *,
    user,
    pk,
    source: str,
    proposed: Callable[[A], list[dict]],
    changes: list[dict] | None = None,
    changes_check: ChangesCheck | None = None,
    applied_fields: dict | None = None,
    idempotency_key: str = "",
    now: datetime | None = None,
) -> A:
    """Apply a proposal, all or nothing.

    `proposed(row)` returns the stored changes to write (it may raise a 400 for a bad choice,
    or `stale(...)` when what it places has moved on). A caller that lets the user edit them
    passes `changes` with `changes_check(row, proposed, changes)`, which returns the changes
    to write or raises; it runs after the version check (`changes_write`'s `edited`). A
    rejection leaves no event written and is recorded in a separate short transaction
    (stale → the proposal expires for good); an error the check raises is not recorded."""
    now = now or timezone.now()
    if changes is not None and changes_check is None:
        raise TypeError("edited changes need a changes_check")
    stale_message = f"The schedule changed since this {model.noun} was made."
    try:
        with transaction.atomic():
            proposal = proposal_get_for_update(model, user=user, pk=pk)
            error = state_error(proposal, now)
            if error is not None:
                raise _refusal(proposal, error)
            stored = proposed(proposal)
            events = changes_write(
                user=user,
                changes=stored,
                base_version=proposal.base_version,
                source=source,
                stale_message=stale_message,
                expired_status=model.states.EXPIRED,
                edited=None if changes is None else (lambda: changes_check(proposal, stored, changes)),
            )
            for name, value in (applied_fields or {}).items():
                setattr(proposal, name, value)
            proposal.status = model.states.APPLIED
            proposal.apply_status = ApplyStatus.APPLIED
            proposal.applied_event_ids = [e.pk for e in events]
            proposal.apply_idempotency_key = idempotency_key
            proposal.apply_error_code = proposal.apply_error = ""
            proposal.applied_at = now
            proposal.save()
            return proposal
    except ApplyRejected as rejected:
        rejection_record(model, pk=pk, user=user, rejected=rejected)
        raise rejected.error from None
