"""The ledger of pushed records: written with each push, undone, filtered in the admin (pruning: test_prune.py)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import CharField
from django.db.models.functions import Cast
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from attendance_push.exceptions import PushError
from attendance_push.ledger.undo import undo
from attendance_push.models import Closure, PushedRecord, PushRun
from attendance_push.push import push
from attendance_push.runs import is_pushed, missed_days, run_undo, scheduled_push
from attendance_push.schedule import push_instant
from school.models import EmployeeAttendance, StudentAttendance
from tests.support.config import member_target, push_settings
from tests.support.demo import DAY, EMPLOYEES, STUDENTS, attendance
from tests.support.runs import pushed_run
from tests.variants.models import Pupil, PupilAttendance

pytestmark = pytest.mark.django_db


def ledger(run: PushRun, action: str, target: str = STUDENTS) -> set[str]:
    return set(PushedRecord.objects.filter(run=run, target=target, action=action).values_list("person", flat=True))


# Writing the ledger -----------------------------------------------------------------------------


def test_a_push_enters_each_created_record_and_filled_check_out_in_the_ledger(superuser, make_students, make_employees):
    students = make_students(4)
    employees = make_employees(2)
    attendance(students[0], status="Present", time_in=datetime.time(8, 30))  # open: filled
    attendance(students[1], status="Absent")  # has a record: left alone
    attendance(students[2], time_in=datetime.time(18, 0))  # open but too late: skipped

    run = pushed_run()

    assert ledger(run, "created") == {str(students[3].pk)}
    assert ledger(run, "filled") == {str(students[0].pk)}
    assert ledger(run, "created", EMPLOYEES) == {str(e.pk) for e in employees}
    assert PushedRecord.objects.filter(run=run).count() == run.created + run.filled == 4
    assert set(PushedRecord.objects.filter(run=run).values_list("day", flat=True)) == {DAY}
    run.refresh_from_db()
    assert run.pushed[STUDENTS]["rules"][-1]["status"] == "Present"
    assert run.pushed[STUDENTS]["filled"] == {"time_out": "17:00:00"}


def test_a_dry_run_and_a_push_without_a_run_write_no_ledger(superuser, make_students):
    make_students(3)
    push(DAY, dry_run=True)
    push(DAY)
    assert StudentAttendance.objects.filter(date=DAY).count() == 3
    assert not PushedRecord.objects.exists()


def test_the_ledger_adds_no_statement_per_person(superuser, make_students):
    def statements(people: int, day: datetime.date) -> int:
        students = make_students(people)
        # A third come in and are left open: their check-outs are filled (and entered) too.
        for student in students[: people // 3]:
            attendance(student, day=day, status="Present", time_in=datetime.time(8, 30))
        run = PushRun.objects.create(date=day, trigger=PushRun.Trigger.COMMAND)
        with CaptureQueriesContext(connection) as queries:
            result = push(day, run_id=run.pk)
        assert result.filled == people // 3
        assert PushedRecord.objects.filter(run=run).count() == StudentAttendance.objects.filter(date=day).count()
        return len(queries)

    assert statements(3, DAY) == statements(60, DAY - datetime.timedelta(days=1))


def test_a_rerun_of_the_day_enters_only_what_it_wrote(superuser, make_students):
    first = make_students(2)
    run = pushed_run()
    later = make_students(1)
    again = pushed_run()
    assert ledger(run, "created") == {str(s.pk) for s in first}
    assert ledger(again, "created") == {str(later[0].pk)}


# Undo -------------------------------------------------------------------------------------------


def test_undo_deletes_unchanged_records_clears_check_outs_and_keeps_what_people_changed(superuser, make_students):
    students = make_students(6)
    open_ones = students[:2]
    for student in open_ones:
        attendance(student, status="Present", time_in=datetime.time(8, 30))
    run = pushed_run()
    assert (run.created, run.filled) == (4, 2)
    # A teacher corrects two created records and one filled check-out after the push.
    StudentAttendance.objects.filter(student=students[2], date=DAY).update(status="Absent")
    StudentAttendance.objects.filter(student=students[3], date=DAY).update(time_in=datetime.time(9, 40))
    StudentAttendance.objects.filter(student=open_ones[1], date=DAY).update(time_out=datetime.time(15, 0))

    undo_run = run_undo(run, requested_by=superuser)

    assert undo_run.status == PushRun.Status.SUCCEEDED, undo_run.error
    assert undo_run.trigger == PushRun.Trigger.UNDO
    assert undo_run.undoes == run
    assert undo_run.counts[STUDENTS] == {"deleted": 2, "cleared": 1, "kept": 3}
    remaining = dict(StudentAttendance.objects.filter(date=DAY).values_list("student", "status"))
    assert remaining == {
        open_ones[0].pk: "Present",
        open_ones[1].pk: "Present",
        students[2].pk: "Absent",
        students[3].pk: "Present",
    }
    assert StudentAttendance.objects.get(student=open_ones[0], date=DAY).time_out is None
    assert StudentAttendance.objects.get(student=open_ones[1], date=DAY).time_out == datetime.time(15, 0)
    assert list(run.undone_by.values_list("pk", flat=True)) == [undo_run.pk]


def test_an_undo_dry_run_counts_and_writes_nothing(superuser, make_students):
    make_students(3)
    run = pushed_run()
    first, second, _third = StudentAttendance.objects.filter(date=DAY).order_by("pk")
    first.delete()
    StudentAttendance.objects.filter(pk=second.pk).update(status="Late")

    preview = undo(run, dry_run=True)

    assert preview.counts()[STUDENTS] == {"deleted": 1, "cleared": 0, "kept": 1}
    assert StudentAttendance.objects.filter(date=DAY).count() == 2
    assert PushRun.objects.count() == 1


def test_undo_is_refused_with_the_reason(superuser, make_students):
    make_students(2)
    run = pushed_run()
    failed = PushRun.objects.create(date=DAY, trigger=PushRun.Trigger.ADMIN, status=PushRun.Status.FAILED)
    with pytest.raises(PushError, match=rf"Run {failed.pk} did not succeed \(failed\)"):
        undo(failed)

    undo_run = run_undo(run)
    with pytest.raises(PushError, match=rf"Run {run.pk} was already undone by run {undo_run.pk}"):
        undo(run)
    with pytest.raises(PushError, match=rf"Run {undo_run.pk} is itself an undo"):
        undo(undo_run)
    again = run_undo(run)
    assert again.status == PushRun.Status.FAILED
    assert f"already undone by run {undo_run.pk}" in again.error


def test_a_run_from_before_the_ledger_is_refused(superuser):
    old = PushRun.objects.create(date=DAY, trigger=PushRun.Trigger.SCHEDULE, status=PushRun.Status.SUCCEEDED, created=5)
    with pytest.raises(PushError, match="has no ledger"):
        undo(old)


def test_an_undone_day_is_handled_for_the_schedule_and_catch_up(superuser, make_students):
    make_students(2)
    instant = push_instant(DAY)
    # The evening's push ran; an administrator undoes it later that night.
    with time_machine.travel(instant + datetime.timedelta(minutes=1), tick=False):
        run = pushed_run()
    with time_machine.travel(instant + datetime.timedelta(hours=1), tick=False):
        run_undo(run)
    with time_machine.travel(instant + datetime.timedelta(hours=2), tick=False):
        assert is_pushed(DAY)
        assert scheduled_push(instant) is None
        assert DAY not in missed_days(timezone.now())
    assert not StudentAttendance.objects.filter(date=DAY).exists()
    # An administrator can still push it explicitly.
    again = pushed_run()
    assert again.created == 2


def test_an_early_push_undone_before_the_push_time_leaves_the_evening_push(superuser, make_students):
    make_students(2)
    instant = push_instant(DAY)
    # The day is pushed in the morning by mistake and undone at once: the evening's push must still come.
    with time_machine.travel(instant - datetime.timedelta(hours=10), tick=False):
        run = pushed_run()
    with time_machine.travel(instant - datetime.timedelta(hours=9), tick=False):
        assert run_undo(run).status == PushRun.Status.SUCCEEDED
    assert not StudentAttendance.objects.filter(date=DAY).exists()
    with time_machine.travel(instant + datetime.timedelta(minutes=20), tick=False):
        assert not is_pushed(DAY)
        assert DAY in missed_days(timezone.now())
        evening = scheduled_push(instant)
    assert evening is not None and evening.status == PushRun.Status.SUCCEEDED
    assert StudentAttendance.objects.filter(date=DAY).count() == 2


def test_undoing_the_runs_of_a_range(superuser, make_students):
    make_students(3)
    days = [DAY - datetime.timedelta(days=n) for n in range(3)]
    runs = [pushed_run(day) for day in days]
    edited = StudentAttendance.objects.filter(date=days[1]).order_by("pk").first()
    StudentAttendance.objects.filter(pk=edited.pk).update(status="Sick")

    undos = [run_undo(run) for run in runs]

    assert [u.status for u in undos] == [PushRun.Status.SUCCEEDED] * 3
    assert [u.counts[STUDENTS]["deleted"] for u in undos] == [3, 2, 3]
    assert list(StudentAttendance.objects.values_list("pk", "status")) == [(edited.pk, "Sick")]
    assert all(is_pushed(day) for day in days)


def test_undo_push_command(superuser, make_students, capsys):
    make_students(2)
    run = pushed_run()
    call_command("undo_push", str(run.pk), "--dry-run")
    assert "2 records deleted, 0 check-outs cleared, kept 0 changed since the push" in capsys.readouterr().out
    assert StudentAttendance.objects.filter(date=DAY).count() == 2

    call_command("undo_push", str(run.pk))
    out = capsys.readouterr().out
    assert f"Undid run {run.pk}" in out
    assert not StudentAttendance.objects.filter(date=DAY).exists()

    with pytest.raises(CommandError, match="already undone"):
        call_command("undo_push", str(run.pk))
    with pytest.raises(CommandError, match="There is no push run 999999"):
        call_command("undo_push", "999999")
    with pytest.raises(CommandError, match="not a run id"):
        call_command("undo_push", "abc")


# UUID people ------------------------------------------------------------------------------------

PUPILS = "variants.PupilAttendance"


def use_pupils(settings, write: str, **target) -> None:
    settings.ATTENDANCE_PUSH = push_settings(
        target={
            "attendance": PUPILS,
            "person_field": "pupil",
            "date_field": "day",
            "created_by_field": None,
            "write": write,
            **target,
        }
    )


def keys_as_the_database_casts_them(pupils: list[Pupil]) -> set[str]:
    """Return the pupils' keys as the database's own CAST to text gives them (hex on SQLite, hyphens on PostgreSQL)."""
    return set(
        Pupil.objects.filter(pk__in=[p.pk for p in pupils])
        .annotate(key=Cast("pk", output_field=CharField()))
        .values_list("key", flat=True)
    )


@pytest.mark.parametrize("write", ["sql", "save"])
def test_people_with_uuid_keys_are_entered_as_the_database_casts_them_whatever_the_write(settings, write):
    use_pupils(settings, write)
    pupils = [Pupil.objects.create(name=f"P{n}") for n in range(3)]
    PupilAttendance.objects.create(pupil=pupils[0], day=DAY, status="Present", time_in=datetime.time(8, 0))

    run = pushed_run()

    # One form in both write modes: the one every set-based undo, correction and filter compares with.
    assert ledger(run, "created", PUPILS) == keys_as_the_database_casts_them(pupils[1:])
    assert ledger(run, "filled", PUPILS) == keys_as_the_database_casts_them(pupils[:1])


@pytest.mark.parametrize("write", ["sql", "save"])
def test_people_with_uuid_keys_are_undone_and_filtered(settings, write, rf):
    use_pupils(settings, write)
    pupils = [Pupil.objects.create(name=f"P{n}") for n in range(4)]
    PupilAttendance.objects.create(pupil=pupils[0], day=DAY, status="Present", time_in=datetime.time(8, 0))
    PupilAttendance.objects.create(pupil=pupils[3], day=DAY, status="Absent")

    run = pushed_run()

    assert (run.created, run.filled) == (2, 1)
    assert pushed_filter(rf, "created") == {pupils[1].pk, pupils[2].pk}
    assert pushed_filter(rf, "filled") == {pupils[0].pk}
    assert pushed_filter(rf, "no") == {pupils[3].pk}
    PupilAttendance.objects.filter(pupil=pupils[1], day=DAY).update(status="Leave")
    assert undo(run, dry_run=True).counts()[PUPILS] == {"deleted": 1, "cleared": 1, "kept": 1}
    undo_run = run_undo(run)
    assert undo_run.counts[PUPILS] == {"deleted": 1, "cleared": 1, "kept": 1}
    assert set(PupilAttendance.objects.values_list("pupil", "status", "time_out")) == {
        (pupils[0].pk, "Present", None),
        (pupils[1].pk, "Leave", datetime.time(17, 0)),
        (pupils[3].pk, "Absent", None),
    }
    # An undone push counts as not pushed.
    assert pushed_filter(rf, "no") == {pupils[0].pk, pupils[1].pk, pupils[3].pk}


def pushed_filter(rf, value: str) -> set:
    from django.contrib.admin import ModelAdmin, site

    from attendance_push.admin import PushedFilter

    request = rf.get("/", {"pushed": value})
    model_admin = ModelAdmin(PupilAttendance, site)
    chosen = PushedFilter(request, {"pushed": [value]}, PupilAttendance, model_admin)
    return set(chosen.queryset(request, PupilAttendance.objects.filter(day=DAY)).values_list("pupil", flat=True))


@pytest.mark.parametrize("write", ["sql", "save"])
def test_people_with_uuid_keys_get_corrections_and_withdrawals_on_a_push_again(settings, write):
    use_pupils(
        settings, write, rules=[{"name": "Away", "people": "tests.variants.days.pupils_away", "status": "Leave"}]
    )
    away, edited, stays = (Pupil.objects.create(name=name) for name in ("Ann", "Bea", "Cal"))
    first = pushed_run()
    assert first.created == 3
    # Ann and Bea go away after the push; someone had already changed Bea's record by hand.
    Pupil.objects.filter(pk__in=[away.pk, edited.pk]).update(name="Away")
    PupilAttendance.objects.filter(pupil=edited).update(time_in=datetime.time(10))

    second = pushed_run()

    assert second.counts[PUPILS]["corrected"] == 1
    assert dict(PupilAttendance.objects.values_list("pupil", "status")) == {
        away.pk: "Leave",
        edited.pk: "Present",
        stays.pk: "Present",
    }
    # The corrected record's ledger row moved to the second run.
    assert ledger(second, "created", PUPILS) == keys_as_the_database_casts_them([away])
    assert ledger(first, "created", PUPILS) == keys_as_the_database_casts_them([edited, stays])

    # A closure entered later withdraws the unchanged records of both runs, with their ledger rows.
    Closure.objects.create(name="Snow", first_day=DAY, last_day=DAY)
    third = pushed_run()
    assert third.counts[PUPILS]["corrected"] == 2
    assert list(PupilAttendance.objects.values_list("pupil", flat=True)) == [edited.pk]
    assert ledger(second, "created", PUPILS) == set()
    assert ledger(first, "created", PUPILS) == keys_as_the_database_casts_them([edited])
    assert run_undo(first).counts[PUPILS] == {"deleted": 0, "cleared": 0, "kept": 1}


# Seeing it --------------------------------------------------------------------------------------


def test_pushed_filter_on_the_demo_attendance_admin(superuser_client, superuser, make_students):
    by_hand, open_one, pushed = make_students(3)
    attendance(by_hand, status="Absent")
    attendance(open_one, status="Present", time_in=datetime.time(8, 0))
    pushed_run()
    url = reverse("admin:school_studentattendance_changelist")

    def listed(value: str) -> set[int]:
        response = superuser_client.get(url, {"pushed": value})
        assert response.status_code == 200
        return {record.student_id for record in response.context["cl"].result_list}

    assert listed("created") == {pushed.pk}
    assert listed("filled") == {open_one.pk}
    assert listed("no") == {by_hand.pk}
    page = superuser_client.get(url).content.decode()
    assert "created by a push" in page and "check-out filled by a push" in page and "not pushed" in page
    employee_page = superuser_client.get(reverse("admin:school_employeeattendance_changelist"), {"pushed": "no"})
    assert employee_page.status_code == 200


def test_the_run_page_links_to_its_records_per_target(superuser_client, make_students, make_employees):
    make_students(3)
    make_employees(1)
    run = pushed_run()
    page = superuser_client.get(reverse("admin:attendance_push_pushrun_change", args=[run.pk])).content.decode()
    records_url = reverse("admin:attendance_push_pushedrecord_changelist")
    link = f"{records_url}?run={run.pk}&amp;target={STUDENTS}"
    assert link in page
    assert "Undo this push" in page
    response = superuser_client.get(records_url, {"run": run.pk, "target": STUDENTS})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 3


def test_undo_from_the_run_page_previews_then_undoes(superuser_client, superuser, make_students):
    make_students(2)
    run = pushed_run()
    url = reverse("admin:attendance_push_pushrun_undo", args=[run.pk])

    preview = superuser_client.get(url)
    assert preview.status_code == 200
    assert preview.context["preview"].counts()[STUDENTS] == {"deleted": 2, "cleared": 0, "kept": 0}
    assert StudentAttendance.objects.filter(date=DAY).count() == 2

    response = superuser_client.post(url, {"confirm": "yes", "run_now": "1"}, follow=True)
    assert response.status_code == 200
    assert not StudentAttendance.objects.filter(date=DAY).exists()
    undo_run = PushRun.objects.get(trigger=PushRun.Trigger.UNDO)
    assert f"as run {undo_run.pk}" in response.content.decode()
    page = superuser_client.get(reverse("admin:attendance_push_pushrun_change", args=[run.pk])).content.decode()
    assert "Undone by <a href=" in page and f"run {undo_run.pk}</a>" in page
    assert "Undo this push" not in page
    refused = superuser_client.get(url)
    assert f"already undone by run {undo_run.pk}" in refused.content.decode()


def test_undo_needs_the_push_permission(client, make_students, superuser):
    make_students(1)
    run = pushed_run()
    viewer = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_pushrun"))
    client.force_login(viewer)
    url = reverse("admin:attendance_push_pushrun_undo", args=[run.pk])
    page = client.get(reverse("admin:attendance_push_pushrun_change", args=[run.pk]))
    assert page.status_code == 200 and "Undo this push" not in page.content.decode()
    assert client.get(url).status_code == 403
    assert client.post(url, {"confirm": "yes", "run_now": "1"}).status_code == 403
    assert StudentAttendance.objects.filter(date=DAY).count() == 1


# Rules, write "save", values per row --------------------------------------------------------------


def test_undo_compares_each_record_with_what_its_own_rule_wrote(superuser, make_employees):
    from school.models import Leave

    on_leave, changed_leave, working = make_employees(3)
    for employee in (on_leave, changed_leave):
        Leave.objects.create(employee=employee, first_day=DAY, last_day=DAY, approved=True)
    run = pushed_run()
    assert ledger(run, "created", EMPLOYEES) == {str(e.pk) for e in (on_leave, changed_leave, working)}
    assert set(PushedRecord.objects.filter(run=run, target=EMPLOYEES).values_list("person", "rule")) == {
        (str(on_leave.pk), 0),
        (str(changed_leave.pk), 0),
        (str(working.pk), 1),
    }
    # Someone corrects a Leave record into exactly what the default rule writes: it is theirs now.
    EmployeeAttendance.objects.filter(employee=changed_leave, date=DAY).update(
        status="Present", time_in=datetime.time(9), time_out=datetime.time(17)
    )

    undo_run = run_undo(run)

    assert undo_run.counts[EMPLOYEES] == {"deleted": 2, "cleared": 0, "kept": 1}
    assert list(EmployeeAttendance.objects.values_list("employee", "status")) == [(changed_leave.pk, "Present")]


def use_variant(settings, attendance: str, **target) -> None:
    settings.ATTENDANCE_PUSH = push_settings(target=member_target(attendance, **target))


def test_write_save_enters_only_what_the_hosts_save_kept(settings, superuser):
    from tests.variants.models import Group, Guarded, Member

    use_variant(settings, "variants.Guarded", write="save")
    temps = Group.objects.create(name="Temps")
    ada, bo = Member.objects.create(full_name="Ada"), Member.objects.create(full_name="Bo", group=temps)
    locked = Member.objects.create(full_name="Locked")
    Guarded.objects.create(member=locked, day=DAY, status="Late", time_in=datetime.time(10))

    run = pushed_run()

    # Bo's save() refuses "Present"; Locked's refuses a check-out.
    assert ledger(run, "created", "variants.Guarded") == {str(ada.pk)}
    assert ledger(run, "filled", "variants.Guarded") == set()
    assert not Guarded.objects.filter(member=bo).exists()
    assert run_undo(run).counts["variants.Guarded"] == {"deleted": 1, "cleared": 0, "kept": 0}
    assert list(Guarded.objects.values_list("member__full_name", flat=True)) == ["Locked"]


def test_columns_computed_per_row_are_compared_by_their_fingerprint(settings, superuser):
    from tests.variants.models import Group, Member, Register

    settings.ATTENDANCE_PUSH = push_settings(
        target=member_target(
            "variants.Register",
            extra_values="tests.variants.days.register_values",
            fill_values="tests.variants.days.register_fill_values",
            check_out={"field": "group__ends_at"},
        )
    )
    ops = Group.objects.create(name="Ops", starts_at=datetime.time(6), ends_at=datetime.time(14))
    ada = Member.objects.create(full_name="Ada", group=ops)
    Member.objects.create(full_name="Di")
    Register.objects.create(
        member=ada, day=DAY, status="Present", time_in=datetime.time(7), check_in_date=DAY, weekday="Friday"
    )

    run = pushed_run()

    assert (run.created, run.filled) == (1, 1)
    undo_run = run_undo(run)
    # Di's record, its hours computed per row, still holds them: deleted. Ada's check-out, her group's
    # end of shift, is still the one the push wrote: cleared.
    assert undo_run.counts["variants.Register"] == {"deleted": 1, "cleared": 1, "kept": 0}
    assert list(Register.objects.values_list("member", "time_out")) == [(ada.pk, None)]


# Corrections ------------------------------------------------------------------------------------


def test_pushing_again_corrects_unchanged_records_the_rules_now_decide_otherwise(superuser, make_employees):
    from school.models import Leave

    late_leave, edited, working = make_employees(3)
    first = pushed_run()
    assert set(EmployeeAttendance.objects.values_list("status", flat=True)) == {"Present"}
    # Leave approved after the evening push, for two employees; a person already fixed one by hand.
    for employee in (late_leave, edited):
        Leave.objects.create(employee=employee, first_day=DAY, last_day=DAY, approved=True)
    EmployeeAttendance.objects.filter(employee=edited, date=DAY).update(time_in=datetime.time(10))

    second = pushed_run()

    assert second.counts[EMPLOYEES]["corrected"] == 1
    assert second.created == 0
    by_employee = {r.employee_id: r for r in EmployeeAttendance.objects.filter(date=DAY)}
    leave = by_employee[late_leave.pk]
    assert (leave.status, leave.time_in, leave.time_out) == ("Leave", None, None)
    assert (by_employee[edited.pk].status, by_employee[edited.pk].time_in) == ("Present", datetime.time(10))
    assert by_employee[working.pk].status == "Present"
    # The corrected record belongs to the second run now: undoing the first leaves it, the second removes it.
    assert ledger(second, "created", EMPLOYEES) == {str(late_leave.pk)}
    assert PushedRecord.objects.get(run=second, person=str(late_leave.pk)).rule == 0
    assert run_undo(first).counts[EMPLOYEES] == {"deleted": 1, "cleared": 0, "kept": 1}
    assert run_undo(second).counts[EMPLOYEES] == {"deleted": 1, "cleared": 0, "kept": 0}
    assert list(EmployeeAttendance.objects.values_list("employee", flat=True)) == [edited.pk]
    # A third push recreates what the undos removed: nothing left to correct.
    third = pushed_run()
    assert "corrected" not in third.counts[EMPLOYEES]


def test_corrections_add_no_statement_per_person(superuser, make_employees):
    from school.models import Leave

    def statements(people: int, day: datetime.date) -> int:
        employees = make_employees(people)
        pushed_run(day)
        for employee in employees[: people // 3]:
            Leave.objects.create(employee=employee, first_day=day, last_day=day, approved=True)
        run = PushRun.objects.create(date=day, trigger=PushRun.Trigger.COMMAND)
        with CaptureQueriesContext(connection) as queries:
            result = push(day, run_id=run.pk)
        assert result.counts()[EMPLOYEES]["corrected"] == people // 3
        return len(queries)

    assert statements(3, DAY) == statements(60, DAY - datetime.timedelta(days=1))


# More of the admin and the worker ---------------------------------------------------------------


def test_an_undo_queued_from_the_run_page_is_run_by_the_worker_task(
    superuser_client, superuser, make_students, settings
):
    from unittest import mock

    from attendance_push.tasks import execute_run

    make_students(2)
    run = pushed_run()
    url = reverse("admin:attendance_push_pushrun_undo", args=[run.pk])
    with mock.patch("django_q.tasks.async_task", return_value="task-1") as enqueue:
        with django_capture_on_commit() as callbacks:
            response = superuser_client.post(url, {"confirm": "yes"}, follow=True)
        for callback in callbacks:
            callback()
    assert enqueue.call_args.args[:2] == ("attendance_push.tasks.execute_run", run.pk + 1)
    undo_run = PushRun.objects.get(trigger=PushRun.Trigger.UNDO)
    assert undo_run.status == PushRun.Status.QUEUED and undo_run.task_id == "task-1"
    assert f"Queued the undo of run {run.pk}" in response.content.decode()
    # A second undo of the same run is refused while this one is queued.
    again = superuser_client.post(url, {"confirm": "yes"}, follow=True)
    assert f"Run {run.pk} was already undone" in again.content.decode() or "under way" in again.content.decode()
    assert PushRun.objects.filter(trigger=PushRun.Trigger.UNDO).count() == 1

    assert execute_run(undo_run.pk) == undo_run.pk
    undo_run.refresh_from_db()
    assert undo_run.status == PushRun.Status.SUCCEEDED
    assert not StudentAttendance.objects.filter(date=DAY).exists()
    page = superuser_client.get(reverse("admin:attendance_push_pushrun_change", args=[undo_run.pk])).content.decode()
    assert f"run {run.pk}</a>" in page and "records deleted" in page
    changelist = superuser_client.get(reverse("admin:attendance_push_pushrun_changelist")).content.decode()
    assert "2 records deleted, 0 check-outs cleared, kept 0 changed since the push" in changelist


def django_capture_on_commit():
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks()


def test_a_refused_undo_from_the_run_page_says_why_and_changes_nothing(superuser_client, make_students):
    make_students(1)
    failed = PushRun.objects.create(date=DAY, trigger=PushRun.Trigger.ADMIN, status=PushRun.Status.FAILED)
    url = reverse("admin:attendance_push_pushrun_undo", args=[failed.pk])
    response = superuser_client.post(url, {"confirm": "yes", "run_now": "1"}, follow=True)
    assert f"Run {failed.pk} did not succeed" in response.content.decode()
    assert not PushRun.objects.filter(trigger=PushRun.Trigger.UNDO).exists()
    assert superuser_client.get(reverse("admin:attendance_push_pushrun_undo", args=[999999])).status_code == 404


def test_an_undo_of_a_target_no_longer_installed_is_refused(superuser, make_students):
    make_students(1)
    run = pushed_run()
    PushRun.objects.filter(pk=run.pk).update(pushed={"gone.Model": run.pushed[STUDENTS]})
    run.refresh_from_db()
    with pytest.raises(PushError, match="gone.Model, pushed by run"):
        undo(run)
    nothing = PushRun.objects.create(date=DAY, trigger=PushRun.Trigger.ADMIN, status=PushRun.Status.SUCCEEDED)
    with pytest.raises(PushError, match="wrote nothing"):
        undo(nothing)
