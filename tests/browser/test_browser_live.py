"""The history's live updates in a real browser: a range's progress counts its failures, and a run that
starts while the page is open (the 21:00 push) appears without a reload."""

from __future__ import annotations

import datetime
import re

import pytest

from attendance_push.days import today
from attendance_push.models import PushRun
from tests.support.browser import (  # noqa: F401 (the fixtures browser and page)
    CHANGELIST,
    PUSH,
    browser,
    expect,
    log_in,
    page,
    row_of,
    wait_until_no_worker,
)

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]


def finish(run: PushRun, status: str) -> None:
    PushRun.objects.filter(pk=run.pk).update(status=status, error="Boom" if status == "failed" else "")


def test_a_ranges_progress_says_how_many_days_failed(page, superuser, make_students):  # noqa: F811
    make_students(1)
    day = today()
    wait_until_no_worker()  # no worker: the runs stay queued until the test finishes them
    log_in(page, "root")
    page.goto(f"{PUSH}?start={day - datetime.timedelta(days=2):%Y-%m-%d}&end={day:%Y-%m-%d}")
    page.get_by_role("button", name="Yes, push these days").click()
    expect(page).to_have_url(re.compile(rf"{CHANGELIST}$"))
    runs = list(PushRun.objects.order_by("date"))
    progress = page.locator(".attendance-push-progress")
    expect(progress).to_have_text("day 1 of 3")
    page.evaluate("window.attendancePushNotReloaded = true")

    finish(runs[0], "failed")
    expect(progress).to_have_text("day 2 of 3, 1 failed so far")
    finish(runs[1], "succeeded")
    finish(runs[2], "failed")
    expect(progress).to_have_text("1 of 3 days pushed, 2 failed")
    expect(row_of(page, runs[2]).locator(".attendance-push-badge")).to_have_text("Failed")
    assert page.evaluate("window.attendancePushNotReloaded") is True


def test_a_run_that_starts_after_the_history_was_loaded_appears_without_a_reload(page, superuser):  # noqa: F811
    day = today()
    PushRun.objects.create(date=day - datetime.timedelta(days=1), trigger="schedule", status="succeeded")
    log_in(page, "root")
    # The page's own clock: half a minute of idling passes at once, the requests stay real.
    page.clock.install()
    page.goto(CHANGELIST)
    page.evaluate("window.attendancePushNotReloaded = true")
    notices = page.locator(".attendance-push-new-runs li")
    expect(notices).to_have_count(0)

    # The 21:00 push, started by the worker while the history is open.
    scheduled = PushRun.objects.create(date=day, trigger="schedule", status="running")
    page.clock.fast_forward(31_000)
    expect(notices).to_have_count(1)
    notice = notices.first
    expect(notice).to_contain_text(f"Run {scheduled.pk}")
    expect(notice.get_by_role("link")).to_have_attribute("href", f"{CHANGELIST}{scheduled.pk}/change/")
    expect(notice.locator(".attendance-push-badge")).to_have_text("Running")

    # Running: the page now asks every 2 s, and the run turns succeeded in place.
    PushRun.objects.filter(pk=scheduled.pk).update(status="succeeded")
    page.clock.fast_forward(2_500)
    expect(notice.locator(".attendance-push-badge")).to_have_text("Succeeded")
    # Announced once.
    page.clock.fast_forward(31_000)
    page.clock.fast_forward(31_000)
    expect(notices).to_have_count(1)
    assert page.evaluate("window.attendancePushNotReloaded") is True
