"""Which URLs a channel may call: the Feishu kind only Feishu/Lark hosts, public hosts only port
443 (unless NOTIFICATIONS_ALLOWED_PORTS adds one), a bounded DNS lookup at save, and one answer
for every failed connection in the channel test (so it cannot map a host's open ports)."""

import socket
import threading
import time

import pytest

from notifications import ssrf
from notifications.models import NotificationChannel
from tests.conftest import free_port

pytestmark = pytest.mark.django_db

CHANNELS = "/api/v1/notification-channels/"


def put(client, kind, url):
    return client.put(f"{CHANNELS}{kind}/", {"webhook_url": url}, format="json")


def refused_on_field(response):
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    return response.json()["error"]["fields"]["webhook_url"][0]


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/open-apis/bot/v2/hook/x",
        "https://open.feishu.cn.evil.example.com/open-apis/bot/v2/hook/x",
        "https://evil-open.feishu.cn/hook",
    ],
)
def test_the_feishu_kind_refuses_hosts_that_are_not_feishu_or_lark(auth_api, public_dns, url):
    public_dns.update({"hooks.example.com": ["93.184.216.34"], "open.feishu.cn.evil.example.com": ["93.184.216.34"]})
    public_dns["evil-open.feishu.cn"] = ["93.184.216.34"]
    assert "Feishu" in refused_on_field(put(auth_api, "feishu", url))
    assert not NotificationChannel.objects.exists()


@pytest.mark.parametrize("host", ["open.feishu.cn", "open.larksuite.com"])
def test_the_feishu_kind_takes_feishu_and_lark_hosts(auth_api, public_dns, host):
    public_dns[host] = ["93.184.216.34"]
    assert put(auth_api, "feishu", f"https://{host}/open-apis/bot/v2/hook/abc").status_code == 200


def test_the_webhook_kind_still_takes_any_public_host(auth_api, public_dns):
    public_dns["hooks.example.com"] = ["93.184.216.34"]
    assert put(auth_api, "webhook", "https://hooks.example.com/x").status_code == 200


@pytest.mark.parametrize("port", [22, 6379, 8443, 80])
def test_public_hosts_take_only_port_443(auth_api, public_dns, port):
    public_dns["hooks.example.com"] = ["93.184.216.34"]
    for kind in ("webhook", "feishu"):
        message = refused_on_field(put(auth_api, kind, f"https://hooks.example.com:{port}/x"))
        assert "port" in message or "Feishu" in message
    assert put(auth_api, "webhook", "https://hooks.example.com:443/x").status_code == 200


def test_a_setting_allows_more_ports(auth_api, public_dns, settings):
    settings.NOTIFICATIONS_ALLOWED_PORTS = [8443]
    public_dns["hooks.example.com"] = ["93.184.216.34"]
    assert put(auth_api, "webhook", "https://hooks.example.com:8443/x").status_code == 200
    assert put(auth_api, "webhook", "https://hooks.example.com:22/x").status_code == 400


def test_a_stored_feishu_channel_on_another_host_is_not_called(user):
    """Channels saved before the host rule: the send refuses them too."""
    from django.utils import timezone

    from notifications.messages import connection_test_message
    from notifications.services import _send

    message = connection_test_message(kind="feishu", base_url="https://smartmate.example.com")
    error = _send("feishu", "https://hooks.example.com/x", "", message, {"event": "test"}, timezone.now())
    assert error is not None and error.permanent and "Feishu" in str(error)


def test_a_slow_resolver_makes_a_save_a_prompt_400(auth_api, monkeypatch, settings):
    settings.NOTIFICATIONS_DNS_TIMEOUT = 0.3
    release = threading.Event()
    monkeypatch.setattr(ssrf, "lookup", lambda host, port: release.wait(10) and ["93.184.216.34"])
    started = time.monotonic()
    try:
        message = refused_on_field(put(auth_api, "webhook", "https://slow-dns.example.com/x"))
    finally:
        release.set()
    assert time.monotonic() - started < 3
    assert "resolved in time" in message


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


def test_the_channel_test_answers_alike_for_refused_and_silent_ports(auth_api, settings, silent_port):
    settings.NOTIFICATIONS_HTTP_TIMEOUT = 0.5  # 127.0.0.1 is an allowed host here: any port
    answers = []
    for port in (free_port(), silent_port):
        assert put(auth_api, "webhook", f"http://127.0.0.1:{port}/hook").status_code == 200
        response = auth_api.post(f"{CHANNELS}webhook/test/")
        assert response.status_code == 502
        channel = auth_api.get(CHANNELS).json()[0]
        answers.append((response.json()["error"], channel["last_test_error"]))
    assert answers[0] == answers[1], answers
