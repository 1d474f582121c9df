"""A chat-completions endpoint on a real local HTTP server (pytest-httpserver), speaking
the streaming protocol: `data: <chunk>` lines, then `data: [DONE]`."""

import json
import time

from werkzeug.wrappers import Response

PATH = "/v1/chat/completions"


def chunk(delta=None, finish=None, usage=None):
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "fake-model",
        "choices": []
        if delta is None and finish is None
        else [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = usage
    return body


def text_chunks(*pieces, usage=(11, 7)):
    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": p}) for p in pieces]
    out.append(chunk({}, "stop"))
    out.append(chunk(usage={"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}))
    return out


def tool_chunks(name, arguments: dict, usage=(20, 9)):
    raw = json.dumps(arguments, ensure_ascii=False)
    half = len(raw) // 2
    return [
        chunk(
            {
                "role": "assistant",
                "tool_calls": [
                    {"index": 0, "id": "call_1", "type": "function", "function": {"name": name, "arguments": ""}}
                ],
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": raw[:half]}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": raw[half:]}}]}),
        chunk({}, "tool_calls"),
        chunk(usage={"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}),
    ]


def tool_calls_response(*calls):
    """A streamed answer carrying each (name, raw arguments text) as its own tool call, whole."""
    deltas = [
        chunk(
            {
                "role": "assistant",
                "tool_calls": [
                    {"index": i, "id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": raw}}
                    for i, (name, raw) in enumerate(calls)
                ],
            }
        ),
        chunk({}, "tool_calls"),
        chunk(usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}),
    ]
    return sse_response(deltas)


def sse_response(chunks, *, delay=0.0):
    def generate():
        for c in chunks:
            if delay:
                time.sleep(delay)
            yield f"data: {json.dumps(c, ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"

    return Response(generate(), status=200, content_type="text/event-stream")


def error_response(status):
    return Response(
        json.dumps({"error": {"message": "boom", "type": "server_error", "code": None}}),
        status=status,
        content_type="application/json",
    )


def completion(content, *, finish="stop", usage=(900, 120), refusal=None):
    """A non-streamed chat completion (what a `response_format` call without `stream` gets)."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1,
        "model": "fake-vision-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }


def completion_response(content, **kwargs):
    return Response(json.dumps(completion(content, **kwargs)), status=200, content_type="application/json")
