"""The history readable at 1280 px and a whole error reachable on a phone; the language switch in a browser."""

from __future__ import annotations

import datetime

import pytest

from attendance_push.days import today
from attendance_push.models import PushRun
from tests.support.browser import (  # noqa: F401 (the fixtures browser and screen)
    ARTIFACTS,
    CHANGELIST,
    LAPTOP,
    assert_fits,
    browser,
    expect,
    log_in,
    open_history,
    row_of,
    screen,
    wait_until_no_worker,
)

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]

CLOSED_COUNTS = {
    "school.StudentAttendance": {
        "created": 0,
        "filled": 1,
        "skipped": 1,
        "closed": "weekly off (Saturday)",
        "closed_reason": {"kind": "weekly_off", "weekday": 5},
    },
    "school.EmployeeAttendance": {
        "created": 0,
        "filled": 0,
        "skipped": 0,
        "closed": "weekly off (Saturday)",
        "closed_reason": {"kind": "weekly_off", "weekday": 5},
    },
}
LONG_ERROR = (
    "OperationalError: could not connect to server: Connection refused. Is the server running on host db and "
    "accepting TCP/IP connections on port 5432? The push of this day was retried and failed again for the "
    "same reason; it waits for the next catch-up, or for someone to rerun the day from the history."
)


def lines(locator) -> float:
    """Return how many of its own lines of text `locator` takes."""
    return locator.evaluate("el => el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight)")


def column_width(page, name: str) -> float:
    return page.locator(f"#result_list thead th.column-{name}").bounding_box()["width"]


def test_the_history_gives_the_counts_room_and_a_phone_the_whole_error(screen, superuser):  # noqa: F811
    page = screen
    width = page.viewport_size["width"]
    day = today()
    closed = PushRun.objects.create(
        date=day - datetime.timedelta(days=3), trigger="schedule", status="succeeded", counts=CLOSED_COUNTS, filled=1
    )
    failed = PushRun.objects.create(
        date=day - datetime.timedelta(days=1), trigger="schedule", status="failed", error=LONG_ERROR
    )
    wait_until_no_worker()
    log_in(page, "root")
    open_history(page)
    assert_fits(page)
    counts = row_of(page, closed).locator(".attendance-push-count")
    expect(counts).to_have_count(2)
    notes = row_of(page, closed).locator(".attendance-push-count-note")
    expect(notes.first).to_have_text("closed: weekly off (Saturday)")
    error = row_of(page, failed).locator(".attendance-push-error")
    whole = row_of(page, failed).get_by_role("link", name="Read the whole error")
    if width == LAPTOP:
        # Beside an error: a target's numbers on at most two lines, why it was closed on one line of its own.
        assert column_width(page, "counts_per_target") > 1.4 * column_width(page, "error_line")
        for i in range(2):
            assert lines(counts.nth(i).locator(".nowrap").locator("xpath=..")) <= 4
            assert lines(notes.nth(i)) < 1.5
        # A mouse has the error whole in the title; the link is for phones.
        expect(error).to_have_attribute("title", LONG_ERROR)
        expect(whole).to_be_hidden()
        page.screenshot(path=ARTIFACTS / "history-counts-1280.png", full_page=True)
        # With no error on the page, the error column takes no room: a target's numbers fit one line.
        failed.delete()
        open_history(page)
        assert column_width(page, "error_line") < 100
        numbers_top = counts.first.locator(".nowrap").bounding_box()["y"]
        assert abs(numbers_top - counts.first.bounding_box()["y"]) < 2, "the numbers wrap under the target's name"
        assert_fits(page)
    else:
        # A phone shows no title: the whole error is one tap away, on the run's page.
        expect(whole).to_be_visible()
        whole.click()
        expect(page.locator(".field-error")).to_contain_text(LONG_ERROR)
        assert_fits(page)


def test_the_language_switch_turns_the_admin_nepali_and_back(screen, superuser):  # noqa: F811
    page = screen
    wait_until_no_worker()
    log_in(page, "root")
    open_history(page)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    switch = page.locator("#user-tools .language-switch")
    expect(switch.get_by_role("button", name="English")).to_be_disabled()
    switch.get_by_role("button", name="नेपाली").click()
    expect(page.locator("html")).to_have_attribute("lang", "ne")
    assert page.url.endswith(CHANGELIST)
    expect(page.locator(".attendance-push-now")).to_have_text("अहिले पुश गर्नुहोस्")
    assert_fits(page)
    page.screenshot(path=ARTIFACTS / f"history-switched-ne-{page.viewport_size['width']}.png", full_page=True)
    # Another page keeps the choice (a cookie), whatever the browser asks for.
    page.goto("/admin/")
    expect(page.locator("html")).to_have_attribute("lang", "ne")
    page.locator("#user-tools .language-switch").get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
