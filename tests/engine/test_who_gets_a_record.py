"""Who gets a record on a day, and what it says: people_on_day, rules, values per day and per row."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Case, F, Value, When
from django.test.utils import CaptureQueriesContext

from attendance_push.exceptions import PushError
from attendance_push.models import PushRun
from attendance_push.push import push
from attendance_push.runs import run_push
from attendance_push.text import describe_rules
from school.models import Employee, EmployeeAttendance, Leave, Student, StudentAttendance
from tests.support.config import demo_target, member_target, push_settings
from tests.support.demo import DAY, EMPLOYEES, STUDENTS, attendance
from tests.variants.models import Group, Guarded, Member, Register

pytestmark = pytest.mark.django_db

ONE_DAY = datetime.timedelta(days=1)
# 2026-12-02 12:00 in Kathmandu: November 2026 is entirely in the past.
DECEMBER_NOON = datetime.datetime(2026, 12, 2, 6, 15, tzinfo=datetime.UTC)


def employee_record(employee: Employee, day: datetime.date = DAY) -> EmployeeAttendance | None:
    return EmployeeAttendance.objects.filter(employee=employee, date=day).first()


# The demo: approved leave, dates of enrolment and employment ------------------------------------


def test_an_employee_on_approved_leave_gets_a_leave_record_with_no_times(superuser, make_employees):
    on_leave, unapproved, leave_ended, working = make_employees(4)
    Leave.objects.create(employee=on_leave, first_day=DAY - ONE_DAY, last_day=DAY + ONE_DAY, approved=True)
    Leave.objects.create(employee=unapproved, first_day=DAY, last_day=DAY, approved=False)
    Leave.objects.create(employee=leave_ended, first_day=DAY - 5 * ONE_DAY, last_day=DAY - ONE_DAY, approved=True)

    result = push(DAY)

    leave = employee_record(on_leave)
    assert (leave.status, leave.time_in, leave.time_out) == ("Leave", None, None)
    for employee in (unapproved, leave_ended, working):
        record = employee_record(employee)
        assert (record.status, record.time_in, record.time_out) == ("Present", datetime.time(9), datetime.time(17))
    employees = result.counts()["school.EmployeeAttendance"]
    assert employees["created"] == 4
    assert employees["rules"] == [
        {"rule": "On leave", "status": "Leave", "created": 1, "skipped": 0},
        {"rule": "", "status": "Present", "created": 3, "skipped": 0},
    ]
    assert describe_rules(employees["rules"]) == "3 Present, 1 Leave"


def test_a_push_keeps_rule_and_status_words_in_the_source_and_they_read_in_the_readers_language(
    superuser, make_employees
):
    from django.utils import translation

    on_leave, _working = make_employees(2)
    Leave.objects.create(employee=on_leave, first_day=DAY, last_day=DAY, approved=True)
    # Pushed from an admin page read in Nepali ("Run it now" pushes in the page's request).
    with translation.override("ne"):
        run = run_push(DAY, trigger=PushRun.Trigger.ADMIN)
    rules = run.counts["school.EmployeeAttendance"]["rules"]
    assert rules == [
        {"rule": "On leave", "status": "Leave", "created": 1, "skipped": 0},
        {"rule": "", "status": "Present", "created": 1, "skipped": 0},
    ]
    assert EmployeeAttendance.objects.get(employee=on_leave).status == "Leave"
    with translation.override("en"):
        assert describe_rules(rules) == "1 Present, 1 Leave"
    with translation.override("ne"):
        assert describe_rules(rules) == "1 उपस्थित, 1 बिदा"


def test_two_approved_leaves_covering_the_day_give_one_leave_record(superuser, make_employees):
    (employee,) = make_employees(1)
    Leave.objects.create(employee=employee, first_day=DAY, last_day=DAY, approved=True)
    Leave.objects.create(employee=employee, first_day=DAY - ONE_DAY, last_day=DAY + ONE_DAY, approved=True)

    assert push(DAY).created == 1
    assert list(EmployeeAttendance.objects.values_list("status", flat=True)) == ["Leave"]


def test_leave_approved_after_a_record_exists_changes_nothing(superuser, make_employees):
    (employee,) = make_employees(1)
    attendance(employee, status="Present", time_in=datetime.time(9), time_out=datetime.time(17))
    Leave.objects.create(employee=employee, first_day=DAY, last_day=DAY, approved=True)

    assert push(DAY).created == 0
    assert employee_record(employee).status == "Present"


@pytest.mark.parametrize(
    ("enrolled_on", "left_on", "is_active", "pushed"),
    [
        (None, None, True, True),
        (DAY, None, True, True),  # the first school day
        (DAY + ONE_DAY, None, True, False),  # not enrolled yet
        (None, DAY, True, False),  # left_on is the first day away
        (None, DAY + ONE_DAY, True, True),  # the last school day
        (None, DAY + ONE_DAY, False, True),  # inactive now, but there on the day
        (None, None, False, False),  # inactive since nobody knows when
        (None, DAY - ONE_DAY, False, False),
    ],
)
def test_a_student_gets_a_record_only_on_days_enrolled(superuser, enrolled_on, left_on, is_active, pushed):
    student = Student.objects.create(name="Sita", enrolled_on=enrolled_on, left_on=left_on, is_active=is_active)

    push(DAY)

    assert StudentAttendance.objects.filter(student=student, date=DAY).exists() is pushed


def test_an_open_check_in_of_someone_gone_on_the_day_is_not_filled(superuser, make_students):
    (student,) = make_students(1)
    record = attendance(student, time_in=datetime.time(9))
    Student.objects.filter(pk=student.pk).update(left_on=DAY)

    result = push(DAY)

    assert (result.created, result.filled) == (0, 0)
    record.refresh_from_db()
    assert record.time_out is None


@time_machine.travel(DECEMBER_NOON, tick=False)
def test_a_backfill_of_a_past_month_follows_each_persons_dates(superuser):
    november = [datetime.date(2026, 11, 1) + n * ONE_DAY for n in range(30)]
    joined = Employee.objects.create(name="Joined mid-month", joined_on=datetime.date(2026, 11, 16))
    # Left after the month and marked inactive since: still there every day of November.
    left = Employee.objects.create(name="Left in December", left_on=datetime.date(2026, 12, 1), is_active=False)
    gone = Employee.objects.create(name="Left in October", left_on=datetime.date(2026, 10, 31), is_active=False)
    Leave.objects.create(
        employee=left, first_day=datetime.date(2026, 11, 10), last_day=datetime.date(2026, 11, 12), approved=True
    )
    Student.objects.create(name="Enrolled in December", enrolled_on=datetime.date(2026, 12, 1))

    runs = [run_push(day, trigger=PushRun.Trigger.COMMAND) for day in november]

    assert {run.status for run in runs} == {PushRun.Status.SUCCEEDED}
    days_of = lambda employee, status: set(  # noqa: E731
        EmployeeAttendance.objects.filter(employee=employee, status=status).values_list("date", flat=True)
    )
    assert days_of(joined, "Present") == set(november[15:])
    assert not EmployeeAttendance.objects.filter(employee=joined, date__lt=datetime.date(2026, 11, 16)).exists()
    leave_days = {datetime.date(2026, 11, 10), datetime.date(2026, 11, 11), datetime.date(2026, 11, 12)}
    assert days_of(left, "Leave") == leave_days
    assert days_of(left, "Present") == set(november) - leave_days
    assert not EmployeeAttendance.objects.filter(employee=gone).exists()
    assert not StudentAttendance.objects.exists()
    assert sum(run.created for run in runs) == 15 + 30


# Rules: the first match decides; skip gives no record ---------------------------------------------


def use_register(settings, **target) -> None:
    """Push only variants.Register (members, with times, statuses and the host's own date columns)."""
    register = member_target(
        "variants.Register",
        extra_values="tests.variants.days.register_values",
        fill_values="tests.variants.days.register_fill_values",
    )
    settings.ATTENDANCE_PUSH = push_settings(target={**register, **target})


@pytest.fixture
def members():
    ops = Group.objects.create(name="Ops", starts_at=datetime.time(6), ends_at=datetime.time(14))
    temps = Group.objects.create(name="Temps")
    return {
        "ada": Member.objects.create(full_name="Ada", group=ops),
        "bo": Member.objects.create(full_name="Bo", group=temps),
        "cy": Member.objects.create(full_name="Cy", group=ops),
        "di": Member.objects.create(full_name="Di"),
    }


def statuses(day: datetime.date = DAY) -> dict[str, str]:
    return dict(Register.objects.filter(day=day).values_list("member__full_name", "status"))


def test_the_first_matching_rule_decides_and_skip_gives_no_record(settings, members):
    use_register(
        settings,
        rules=[
            {"name": "Temps off", "people": "tests.variants.days.temps", "skip": True},
            {"name": "Ops remote", "people": "tests.variants.days.ops", "status": "Remote"},
            # Matches Bo and Ada too, but an earlier rule decided for them.
            {"name": "Grouped", "people": "tests.variants.days.in_any_group", "status": "Grouped"},
        ],
    )

    preview = push(DAY, dry_run=True)
    result = push(DAY)

    assert statuses() == {"Ada": "Remote", "Cy": "Remote", "Di": "Present"}
    rules = result.counts()["variants.Register"]["rules"]
    assert rules == [
        {"rule": "Temps off", "status": "", "created": 0, "skipped": 1},
        {"rule": "Ops remote", "status": "Remote", "created": 2, "skipped": 0},
        {"rule": "Grouped", "status": "Grouped", "created": 0, "skipped": 0},
        {"rule": "", "status": "Present", "created": 1, "skipped": 0},
    ]
    assert preview.counts() == result.counts()
    assert describe_rules(rules) == "1 Present, 2 Remote, 1 skipped by rule"
    # A skip is not a record: the next push skips the person again and creates nothing.
    again = push(DAY).counts()["variants.Register"]
    assert (again["created"], again["rules"][0]["skipped"]) == (0, 1)


def test_a_rule_sets_its_own_times_or_none(settings, members):
    use_register(
        settings,
        rules=[{"people": "tests.variants.days.temps", "status": "Leave", "check_in": None, "check_out": None}],
    )
    push(DAY)
    bo = Register.objects.get(member=members["bo"])
    assert (bo.status, bo.time_in, bo.time_out, bo.worked) == ("Leave", None, None, None)
    di = Register.objects.get(member=members["di"])
    assert (di.status, di.time_in, di.time_out) == ("Present", datetime.time(9), datetime.time(17))


def test_the_number_of_statements_does_not_grow_with_people_or_rule_matches(settings, members):
    use_register(
        settings,
        people_on_day="tests.variants.days.members_on_day",
        rules=[
            {"people": "tests.variants.days.temps", "skip": True},
            {"people": "tests.variants.days.ops", "status": "Remote"},
        ],
    )
    temps, ops = Group.objects.get(name="Temps"), Group.objects.get(name="Ops")
    counts = {}
    for size, day in ((4, DAY - ONE_DAY), (400, DAY)):
        Member.objects.bulk_create(
            Member(full_name=f"M{n}", group=(temps, ops, None)[n % 3]) for n in range(size - Member.objects.count())
        )
        with CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as captured:
            push(day)
        counts[size] = sum(1 for q in captured.captured_queries if "SAVEPOINT" not in q["sql"].upper())
    # The day's closures and make-up days; UPDATE check-outs, COUNT skipped, COUNT of the skip rule,
    # two INSERT … SELECT; the PostgreSQL lock.
    expected = 2 + 5 + (1 if connection.vendor == "postgresql" else 0)
    assert counts == {4: expected, 400: expected}
    assert Register.objects.filter(day=DAY).count() == 400 - Member.objects.filter(group=temps).count()


def test_a_people_function_that_returns_no_lookups_fails_the_push_and_writes_nothing(settings, members):
    use_register(settings, rules=[{"people": "tests.variants.days.not_a_q", "status": "Leave"}])
    with pytest.raises(PushError, match="returned list, not a Q or a dict of lookups"):
        push(DAY)
    assert not Register.objects.exists()


# Values per day and per row ---------------------------------------------------------------------


def test_created_rows_get_the_check_in_date_weekday_and_hours_from_extra_values(settings, members):
    use_register(settings)

    push(DAY)

    assert set(Register.objects.values_list("check_in_date", "weekday", "worked", "check_out_date")) == {
        (DAY, "Friday", datetime.timedelta(hours=8), None)
    }


def test_filled_rows_get_the_check_out_date_and_hours_from_fill_values(settings, members):
    use_register(settings)
    open_row = Register.objects.create(
        member=members["ada"],
        day=DAY,
        status="Present",
        time_in=datetime.time(8, 30),
        check_in_date=DAY,
        weekday="Friday",
    )

    assert push(DAY).filled == 1

    open_row.refresh_from_db()
    assert (open_row.time_out, open_row.check_out_date, open_row.worked) == (
        datetime.time(17),
        DAY,
        datetime.timedelta(hours=8, minutes=30),
    )


def test_times_per_target_and_per_person(settings, members):
    use_register(
        settings,
        check_in={"field": "group__starts_at"},
        check_out={"field": "group__ends_at"},
        rules=[{"people": "tests.variants.days.temps", "check_in": "12:00", "check_out": "20:00"}],
    )
    early = Register.objects.create(
        member=members["cy"], day=DAY, status="Present", time_in=datetime.time(7), check_in_date=DAY, weekday="Friday"
    )
    late = Register.objects.create(
        member=members["ada"], day=DAY - ONE_DAY, status="Present", time_in=datetime.time(15), check_in_date=DAY,
        weekday="Thursday",
    )  # fmt: skip

    preview = push(DAY, dry_run=True)
    result = push(DAY)
    late_result = push(DAY - ONE_DAY)

    times = dict(Register.objects.filter(day=DAY).values_list("member__full_name", "time_in"))
    # Ada's group starts at 06:00; Bo's rule says 12:00; Di has no group: the global 09:00.
    assert times == {"Ada": datetime.time(6), "Bo": datetime.time(12), "Cy": datetime.time(7), "Di": datetime.time(9)}
    early.refresh_from_db()
    assert (early.time_out, early.worked) == (datetime.time(14), datetime.timedelta(hours=7))
    assert Register.objects.get(member=members["di"], day=DAY).time_out == datetime.time(17)
    assert (result.created, result.filled, result.skipped) == (3, 1, 0)
    assert preview.counts() == result.counts()
    # Ada's check-in at 15:00 is after her group's 14:00 check-out: skipped, not filled.
    late.refresh_from_db()
    assert late.time_out is None
    assert (late_result.filled, late_result.skipped) == (0, 1)


def test_f_naming_neither_a_pushed_field_nor_the_person_fails_the_push(settings, members):
    use_register(settings, extra_values={"check_in_date": F("no_such_field"), "weekday": "x"})
    with pytest.raises(PushError, match="names neither a field the push sets"):
        push(DAY)
    assert not Register.objects.exists()


# write "save": counts are what the database holds afterwards --------------------------------------


def use_guarded(settings, **target) -> None:
    settings.ATTENDANCE_PUSH = push_settings(target={**member_target("variants.Guarded", write="save"), **target})


def test_a_record_the_hosts_save_declines_is_not_counted_now_or_later(settings, members):
    use_guarded(settings)

    first = push(DAY)
    second = push(DAY)

    # Bo is a Temp: his save() refuses "Present".
    assert set(Guarded.objects.values_list("member__full_name", flat=True)) == {"Ada", "Cy", "Di"}
    assert first.created == 3
    assert first.counts()["variants.Guarded"]["rules"][-1]["created"] == 3
    assert second.created == 0


def test_a_fill_the_hosts_save_declines_is_not_counted(settings, members):
    use_guarded(settings)
    locked = Member.objects.create(full_name="Locked")
    Guarded.objects.create(member=locked, day=DAY, status="Late", time_in=datetime.time(10))
    Guarded.objects.create(member=members["ada"], day=DAY, status="Late", time_in=datetime.time(10))

    result = push(DAY)

    assert result.filled == 1
    assert Guarded.objects.get(member=locked).time_out is None
    assert push(DAY).filled == 0


def test_write_save_gets_the_same_rules_and_values(settings, members):
    use_register(settings, write="save", rules=[{"people": "tests.variants.days.temps", "status": "Leave"}])
    open_row = Register.objects.create(
        member=members["ada"], day=DAY, status="Present", time_in=datetime.time(8), check_in_date=DAY, weekday="Friday"
    )

    result = push(DAY)

    assert statuses() == {"Ada": "Present", "Bo": "Leave", "Cy": "Present", "Di": "Present"}
    assert (result.created, result.filled) == (3, 1)
    assert set(Register.objects.exclude(pk=open_row.pk).values_list("check_in_date", "weekday", "worked")) == {
        (DAY, "Friday", datetime.timedelta(hours=8))
    }
    open_row.refresh_from_db()
    assert (open_row.time_out, open_row.check_out_date, open_row.worked) == (
        datetime.time(17),
        DAY,
        datetime.timedelta(hours=9),
    )


# Checks -------------------------------------------------------------------------------------------


def found(settings) -> list[tuple[str, str]]:
    from attendance_push.checks import check_settings

    return [(message.id, message.msg) for message in check_settings()]


def test_a_register_target_with_functions_and_expressions_passes_the_checks(settings, members):
    use_register(
        settings,
        people_on_day="tests.variants.days.members_on_day",
        check_in={"field": "group__starts_at"},
        rules=[{"name": "Temps", "people": "tests.variants.days.temps", "status": "Leave", "check_in": None}],
    )
    assert found(settings) == []


@pytest.mark.parametrize(
    ("target", "check_id", "fragment"),
    [
        ({"people_on_day": "tests.variants.days.nope"}, "attendance_push.E040", "cannot import"),
        ({"people_on_day": 5}, "attendance_push.E040", "is not the dotted path of a function"),
        ({"people_on_day": "datetime.MINYEAR"}, "attendance_push.E040", "is not callable"),
        ({"check_in": {"field": 5}}, "attendance_push.E042", "is not a time"),
        ({"check_out_field": None, "fill_values": {"weekday": "x"}}, "attendance_push.E043", "no check-in and"),
        ({"people_on_day": "tests.variants.days.misspelled"}, "attendance_push.E040", "gives invalid lookups"),
        ({"people_on_day": "tests.variants.days.not_a_q"}, "attendance_push.E040", "returned list, not a Q"),
        ({"rules": [{"people": "tests.variants.days.misspelled"}]}, "attendance_push.E041", "invalid lookups"),
        ({"rules": {"people": "x"}}, "attendance_push.E041", "must be a list"),
        ({"rules": [{"status": "Leave"}]}, "attendance_push.E041", "must be a dict with 'people'"),
        ({"rules": [{"people": "tests.variants.days.temps", "when": 1}]}, "attendance_push.E041", "only the keys"),
        ({"rules": [{"people": "tests.variants.days.nope"}]}, "attendance_push.E041", "cannot import"),
        ({"rules": [{"people": "tests.variants.days.temps", "skip": "yes"}]}, "attendance_push.E041", "True or"),
        ({"check_in": "9 o'clock"}, "attendance_push.E042", "is not a time"),
        ({"check_out": {"field": "group__name"}}, "attendance_push.E042", "is not a TimeField"),
        ({"check_out": {"field": "group__nope"}}, "attendance_push.E042", "is not a field reached from"),
        ({"rules": [{"people": "tests.variants.days.temps", "check_in": "25:00"}]}, "attendance_push.E042", "time"),
        ({"fill_values": {"nope": 1}}, "attendance_push.E043", "names 'nope', not a field"),
        ({"fill_values": {"time_out": None}}, "attendance_push.E043", "cannot set variants.Register.time_out"),
        ({"fill_values": "tests.variants.days.nope"}, "attendance_push.E043", "cannot import"),
        ({"fill_values": "tests.variants.days.temps"}, "attendance_push.E043", "names 'group__name'"),
        ({"fill_values": "tests.variants.days.broken"}, "attendance_push.E043", "raised ValueError: no calendar"),
        ({"extra_values": "tests.variants.days.not_a_q"}, "attendance_push.E017", "returned list, not a dict"),
        ({"extra_values": {"weekday": "x", "check_in_date": "soon"}}, "attendance_push.E017", "'soon' is not valid"),
    ],
)
def test_day_settings_are_checked(settings, members, target, check_id, fragment):
    use_register(settings, **target)
    (message,) = found(settings)
    assert message[0] == check_id
    assert fragment in message[1]


def test_a_rule_status_the_field_does_not_accept_is_a_check_error(settings, make_employees):
    employees = demo_target(EMPLOYEES, rules=[{"people": "school.people.employees_on_leave", "status": "Holiday"}])
    settings.ATTENDANCE_PUSH = push_settings(TARGETS=[demo_target(STUDENTS), employees])
    ((check_id, message),) = found(settings)
    assert check_id == "attendance_push.E041"
    assert "'Holiday' is not a choice of school.EmployeeAttendance.status" in message


@pytest.mark.parametrize(
    ("attendance", "write", "logic"),
    [
        ("variants.Guarded", "sql", "overrides save()"),
        ("variants.Timesheet", "sql", "overrides save() and has post_save receivers"),
        ("variants.Timesheet", "save", None),
        ("variants.Register", "sql", None),
    ],
)
def test_host_logic_the_set_based_push_would_bypass_is_a_warning(settings, attendance, write, logic):
    extra_values = {"check_in_date": F("day"), "weekday": "Friday"} if attendance.endswith("Register") else {}
    settings.ATTENDANCE_PUSH = push_settings(target=member_target(attendance, write=write, extra_values=extra_values))
    from attendance_push.checks import check_settings

    messages = check_settings()
    if logic is None:
        assert messages == []
        return
    (warning,) = messages
    assert warning.id == "attendance_push.W040"
    assert logic in warning.msg
    assert "'write': 'save'" in warning.hint and "target_pushed" in warning.hint


def test_leave_is_managed_in_the_admin_and_the_people_show_their_dates(admin_client, make_employees):
    (employee,) = make_employees(1)
    Employee.objects.filter(pk=employee.pk).update(joined_on=datetime.date(2026, 9, 1))

    response = admin_client.post(
        "/admin/school/leave/add/",
        {"employee": employee.pk, "first_day": "2026-11-20", "last_day": "2026-11-21", "approved": "on"},
    )

    assert response.status_code == 302
    leave = Leave.objects.get()
    assert (leave.employee, leave.first_day, leave.last_day, leave.approved) == (
        employee,
        DAY,
        DAY + ONE_DAY,
        True,
    )
    assert "Nov. 20, 2026" in admin_client.get("/admin/school/leave/").content.decode()
    assert "Sept. 1, 2026" in admin_client.get("/admin/school/employee/").content.decode()
    # A leave that ends before it starts is refused by the database, not stored.
    response = admin_client.post(
        "/admin/school/leave/add/",
        {"employee": employee.pk, "first_day": "2026-11-22", "last_day": "2026-11-21", "approved": "on"},
    )
    assert response.status_code == 200 and Leave.objects.count() == 1


@pytest.mark.parametrize("write", ["sql", "save"])
def test_fill_values_may_set_a_foreign_key(settings, superuser, make_students, write):
    (student,) = make_students(1)
    record = attendance(student, time_in=datetime.time(9))
    students = demo_target(STUDENTS, write=write, fill_values={"created_by": superuser.pk})
    settings.ATTENDANCE_PUSH = push_settings(target=students)
    assert found(settings) == []

    assert push(DAY).filled == 1

    record.refresh_from_db()
    assert (record.time_out, record.created_by) == (datetime.time(17), superuser)


def test_leave_approved_after_the_evening_push_turns_its_present_into_leave(superuser, make_employees):
    on_leave, working = make_employees(2)
    first = run_push(DAY, trigger=PushRun.Trigger.SCHEDULE)
    assert employee_record(on_leave).status == "Present"

    Leave.objects.create(employee=on_leave, first_day=DAY, last_day=DAY, approved=True)
    second = run_push(DAY, trigger=PushRun.Trigger.ADMIN, requested_by=superuser)

    assert (first.status, second.status) == (PushRun.Status.SUCCEEDED, PushRun.Status.SUCCEEDED)
    leave = employee_record(on_leave)
    assert (leave.status, leave.time_in, leave.time_out) == ("Leave", None, None)
    assert employee_record(working).status == "Present"


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ({"people_on_day": "tests.variants.days.nope"}, "cannot import 'tests.variants.days.nope'"),
        ({"extra_values": "tests.variants.days.not_a_q"}, "returned list, not a dict of field names and values"),
        ({"rules": [{"status": "Leave"}]}, "must be a dict with 'people'"),
    ],
)
def test_a_day_setting_the_push_cannot_use_fails_it_and_writes_nothing(settings, members, target, fragment):
    use_register(settings, **target)
    with pytest.raises(PushError, match=re.escape(fragment)):
        push(DAY)
    assert not Register.objects.exists()


def test_values_read_the_person_and_conditions_read_the_row(settings, members):
    early = Case(When(time_in__lt=datetime.time(9), then=Value("early")), default=Value("on time"))
    use_register(
        settings,
        extra_values={"check_in_date": F("day"), "weekday": F("member__full_name")},
        fill_values={"weekday": early},
    )
    open_row = Register.objects.create(
        member=members["ada"], day=DAY, status="Present", time_in=datetime.time(8), check_in_date=DAY, weekday="x"
    )

    push(DAY)

    assert dict(Register.objects.exclude(pk=open_row.pk).values_list("member__full_name", "weekday")) == {
        "Bo": "Bo",
        "Cy": "Cy",
        "Di": "Di",
    }
    open_row.refresh_from_db()
    assert open_row.weekday == "early"


def test_the_preview_of_a_target_without_times_counts_its_rules(settings, members):
    settings.ATTENDANCE_PUSH = push_settings(
        target=member_target(
            "variants.Presence", bare=True, rules=[{"people": "tests.variants.days.temps", "skip": True}]
        )
    )

    preview = push(DAY, dry_run=True).counts()["variants.Presence"]

    assert (preview["created"], preview["filled"], preview["skipped"]) == (3, 0, 0)
    assert describe_rules(preview["rules"]) == "3 records, 1 skipped by rule"


def test_an_undo_queued_for_the_worker_removes_the_leave_and_present_records_it_pushed(
    superuser, make_employees, django_capture_on_commit_callbacks
):
    from django_q.models import OrmQ

    from attendance_push.runs import queue_undo
    from attendance_push.tasks import execute_run

    on_leave, _working = make_employees(2)
    Leave.objects.create(employee=on_leave, first_day=DAY, last_day=DAY, approved=True)
    pushed = run_push(DAY, trigger=PushRun.Trigger.COMMAND, requested_by=superuser)
    assert set(EmployeeAttendance.objects.values_list("status", flat=True)) == {"Leave", "Present"}

    with django_capture_on_commit_callbacks(execute=True):
        queued = queue_undo(pushed, requested_by=superuser)
    queued.refresh_from_db()
    assert (queued.status, queued.trigger, queued.undoes) == (PushRun.Status.QUEUED, PushRun.Trigger.UNDO, pushed)
    assert queued.task_id and OrmQ.objects.count() == 1
    with pytest.raises(PushError):
        queue_undo(pushed, requested_by=superuser)  # already being undone

    execute_run(queued.pk)

    queued.refresh_from_db()
    assert queued.status == PushRun.Status.SUCCEEDED, queued.error
    assert not EmployeeAttendance.objects.exists()
