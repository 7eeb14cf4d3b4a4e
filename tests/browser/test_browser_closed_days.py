"""Closed days in a real browser: the history calendar colours them with the reason on hover, and a push
of a range lists them on the confirmation and creates nothing on them unless "Push closed days too"."""

from __future__ import annotations

import datetime
import re

import pytest

from attendance_push.days import today
from attendance_push.models import Closure, PushRun
from school.models import StudentAttendance
from tests.support.browser import (  # noqa: F401 (the fixtures browser and page)
    ARTIFACTS,
    CHANGELIST,
    browser,
    day_cell,
    expect,
    log_in,
    open_history,
    page,
    wait_until_no_worker,
)

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]


def last_saturday_before(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=(day.weekday() - 5) % 7 or 7)


def test_the_calendar_shows_closed_days_and_the_confirmation_lists_them(page, demo_calendar, superuser, make_students):  # noqa: F811
    make_students(2)
    saturday = last_saturday_before(today())
    friday = saturday - datetime.timedelta(days=1)
    thursday = saturday - datetime.timedelta(days=2)
    Closure.objects.create(name="Snow day", first_day=thursday, last_day=thursday, created_by=superuser)
    wait_until_no_worker()
    log_in(page, "root")
    open_history(page)

    closed = day_cell(page, saturday)
    expect(closed).to_have_attribute("data-outcome", "closed")
    expect(closed).to_have_attribute("title", re.compile(r": Closed \("))
    expect(day_cell(page, thursday)).to_have_attribute("data-outcome", "closed")
    # The calendar writes the day of the month unpadded ("Thu 3 Dec 2026"), as Django's "D j M Y" does.
    label = f"{thursday:%a} {thursday.day} {thursday:%b %Y}"
    expect(day_cell(page, thursday)).to_have_attribute("title", f"{label}: Closed (Snow day)")
    # Its own colour, unlike the open days around it.
    colours = {
        day: day_cell(page, day).evaluate("cell => getComputedStyle(cell).backgroundColor")
        for day in (saturday, thursday)
    }
    assert colours[saturday] == colours[thursday] == "rgb(130, 80, 223)"
    if friday not in _nepal_holidays(friday):
        assert day_cell(page, friday).evaluate("cell => getComputedStyle(cell).backgroundColor") != colours[saturday]
    legend = page.locator(".attendance-push-legend")
    expect(legend).to_contain_text("Closed: a weekly off, a holiday or a closure")
    closed.hover()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "calendar-closed-days.png"))

    # A push of Thursday to Saturday: the confirmation names the closed days before anything is written.
    page.goto(f"/admin/attendance_push/pushrun/push/?start={thursday:%Y-%m-%d}&end={saturday:%Y-%m-%d}")
    listed = page.locator(".attendance-push-closed")
    expect(listed).to_contain_text(f"{thursday:%a %Y-%m-%d}: Student attendance: Snow day")
    expect(listed).to_contain_text(f"{saturday:%a %Y-%m-%d}: Student attendance:")
    expect(page.get_by_label("Push closed days too")).not_to_be_checked()

    # Saturday alone, run now (no worker is running), without ticking the box: nothing is created.
    page.goto(f"/admin/attendance_push/pushrun/push/?start={saturday:%Y-%m-%d}")
    expect(page.locator(".attendance-push-closed")).to_contain_text("This day is closed")
    page.get_by_role("button", name="Run it now in this request").click()
    expect(page).to_have_url(re.compile(rf"{CHANGELIST}$"))
    run = PushRun.objects.get(date=saturday)
    assert (run.status, run.created, run.include_closed) == ("succeeded", 0, False)
    assert not StudentAttendance.objects.filter(date__in=[thursday, saturday]).exists()


def _nepal_holidays(day: datetime.date) -> set[datetime.date]:
    import holidays

    return set(holidays.country_holidays("NP", years=day.year))


def test_a_closure_entered_after_the_push_is_seen_and_one_push_withdraws_its_records(
    page,  # noqa: F811
    demo_calendar,
    superuser,
    make_students,
):
    from attendance_push.runs import run_push

    make_students(2)
    # An open weekday before today (never a Saturday nor a holiday of Nepal's calendar).
    day = today() - datetime.timedelta(days=1)
    while day.weekday() == 5 or day in _nepal_holidays(day):
        day -= datetime.timedelta(days=1)
    run_push(day, trigger=PushRun.Trigger.SCHEDULE)
    assert StudentAttendance.objects.filter(date=day).count() == 2
    wait_until_no_worker()
    log_in(page, "root")

    # The closure is entered afterwards, in the admin: the warning names the day and links to its push.
    page.goto("/admin/attendance_push/closure/add/")
    page.get_by_label("Name").fill("Snow day")
    page.get_by_label("First day").fill(f"{day:%Y-%m-%d}")
    page.get_by_label("Last day").fill(f"{day:%Y-%m-%d}")
    page.get_by_role("button", name="Save", exact=True).click()
    warning = page.locator("ul.messagelist li.warning")
    expect(warning).to_contain_text(f"{day:%Y-%m-%d} (2). 2 pushed records still stand")

    open_history(page)
    cell = day_cell(page, day)
    expect(cell).to_have_attribute("data-outcome", "standing")
    expect(cell).to_have_attribute(
        "title",
        f"{day:%a} {day.day} {day:%b %Y}: Closed (Snow day), but 2 records pushed before the closure still stand: "
        "push the day again to withdraw them",
    )
    expect(page.locator(".attendance-push-legend")).to_contain_text("Closed after its push")

    page.goto("/admin/attendance_push/closure/")
    page.get_by_role("link", name="Snow day").click()
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator("ul.messagelist li.warning").get_by_role("link", name=f"Push {day:%Y-%m-%d} again").click()
    expect(page.locator(".attendance-push-preview")).to_contain_text("Earlier records corrected")
    page.get_by_role("button", name="Run it now in this request").click()
    expect(page).to_have_url(re.compile(rf"{CHANGELIST}$"))
    assert not StudentAttendance.objects.filter(date=day).exists()
    expect(day_cell(page, day)).to_have_attribute("data-outcome", "closed")
