"""The outbound URL guard, with DNS answers scripted."""

import pytest

from notifications import ssrf


@pytest.fixture(autouse=True)
def allow_loopback(settings):
    settings.NOTIFICATIONS_ALLOWED_HOSTS = ["127.0.0.1", "relay.internal"]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.100.100.200",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "::ffff:10.0.0.1",
        "2002:0a00:0001::1",
        "ff02::1",
    ],
)
def test_non_public_addresses_are_refused(address, monkeypatch):
    monkeypatch.setattr(ssrf, "lookup", lambda host, port: [address])
    with pytest.raises(ssrf.UnsafeUrl, match="private"):
        ssrf.resolve("https://hooks.example.com/x")


def test_public_address_is_pinned(monkeypatch, settings):
    settings.NOTIFICATIONS_ALLOWED_PORTS = [8443]
    monkeypatch.setattr(ssrf, "lookup", lambda host, port: ["93.184.216.34"])
    target = ssrf.resolve("https://Hooks.Example.com:8443/a/b?c=1")
    assert target.address == "93.184.216.34"
    assert target.host == "hooks.example.com"
    assert target.pinned_url == "https://93.184.216.34:8443/a/b?c=1"


def test_ipv6_public_address_is_bracketed(monkeypatch):
    monkeypatch.setattr(ssrf, "lookup", lambda host, port: ["2606:2800:220:1:248:1893:25c8:1946"])
    assert ssrf.resolve("https://hooks.example.com/x").pinned_url == "https://[2606:2800:220:1:248:1893:25c8:1946]/x"


def test_allowed_host_may_use_http_and_a_private_address(monkeypatch):
    monkeypatch.setattr(ssrf, "lookup", lambda host, port: ["10.9.9.9"])
    assert ssrf.resolve("http://relay.internal/hook").address == "10.9.9.9"


def test_unresolvable_host_is_refused(monkeypatch):
    def fail(host, port):
        raise OSError("NXDOMAIN")

    monkeypatch.setattr(ssrf, "lookup", fail)
    with pytest.raises(ssrf.UnsafeUrl, match="resolved") as refused:
        ssrf.resolve("https://nowhere.example.com/x")
    assert refused.value.transient


def test_a_resolver_that_hangs_is_not_waited_for_past_the_timeout(monkeypatch, settings):
    import threading
    import time

    settings.NOTIFICATIONS_DNS_TIMEOUT = 0.2
    release = threading.Event()
    monkeypatch.setattr(ssrf, "lookup", lambda host, port: release.wait(5) and ["93.184.216.34"])
    started = time.monotonic()
    try:
        with pytest.raises(ssrf.UnsafeUrl, match="in time"):
            ssrf.resolve("https://slow-dns.example.com/x")
    finally:
        release.set()
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("https://open.feishu.cn/open-apis/bot/v2/hook/abc", "https://open.feishu.cn/***"),
        ("http://127.0.0.1:8080/x?token=1", "http://127.0.0.1:8080/***"),
        ("https://[::1]:9/x", "https://[::1]:9/***"),
        ("garbage", "***"),
    ],
)
def test_mask_url_hides_everything_after_the_host(url, masked):
    assert ssrf.mask_url(url) == masked
