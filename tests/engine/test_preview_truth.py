"""A preview that passes means a push that can run: the dry run compiles the push's own statements, writes
nothing, and says every error in one line (issue 20, point 9)."""

from __future__ import annotations

import datetime
import textwrap

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models.expressions import RawSQL
from django.test.utils import CaptureQueriesContext

from attendance_push.exceptions import PushError
from attendance_push.models import Closure, PushedRecord, PushRun
from attendance_push.push import push
from attendance_push.runs import run_push
from school.models import EmployeeAttendance, StudentAttendance
from tests.support.admin_pages import PUSH
from tests.support.demo import DAY, attendance
from tests.support.processes import manage, process_env
from tests.variants.models import AttendanceState, Member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("superuser")]

STUDENTS = "school.StudentAttendance"


def only_students(settings, **target) -> None:
    """Push only the demo's student attendance, with `target`'s settings on top of the demo's."""
    settings.ATTENDANCE_PUSH = {
        **settings.ATTENDANCE_PUSH,
        "TARGETS": [{"attendance": STUDENTS, "person_field": "student", **target}],
    }


def tables() -> dict[str, list[dict]]:
    """Return every row of every table a push writes, in key order."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (StudentAttendance, EmployeeAttendance, PushedRecord, PushRun)
    }


# The fill's UPDATE and the rules' INSERT … SELECT are compiled by the preview ---------------------------------


def test_a_fill_values_expression_the_push_cannot_run_fails_the_preview(settings, make_students):
    # One placeholder, no parameter: "not enough arguments for format string" in the push, until now
    # only there.
    only_students(settings, fill_values={"status": RawSQL("%s", [])})
    students = make_students(2)
    attendance(students[0], time_in=datetime.time(8, 0))

    with pytest.raises(PushError, match=r"^school.StudentAttendance: the database refuses a statement the push would"):
        push(DAY, dry_run=True)
    with pytest.raises(CommandError, match=r"^The dry run of 2026-11-20 failed, and nothing was written: \w+"):
        call_command("push_attendance", "--dry-run", "--date", "2026-11-20")
    assert not PushRun.objects.exists()


def test_the_confirmation_page_refuses_a_push_whose_statements_the_database_refuses(settings, superuser_client):
    only_students(settings, extra_values={"status": RawSQL("no_such_column", [])})
    page = superuser_client.get(PUSH, {"start": "2026-11-20"})

    assert page.status_code == 200
    assert "the database refuses a statement the push would run" in page.content.decode()


def test_an_extra_values_expression_the_push_cannot_run_fails_the_preview(settings, make_students):
    only_students(settings, extra_values={"status": RawSQL("no_such_column", [])})
    make_students(2)

    with pytest.raises(PushError, match="no_such_column"):
        push(DAY, dry_run=True)
    with pytest.raises(CommandError) as raised:
        call_command("push_attendance", "--dry-run", "--date", "2026-11-20")
    assert "\n" not in str(raised.value) and "no_such_column" in str(raised.value)


@pytest.mark.parametrize("write", ["sql", "save"])
def test_a_valid_preview_still_counts_what_the_push_then_does(settings, make_students, write):
    only_students(settings, write=write, fill_values={"status": "Present"})
    students = make_students(3)
    attendance(students[0], time_in=datetime.time(8, 0))

    preview = push(DAY, dry_run=True)
    run = run_push(DAY, trigger=PushRun.Trigger.COMMAND)

    assert run.status == PushRun.Status.SUCCEEDED
    assert (preview.created, preview.filled) == (run.created, run.filled) == (2, 1)


# It never writes -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("include_closed", [False, True])
def test_a_dry_run_leaves_every_table_exactly_as_it_was(settings, make_students, make_employees, include_closed):
    students = make_students(4)
    make_employees(2)
    attendance(students[0], time_in=datetime.time(8, 0))
    earlier = run_push(DAY, trigger=PushRun.Trigger.COMMAND)
    assert earlier.status == PushRun.Status.SUCCEEDED and earlier.created == 5
    # Since then: the day closed (the earlier records would be withdrawn), new students, a new open record.
    Closure.objects.create(name="Snow", first_day=DAY, last_day=DAY)
    (late,) = make_students(1, prefix="Late")
    attendance(late, time_in=datetime.time(9, 30))
    make_students(1, prefix="New")
    before = tables()

    preview = push(DAY, dry_run=True, include_closed=include_closed)

    # Something to write, that the dry run only counts: withdrawals, or forced on the closed day, creations.
    assert (preview.created if include_closed else preview.corrected) > 0 and preview.filled == 1
    assert tables() == before


def test_the_preview_makes_as_many_queries_for_thirty_people_as_for_three(settings, make_students):
    only_students(settings, fill_values={"status": "Present"})

    def queries(n: int) -> int:
        StudentAttendance.objects.all().delete()
        for student in make_students(n):
            attendance(student, time_in=datetime.time(8, 0))
        make_students(n)
        with CaptureQueriesContext(connection) as captured:
            push(DAY, dry_run=True)
        return len(captured)

    assert queries(3) == queries(30)


# Every error of a dry run is one line --------------------------------------------------------------------------


def use_roll(settings) -> None:
    settings.ATTENDANCE_PUSH = {**settings.ATTENDANCE_PUSH, "TARGETS": [ROLL]}


ROLL = {
    "attendance": "variants.Roll",
    "person_field": "member",
    "date_field": "day",
    "status_field": "state",
    "status": {"name": "Present"},
    "check_in_field": None,
    "check_out_field": None,
    "created_by_field": None,
}


def test_a_dry_run_without_the_hosts_status_row_says_so_in_one_line(settings):
    AttendanceState.objects.create(name="Absent")
    Member.objects.create(full_name="Ada")
    use_roll(settings)

    with pytest.raises(CommandError) as raised:
        call_command("push_attendance", "--dry-run", "--date", "2026-11-20")

    message = str(raised.value)
    assert message.startswith("The dry run of 2026-11-20 failed, and nothing was written: ")
    assert "no variants.AttendanceState matches {'name': 'Present'}" in message and "\n" not in message


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
def test_a_dry_run_process_without_the_hosts_status_row_prints_one_line_and_no_traceback(tmp_path):
    AttendanceState.objects.create(name="Absent")
    (tmp_path / "roll_settings.py").write_text(
        textwrap.dedent(
            f"""
            from tests.settings import *  # noqa: F403

            ATTENDANCE_PUSH = {{**ATTENDANCE_PUSH, "TARGETS": [{ROLL!r}]}}  # noqa: F405
            """
        )
    )
    env = process_env(DJANGO_SETTINGS_MODULE="roll_settings")
    env["PYTHONPATH"] = f"{tmp_path}:{env.get('PYTHONPATH', '')}".rstrip(":")

    done = manage("push_attendance", "--dry-run", "--date", "2026-11-20", env=env)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no variants.AttendanceState matches" in lines[0], done.stderr
