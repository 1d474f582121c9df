"""The one apply step (scheduling.services.applying): the expiry rule on the model and its
queryset, and the seam through which a caller writes the user's edit of a proposal."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduling.models import ScheduleEvent, StudyPlan
from scheduling.models.active import ActiveSchedulePreview, ApplyStatus, PreviewStatus
from scheduling.models.planning import PlanStatus
from scheduling.models.timetable import EventSource
from scheduling.services import EventSpec, events_create
from scheduling.services.applying import proposal_apply
from smartmate.errors import ApiError
from tests.scheduling.test_active import ready_preview


def apply_edited(user, preview, check):
    """Apply the first candidate, edited by the user to where the second one stands."""
    candidate, elsewhere = preview.candidates[0], preview.candidates[1]
    return proposal_apply(
        ActiveSchedulePreview,
        user=user,
        pk=preview.pk,
        source=EventSource.ACTIVE_SCHEDULE,
        proposed=lambda row: candidate["changes"],
        changes=elsewhere["changes"],
        changes_check=check,
        applied_fields={"applied_candidate_id": candidate["id"]},
    )


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_ready_preview_past_expiry_reads_expired_everywhere_before_the_job_runs(user):
    preview = ready_preview(user)
    now = preview.expires_at
    assert preview.effective_status(now - timedelta(seconds=1)) == PreviewStatus.READY
    assert preview.effective_status(now) == PreviewStatus.EXPIRED
    previews = ActiveSchedulePreview.objects.filter(user=user)
    assert list(previews.reading(PreviewStatus.EXPIRED, now)) == [preview]
    assert not previews.reading(PreviewStatus.READY, now).exists()
    assert previews.filter(ActiveSchedulePreview.live_condition(now - timedelta(seconds=1))).exists()
    assert previews.expire(now) == 1
    preview.refresh_from_db()
    assert preview.status == PreviewStatus.EXPIRED


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_study_plan_follows_the_same_expiry_rule(user):
    plan = StudyPlan.objects.create(user=user, class_ids=[], expires_at=timezone.now() - timedelta(seconds=1))
    assert plan.effective_status() == PlanStatus.EXPIRED
    assert list(StudyPlan.objects.reading(PlanStatus.EXPIRED)) == [plan]
    assert StudyPlan.objects.expire() == 1


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_edited_changes_the_check_returns_are_what_is_written(user):
    preview = ready_preview(user)
    seen = []

    def check(row, proposed, changes):
        seen.append((row.pk, proposed, changes))
        return changes

    applied = apply_edited(user, preview, check)
    assert applied.status == PreviewStatus.APPLIED and len(seen) == 1
    assert seen[0][:2] == (preview.pk, preview.candidates[0]["changes"])
    (to,) = [c["to"] for c in preview.candidates[1]["changes"]]
    event = ScheduleEvent.objects.get(pk__in=applied.applied_event_ids)
    assert (event.week, event.day, event.start_section, event.end_section) == (
        to["week"],
        to["day"],
        to["start_section"],
        to["end_section"],
    )


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_refused_edit_writes_nothing_and_leaves_the_preview_ready(user):
    preview = ready_preview(user)

    def check(row, proposed, changes):
        raise ApiError("Bad edit.", code="invalid_changes", status_code=422)

    with pytest.raises(ApiError) as info:
        apply_edited(user, preview, check)
    assert info.value.error_code == "invalid_changes"
    preview.refresh_from_db()
    assert (preview.status, preview.apply_status) == (PreviewStatus.READY, ApplyStatus.NONE)
    assert not ScheduleEvent.objects.filter(source=EventSource.ACTIVE_SCHEDULE).exists()


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_changed_schedule_is_stale_before_the_edit_is_checked(user):
    preview = ready_preview(user)
    events_create(user=user, events=[EventSpec(title="Dentist", week=30, day=7, start_section=12, end_section=12)])
    checked = []
    with pytest.raises(ApiError) as info:
        apply_edited(user, preview, lambda row, proposed, changes: checked.append(1) or changes)
    assert info.value.error_code == "stale_version" and not checked
    preview.refresh_from_db()
    assert (preview.status, preview.apply_status) == (PreviewStatus.EXPIRED, ApplyStatus.REJECTED)


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [("dry_run=maybe", "dry_run"), ("dry_run=", "dry_run"), ("status=done", "status"), ("status=READY", "status")],
)
def test_a_bad_previews_list_filter_is_a_400_naming_it(api, query, field):
    response = api.get(f"/api/v1/active-schedule/previews/?{query}")
    assert response.status_code == 400 and list(response.json()["error"]["fields"]) == [field], response.content


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_previews_list_filters_by_dry_run_in_any_case_and_by_the_status_a_client_reads(user, api):
    preview = ready_preview(user)
    listed = "/api/v1/active-schedule/previews/"
    assert api.get(f"{listed}?status=ready").json()["count"] == 1
    assert api.get(f"{listed}?dry_run=TRUE").json()["count"] == 0
    assert api.get(f"{listed}?dry_run=0&status=").json()["count"] == 1
    ActiveSchedulePreview.objects.filter(pk=preview.pk).update(expires_at=timezone.now())
    assert api.get(f"{listed}?status=ready").json()["count"] == 0
    assert api.get(f"{listed}?status=expired").json()["results"][0]["status"] == "expired"
