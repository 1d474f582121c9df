"""SSE against the live production ASGI entry point (uvicorn on a free port, in a thread, on the test
database), read by a real streaming client (httpx): framing, pings while the model is
slow, exactly one [DONE], and a client disconnect that stops generation."""

import statistics
import time

import httpx
import pytest

from agent.models import Message
from tests.agent import fake_llm
from tests.agent.conftest import parse_sse, relay
from tests.conftest import serve_asgi

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live_asgi():
    with serve_asgi() as port:
        yield f"http://127.0.0.1:{port}"


def token_for(user):
    from accounts.services import session_start

    return session_start(user=user)["access"]


def stream_chat(base, user, message, *, timeout=20.0):
    headers = {"Authorization": "Bearer " + token_for(user), "Accept": "text/event-stream"}
    with (
        httpx.Client(timeout=timeout) as client,
        client.stream("POST", base + "/api/v1/agent/chat/", json={"message": message}, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        conversation_id = response.headers["x-conversation-id"]
        raw = "".join(response.iter_text())
    return conversation_id, raw


def test_offline_stream_is_framed_and_ends_with_exactly_one_done(live_asgi, user):
    cid, raw = stream_chat(live_asgi, user, "明天下午三点前交数学作业")
    events = parse_sse(raw)
    assert events.count("[DONE]") == 1 and events[-1] == "[DONE]"
    chunks = [e for e in events if isinstance(e, dict)]
    kinds = [c["extra"]["kind"] for c in chunks]
    assert kinds[0] == "intent" and chunks[0]["extra"]["intent"] == "quick_note"
    assert "action" in kinds and all(k in {"text", "intent", "action", "preview", "error"} for k in kinds)
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == chunks[0]["id"] for c in chunks)
    # retry: first; then each event an id: line and one data: line, and a blank line; [DONE] has no id
    blocks = raw.strip("\n").split("\n\n")
    assert blocks[0] == "retry: 3000"
    ids = []
    for block in blocks[1:]:
        lines = block.split("\n")
        if lines == ["data: [DONE]"] or lines[0].startswith(": ping"):
            continue
        assert len(lines) == 2 and lines[0].startswith("id: ") and lines[1].startswith("data: "), block
        ids.append(lines[0][4:])
    assert len(set(ids)) == len(ids) == len(chunks)
    relay()
    assert Message.objects.filter(conversation_id=int(cid)).count() == 2


def test_pings_while_the_model_is_slow(live_asgi, user, httpserver, settings):
    settings.AGENT_PROVIDER = "openai"
    settings.LLM_BASE_URL = httpserver.url_for("/v1")
    settings.AGENT_SSE_PING_SECONDS = 0.2
    httpserver.expect_request(fake_llm.PATH).respond_with_response(
        fake_llm.sse_response(fake_llm.text_chunks("slow", " answer"), delay=0.5)
    )
    _cid, raw = stream_chat(live_asgi, user, "hello")
    events = parse_sse(raw)
    assert events.count("ping") >= 2
    assert events.count("[DONE]") == 1 and events[-1] == "[DONE]"
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events if isinstance(e, dict))
    assert text == "slow answer"


def test_a_client_disconnect_stops_generation_and_charges_only_what_was_used(live_asgi, user, httpserver, settings):
    from accounts.models import TokenCharge

    settings.AGENT_PROVIDER = "openai"
    settings.LLM_BASE_URL = httpserver.url_for("/v1")
    sent = {"n": 0}
    pieces = [f"word{i} " for i in range(60)]

    def slow_model(request):
        from werkzeug.wrappers import Response

        chunks = fake_llm.text_chunks(*pieces, usage=(500, 500))

        def generate():
            import json

            for c in chunks:
                time.sleep(0.1)
                sent["n"] += 1
                yield f"data: {json.dumps(c)}\n\n"
            yield "data: [DONE]\n\n"

        return Response(generate(), content_type="text/event-stream")

    httpserver.expect_request(fake_llm.PATH).respond_with_handler(slow_model)
    headers = {"Authorization": "Bearer " + token_for(user), "Accept": "text/event-stream"}
    with (
        httpx.Client(timeout=20) as client,
        client.stream(
            "POST", live_asgi + "/api/v1/agent/chat/", json={"message": "hello"}, headers=headers
        ) as response,
    ):
        cid = int(response.headers["x-conversation-id"])
        seen = 0
        for line in response.iter_lines():
            if line.startswith("data: ") and '"content"' in line:
                seen += 1
                if seen >= 3:
                    break
    time.sleep(1.5)
    stopped_at = sent["n"]
    time.sleep(1.0)
    assert sent["n"] == stopped_at, "the model was still being read after the client left"
    assert stopped_at < len(pieces)
    deadline = time.monotonic() + 5
    while not TokenCharge.objects.filter(user=user).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    charge = TokenCharge.objects.get(user=user)
    assert 0 < charge.tokens < 1000  # estimated for what was used, not the full answer's usage
    relay()
    reply = Message.objects.get(conversation_id=cid, role="assistant").content
    assert reply.startswith("word0 word1 word2") and "word59" not in reply


def test_p50_time_to_first_byte_offline(live_asgi, user):
    headers = {"Authorization": "Bearer " + token_for(user), "Accept": "text/event-stream"}
    samples = []
    with httpx.Client(timeout=20) as client:
        for i in range(15):
            started = time.perf_counter()
            with client.stream(
                "POST", live_asgi + "/api/v1/agent/chat/", json={"message": f"hello {i}"}, headers=headers
            ) as r:
                body = r.iter_raw()
                next(body)
                samples.append(time.perf_counter() - started)
                for _ in body:
                    pass
    p50 = statistics.median(samples) * 1000
    print(f"\noffline SSE time to first byte: p50 {p50:.1f} ms over {len(samples)} requests")
    assert p50 < 2000


def test_json_chat_works_under_asgi_too(live_asgi, user):
    headers = {"Authorization": "Bearer " + token_for(user)}
    response = httpx.post(
        live_asgi + "/api/v1/agent/chat/",
        json={"message": "remind me to call mom tomorrow at 7pm"},
        headers=headers,
        timeout=20,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["intent"] == "quick_note" and body["actions"][0]["type"] == "task_created"
    assert response.headers["x-conversation-id"] == str(body["conversation_id"])


def test_validation_and_credit_errors_are_json_before_the_stream_under_asgi(live_asgi, user, llm, settings):
    from accounts.quota import quota_charge

    headers = {
        "Authorization": "Bearer " + token_for(user),
        "Accept": "text/event-stream",
        "Content-Type": "application/json",
    }
    bad = httpx.post(live_asgi + "/api/v1/agent/chat/", content=b"{oops", headers=headers, timeout=20)
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/json")
    assert bad.json()["error"]["code"] == "validation_error"
    quota_charge(user=user, request_id="all", tokens=settings.LLM_TOKEN_QUOTA)
    over = httpx.post(live_asgi + "/api/v1/agent/chat/", json={"message": "hi"}, headers=headers, timeout=20)
    assert over.status_code == 402 and over.json()["error"]["code"] == "insufficient_credits"
    assert over.headers["content-type"].startswith("application/json") and llm.log == []
