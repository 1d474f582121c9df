"""Pages as a person sees them, in headless Chromium (Debian's, driven by Playwright): the API
docs render from our own static files with the network cut off, and the admin index shows
its overview panel (screenshots under var/screenshots/ for a look). `make test` installs
Chromium where apt-get can; without it these tests skip (fail under SMARTMATE_REQUIRE_SERVICES=1)."""

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connections

from tests.smartmate.admin_world import build_admin_world

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls are
    # still synchronous ones (Django's documented switch for this case).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not CHROMIUM:
        if os.environ.get("SMARTMATE_REQUIRE_SERVICES") == "1":
            pytest.fail("SMARTMATE_REQUIRE_SERVICES=1: chromium is not installed (make test-tools)")
        pytest.skip("chromium is not installed (make test-tools)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"],
        )
        yield browser
        # ORM calls made while Playwright's loop runs get connections of that context: close them here.
        connections.close_all()
        browser.close()


def offline_page(browser, base_url, **context):
    """A page whose every request off this server is refused (and recorded)."""
    page = browser.new_context(**context).new_page()
    page.refused = []
    origin = urlsplit(base_url).netloc

    def route(request_route):
        if urlsplit(request_route.request.url).netloc == origin:
            request_route.continue_()
        else:
            page.refused.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    return page


def test_swagger_ui_lists_the_operations_with_the_network_cut_off(browser, live_server):
    page = offline_page(browser, live_server.url)
    page.goto(live_server.url + "/api/docs/")
    page.wait_for_selector(".opblock", timeout=60_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "api-docs.png"))
    assert page.locator(".opblock").count() >= 50
    assert page.locator(".opblock-summary-description", has_text="List tasks").count() == 1
    assert page.locator(".opblock-tag", has_text="scheduling").count() == 1
    assert page.refused == [], "the docs page reached off this server (a CDN?)"


def test_redoc_renders_with_the_network_cut_off(browser, live_server):
    page = offline_page(browser, live_server.url)
    page.goto(live_server.url + "/api/redoc/")
    page.wait_for_function("document.body.innerText.includes('List tasks')", timeout=60_000)
    assert page.locator("li[data-item-id]").count() >= 50  # the operations in the side menu
    # Redoc's bundle hard-codes its "powered by" logo and drops it when it fails to load.
    assert [url for url in page.refused if not url.endswith("/redoc/logo-mini.svg")] == []


@pytest.fixture
def admin_world(settings, django_user_model):
    build_admin_world(settings)
    django_user_model.objects.create_superuser("root", "root@example.com", "Correct-Horse-9")


def _log_in(page, base_url):
    page.goto(base_url + "/admin/login/?next=/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "Correct-Horse-9")
    page.click("input[type=submit]")
    page.wait_for_url(base_url + "/admin/")


def test_the_admin_index_shows_the_overview_panel(browser, live_server, admin_world):
    from outbox.models import OutboxEvent

    OutboxEvent.objects.update(status="dead")
    page = offline_page(browser, live_server.url, viewport={"width": 1366, "height": 900})
    _log_in(page, live_server.url)
    panel = page.locator("#attention-overview")
    panel.wait_for()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "admin-index.png"), full_page=True)
    panel.screenshot(path=str(SHOTS / "admin-overview.png"))
    assert (SHOTS / "admin-overview.png").stat().st_size > 2_000
    box = panel.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 100
    assert page.title() == "Operations | SmartMate"
    assert "Outbox rows dead" in panel.inner_text()
    dead = panel.locator("a", has_text="Outbox rows dead")
    dead.click()
    page.wait_for_url("**/admin/outbox/outboxevent/?status__exact=dead")
    assert page.locator("#result_list tbody tr").count() == OutboxEvent.objects.count()
    assert page.refused == []


@pytest.mark.parametrize(
    "changelist",
    ["/admin/outbox/outboxevent/", "/admin/notifications/notificationrecord/", "/admin/accounts/tokenfamily/"],
)
def test_admin_lists_fit_a_1366_pixel_screen(browser, live_server, admin_world, changelist):
    page = offline_page(browser, live_server.url, viewport={"width": 1366, "height": 900})
    _log_in(page, live_server.url)
    page.goto(live_server.url + changelist)
    page.wait_for_selector("#result_list")
    name = changelist.strip("/").replace("/", "-")
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    overflow = page.evaluate(
        "Math.max(document.documentElement.scrollWidth - document.documentElement.clientWidth,"
        " document.querySelector('.results').scrollWidth - document.querySelector('.results').clientWidth)"
    )
    assert overflow <= 0, f"{changelist}: the list is {overflow} px wider than its space"
