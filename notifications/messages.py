"""The notification text, built from the `notification.requested` event data only.

Pure: no models, no settings lookups beyond what the caller passes. Times are shown
in the user's time zone; the summary is at most 180 characters.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime

from accounts.timezones import zone_named

SUMMARY_MAX = 180
TITLE_MAX = 100
KINDS = ("preview_ready", "no_free_slot")


class InvalidEvent(ValueError):
    """The event data does not follow the contract."""


@dataclass(frozen=True)
class Message:
    title: str
    summary: str
    action_text: str
    action_url: str
    slots: list[str] = field(default_factory=list)
    task_title: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Message":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def public(self) -> dict:
        """The four fields of the generic webhook's `message` object."""
        return {
            "title": self.title,
            "summary": self.summary,
            "action_text": self.action_text,
            "action_url": self.action_url,
        }


def validate_event(data) -> dict:
    """Check the fields this app relies on; return them normalised."""
    if not isinstance(data, dict):
        raise InvalidEvent("data must be an object")
    problems = []
    user_id = data.get("user_id")
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        problems.append("user_id")
    dedupe_key = data.get("dedupe_key")
    if not isinstance(dedupe_key, str) or not dedupe_key or len(dedupe_key) > 191:
        problems.append("dedupe_key")
    kind = data.get("kind")
    if kind not in KINDS:
        problems.append("kind")
    preview_id = data.get("preview_id")
    if preview_id is not None and (not isinstance(preview_id, str) or len(preview_id) > 64):
        problems.append("preview_id")
    if kind == "preview_ready" and not preview_id:
        problems.append("preview_id")
    slots = data.get("slots") or []
    if not isinstance(slots, list) or len(slots) > 3:
        problems.append("slots")
        slots = []
    parsed_slots = []
    for slot in slots:
        try:
            start, end = _parse(slot["start_at"]), _parse(slot["end_at"])
        except (KeyError, TypeError, ValueError):
            problems.append("slots")
            break
        parsed_slots.append((start, end))
    if problems:
        raise InvalidEvent("invalid field(s): " + ", ".join(sorted(set(problems))))
    return {
        **data,
        "task_title": str(data.get("task_title") or "").strip(),
        "trigger_id": str(data.get("trigger_id") or ""),
        "preview_id": preview_id or None,
        "_slots": parsed_slots,
    }


def _parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("naive time")
    return moment


def format_slot(start: datetime, end: datetime, tz) -> str:
    """`Tue 24 Nov 14:00\u201315:40` (the end's date too when it falls on another day)."""
    start, end = start.astimezone(tz), end.astimezone(tz)
    text = f"{start:%a} {start.day} {start:%b %H:%M}\u2013"
    if end.date() != start.date():
        text += f"{end:%a} {end.day} {end:%b} "
    return text + f"{end:%H:%M}"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def compose(data: dict, *, timezone_name: str, base_url: str) -> Message:
    """Render the message for one event (data already passed through validate_event)."""
    tz = zone_named(timezone_name)
    task = _clip(data["task_title"] or "your task", 60)
    slots = [format_slot(start, end, tz) for start, end in data["_slots"]]
    base_url = base_url.rstrip("/")
    zone_label = getattr(tz, "key", "UTC")
    if data["kind"] == "preview_ready":
        title = f"Schedule suggestion: {task}"
        if slots:
            summary = f"Free time found for “{task}”: " + "; ".join(slots) + f" ({zone_label}). Open to apply."
        else:
            summary = f"A schedule suggestion for “{task}” is ready. Open to review and apply."
        action_text = "Review and apply"
        action_url = f"{base_url}/api/v1/active-schedule/previews/{data['preview_id']}/"
    else:
        title = f"No free time: {task}"
        summary = f"No free time before the deadline for “{task}”. Free up a slot or move the deadline."
        action_text = "View details"
        if data.get("preview_id"):
            action_url = f"{base_url}/api/v1/active-schedule/previews/{data['preview_id']}/"
        else:
            action_url = f"{base_url}/api/v1/active-schedule/triggers/{data['trigger_id']}/"
    return Message(
        title=_clip(title, TITLE_MAX),
        summary=_clip(summary, SUMMARY_MAX),
        action_text=action_text,
        action_url=action_url,
        slots=slots,
        task_title=data["task_title"],
    )


def connection_test_message(*, kind: str, base_url: str) -> Message:
    return Message(
        title="SmartMate test notification",
        summary=f"Your {kind} channel is connected. Schedule suggestions will arrive here.",
        action_text="Open SmartMate",
        action_url=f"{base_url.rstrip('/')}/api/v1/notifications/",
    )
