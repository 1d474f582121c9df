"""POST courses/parse-image/ against a real OpenAI-compatible server on loopback
(pytest-httpserver): what is sent, good / partial / garbage answers, upstream errors and a
timeout, the quota, and that nothing is written."""

import base64
import io
import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from werkzeug import Response

from accounts.quota import quota_status
from scheduling.models import Course, ScheduleEvent
from tests.agent import fake_llm
from tests.scheduling import photo_images

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/api/v1/courses/parse-image/"
MB = 1024 * 1024


@pytest.fixture
def vision(httpserver, settings):
    """The vision model at a loopback OpenAI-compatible endpoint; `sent` collects each request."""
    settings.LLM_BASE_URL = httpserver.url_for("/v1")
    settings.LLM_API_KEY = "test-key"
    settings.LLM_VISION_MODEL = "fake-vision-model"
    settings.LLM_VISION_TIMEOUT_SECONDS = 5.0
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_TOKEN_QUOTA = 100_000
    httpserver.sent = []
    return httpserver


def answer_with(vision, response):
    def handler(request):
        vision.sent.append({"json": request.get_json(), "headers": dict(request.headers)})
        return response if isinstance(response, Response) else response()

    vision.expect_request(fake_llm.PATH, method="POST").respond_with_handler(handler)


def rows_answer(*rows, **kwargs):
    return fake_llm.completion_response(json.dumps({"rows": list(rows)}, ensure_ascii=False), **kwargs)


def row(**overrides):
    base = {
        "name": "线性代数",
        "location": "教三-201",
        "teacher": "王老师",
        "day": 1,
        "start_section": 1,
        "end_section": 2,
        "weeks": "1-16周",
        "confidence": 0.95,
    }
    return {**base, **overrides}


def upload(api, data, name="timetable.png", content_type="image/png"):
    return api.post(URL, {"image": SimpleUploadedFile(name, data, content_type=content_type)}, format="multipart")


PNG = photo_images.encoded(photo_images.timetable(), "PNG")


def test_a_good_answer_gives_rows_that_import_as_they_are(api, user, vision):
    answer_with(
        vision, rows_answer(row(), row(name="大学物理", day=3, start_section=5, end_section=6, weeks="1-8,10-16(双)"))
    )
    response = upload(api, PNG)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "success" and body["warnings"] == [] and body["confidence"] == 0.95
    assert body["rows"][1] == {
        "name": "大学物理",
        "location": "教三-201",
        "teacher": "王老师",
        "weeks": [2, 4, 6, 8, 10, 12, 14, 16],
        "day": 3,
        "start_section": 5,
        "end_section": 6,
        "confidence": 0.95,
    }
    assert not Course.objects.filter(user=user).exists() and not ScheduleEvent.objects.filter(user=user).exists()
    # The client sends back what it accepts, confidence and all.
    imported = api.post("/api/v1/courses/import/", {"courses": body["rows"]}, format="json")
    assert imported.status_code == 201, imported.content
    assert sorted(Course.objects.filter(user=user).values_list("name", flat=True)) == ["大学物理", "线性代数"]


def test_the_model_gets_a_clean_jpeg_and_a_strict_schema(api, vision):
    answer_with(vision, rows_answer(row()))
    response = upload(api, photo_images.jpeg_with_metadata(size=(300, 200)), name="IMG_0001.JPG")
    assert response.status_code == 200, response.content
    (sent,) = vision.sent
    assert sent["headers"]["Authorization"] == "Bearer test-key"
    body = sent["json"]
    assert body["model"] == "fake-vision-model" and body["temperature"] == 0
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    schema = body["response_format"]["json_schema"]["schema"]["properties"]["rows"]["items"]
    assert schema["additionalProperties"] is False and set(schema["required"]) == set(schema["properties"])
    assert 16 <= body["max_tokens"] <= 1024
    image_part = body["messages"][1]["content"][1]["image_url"]["url"]
    assert image_part.startswith("data:image/jpeg;base64,")
    sent_image = Image.open(io.BytesIO(base64.b64decode(image_part.split(",", 1)[1])))
    assert not sent_image.getexif() and "comment" not in sent_image.info
    assert sent_image.size == (200, 300)  # upright
    assert "08:00-08:45" in body["messages"][0]["content"]  # the user's sections, to map times


def test_the_type_comes_from_the_bytes_not_the_name_or_content_type(api, vision):
    answer_with(vision, rows_answer(row()))
    jpeg = photo_images.encoded(photo_images.timetable(), "JPEG")
    assert upload(api, jpeg, name="timetable.png", content_type="image/png").status_code == 200
    text = upload(api, b"Mon 08:00 Linear algebra", name="timetable.jpg", content_type="image/jpeg")
    assert text.status_code == 400 and text.json()["error"]["fields"]["image"]
    gif = upload(api, photo_images.encoded(photo_images.timetable(), "GIF"), name="t.gif", content_type="image/gif")
    assert gif.status_code == 400
    assert len(vision.sent) == 1  # nothing refused was sent


def test_a_decompression_bomb_is_refused_before_the_model_is_asked(api, vision):
    response = upload(api, photo_images.png_declaring(60_000, 60_000))
    assert response.status_code == 400 and "px" in response.json()["error"]["message"]
    assert vision.sent == []


def test_over_5_mb_is_a_413(api, vision):
    too_big = PNG + b"\x00" * (5 * MB + 1 - len(PNG))
    response = upload(api, too_big)
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    far_too_big = upload(api, too_big + b"\x00" * MB)  # over the route's body cap: refused unread
    assert far_too_big.status_code == 413
    assert vision.sent == []
    exactly = PNG + b"\x00" * (5 * MB - len(PNG))  # trailing bytes after IEND: still an image
    answer_with(vision, rows_answer(row()))
    assert upload(api, exactly).status_code == 200


def test_a_partial_answer_keeps_the_good_rows_and_says_why_the_others_are_left_out(api, vision):
    answer_with(
        vision,
        rows_answer(
            row(),
            row(name="化学", day=9),
            row(name="生物", start_section=12, end_section=14),
            row(name="体育", weeks="全学期"),
            row(name="美术", day=5, confidence=0.3),
        ),
    )
    body = upload(api, PNG).json()
    assert body["status"] == "partial"
    assert [r["name"] for r in body["rows"]] == ["线性代数", "美术"]
    assert [(w["row"], w["code"]) for w in body["warnings"]] == [
        (1, "unknown_day"),
        (2, "section_out_of_range"),
        (3, "weeks_unreadable"),
        (4, "low_confidence"),
    ]
    assert 0 < body["confidence"] < 0.5


@pytest.mark.parametrize(
    "content", ["I'm sorry, this does not look like a timetable.", '{"rows": "none"}', "```json\n{oops"]
)
def test_garbage_json_is_rejected_with_a_warning(api, user, vision, content):
    answer_with(vision, fake_llm.completion_response(content))
    response = upload(api, PNG)
    assert response.status_code == 200
    body = response.json()
    assert body == {"status": "rejected", "confidence": 0.0, "rows": [], "warnings": body["warnings"]}
    assert body["warnings"][0]["code"] == "unreadable_answer"
    assert not Course.objects.filter(user=user).exists()


def test_an_answer_cut_at_max_tokens_keeps_its_complete_rows(api, vision):
    whole = json.dumps({"rows": [row(), row(name="大学物理", day=2), row(name="化学", day=3)]}, ensure_ascii=False)
    cut = whole[: whole.index("化学") + 1]
    answer_with(vision, fake_llm.completion_response(cut, finish="length"))
    body = upload(api, PNG).json()
    assert body["status"] == "partial" and [r["name"] for r in body["rows"]] == ["线性代数", "大学物理"]
    assert body["warnings"] == [{"row": None, "code": "truncated", "message": body["warnings"][0]["message"]}]


@pytest.mark.parametrize("status", [500, 503, 400, 401])
def test_an_upstream_error_is_a_502_and_costs_no_quota(api, user, vision, status):
    answer_with(vision, fake_llm.error_response(status))
    response = upload(api, PNG)
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upstream_error" and error["details"] == {"status": status}
    assert quota_status(user=user).used == 0


def test_a_model_that_does_not_answer_in_time_is_a_502(api, user, vision, settings):
    settings.LLM_VISION_TIMEOUT_SECONDS = 0.5

    def slow():
        time.sleep(2)
        return rows_answer(row())

    answer_with(vision, slow)
    started = time.monotonic()
    response = upload(api, PNG)
    assert time.monotonic() - started < 1.9  # gave up at the timeout, did not wait for the answer
    assert response.status_code == 502
    assert response.json()["error"]["details"] == {"status": None}
    assert "in time" in response.json()["error"]["message"]
    assert quota_status(user=user).used == 0


def test_a_non_json_body_from_the_endpoint_is_a_502(api, vision):
    answer_with(vision, Response("<html>gateway</html>", status=200, content_type="text/html"))
    response = upload(api, PNG)
    assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_error"


def test_the_call_is_paid_from_the_quota_with_the_reported_usage(api, user, vision):
    answer_with(vision, rows_answer(row(), usage=(1234, 56)))
    assert upload(api, PNG).status_code == 200
    assert quota_status(user=user).used == 1234 + 56


def test_with_the_allowance_used_up_and_no_credits_it_is_a_402_before_the_model_is_asked(api, user, vision, settings):
    settings.LLM_TOKEN_QUOTA = 500  # less than the image alone costs
    response = upload(api, PNG)
    assert response.status_code == 402 and response.json()["error"]["code"] == "insufficient_credits"
    assert vision.sent == []


def test_beyond_the_allowance_the_call_is_paid_in_credits_of_the_vision_model(api, user, vision, settings):
    from accounts.credits.models import CreditEntry
    from accounts.credits.services import credit_grant

    settings.LLM_TOKEN_QUOTA = 500
    settings.CREDIT_PRICES = {"default": {"prompt_per_1k": "1", "completion_per_1k": "2"}}
    credit_grant(user=user, amount=100, reason="test", granted_by=None, ref="grant-1")
    answer_with(vision, rows_answer(row(), usage=(1500, 500)))
    assert upload(api, PNG).status_code == 200
    (spend,) = CreditEntry.objects.filter(account_id=user.pk, kind="spend")
    assert spend.amount < 0 and "fake-vision-model" in spend.reason
    assert quota_status(user=user).used == 500


@pytest.mark.parametrize("missing", ["LLM_VISION_MODEL", "LLM_BASE_URL"])
def test_without_a_vision_model_it_is_501_not_configured(api, vision, settings, missing):
    setattr(settings, missing, "")
    response = upload(api, PNG)
    assert response.status_code == 501
    assert response.json()["error"]["code"] == "not_configured"
    assert vision.sent == []


def test_only_multipart_with_an_image_field_is_taken(api, vision):
    as_json = api.post(URL, {"image": base64.b64encode(PNG).decode()}, format="json")
    assert as_json.status_code == 415 and as_json.json()["error"]["code"] == "unsupported_media_type"
    no_file = api.post(URL, {"picture": SimpleUploadedFile("t.png", PNG)}, format="multipart")
    assert no_file.status_code == 400 and "picture" in no_file.json()["error"]["fields"]
    nothing = api.post(URL, {}, format="multipart")
    assert nothing.status_code == 400 and "image" in nothing.json()["error"]["fields"]
    empty = upload(api, b"")
    assert empty.status_code == 400
    assert vision.sent == []
