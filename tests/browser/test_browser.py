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
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ

from attendance_push.days import today
from attendance_push.health import running_clusters
from attendance_push.models import PushRun
from school.models import EmployeeAttendance, Leave, StudentAttendance
from tests.support.browser import (  # noqa: F401 (the fixtures browser, page and screen)
    ARTIFACTS,
    CHANGELIST,
    KATHMANDU,
    PASSWORD,
    PHONE,
    PUSH,
    Locator,
    Page,
    assert_fits,
    browser,
    day_cell,
    expect,
    log_in,
    log_in_nepali,
    open_history,
    page,
    row_of,
    screen,
    wait_until_no_worker,
)
from tests.support.demo import schedule_next_run
from tests.support.processes import patience, start, stop, wait_for

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]

# Helpers ------------------------------------------------------------------------------------


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
    expect(calendar.locator(".attendance-push-legend li")).to_have_count(7)
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


# The office's screens: a 1280-px laptop and a 390-px phone ------------------------------------


def assert_on_screen(page: Page, locator: Locator) -> None:
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (box, width)


def test_every_push_page_fits_the_screen(screen, superuser, make_students, make_employees):
    page = screen
    width = page.viewport_size["width"]
    make_students(2)
    day = today()
    # An employee on approved leave: "Records by rule" reads "1 Present, 1 Leave", as in the demo.
    on_leave = make_employees(2)[0]
    Leave.objects.create(employee=on_leave, first_day=day - datetime.timedelta(days=1), last_day=day, approved=True)
    error = (
        "OperationalError: could not connect to server: Connection refused. Is the server running on host db and "
        "accepting TCP/IP connections on port 5432?"
    )
    failed = PushRun.objects.create(
        date=day - datetime.timedelta(days=1),
        trigger="schedule",
        status="failed",
        error=error,
        traceback='Traceback (most recent call last):\n  File "attendance_push/runs.py", line 44\n' + error,
    )
    PushRun.objects.create(
        date=day - datetime.timedelta(days=2),
        trigger="schedule",
        status="succeeded",
        counts={"school.StudentAttendance": {"created": 2}, "school.EmployeeAttendance": {"created": 0}},
        created=2,
    )
    # The daily schedule as a worker leaves it now (real processes, real clock): its next run is ahead.
    schedule_next_run(datetime.datetime.now(datetime.UTC))
    wait_until_no_worker()
    ARTIFACTS.mkdir(exist_ok=True)
    log_in(page, "root")

    # The history.
    open_history(page)
    assert_fits(page)
    expect(page.locator(".attendance-push-next")).to_contain_text(
        re.compile(r"Next push: .+, 21:00 Asia/Kathmandu \((in .+|due now)\)")
    )
    expect(page.locator(".attendance-push-no-worker")).to_contain_text("No worker is running")
    shown_error = row_of(page, failed).locator(".attendance-push-error")
    assert_on_screen(page, shown_error)
    expect(shown_error).to_have_text(error)
    box = shown_error.bounding_box()
    assert box["height"] < 80, f"the error is a tall band: {box}"  # three lines at most
    assert row_of(page, failed).bounding_box()["height"] < 200
    # Rows by day, newest first.
    expect(page.locator("#result_list tbody tr").first).to_contain_text(f"{failed.date.day}")

    weekdays = page.locator(".attendance-push-calendar__weekdays .attendance-push-weekday")
    expect(weekdays).to_have_count(7)
    expect(weekdays).to_have_text(["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"])
    expect(page.locator(".attendance-push-calendar a.attendance-push-day")).to_have_count(90)
    newest, oldest = day_cell(page, day), day_cell(page, day - datetime.timedelta(days=89))
    assert_on_screen(page, newest)
    newest_box, oldest_box = newest.bounding_box(), oldest.bounding_box()
    if width == PHONE:
        # On a phone the newest week is the top row, on screen without scrolling.
        assert newest_box["y"] < oldest_box["y"]
        assert newest_box["y"] + newest_box["height"] <= page.evaluate("innerHeight + scrollY") + 900
    else:
        assert newest_box["x"] > oldest_box["x"]
    month_labels = page.locator(".attendance-push-week .attendance-push-week__month:not(:empty)")
    expect(month_labels.first).to_be_visible()
    # A month label does not overlap the squares.
    for i in range(month_labels.count()):
        label = month_labels.nth(i).bounding_box()
        square = month_labels.nth(i).locator("xpath=following-sibling::*[1]").bounding_box()
        if width == PHONE:
            assert label["x"] + label["width"] <= square["x"] + 0.5
        else:
            assert label["y"] + label["height"] <= square["y"] + 0.5
    page.screenshot(path=ARTIFACTS / f"history-{width}.png", full_page=True)

    # The failed run's page: the error in full, the traceback collapsed.
    row_of(page, failed).locator(".field-day_display a").click()
    expect(page.locator(".field-error")).to_contain_text(error)
    assert_fits(page)
    traceback = page.locator("pre.attendance-push-traceback")
    expect(traceback).to_be_hidden()
    page.get_by_text("Show the technical details").click()
    expect(traceback).to_be_visible()
    assert_fits(page)
    page.screenshot(path=ARTIFACTS / f"run-{width}.png", full_page=True)

    # The push form: a year-month-day field, the day in words beside it.
    page.goto(PUSH)
    assert_fits(page)
    start_input = page.locator("#id_start")
    expect(start_input).to_have_attribute("placeholder", "YYYY-MM-DD")
    start_input.fill("2026-12-01")
    expect(page.locator('.attendance-push-weekday-of[data-for="id_start"]')).to_have_text("Tuesday 1 December 2026")
    start_input.fill(f"{failed.date:%Y-%m-%d}")
    page.screenshot(path=ARTIFACTS / f"push-form-{width}.png", full_page=True)
    page.get_by_role("button", name="Preview the push").click()

    # The confirmation: what each record will hold.
    expect(page.locator("#content-main")).to_contain_text(f"Push {long_date(failed.date)}?")
    expect(page.locator(".attendance-push-written")).to_contain_text(
        "Student attendance: Present, 09:00–17:00, created by root"
    )
    expect(page.locator(".attendance-push-preview")).to_contain_text("1 Present, 1 Leave")
    assert_fits(page)
    page.screenshot(path=ARTIFACTS / f"confirmation-{width}.png", full_page=True)


def test_a_queued_range_turns_succeeded_without_a_reload(page, superuser, make_students, tmp_path):
    make_students(2)
    day = today()
    first = day - datetime.timedelta(days=2)
    log = tmp_path / "qcluster.log"
    wait_until_no_worker()
    log_in(page, "root")
    worker = start("qcluster", log=log)
    try:
        wait_for(running_clusters, timeout=60, what="the worker to start", log=log)
        page.goto(f"{PUSH}?start={first:%Y-%m-%d}&end={day:%Y-%m-%d}")
        expect(page.locator("#content-main")).to_contain_text("Push 3 days")
        freeze(worker)
        try:
            page.get_by_role("button", name="Yes, push these days").click()
            expect(page).to_have_url(re.compile(rf"{CHANGELIST}$"))
            runs = list(PushRun.objects.order_by("date"))
            assert [run.status for run in runs] == ["queued"] * 3
            for run in runs:
                expect(row_of(page, run).locator(".attendance-push-badge")).to_have_text("Queued")
            progress = page.locator(".attendance-push-progress")
            expect(progress).to_have_text("day 1 of 3")
            # Marks this document: a reload would lose it.
            page.evaluate("window.attendancePushNotReloaded = true")
            # The last day's own page, open in a second tab, waits for it too.
            run_page = page.context.new_page()
            run_page.goto(f"{CHANGELIST}{runs[-1].pk}/change/")
            expect(run_page.locator(".field-status_badge .attendance-push-badge")).to_have_text("Queued")
            expect(run_page.locator(".field-created .readonly")).to_have_text("0")
        finally:
            thaw(worker)
        # The worker pushes 3 days of 2 people in well under a second each; polls run every 2 s.
        for run in runs:
            expect(row_of(page, run).locator(".attendance-push-badge")).to_have_text("Succeeded", timeout=60_000)
        expect(progress).to_have_text("all 3 days done")
        expect(day_cell(page, first)).to_have_attribute("data-outcome", "pushed")
        expect(row_of(page, runs[0]).locator(".field-counts_per_target")).to_contain_text(
            "Student attendance: 2 / 0 / 0"
        )
        assert page.evaluate("window.attendancePushNotReloaded") is True
        # The run's page shows more than the live fields: it reloads itself once the run is done.
        expect(run_page.locator(".field-status_badge .attendance-push-badge")).to_have_text("Succeeded")
        expect(run_page.locator(".field-created .readonly")).to_have_text("2")
    finally:
        thaw(worker)
        stop(worker)
    assert set(PushRun.objects.values_list("status", flat=True)) == {"succeeded"}


def test_the_history_renders_in_nepali_at_phone_width(browser, live_server, superuser):
    context = browser.new_context(base_url=live_server.url, viewport={"width": PHONE, "height": 844}, locale="ne-NP")
    page = context.new_page()
    try:
        day = today() - datetime.timedelta(days=1)
        PushRun.objects.create(date=day, trigger="schedule", status="failed", error="Boom")
        log_in_nepali(page, "root")
        page.goto(CHANGELIST)
        expect(page.locator("html")).to_have_attribute("lang", "ne")
        from attendance_push.bikram import bs_date

        expect(page.locator(".field-day_display .attendance-push-bs").first).to_have_text(bs_date(day))
        expect(day_cell(page, day)).to_have_attribute("title", re.compile(re.escape(f"({bs_date(day)})")))
        expect(page.locator(".attendance-push-now")).to_have_text("अहिले पुश गर्नुहोस्")
        assert_fits(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "history-ne-390.png", full_page=True)

        # The confirmation in Nepali: the day also in Bikram Sambat, still no sideways scrolling.
        page.goto(f"{PUSH}?start={day:%Y-%m-%d}")
        expect(page.locator(".attendance-push-days")).to_contain_text(f"({bs_date(day)})")
        expect(page.locator(".attendance-push-clock")).to_contain_text("मा अहिले")
        assert_fits(page)
        page.screenshot(path=ARTIFACTS / "confirmation-ne-390.png", full_page=True)
    finally:
        context.close()
