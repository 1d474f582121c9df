# ruff: noqa: RUF001
"""The pure part of the timetable photo: week lists as printed, what the image becomes before it
is sent, and how the model's answer is read into import rows."""

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from scheduling import photo
from scheduling.timetable import weeks_from_text
from tests.scheduling import photo_images

# --- week lists ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "weeks"),
    [
        ("1-16周", list(range(1, 17))),
        ("第1-8,10-16周(双)", [2, 4, 6, 8, 10, 12, 14, 16]),
        ("单周 3-15", [3, 5, 7, 9, 11, 13, 15]),
        ("Weeks 1–9 (odd)", [1, 3, 5, 7, 9]),
        ("1-8单,9-16双", [1, 3, 5, 7, 10, 12, 14, 16]),
        ("3,5,7", [3, 5, 7]),
        ("1~4周", [1, 2, 3, 4]),
        ("１－４周", [1, 2, 3, 4]),  # full-width, as Chinese timetables print them
        ("5", [5]),
        ("1-4、6、8-9周", [1, 2, 3, 4, 6, 8, 9]),
    ],
)
def test_a_printed_week_list_is_read(text, weeks):
    assert weeks_from_text(text) == weeks


@pytest.mark.parametrize("text", ["", "全周", "16-1", "1-16周 实验", "every week", "周"])
def test_what_is_no_week_list_is_none(text):
    assert weeks_from_text(text) is None


@given(st.integers(1, 30), st.integers(1, 30), st.sampled_from(["all", "odd", "even"]))
def test_a_range_printed_any_way_reads_as_its_expansion(start, end, week_type):
    from scheduling.timetable import expand_weeks

    start, end = min(start, end), max(start, end)
    marker = {"all": "", "odd": "(单)", "even": "(双)"}[week_type]
    expected = expand_weeks(start, end, week_type if start != end else "all") or None
    assert weeks_from_text(f"{start}-{end}周{marker}") == expected


# --- the image -------------------------------------------------------------------------------------

MB = 1024 * 1024


def prepared(data: bytes) -> Image.Image:
    result = photo.image_prepare(data, max_bytes=5 * MB)
    image = Image.open(io.BytesIO(result.jpeg))
    assert image.format == "JPEG" and image.size == (result.width, result.height)
    return image


def test_what_is_sent_has_no_exif_no_comment_and_is_upright():
    sent = prepared(photo_images.jpeg_with_metadata(size=(300, 200), orientation=6))
    assert not sent.getexif() and "exif" not in sent.info
    assert "comment" not in sent.info and "icc_profile" not in sent.info
    assert sent.size == (200, 300)  # turned as the orientation tag said


def test_the_source_really_had_the_metadata_the_test_strips():
    source = Image.open(io.BytesIO(photo_images.jpeg_with_metadata()))
    assert source.getexif().get_ifd(photo_images.GPS_IFD) and source.info["comment"]


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "JPEG"])
def test_each_allowed_type_is_read_from_its_bytes(fmt):
    assert photo.sniff(photo_images.encoded(photo_images.timetable(), fmt)) == fmt.lower()
    assert prepared(photo_images.encoded(photo_images.timetable(), fmt)).size == (640, 480)


def test_a_transparent_screenshot_is_flattened_on_white():
    image = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    sent = prepared(photo_images.encoded(image, "PNG"))
    assert sent.mode == "RGB" and sent.getpixel((25, 25)) >= (250, 250, 250)


def test_a_big_photo_is_sent_at_most_2048_px_a_side():
    sent = prepared(photo_images.encoded(photo_images.timetable((4000, 3000)), "JPEG"))
    assert max(sent.size) == 2048


@pytest.mark.parametrize(
    "data",
    [
        b"timetable: Monday 08:00 Linear Algebra",
        photo_images.encoded(photo_images.timetable(), "GIF"),
        photo_images.encoded(photo_images.timetable(), "BMP"),
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,  # a PNG signature and nothing after it
        photo_images.encoded(photo_images.timetable(), "PNG")[:200],  # cut short
    ],
)
def test_what_is_no_image_we_take_is_refused(data):
    with pytest.raises(photo.ImageRefused) as refused:
        photo.image_prepare(data, max_bytes=5 * MB)
    assert not refused.value.too_large


@pytest.mark.parametrize(("width", "height"), [(50_000, 50_000), (7000, 7000), (12_001, 10)])
def test_a_decompression_bomb_is_refused_from_its_header(width, height):
    with pytest.raises(photo.ImageRefused, match="px"):
        photo.image_prepare(photo_images.png_declaring(width, height), max_bytes=5 * MB)


def test_over_the_size_cap_is_too_large():
    with pytest.raises(photo.ImageRefused) as refused:
        photo.image_prepare(b"\xff\xd8\xff" + b"\x00" * (5 * MB), max_bytes=5 * MB)
    assert refused.value.too_large


def test_the_quota_estimate_follows_the_high_detail_tiles():
    assert photo.PreparedImage(b"", 2048, 1536).tokens() == 85 + 170 * 4  # 1024x768: 2x2 tiles
    assert photo.PreparedImage(b"", 512, 512).tokens() == 85 + 170


# --- the answer ------------------------------------------------------------------------------------


def row(**overrides):
    base = {
        "name": "Linear Algebra",
        "location": "B-201",
        "teacher": "Dr. Wu",
        "day": 1,
        "start_section": 1,
        "end_section": 2,
        "weeks": "1-16周",
        "confidence": 0.9,
    }
    return {**base, **overrides}


def answer(*rows):
    return json.dumps({"rows": list(rows)}, ensure_ascii=False)


def codes(result):
    return [(w["row"], w["code"]) for w in result.warnings]


def test_a_clean_answer_is_a_success_with_import_rows():
    result = photo.rows_from_answer(answer(row(), row(name="Physics", day=3, start_section=5, end_section=6)))
    assert result.status == "success" and result.warnings == [] and result.confidence == 0.9
    assert result.rows[0] == {
        "name": "Linear Algebra",
        "location": "B-201",
        "teacher": "Dr. Wu",
        "weeks": list(range(1, 17)),
        "day": 1,
        "start_section": 1,
        "end_section": 2,
        "confidence": 0.9,
    }


def test_each_bad_row_is_left_out_with_the_reason_and_the_rest_kept():
    result = photo.rows_from_answer(
        answer(
            row(),
            row(name="Chemistry", day=8),
            row(name="History", day=None),
            row(name="Biology", start_section=11, end_section=13),
            row(name="Art", start_section=4, end_section=3),
            row(name="Music", weeks="全周"),
            row(name="Sport", weeks="25-32"),
            row(name="", day=2),
            "not a row",
        )
    )
    assert result.status == "partial" and [r["name"] for r in result.rows] == ["Linear Algebra"]
    assert codes(result) == [
        (1, "unknown_day"),
        (2, "unknown_day"),
        (3, "section_out_of_range"),
        (4, "section_out_of_range"),
        (5, "weeks_unreadable"),
        (6, "weeks_unreadable"),
        (7, "invalid_row"),
        (8, "invalid_row"),
    ]
    assert "“Chemistry”: unknown day (read: 8)" in result.warnings[0]["message"]
    assert "(read: 全周)" in result.warnings[4]["message"]
    assert result.confidence == round(0.9 / 9, 2)  # the left-out rows count as nothing


def test_a_doubtful_or_overlapping_row_is_kept_with_a_warning():
    result = photo.rows_from_answer(answer(row(), row(name="Twin", confidence=0.2), row(day=2, confidence=7)))
    assert [r["confidence"] for r in result.rows] == [0.9, 0.2, 1.0]
    assert codes(result) == [(1, "low_confidence"), (1, "overlap")]
    assert result.status == "partial"


@pytest.mark.parametrize(
    "content", [None, "", "Sure! Here is the timetable you asked for.", "[1, 2]", '{"courses": []}', "{" * 10_000]
)
def test_garbage_is_rejected(content):
    result = photo.rows_from_answer(content)
    assert result.status == "rejected" and result.rows == [] and result.confidence == 0
    assert codes(result)[0][1] in ("unreadable_answer", "no_rows")


def test_an_answer_cut_short_keeps_its_complete_rows():
    whole = answer(row(), row(name="Physics", day=2), row(name="Chemistry", day=3))
    cut = whole[: whole.index("Chemistry") + 5]
    result = photo.rows_from_answer(cut, truncated=True)
    assert [r["name"] for r in result.rows] == ["Linear Algebra", "Physics"]
    assert result.status == "partial" and codes(result) == [(None, "truncated")]


def test_no_rows_is_rejected_and_a_refusal_says_so():
    assert codes(photo.rows_from_answer(answer())) == [(None, "no_rows")]
    refused = photo.rows_from_answer(None, refusal="I can't help with that.")
    assert refused.status == "rejected" and codes(refused) == [(None, "refused")]


def test_more_rows_than_an_import_takes_are_cut_with_a_warning():
    rows = [
        row(day=1 + n % 7, start_section=1 + (n // 7) % 12, end_section=1 + (n // 7) % 12, weeks=str(1 + n // 84))
        for n in range(205)
    ]
    result = photo.rows_from_answer(answer(*rows))
    assert len(result.rows) == photo.MAX_ROWS and codes(result) == [(None, "too_many_rows")]
