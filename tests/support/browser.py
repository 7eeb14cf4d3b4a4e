"""The admin in a real browser: Debian's Chromium driven by Playwright, the pages' addresses, and the steps the
browser tests share (log in, open the history, find a run's row or a day's square, check a page fits the screen).

Importing this skips the importing test module where Chromium or Playwright is missing, and fails it under
ATTENDANCE_PUSH_REQUIRE_SERVERS (CI installs both). The browser tests import their fixtures from here.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from attendance_push.health import running_clusters
from attendance_push.models import PushRun
from tests.support.processes import ROOT, patience, wait_for

try:
    from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the skip below says how to install it
    sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
# Playwright's own browser download does not work everywhere; Debian's Chromium does.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

_missing = [
    what
    for what, present in (("Chromium at /usr/bin/chromium", CHROMIUM.exists()), ("playwright", sync_playwright))
    if not present
]
if _missing:
    _message = f"needs {' and '.join(_missing)}: apt-get install chromium; pip install -r requirements-dev.txt"
    if os.environ.get("ATTENDANCE_PUSH_REQUIRE_SERVERS"):
        # CI installs both: a missing browser there is a broken run, not a reason to skip.
        pytest.fail(_message, pytrace=False)
    pytest.skip(_message, allow_module_level=True)

ARTIFACTS = ROOT / "test-artifacts"
CHANGELIST = "/admin/attendance_push/pushrun/"
PUSH = "/admin/attendance_push/pushrun/push/"
PASSWORD = "pw"  # conftest's `superuser` ("root") has it too
KATHMANDU = ZoneInfo("Asia/Kathmandu")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps an asyncio event loop running in this thread, and Django then
    # refuses every synchronous ORM call made from it ("You cannot call this from an async
    # context"): the tests' own queries and pytest-django's flush between tests. Nothing here runs
    # concurrently with that loop, so allow it, for this module only.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            # A page's load and its scripts: no more than a process start-up's worth of work.
            expect.set_options(timeout=1000 * patience(starts=1))
            try:
                yield chromium
            finally:
                chromium.close()


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    if settings.SECURE_SSL_REDIRECT:
        # The middleware read it when the live server started: overriding it here would be too late.
        pytest.fail(
            "SECURE_SSL_REDIRECT is on, so the plain-HTTP live server redirects every page to https:// "
            "(net::ERR_SSL_PROTOCOL_ERROR): tests/settings.py must turn it off.",
            pytrace=False,
        )
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(1000 * patience(starts=1))
    try:
        yield context.new_page()
    finally:
        context.close()


LAPTOP, PHONE = 1280, 390


@pytest.fixture(params=[LAPTOP, PHONE], ids=["1280px", "390px"])
def screen(request, browser: Browser, live_server) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": request.param, "height": 900 if request.param > 600 else 844}
    )
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def assert_fits(page: Page) -> None:
    """Fail when the page, or the history's table inside its scroll box, is wider than the screen."""
    widths = page.evaluate(
        """() => {
            const results = document.querySelector("#changelist .results");
            return {
                page: document.documentElement.scrollWidth,
                screen: document.documentElement.clientWidth,
                table: results ? results.scrollWidth - results.clientWidth : 0,
                columns: [...document.querySelectorAll("#result_list thead th")].map(
                    (th) => `${th.className}:${Math.round(th.getBoundingClientRect().width)}`
                ),
            };
        }"""
    )
    assert widths["page"] <= widths["screen"], f"{page.url} overflows: {widths}"
    assert widths["table"] <= 0, f"the history's table scrolls sideways: {widths}"


def log_in(page: Page, username: str) -> None:
    """Log in through the admin's login form."""
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#user-tools")).to_contain_text(username)


def open_history(page: Page) -> None:
    """From the admin index, open Attendance push › Push runs."""
    page.goto("/admin/")
    page.locator(".app-attendance_push").get_by_role("link", name="Push runs").click()
    expect(page).to_have_url(re.compile(rf"{CHANGELIST}$"))
    expect(page.locator("h1")).to_have_text("Select push run to view")


def row_of(page: Page, run: PushRun) -> Locator:
    """The history's row of `run`."""
    return page.locator("#result_list tbody tr").filter(
        has=page.locator(f'.field-day_display a[href*="/attendance_push/pushrun/{run.pk}/change/"]')
    )


def day_cell(page: Page, day: datetime.date) -> Locator:
    """The calendar's square of `day`."""
    return page.locator(f'.attendance-push-calendar a.attendance-push-day[data-day="{day:%Y-%m-%d}"]')


def wait_until_no_worker() -> None:
    # A cluster stopped by an earlier test leaves its stats in the shared cache for up to 3 s.
    # A stopped cluster's stats expire from the cache within a guard cycle.
    wait_for(lambda: not running_clusters(), timeout=patience(starts=1), what="no django-q2 cluster to be running")


def log_in_nepali(page: Page, username: str) -> None:
    """Log in through the admin's login form, whatever its language."""
    page.goto("/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator('input[type="submit"]').click()
    expect(page.locator("#user-tools")).to_contain_text(username)
