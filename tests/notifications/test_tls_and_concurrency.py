"""The connection goes to the address that was checked, TLS still verifies the real host
name; and concurrent sweeps on PostgreSQL deliver each record exactly once."""

import json
import shutil
import ssl
import subprocess
import threading
from datetime import timedelta

import pytest
from django.db import connection
from pytest_httpserver import HTTPServer

from notifications import services
from notifications.channels import http as channel_http
from notifications.models import NotificationRecord
from tests.notifications.conftest import event_data

HOST = "hooks.example.test"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A throwaway CA and a server certificate for HOST, made with the openssl CLI."""
    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not available")
    d = tmp_path_factory.mktemp("tls")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
        "-subj", "/CN=SmartMate test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", f"/CN={HOST}")
    (d / "leaf.ext").write_text(f"subjectAltName=DNS:{HOST}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "leaf.pem", "-days", "1", "-extfile", "leaf.ext")  # fmt: skip
    return d


@pytest.fixture
def tls_hook(certificates, monkeypatch, public_dns, settings):
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(certificates / "leaf.pem", certificates / "leaf.key")
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=server_context)
    server.start()
    client_context = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
    monkeypatch.setattr(channel_http, "ssl_context", lambda: client_context)
    public_dns[HOST] = ["127.0.0.1"]
    public_dns["wrong-name.example.test"] = ["127.0.0.1"]
    # Loopback is refused for every other host: allow this one name explicitly.
    settings.NOTIFICATIONS_ALLOWED_HOSTS = [HOST, "wrong-name.example.test"]
    yield server
    server.clear()
    server.stop()


@pytest.mark.postgres
@pytest.mark.django_db
def test_https_goes_to_the_checked_address_with_sni_and_host_of_the_url(user, tls_hook, t0):
    tls_hook.expect_request("/hook/tok", method="POST").respond_with_data("ok")
    services.channel_upsert(user=user, kind="webhook", webhook_url=f"https://{HOST}:{tls_hook.port}/hook/tok")
    services.notifications_request(event_id="e", data=event_data(user), now=t0)
    assert services.notifications_deliver(now=t0) == {"sent": 1}
    (request, _), *_ = tls_hook.log
    assert request.headers["Host"] == f"{HOST}:{tls_hook.port}"
    assert json.loads(request.get_data())["event"] == "preview_ready"


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_certificate_for_another_name_is_refused(user, tls_hook, t0):
    tls_hook.expect_request("/hook", method="POST").respond_with_data("ok")
    url = f"https://wrong-name.example.test:{tls_hook.port}/hook"
    services.channel_upsert(user=user, kind="webhook", webhook_url=url)
    services.notifications_request(event_id="e", data=event_data(user), now=t0)
    assert services.notifications_deliver(now=t0) == {"retry": 1}
    assert "Connection failed" in NotificationRecord.objects.get(user=user).last_error
    assert len(tls_hook.log) == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_deliver_every_record_exactly_once(make_user, hook, settings):
    settings.NOTIFICATIONS_BATCH_SIZE = 5
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    from django.utils import timezone

    now = timezone.now()
    for n in range(6):
        member = make_user(f"member{n}")
        services.channel_upsert(user=member, kind="webhook", webhook_url=hook.url_for("/hook"))
        for _ in range(5):
            services.notifications_request(event_id="e", data=event_data(member), now=now)
    total = NotificationRecord.objects.count()
    assert total == 30

    start = threading.Barrier(4)
    errors = []

    def worker():
        try:
            start.wait()
            while services.notifications_deliver(now=now + timedelta(seconds=1)):
                pass
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    delivered = [request.headers["X-SmartMate-Delivery"] for request, _ in hook.log]
    assert len(delivered) == total
    assert len(set(delivered)) == total
    assert set(NotificationRecord.objects.values_list("status", flat=True)) == {"sent"}
    assert set(NotificationRecord.objects.values_list("attempts", flat=True)) == {1}
