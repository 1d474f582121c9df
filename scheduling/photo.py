"""A timetable from a photo (docs/DOMAIN.md §6): the image made safe to send, the question and
the answer's JSON schema for the vision model, and the answer read row by row into the rows
`courses/import/` takes. No models and no I/O here; the model call is
`scheduling.services.photo`.

The image: its type is read from its bytes (JPEG, PNG or WebP, whatever its name or content
type says), its dimensions are checked from the header before anything is decoded (no
decompression bombs), and what is sent is a fresh JPEG of the pixels only, upright, at most
SENT_MAX_SIDE px a side: no EXIF (location, camera), no comment, no colour profile.

The answer: each row the model read is checked by the course serializer, the one place of
the course rules, and kept or dropped with a warning that says why (unknown day, section out of
range, week list unreadable, ...). `status` is `success` when every row was kept without a
warning, `partial` when some were, `rejected` when none was.
"""

from __future__ import annotations

import base64
import io
import json
import math
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageOps

from scheduling.timetable import MAX_WEEKS, weeks_from_text

SIGNATURES = {"jpeg": (b"\xff\xd8\xff",), "png": (b"\x89PNG\r\n\x1a\n",)}
PILLOW_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
MAX_PIXELS = 40_000_000  # a 48 MP phone photo is refused; its 12 MP default is fine
MAX_SIDE = 12_000
SENT_MAX_SIDE = 2048  # what vision models scale to anyway
MAX_ROWS = 200  # courses/import/ takes at most this many
LOW_CONFIDENCE = 0.5
TOO_MANY_PIXELS = f"at most {MAX_SIDE} px a side and {MAX_PIXELS // 1_000_000} megapixels."


class ImageRefused(ValueError):
    """The upload is no image we take. `too_large` → 413, else 400."""

    def __init__(self, message: str, *, too_large: bool = False):
        super().__init__(message)
        self.too_large = too_large


@dataclass(frozen=True)
class PreparedImage:
    jpeg: bytes
    width: int
    height: int

    def data_url(self) -> str:
        return "data:image/jpeg;base64," + base64.b64encode(self.jpeg).decode()

    def tokens(self) -> int:
        """What a high-detail image costs at OpenAI-style endpoints: 85 + 170 per 512 px tile once
        the short side is scaled to 768 px (the prompt estimate for the quota hold)."""
        scale = min(1.0, 768 / min(self.width, self.height))
        tiles = math.ceil(self.width * scale / 512) * math.ceil(self.height * scale / 512)
        return 85 + 170 * tiles


def sniff(data: bytes) -> str | None:
    """jpeg, png or webp from the first bytes, or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((kind for kind, heads in SIGNATURES.items() if data.startswith(heads)), None)


def image_prepare(data: bytes, *, max_bytes: int) -> PreparedImage:
    """The image as it is sent to the model, or ImageRefused."""
    if len(data) > max_bytes:
        raise ImageRefused(f"The image is over {max_bytes // (1024 * 1024)} MB.", too_large=True)
    kind = sniff(data)
    if kind is None:
        raise ImageRefused("The file is not a JPEG, PNG or WebP image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[kind]])
            width, height = image.size  # from the header: nothing is decoded yet
            if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                raise ImageRefused(f"The image is {width}x{height} px: {TOO_MANY_PIXELS}")
            if kind == "jpeg":
                image.draft("RGB", (SENT_MAX_SIDE, SENT_MAX_SIDE))  # decode at a fraction of the size
            image.load()
            image = ImageOps.exif_transpose(image)  # upright as the camera meant it, before EXIF goes
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # Pillow's own check, in open()
        raise ImageRefused(f"The image is too large: {TOO_MANY_PIXELS}")
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ImageRefused("The image could not be decoded.")
    image = _flattened(image)
    image.thumbnail((SENT_MAX_SIDE, SENT_MAX_SIDE))
    image.info = {}  # no comment, EXIF or profile is carried over
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return PreparedImage(jpeg=out.getvalue(), width=image.width, height=image.height)


def _flattened(image: Image.Image) -> Image.Image:
    """RGB; transparency on white, as a timetable screenshot is meant to be read."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


# --- the question -----------------------------------------------------------------------------------

ROW_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "location", "teacher", "day", "start_section", "end_section", "weeks", "confidence"],
    "properties": {
        "name": {"type": "string", "description": "the course name as printed"},
        "location": {"type": "string", "description": "room or building; empty if none"},
        "teacher": {"type": "string", "description": "empty if none"},
        "day": {"type": ["integer", "null"], "description": "1 Monday ... 7 Sunday; null if unclear"},
        "start_section": {"type": ["integer", "null"], "description": "first section (period), from 1"},
        "end_section": {"type": ["integer", "null"], "description": "last section, inclusive"},
        "weeks": {"type": "string", "description": "the week list exactly as printed, e.g. 1-16周, 1-8,10-16(双)"},
        "confidence": {"type": "number", "description": "0 to 1: how sure you are of this row"},
    },
}
ANSWER_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["rows"],
    "properties": {"rows": {"type": "array", "items": ROW_SCHEMA}},
}
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "timetable_rows", "strict": True, "schema": ANSWER_SCHEMA},
}


def messages(image: PreparedImage, *, section_times) -> list[dict]:
    """The chat messages: the rules as system text, the image (a data URL) as the user's."""
    sections = "; ".join(f"{n} = {start}-{end}" for n, (start, end) in enumerate(section_times, 1))
    system = (
        "You read a photo or screenshot of a student's weekly course timetable and return every "
        "course block as one row. A course held on two days, or twice a day, is two rows. Days are "
        "1 (Monday) to 7 (Sunday). Sections are the numbered periods of a day: "
        f"{sections}. When the timetable shows times instead of numbers, give the sections those "
        "times cover. Copy the week list exactly as printed (for example 1-16周 or 1-8,10-16(单)); "
        "leave it empty when none is printed. Use null for a day or section you cannot read, and a "
        "low confidence for a row you are unsure of. Return no row for anything that is not a course."
    )
    return [
        {"role": "system", "content": system},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Read the courses of this timetable."},
                {"type": "image_url", "image_url": {"url": image.data_url(), "detail": "high"}},
            ],
        },
    ]


def prompt_tokens(image: PreparedImage, chat: list[dict]) -> int:
    text = json.dumps(chat[0]["content"], ensure_ascii=False) + json.dumps(RESPONSE_FORMAT)
    return image.tokens() + len(text) // 3 + 20


# --- the answer ---------------------------------------------------------------------------------------


@dataclass
class PhotoResult:
    status: str = "rejected"
    confidence: float = 0.0
    rows: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)

    def warn(self, code: str, message: str, row: int | None = None) -> None:
        self.warnings.append({"row": row, "code": code, "message": message})


def answer_rows(content: str | None) -> tuple[list, bool]:
    """(rows, whole): the `rows` of the answer; from an answer cut short (or with trailing
    text), the rows that were complete. ([], False) for no JSON at all."""
    if not content:
        return [], False
    try:
        answer = json.loads(content)
    except (ValueError, RecursionError):
        return _complete_rows(content), False
    rows = answer.get("rows") if isinstance(answer, dict) else None
    return (rows, True) if isinstance(rows, list) else ([], False)


def _complete_rows(content: str) -> list:
    """The row objects of `{"rows": [ {...}, {...}, {...` up to the last one that closed."""
    decoder = json.JSONDecoder()
    start = content.find("[", content.find('"rows"'))
    if content.find('"rows"') < 0 or start < 0:
        return []
    rows, index = [], start + 1
    while True:
        while index < len(content) and content[index] in " \t\r\n,":
            index += 1
        try:
            row, index = decoder.raw_decode(content, index)
        except (ValueError, RecursionError):
            return rows
        rows.append(row)


def _int_or_none(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value, limit: int) -> str:
    return " ".join(value.split())[:limit] if isinstance(value, str) else ""


def _confidence(value) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return round(min(1.0, max(0.0, float(value))), 2)
    return LOW_CONFIDENCE  # the model said nothing: neither sure nor unsure


# A serializer error on one of these fields names the warning; any other is `invalid_row`.
FIELD_WARNINGS = {
    "day": ("unknown_day", "unknown day"),
    "start_section": ("section_out_of_range", "sections out of range"),
    "end_section": ("section_out_of_range", "sections out of range"),
    "weeks": ("weeks_unreadable", f"week list unreadable or outside weeks 1-{MAX_WEEKS}"),
}
WARNING_CODES = (
    "unreadable_answer",
    "no_rows",
    "too_many_rows",
    "truncated",
    "refused",
    "invalid_row",
    "unknown_day",
    "section_out_of_range",
    "weeks_unreadable",
    "low_confidence",
    "overlap",
)


def _label(raw: dict) -> str:
    name = _text(raw.get("name"), 40) or "a row without a name"
    return f"“{name}”"


def _as_read(raw: dict, code: str) -> str:
    """What the model read for the field a warning is about, to show beside it."""
    value = {
        "unknown_day": raw.get("day"),
        "weeks_unreadable": raw.get("weeks"),
        "section_out_of_range": f"{raw.get('start_section')}-{raw.get('end_section')}",
    }.get(code)
    return f" (read: {_text(str(value), 40)})" if value not in (None, "") else ""


def rows_from_answer(content: str | None, *, truncated: bool = False, refusal: str | None = None) -> PhotoResult:
    """The model's answer → import rows with confidence and warnings (nothing is written)."""
    from scheduling.serializers import CourseInputSerializer  # the course rules, in one place

    result = PhotoResult()
    if refusal:
        result.warn("refused", f"The model declined to read the image: {_text(refusal, 200)}")
        return result
    rows, whole = answer_rows(content)
    if truncated:
        result.warn("truncated", "The model's answer was cut short: rows after the cut are missing.")
    elif not whole and not rows:
        result.warn("unreadable_answer", "The model's answer was not the JSON asked for.")
        return result
    elif not whole:
        result.warn("unreadable_answer", "The model's answer was not all JSON: only its complete rows are read.")
    if not rows:
        result.warn("no_rows", "No course was found in the image.")
        return result
    if len(rows) > MAX_ROWS:
        result.warn("too_many_rows", f"Only the first {MAX_ROWS} of {len(rows)} rows are read.")
    taken: dict[tuple[int, int, int], int] = {}
    confidences = []
    for index, raw in enumerate(rows[:MAX_ROWS]):
        if not isinstance(raw, dict):
            result.warn("invalid_row", "This row is not an object.", index)
            continue
        weeks = weeks_from_text(raw["weeks"]) if isinstance(raw.get("weeks"), str) else None
        candidate = {
            "name": _text(raw.get("name"), 100),
            "location": _text(raw.get("location"), 100),
            "teacher": _text(raw.get("teacher"), 100),
            "weeks": weeks,
            "day": _int_or_none(raw.get("day")),
            "start_section": _int_or_none(raw.get("start_section")),
            "end_section": _int_or_none(raw.get("end_section")),
        }
        serializer = CourseInputSerializer(data=candidate)
        if not serializer.is_valid():
            code, words = next(
                (FIELD_WARNINGS[name] for name in serializer.errors if name in FIELD_WARNINGS),
                ("invalid_row", "not a course row"),
            )
            result.warn(code, f"{_label(raw)}: {words}{_as_read(raw, code)}; the row is left out.", index)
            continue
        row = {**serializer.validated_data, "confidence": _confidence(raw.get("confidence"))}
        if row["confidence"] < LOW_CONFIDENCE:
            result.warn("low_confidence", f"{_label(raw)}: the model is unsure of this row; check it.", index)
        clash = next((taken[slot] for slot in _slots(row) if slot in taken), None)
        if clash is not None:
            result.warn("overlap", f"{_label(raw)} takes sections of row {clash}; import one of them.", index)
        taken.update(dict.fromkeys(_slots(row), index))
        result.rows.append(row)
        confidences.append(row["confidence"])
    if result.rows:
        read = len(rows[:MAX_ROWS])
        result.confidence = round(sum(confidences) / read, 2)  # a left-out row counts as 0
        result.status = "success" if not result.warnings and len(result.rows) == read else "partial"
    return result


def _slots(row: dict):
    for week in row["weeks"]:
        for section in range(row["start_section"], row["end_section"] + 1):
            yield week, row["day"], section
