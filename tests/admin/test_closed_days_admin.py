"""Closed days where people see them: the admin (calendar, confirmation, forcing, closures) and the commands."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase

from attendance_push.models import Closure, PushRun, WorkingDay
from school.models import EmployeeAttendance, StudentAttendance
from tests.support.admin_pages import CHANGELIST, PUSH, calendar_cell
from tests.support.demo import EMPLOYEES, FRIDAY, SATURDAY, STUDENTS, attendance

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_afternoon")]

# The history calendar ------------------------------------------------------------------------------------------


def test_the_calendar_colours_closed_days_and_gives_the_reason_on_hover(pusher, people):
    Closure.objects.create(name="Sports week", first_day=FRIDAY, last_day=FRIDAY, targets=[STUDENTS])
    content = pusher.get(CHANGELIST).content.decode()
    saturday = calendar_cell(content, "2026-11-28")
    assert 'data-outcome="closed"' in saturday
    assert 'title="Sat 28 Nov 2026: Closed (weekly off (Saturday))"' in saturday
    dashami = calendar_cell(content, "2026-10-20")
    assert 'data-outcome="closed"' in dashami
    assert 'title="Tue 20 Oct 2026: Closed (Bijaya Dashami)"' in dashami
    # Closed for the students only: the day keeps its outcome, the hover names the closure.
    friday = calendar_cell(content, "2026-11-27")
    assert 'data-outcome="before"' in friday
    assert 'title="Fri 27 Nov 2026: Before the first push; closed for student attendance (Sports week)"' in friday
    assert 'data-outcome="before"' in calendar_cell(content, "2026-11-26")
    assert "Closed: a weekly off, a holiday or a closure (no records created)" in content  # the legend


def test_a_closed_day_with_a_failed_push_still_shows_the_failure(pusher, people):
    PushRun.objects.create(date=SATURDAY, trigger="schedule", status="failed", error="boom")
    cell = calendar_cell(pusher.get(CHANGELIST).content.decode(), "2026-11-28")
    assert 'data-outcome="failed"' in cell
    assert 'data-outcome="closed"' in calendar_cell(pusher.get(CHANGELIST).content.decode(), "2026-11-21")


# The confirmation and forcing ----------------------------------------------------------------------------------


def test_the_confirmation_of_a_range_lists_the_closed_days_and_their_reasons(pusher, people):
    Closure.objects.create(name="Sports day", first_day=FRIDAY, last_day=FRIDAY, targets=[STUDENTS])
    response = pusher.get(PUSH, {"start": "2026-11-26", "end": "2026-11-29"})
    content = response.content.decode()
    assert "2 of these days are closed" in content
    assert (
        "<strong>Fri 2026-11-27</strong>: Student attendance: Sports day — open for Employee attendance: "
        "records are created</li>"
    ) in content
    assert (
        "<strong>Sat 2026-11-28</strong>: Student attendance: weekly off (Saturday); "
        "Employee attendance: weekly off (Saturday)</li>"
    ) in content
    assert 'name="include_closed"' in content and "Push closed days too" in content
    # The preview counts no records on the closed days: 26th and 29th for all, 27th for employees.
    assert response.context["totals"][STUDENTS]["created"] == 6
    assert response.context["totals"][EMPLOYEES]["created"] == 6
    assert not StudentAttendance.objects.exists()


def test_the_confirmation_of_an_open_day_offers_no_forcing(pusher, people):
    content = pusher.get(PUSH, {"start": "2026-11-27"}).content.decode()
    assert "closed" not in content.split('id="content-main"')[1].split("</form>")[0].lower()


def confirm(pusher, start: str, end: str, **extra):
    return pusher.post(PUSH, {"start": start, "end": end, "confirm": "yes", "run_now": "yes", **extra})


def test_without_forcing_a_closed_day_creates_nothing_and_the_run_says_why(pusher, people):
    students, _ = people
    attendance(students[0], SATURDAY, status="Present", time_in=datetime.time(9, 0))
    response = confirm(pusher, "2026-11-28", "2026-11-28")
    assert response.status_code == 302
    run = PushRun.objects.get(date=SATURDAY)
    assert (run.status, run.created, run.filled, run.include_closed) == ("succeeded", 0, 1, False)
    assert StudentAttendance.objects.filter(date=SATURDAY).count() == 1
    history = pusher.get(CHANGELIST).content.decode()
    # Why, on a line of its own under the numbers.
    assert (
        'Student attendance: <span class="nowrap">0 / 1 / 0</span>'
        '<span class="attendance-push-count-note">closed: weekly off (Saturday)</span>'
    ) in history
    detail = pusher.get(f"{CHANGELIST}{run.pk}/change/").content.decode()
    assert "<td>closed: weekly off (Saturday)</td>" in detail


def queue_and_run(pusher, start: str, end: str, **extra) -> None:
    """Confirm a range (queued, as ranges are) and run each queued run as the worker would."""
    from attendance_push.tasks import execute_run

    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        pusher.post(PUSH, {"start": start, "end": end, "confirm": "yes", **extra})
    assert callbacks, "the queued runs are handed to the worker once committed"
    for run in PushRun.objects.filter(status="queued").order_by("date"):
        execute_run(run.pk)


def test_push_closed_days_too_is_recorded_on_the_run(pusher, people):
    queue_and_run(pusher, "2026-11-27", "2026-11-28", include_closed="yes")
    runs = list(PushRun.objects.order_by("date"))
    assert [(run.date, run.created, run.include_closed) for run in runs] == [(FRIDAY, 5, True), (SATURDAY, 5, True)]
    assert runs[1].counts[STUDENTS]["closed"] == "weekly off (Saturday)"
    assert StudentAttendance.objects.filter(date=SATURDAY).count() == 3
    history = pusher.get(CHANGELIST).content.decode()
    assert "closed: weekly off (Saturday), pushed anyway" in history


def test_a_queued_push_keeps_the_forcing_for_the_worker(pusher, people, django_capture_on_commit_callbacks):
    from attendance_push.tasks import execute_run

    with django_capture_on_commit_callbacks(execute=False):
        pusher.post(PUSH, {"start": "2026-11-28", "end": "2026-11-28", "confirm": "yes", "include_closed": "yes"})
    run = PushRun.objects.get(date=SATURDAY)
    assert (run.status, run.include_closed) == ("queued", True)
    execute_run(run.pk)
    run.refresh_from_db()
    assert (run.status, run.created) == ("succeeded", 5)


def test_a_range_without_forcing_skips_the_closed_days(pusher, people):
    queue_and_run(pusher, "2026-11-26", "2026-11-29")
    created = dict(PushRun.objects.values_list("date", "created"))
    assert created == {
        datetime.date(2026, 11, 26): 5,
        FRIDAY: 5,
        SATURDAY: 0,
        datetime.date(2026, 11, 29): 5,
    }
    assert not EmployeeAttendance.objects.filter(date=SATURDAY).exists()


# Closures and working days in the admin ------------------------------------------------------------------------


def test_an_administrator_adds_a_closure_for_one_target_and_is_recorded_as_its_creator(pusher, superuser):
    response = pusher.post(
        "/admin/attendance_push/closure/add/",
        {"name": "Winter break", "first_day": "2026-12-24", "last_day": "2027-01-05", "targets": [STUDENTS]},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    closure = Closure.objects.get()
    assert (closure.targets, closure.created_by) == ([STUDENTS], superuser)
    listing = pusher.get("/admin/attendance_push/closure/").content.decode()
    assert "Winter break" in listing and "Student attendance" in listing
    form = pusher.get(f"/admin/attendance_push/closure/{closure.pk}/change/").content.decode()
    assert 'type="checkbox" name="targets" value="school.StudentAttendance"' in form


def test_the_closure_form_refuses_an_unknown_target_and_a_reversed_range(pusher):
    response = pusher.post(
        "/admin/attendance_push/closure/add/",
        {"name": "Strike", "first_day": "2026-12-10", "last_day": "2026-12-09", "targets": ["school.Student"]},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "school.Student is not one of the available choices" in str(errors["targets"])
    assert not Closure.objects.exists()
    response = pusher.post(
        "/admin/attendance_push/closure/add/", {"name": "Strike", "first_day": "2026-12-10", "last_day": "2026-12-09"}
    )
    assert "The last day is before the first day" in str(response.context["adminform"].form.errors)
    assert not Closure.objects.exists()


def test_a_working_day_for_every_target_is_added_with_no_target_ticked(pusher):
    response = pusher.post("/admin/attendance_push/workingday/add/", {"day": "2026-12-05", "name": "Make-up day"})
    assert response.status_code == 302
    assert WorkingDay.objects.get().targets == []
    assert "all" in pusher.get("/admin/attendance_push/workingday/").content.decode()


def test_closures_need_their_own_permission(client):
    clerk = get_user_model().objects.create_user("clerk", password="pw", is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename__in=["view_pushrun", "push_attendance"]))
    client.force_login(clerk)
    assert client.get("/admin/attendance_push/closure/").status_code == 403
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_closure", "add_closure"]))
    assert client.get("/admin/attendance_push/closure/").status_code == 200
    assert client.get("/admin/attendance_push/closure/add/").status_code == 200


# Commands ------------------------------------------------------------------------------------------------------


def run_command(name: str, *args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


def test_push_attendance_of_a_saturday_prints_the_reason_and_what_it_filled(people):
    students, _ = people
    attendance(students[0], SATURDAY, status="Present", time_in=datetime.time(9, 0))
    out = run_command("push_attendance", "--date", "2026-11-28")
    assert "school.StudentAttendance: closed (weekly off (Saturday)): 0 created, 1 check-outs filled, 0 skipped" in out
    assert "school.EmployeeAttendance: closed (weekly off (Saturday)): 0 created, 0 check-outs filled" in out
    assert StudentAttendance.objects.filter(date=SATURDAY).count() == 1


def test_push_attendance_include_closed_creates_records_and_records_it(people):
    out = run_command("push_attendance", "--date", "2026-11-28", "--include-closed")
    assert "school.StudentAttendance: closed (weekly off (Saturday)), pushed anyway: 3 created" in out
    assert PushRun.objects.get(date=SATURDAY).include_closed
    assert StudentAttendance.objects.filter(date=SATURDAY).count() == 3


def test_push_attendance_range_dry_run_shows_closed_days(people):
    out = run_command("push_attendance", "--from", "2026-11-27", "--to", "2026-11-28", "--dry-run")
    assert "[1/2] 2026-11-27 would push:\n  school.StudentAttendance: 3 created" in out
    assert "[2/2] 2026-11-28 would push:\n  school.StudentAttendance: closed (weekly off (Saturday)): 0 created" in out
    assert not PushRun.objects.exists()


def test_attendance_calendar_prints_one_line_per_day_and_target():
    Closure.objects.create(name="Sports day", first_day=FRIDAY, last_day=FRIDAY, targets=[STUDENTS])
    WorkingDay.objects.create(day=datetime.date(2026, 10, 24), name="Make-up day for Dashain")
    out = run_command("attendance_calendar", "--from", "2026-10-20", "--to", "2026-10-20")
    assert out.splitlines() == [
        "2026-10-20 Tue school.StudentAttendance closed: Bijaya Dashami",
        "2026-10-20 Tue school.EmployeeAttendance closed: Bijaya Dashami",
    ]
    out = run_command("attendance_calendar", "--from", "2026-11-26", "--to", "2026-11-28")
    assert out.splitlines() == [
        "2026-11-26 Thu school.StudentAttendance open",
        "2026-11-26 Thu school.EmployeeAttendance open",
        "2026-11-27 Fri school.StudentAttendance closed: Sports day",
        "2026-11-27 Fri school.EmployeeAttendance open",
        "2026-11-28 Sat school.StudentAttendance closed: weekly off (Saturday)",
        "2026-11-28 Sat school.EmployeeAttendance closed: weekly off (Saturday)",
    ]
    out = run_command("attendance_calendar", "--from", "2026-10-24", "--to", "2026-10-24")
    assert "2026-10-24 Sat school.StudentAttendance open" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-11-28", "--to", "2026-11-01"], "--from 2026-11-28 is after --to 2026-11-01."),
        (["--from", "2020-01-01", "--to", "2030-01-01"], "At most 1830 days at a time"),
    ],
)
def test_attendance_calendar_refuses_a_bad_range(args, message):
    with pytest.raises(CommandError, match=message):
        run_command("attendance_calendar", *args)
    with pytest.raises(CommandError, match="not a date"):
        run_command("attendance_calendar", "--from", "2026-02-30", "--to", "2026-03-01")
