"""A timetable from a photo: one call to the vision model, paid like a chat turn (the free
allowance first, then credits: docs/DOMAIN.md §9); nothing of the schedule is written
(docs/DOMAIN.md §6). What is sent and how the answer is read: `scheduling.photo`.
"""

from __future__ import annotations

import logging
import uuid

import openai
from django.conf import settings
from openai.types.chat import ChatCompletion

from accounts.credits.services import llm_call_check, llm_call_reserve, llm_call_settle
from scheduling import photo
from smartmate.errors import ApiError, UpstreamError

logger = logging.getLogger("smartmate.scheduling")


class NotConfigured(ApiError):
    status_code = 501
    default_code = "not_configured"
    default_detail = "Reading a timetable from a photo needs a vision model (LLM_VISION_MODEL), which is not set up."


def vision_configured() -> bool:
    return bool(settings.LLM_VISION_MODEL and settings.LLM_BASE_URL)


def _image(data: bytes) -> photo.PreparedImage:
    try:
        return photo.image_prepare(data, max_bytes=settings.SCHEDULING_PHOTO_MAX_BYTES)
    except photo.ImageRefused as exc:
        if exc.too_large:
            raise ApiError(str(exc), code="payload_too_large", status_code=413) from None
        raise ApiError(str(exc), code="validation_error", status_code=400, fields={"image": [str(exc)]}) from None


def _ask(chat: list[dict], *, max_tokens: int):
    client = openai.OpenAI(
        base_url=settings.LLM_BASE_URL,
        api_key=settings.LLM_API_KEY or "none",
        timeout=settings.LLM_VISION_TIMEOUT_SECONDS,
        max_retries=settings.LLM_MAX_RETRIES,  # the SDK's: 429 / 5xx / connection errors, with backoff
    )
    try:
        completion = client.chat.completions.create(
            model=settings.LLM_VISION_MODEL,
            messages=chat,
            response_format=photo.RESPONSE_FORMAT,
            max_tokens=max_tokens,
            temperature=0,
        )
    except openai.APIStatusError as exc:
        logger.warning("vision model answered %s", exc.status_code)
        raise UpstreamError("The vision model endpoint failed.", details={"status": exc.status_code}) from None
    except openai.APITimeoutError:
        logger.warning("vision model timed out after %ss", settings.LLM_VISION_TIMEOUT_SECONDS)
        raise UpstreamError("The vision model endpoint did not answer in time.", details={"status": None}) from None
    except openai.APIError as exc:  # no connection, or an answer that is no chat completion
        logger.warning("vision model call failed: %s", type(exc).__name__)
        raise UpstreamError("The vision model endpoint could not be used.", details={"status": None}) from None
    finally:
        client.close()
    if not isinstance(completion, ChatCompletion):  # the SDK hands back a body that is not JSON as text
        logger.warning("vision model answered something that is no chat completion")
        raise UpstreamError("The vision model endpoint could not be used.", details={"status": None})
    return completion


def timetable_photo_parse(*, user, image: bytes) -> photo.PhotoResult:
    """Rows for courses/import/ read from a photo of a timetable, each with its confidence, and
    the warnings; 501 without a vision model, 400/413 for an upload that is no image we take,
    502 when the model endpoint fails, 402 when neither the allowance nor credits pay the call."""
    if not vision_configured():
        raise NotConfigured()
    model = settings.LLM_VISION_MODEL
    llm_call_check(user=user, model=model)
    prepared = _image(image)
    chat = photo.messages(prepared, section_times=settings.SCHEDULING_SECTION_TIMES)
    request_id = f"photo:{uuid.uuid4().hex}"
    prompt = photo.prompt_tokens(prepared, chat)
    held = llm_call_reserve(user=user, request_id=request_id, model=model, prompt_tokens=prompt)
    try:
        completion = _ask(chat, max_tokens=held.max_completion_tokens)
    except UpstreamError:
        # A call the endpoint failed costs nothing.
        llm_call_settle(user=user, request_id=request_id, prompt_tokens=0, completion_tokens=0, failed=True)
        raise
    usage = completion.usage
    llm_call_settle(
        user=user,
        request_id=request_id,
        prompt_tokens=usage.prompt_tokens if usage else prompt,
        completion_tokens=usage.completion_tokens if usage else held.max_completion_tokens,
        estimated=usage is None,
    )
    choice = (completion.choices or [None])[0]
    if choice is None or choice.message is None:
        return photo.rows_from_answer(None)
    return photo.rows_from_answer(
        choice.message.content,
        truncated=choice.finish_reason == "length",
        refusal=getattr(choice.message, "refusal", None),
    )
