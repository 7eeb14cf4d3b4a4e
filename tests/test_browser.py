"""The admin in a real browser: log in, push a day through a real worker, rerun days, read-only users.

Chromium (Debian's /usr/bin/chromium), driven by Playwright's sync API, against pytest-django's live
server; pushes that are queued go through a real `qcluster` process, which shares the file SQLite or
PostgreSQL test database with the live server. Screenshots land in test-artifacts/ (gitignored).
"""

from __future__ import annotations

import datetime
import os
import re
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ

from attendance_push.health import running_clusters
from attendance_push.models import PushRun
from attendance_push.service import today
from school.models import EmployeeAttendance, StudentAttendance

from .processes import ROOT, patience, start, stop, wait_for

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

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]

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


# Helpers ------------------------------------------------------------------------------------


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


def success_message(page: Page) -> Locator:
    return page.locator("ul.messagelist li.success")


def long_date(day: datetime.date) -> str:
    """`day` as the confirmation page writes it: Friday 20 November 2026."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def reload_until(
    page: Page, done: Callable[[], bool], *, what: str, log: Path | None = None, timeout: float | None = None
):
    """Reload `page` until `done()`, as a person waiting for the worker would."""

    def reloaded_and_done() -> bool:
        page.reload()
        return done()

    # By default: a worker starting (the cluster and its workers) and a small push.
    wait_for(reloaded_and_done, timeout=timeout or patience(starts=2), what=what, log=log)


def wait_until_no_worker() -> None:
    # A cluster stopped by an earlier test leaves its stats in the shared cache for up to 3 s.
    # A stopped cluster's stats expire from the cache within a guard cycle.
    wait_for(lambda: not running_clusters(), timeout=patience(starts=1), what="no django-q2 cluster to be running")


def sqlite_locked() -> bool:
    """Whether another process holds a lock on the SQLite test database (False on PostgreSQL)."""
    if connection.vendor != "sqlite":
        return False
    probe = sqlite3.connect(connection.settings_dict["NAME"], timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN EXCLUSIVE")  # fails while anyone reads or writes
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def freeze(worker: subprocess.Popen) -> None:
    """Pause the whole cluster (SIGSTOP), as an overloaded machine would, while it holds no lock.

    An idle worker takes a task within its 0.2 s poll and pushes a few people in milliseconds, often
    before the browser has followed the redirect to the history: paused, the run stays queued until
    `thaw`. On SQLite a process paused inside a transaction would lock the live server out, so the
    cluster is resumed and paused again until it holds none (on PostgreSQL its row locks block
    nothing the admin does).
    """

    def paused_without_lock() -> bool:
        os.killpg(worker.pid, signal.SIGSTOP)
        if not sqlite_locked():
            return True
        os.killpg(worker.pid, signal.SIGCONT)
        return False

    wait_for(paused_without_lock, timeout=patience(starts=1), what="a moment the worker holds no database lock")


def thaw(worker: subprocess.Popen) -> None:
    with suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGCONT)


# Tests --------------------------------------------------------------------------------------


def test_a_superuser_pushes_today_through_a_real_worker(page, superuser, make_students, make_employees, tmp_path):
    make_students(3)
    make_employees(1)
    ARTIFACTS.mkdir(exist_ok=True)
    log_in(page, "root")
    open_history(page)

    calendar = page.locator(".attendance-push-calendar")
    expect(calendar.get_by_role("heading")).to_have_text("Last 90 days")
    expect(calendar.locator(".attendance-push-calendar__grid a.attendance-push-day")).to_have_count(90)
    expect(calendar.locator(".attendance-push-legend li")).to_have_count(6)
    expect(page.locator(".attendance-push-no-worker")).to_contain_text("No worker is running")

    log = tmp_path / "qcluster.log"
    worker = start("qcluster", log=log)
    try:
        reload_until(
            page,
            lambda: page.get_by_text("No worker is running").count() == 0,
            what="the history to see the worker",
            log=log,
        )
        day = today()
        before = timezone.localtime(timezone=KATHMANDU)
        page.get_by_role("link", name="Push now").click()

        # The confirmation: the time in the push zone, the day, the dry run's preview.
        clock = page.locator(".attendance-push-clock")
        expect(clock).to_have_text(re.compile(r"^It is \d\d:\d\d in Asia/Kathmandu\.$"))
        after = timezone.localtime(timezone=KATHMANDU)
        assert clock.inner_text() in {f"It is {moment:%H:%M} in Asia/Kathmandu." for moment in (before, after)}
        expect(page.locator("#content-main")).to_contain_text(f"Push {long_date(day)}?")
        preview = page.locator("table.attendance-push-preview")
        expect(preview.locator("caption")).to_contain_text("a dry run: nothing written yet")
        expect(preview.locator("tbody tr")).to_have_count(2)
        expect(preview.locator("tbody tr", has_text="Student attendance").locator("td")).to_have_text(
            ["3", "3 Present", "0", "0"]
        )
        expect(preview.locator("tbody tr", has_text="Employee attendance").locator("td")).to_have_text(
            ["1", "1 Present", "0", "0"]
        )
        # A worker is running: the push is queued, and running it in the request is not offered.
        expect(page.get_by_text("No worker is running")).to_have_count(0)
        expect(page.get_by_role("button", name="Run it now in this request")).to_have_count(0)
        page.screenshot(path=ARTIFACTS / "confirmation.png")
        assert not StudentAttendance.objects.exists(), "the preview writes nothing"

        freeze(worker)
        try:
            page.get_by_role("button", name="Yes, push this day").click()
            expect(page).to_have_url(re.compile(rf"{CHANGELIST}$"))
            expect(success_message(page)).to_contain_text(f"Queued the push of {day:%Y-%m-%d} (run")
            run = PushRun.objects.get(trigger="admin")
            expect(row_of(page, run).locator(".attendance-push-badge")).to_have_text("Queued")
            expect(day_cell(page, day)).to_have_attribute("data-outcome", "running")
        finally:
            thaw(worker)

        badge = row_of(page, run).locator(".attendance-push-badge")
        # The calendar is read a moment before the list within one page: wait until both show it.
        # Before the push time the early push shows as pushed; after it, this push is since then.
        reload_until(
            page,
            lambda: badge.inner_text() == "Succeeded" and day_cell(page, day).get_attribute("data-outcome") == "pushed",
            what="the run to succeed",
            log=log,
        )
        assert list(PushRun.objects.values_list("date", "status", "trigger")) == [(day, "succeeded", "admin")]
        expect(row_of(page, run)).to_contain_text("root")
        page.screenshot(path=ARTIFACTS / "changelist-calendar.png", full_page=True)
    finally:
        thaw(worker)
        stop(worker)

    run.refresh_from_db()
    assert (run.status, run.date, run.created, run.filled, run.skipped) == ("succeeded", day, 4, 0, 0), run.error
    assert run.requested_by == superuser and run.task_id
    records = StudentAttendance.objects.filter(date=day)
    assert records.count() == 3
    assert set(records.values_list("status", "time_in", "time_out", "created_by")) == {
        ("Present", datetime.time(9, 0), datetime.time(17, 0), superuser.pk)
    }
    assert EmployeeAttendance.objects.filter(date=day).count() == 1


def test_a_failed_day_is_rerun_from_its_page_in_the_request(page, superuser, make_students):
    make_students(3)
    yesterday = today() - datetime.timedelta(days=1)
    failed = PushRun.objects.create(
        date=yesterday, trigger="schedule", status="failed", error="Connection refused: the database went away."
    )
    wait_until_no_worker()
    log_in(page, "root")
    open_history(page)
    expect(day_cell(page, yesterday)).to_have_attribute("data-outcome", "failed")

    row_of(page, failed).get_by_role("link", name=re.compile(str(yesterday.year))).click()
    expect(page.locator(".attendance-push-badge")).to_have_text("Failed")
    rerun = page.get_by_role("link", name="Rerun this day")
    expect(rerun).to_have_class(re.compile(r"\battendance-push-rerun--urgent\b"))
    rerun.click()

    expect(page.locator("#content-main")).to_contain_text(f"Push {long_date(yesterday)}?")
    expect(page.locator(".attendance-push-preview tbody tr", has_text="Student attendance").locator("td")).to_have_text(
        ["3", "3 Present", "0", "0"]
    )
    expect(page.locator(".attendance-push-confirmation .attendance-push-no-worker")).to_contain_text(
        "No worker is running: this push will wait in the queue"
    )
    page.get_by_role("button", name="Run it now in this request").click()

    expect(page).to_have_url(re.compile(rf"{CHANGELIST}$"))
    run = PushRun.objects.exclude(pk=failed.pk).get()
    expect(success_message(page)).to_have_text(
        f"Pushed {yesterday:%Y-%m-%d} (run {run.pk}): 3 created, 0 check-outs filled, 0 skipped."
    )
    expect(row_of(page, run).locator(".attendance-push-badge")).to_have_text("Succeeded")
    expect(row_of(page, failed).locator(".attendance-push-badge")).to_have_text("Failed")
    expect(day_cell(page, yesterday)).to_have_attribute("data-outcome", "pushed")
    assert (run.status, run.date, run.trigger, run.requested_by) == ("succeeded", yesterday, "admin", superuser)
    assert not run.task_id, "run in the request, not through the queue"
    assert StudentAttendance.objects.filter(date=yesterday).count() == 3


def test_the_rerun_action_queues_the_selected_days(page, superuser, make_students):
    make_students(2)
    day = today() - datetime.timedelta(days=2)
    failed = PushRun.objects.create(date=day, trigger="schedule", status="failed", error="Boom.")
    other = PushRun.objects.create(date=day - datetime.timedelta(days=1), trigger="schedule", status="failed")
    wait_until_no_worker()
    log_in(page, "root")
    open_history(page)

    row_of(page, failed).locator('input[name="_selected_action"]').check()
    page.locator('select[name="action"]').select_option(label="Rerun the selected days")
    page.get_by_role("button", name="Go").click()

    expect(page.locator("h1")).to_have_text("Push attendance?")
    expect(page.locator("#content-main")).to_contain_text(f"Push {long_date(day)}?")
    expect(page.locator(".attendance-push-preview tbody tr", has_text="Student attendance").locator("td")).to_have_text(
        ["2", "2 Present", "0", "0"]
    )
    assert PushRun.objects.count() == 2, "the confirmation writes nothing"
    page.get_by_role("button", name="Yes, push this day").click()

    expect(page).to_have_url(re.compile(rf"{CHANGELIST}$"))
    queued = PushRun.objects.get(status="queued")
    expect(success_message(page)).to_contain_text(f"Queued the push of {day:%Y-%m-%d} (run {queued.pk})")
    expect(row_of(page, queued).locator(".attendance-push-badge")).to_have_text("Queued")
    expect(day_cell(page, day)).to_have_attribute("data-outcome", "running")
    expect(day_cell(page, other.date)).to_have_attribute("data-outcome", "failed")
    assert (queued.date, queued.trigger, queued.requested_by) == (day, "admin", superuser)
    assert queued.task_id and OrmQ.objects.count() == 1
    assert not StudentAttendance.objects.exists(), "no worker runs in this test: the push waits in the queue"


def test_a_viewer_sees_the_history_and_calendar_but_cannot_push(page):
    viewer = get_user_model().objects.create_user("clerk", password=PASSWORD, is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_pushrun"))
    run = PushRun.objects.create(date=today() - datetime.timedelta(days=1), trigger="schedule", status="failed")
    log_in(page, "clerk")
    open_history(page)

    expect(row_of(page, run).locator(".attendance-push-badge")).to_have_text("Failed")
    expect(page.locator(".attendance-push-calendar a.attendance-push-day")).to_have_count(90)
    expect(day_cell(page, run.date)).to_have_attribute("data-outcome", "failed")
    expect(page.get_by_role("link", name="Push now")).to_have_count(0)
    expect(page.get_by_role("link", name="Push a day…")).to_have_count(0)
    expect(page.locator('select[name="action"] option[value="rerun_days"]')).to_have_count(0)
    expect(page.locator("select[name='action'] option", has_text="Rerun")).to_have_count(0)

    page.goto(f"{CHANGELIST}{run.pk}/change/")
    expect(page.locator(".attendance-push-badge")).to_have_text("Failed")
    expect(page.get_by_role("link", name="Rerun this day")).to_have_count(0)

    response = page.goto(PUSH)
    assert response is not None and response.status == 403
    expect(page.locator("body")).to_contain_text("403 Forbidden")
    assert PushRun.objects.count() == 1
