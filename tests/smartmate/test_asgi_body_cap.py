"""The body cap under the production entry point: smartmate.asgi.application (start-up
guard, BodyLimitMiddleware, Django) served by uvicorn on a free loopback port, in a
thread, on the test database. Clients are raw sockets (to send 50 MiB lazily and watch
when the server stops reading) and httpx streaming a generator (a real chunked client)."""

import json
import socket
import threading
import time

import httpx
import pytest
from django.core.signals import request_started

from tests.conftest import serve_asgi

pytestmark = pytest.mark.django_db(transaction=True)

MAX_BODY = 1024 * 1024
LOGIN = "/api/v1/auth/login/"


@pytest.fixture
def live_app(settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == MAX_BODY
    with serve_asgi() as port:
        yield port


@pytest.fixture
def django_requests():
    """Paths of the requests Django started handling (its request_started signal fires
    only after the whole body was read: by its ASGI handler for the chat paths, by
    smartmate/serving.py's WSGI bridge for the rest, which send `scope` and `environ`)."""
    seen = []

    def record(sender, scope=None, environ=None, **kwargs):
        seen.append(scope["path"] if scope else environ["PATH_INFO"] if environ else "?")

    request_started.connect(record)
    yield seen
    request_started.disconnect(record)


def chunk(data):
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def head(port, path, *headers):
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock, timeout=10.0):
    """Everything the server sends until it closes: (status, headers, body)."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            piece = sock.recv(65536)
        except ConnectionResetError:  # the close came as a reset: the client was still sending
            break
        if not piece:
            break
        data += piece
    header_block, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = header_block.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, value in (h.split(":", 1) for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def assert_payload_too_large(status, content_type, body):
    assert status == 413
    assert content_type.startswith("application/json")
    assert json.loads(body) == {
        "error": {"code": "payload_too_large", "message": f"Request body is over {MAX_BODY} bytes."}
    }


def test_a_chunked_body_over_the_cap_is_refused_without_reading_the_rest(live_app, django_requests):
    total = 50 * MAX_BODY
    piece = chunk(b"x" * 65536)
    sent = {"bytes": 0, "stopped_by": None}
    sock = socket.create_connection(("127.0.0.1", live_app))
    sock.sendall(head(live_app, LOGIN, "Transfer-Encoding: chunked"))

    def send_lazily():
        try:
            while sent["bytes"] < total:
                sock.sendall(piece)
                sent["bytes"] += 65536
            sock.sendall(b"0\r\n\r\n")
        except OSError as exc:  # the server closed the connection on us
            sent["stopped_by"] = type(exc).__name__

    started = time.monotonic()
    sender = threading.Thread(target=send_lazily, daemon=True)
    sender.start()
    status, headers, body = read_response(sock)
    answered_in = time.monotonic() - started
    sender.join(10)
    sock.close()

    print(f"\nchunked 50 MiB: 413 after {answered_in * 1000:.0f} ms, {sent['bytes'] / MAX_BODY:.1f} MiB sent")
    assert_payload_too_large(status, headers["content-type"], body)
    assert headers["connection"] == "close"
    assert not sender.is_alive() and sent["stopped_by"], "the server kept reading the body"
    # What was sent before the close sits in socket buffers on both sides; most of the 50 MiB never left.
    assert sent["bytes"] < 16 * MAX_BODY, sent
    assert answered_in < 5
    assert django_requests == []


def test_a_chunked_body_over_the_cap_from_a_streaming_client_gets_the_413(live_app, django_requests):
    def body():
        for _ in range(50 * 16):  # 50 MiB in 64 KiB pieces, made as the client asks for them
            yield b"x" * 65536

    response = httpx.post(f"http://127.0.0.1:{live_app}{LOGIN}", content=body(), timeout=10)
    assert_payload_too_large(response.status_code, response.headers["content-type"], response.content)
    assert django_requests == []


def test_a_declared_content_length_over_the_cap_is_refused_before_any_byte_is_sent(live_app, django_requests, client):
    with socket.create_connection(("127.0.0.1", live_app)) as sock:
        sock.sendall(head(live_app, LOGIN, f"Content-Length: {50 * MAX_BODY}"))
        status, headers, body = read_response(sock)
    assert_payload_too_large(status, headers["content-type"], body)
    assert headers["connection"] == "close"
    assert django_requests == []
    # The same answer as JsonErrorMiddleware's, which still guards WSGI and the test client.
    in_django = client.post(LOGIN, data=b"x" * (MAX_BODY + 1), content_type="application/json")
    assert in_django.status_code == 413 and in_django.json() == json.loads(body)


def test_a_chunked_json_body_within_the_cap_reaches_the_view(live_app, make_user, django_requests):
    make_user("streamer", password="Correct-Horse-9")
    text = json.dumps({"username": "streamer", "password": "Correct-Horse-9"}).encode()

    def pieces():
        for start in range(0, len(text), 7):
            yield text[start : start + 7]

    response = httpx.post(
        f"http://127.0.0.1:{live_app}{LOGIN}",
        content=pieces(),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["username"] == "streamer" and body["access"] and body["refresh"]
    assert response.headers["x-request-id"]  # answered by Django, through its middleware
    assert django_requests == [LOGIN]


def test_a_chunked_registration_is_created(live_app):
    text = json.dumps({"username": "chunky", "password": "Correct-Horse-9"}).encode()
    response = httpx.post(
        f"http://127.0.0.1:{live_app}/api/v1/auth/register/",
        content=iter([text[:10], text[10:]]),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert response.json()["user"]["username"] == "chunky"


@pytest.mark.parametrize(("size", "status", "code"), [(MAX_BODY, 401, "not_authenticated"), (MAX_BODY + 1, 413, None)])
def test_the_cap_is_exact_for_chunked_bodies(live_app, size, status, code):
    """A chunked body of exactly MAX_BODY_BYTES is read whole and parsed (wrong credentials);
    one byte more is refused."""
    text = json.dumps({"username": "nobody", "password": "wrong"}).encode()
    text += b" " * (size - len(text))
    with socket.create_connection(("127.0.0.1", live_app)) as sock:
        sock.sendall(head(live_app, LOGIN, "Transfer-Encoding: chunked", "Connection: close"))
        sock.sendall(b"".join(chunk(text[i : i + 65536]) for i in range(0, len(text), 65536)) + b"0\r\n\r\n")
        response_status, headers, body = read_response(sock)
    assert response_status == status
    if code:
        assert json.loads(body)["error"]["code"] == code
    else:
        assert_payload_too_large(response_status, headers["content-type"], body)


def test_ordinary_requests_are_unaffected(live_app, make_user):
    make_user("plain", password="Correct-Horse-9")
    base = f"http://127.0.0.1:{live_app}"
    with httpx.Client(base_url=base, timeout=10) as client:  # one keep-alive connection throughout
        login = client.post(LOGIN, json={"username": "plain", "password": "Correct-Horse-9"})
        assert login.status_code == 200, login.text
        me = client.get("/api/v1/me/", headers={"Authorization": "Bearer " + login.json()["access"]})
        assert me.status_code == 200 and me.json()["username"] == "plain"
        wrong = client.post(LOGIN, json={"username": "plain", "password": "nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "not_authenticated"
        malformed = client.post(LOGIN, content=b"{oops", headers={"Content-Type": "application/json"})
        assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "validation_error"
        assert client.get("/healthz").status_code == 200


def test_the_photo_upload_route_has_its_own_cap(live_app, make_user, settings, django_requests):
    """courses/parse-image/ takes a 5 MB image, so a 3 MiB multipart body reaches Django there
    (and is answered: no vision model → 501) while the same body anywhere else is refused; over
    the route's own cap it is refused unread too."""
    from accounts.services import session_start

    settings.LLM_VISION_MODEL = ""
    token = session_start(user=make_user("photographer"))["access"]
    headers = {"Authorization": f"Bearer {token}"}
    base = f"http://127.0.0.1:{live_app}"
    three_mib = {"image": ("t.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (3 * MAX_BODY), "image/png")}
    with httpx.Client(base_url=base, timeout=30, headers=headers) as client:
        answered = client.post("/api/v1/courses/parse-image/", files=three_mib)
        assert answered.status_code == 501, answered.text
        assert answered.json()["error"]["code"] == "not_configured"
        elsewhere = client.post("/api/v1/courses/import/", files=three_mib)
        assert_payload_too_large(elsewhere.status_code, elsewhere.headers["content-type"], elsewhere.content)
        cap = settings.UPLOAD_BODY_CAPS["/api/v1/courses/parse-image/"]
        over = {"image": ("t.png", b"\x00" * cap, "image/png")}
        refused = client.post("/api/v1/courses/parse-image/", files=over)
        assert refused.status_code == 413
        assert json.loads(refused.content)["error"]["message"] == f"Request body is over {cap} bytes."
    assert django_requests.count("/api/v1/courses/parse-image/") == 1
