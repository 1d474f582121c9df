from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import IdempotencyRecord

pytestmark = pytest.mark.django_db
URL = "/api/v1/me/calendar-token/"


def post(client, key, body=None, header="HTTP_IDEMPOTENCY_KEY"):
    return client.post(URL, body or {}, format="json", **{header: key})


def test_a_repeat_with_the_same_key_replays_the_first_response_byte_for_byte(auth_api, user):
    first = post(auth_api, "k-1")
    assert first.status_code == 201
    second = post(auth_api, "k-1")
    assert second.status_code == 201
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    user.refresh_from_db()
    from accounts.models import calendar_secret_digest

    secret = first.json()["url"].rsplit("/", 1)[1].removesuffix(".ics")
    assert user.calendar_secret_hash == calendar_secret_digest(secret)  # the repeat did not rotate it again


def test_x_idempotency_key_is_accepted_too(auth_api):
    first = post(auth_api, "k-2", header="HTTP_X_IDEMPOTENCY_KEY")
    assert post(auth_api, "k-2").content == first.content


def test_without_a_key_every_call_acts(auth_api):
    assert auth_api.post(URL, {}, format="json").json() != auth_api.post(URL, {}, format="json").json()


def test_the_same_key_with_another_body_is_422(auth_api):
    post(auth_api, "k-3", {"note": "one"})
    response = post(auth_api, "k-3", {"note": "two"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_a_repeat_while_the_first_is_in_flight_is_409(auth_api, user):
    import hashlib

    digest = hashlib.sha256(b"POST\0" + URL.encode() + b"\0" + b"{}").hexdigest()
    IdempotencyRecord.objects.create(
        user=user,
        key="k-4",
        request_hash=digest,
        locked_until=timezone.now() + timedelta(seconds=60),
        expires_at=timezone.now() + timedelta(hours=24),
    )
    response = post(auth_api, "k-4")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_in_progress"


def test_an_abandoned_in_flight_record_is_taken_over(auth_api, user):
    IdempotencyRecord.objects.create(
        user=user,
        key="k-5",
        request_hash="whatever",
        locked_until=timezone.now() - timedelta(seconds=1),
        expires_at=timezone.now() + timedelta(hours=24),
    )
    assert post(auth_api, "k-5").status_code == 201


def test_keys_are_per_user(make_user, client_for):
    alice, bob = make_user("alice2"), make_user("bob2")
    first = post(client_for(alice), "shared")
    second = post(client_for(bob), "shared")
    assert first.status_code == second.status_code == 201
    assert first.json() != second.json()


def test_a_key_after_24_hours_acts_again(auth_api, user):
    first = post(auth_api, "k-6")
    IdempotencyRecord.objects.filter(user=user, key="k-6").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert post(auth_api, "k-6").json() != first.json()


def test_an_unprintable_or_overlong_key_is_400(auth_api):
    response = post(auth_api, "x" * 256)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
