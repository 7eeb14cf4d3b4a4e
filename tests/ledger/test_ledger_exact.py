"""The ledger compares exactly: values computed per row, corrections by such rules, withdrawn false Presents."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.urls import reverse

from attendance_push.models import Closure, PushedRecord, PushRun
from attendance_push.push import push
from attendance_push.runs import run_undo
from school.models import EmployeeAttendance, Leave, StudentAttendance
from tests.support.config import member_target, push_settings
from tests.support.demo import DAY, EMPLOYEES, STUDENTS, attendance
from tests.support.runs import pushed_run
from tests.variants.models import Group, Member, Timesheet

pytestmark = pytest.mark.django_db

SHEETS = "variants.Timesheet"
SIX, TWO = datetime.time(6), datetime.time(14)


def use_timesheets(settings, write: str = "sql", **target) -> None:
    """Push variants.Timesheet: the check-in and check-out read from the member's group (per row)."""
    timesheets = member_target(
        SHEETS,
        people_filter={"inactive": False},
        people_on_day="tests.variants.days.members_on_day",
        check_in={"field": "group__starts_at"},
        check_out={"field": "group__ends_at"},
        write=write,
    )
    settings.ATTENDANCE_PUSH = push_settings(target={**timesheets, **target})


@pytest.fixture
def ops(db) -> Group:
    return Group.objects.create(name="Ops", starts_at=SIX, ends_at=TWO)


def sheets() -> dict[str, tuple]:
    return {
        sheet.member.full_name: (sheet.status, sheet.time_in, sheet.time_out)
        for sheet in Timesheet.objects.select_related("member").filter(day=DAY)
    }


# Undo: values computed per row ----------------------------------------------------------------


@pytest.mark.parametrize("write", ["sql", "save"])
def test_undo_keeps_a_record_whose_check_in_read_from_the_person_was_edited(settings, ops, write):
    use_timesheets(settings, write)
    for name in ("Ada", "Bo", "Cy"):
        Member.objects.create(full_name=name, group=ops)
    run = pushed_run()
    assert sheets() == dict.fromkeys(("Ada", "Bo", "Cy"), ("Present", SIX, TWO))
    assert PushedRecord.objects.filter(run=run, fingerprint__isnull=True).count() == 0
    # Someone corrects Bo's check-in; Cy's is set to what it already was; the shift moves after the push.
    Timesheet.objects.filter(member__full_name="Bo").update(time_in=datetime.time(6, 30))
    Timesheet.objects.filter(member__full_name="Cy").update(time_in=SIX)
    Group.objects.filter(pk=ops.pk).update(starts_at=datetime.time(7))

    undone = run_undo(run)

    # Ada's and Cy's records still hold what the push wrote (the shift of today does not matter).
    assert undone.counts[SHEETS] == {"deleted": 2, "cleared": 0, "kept": 1}
    assert sheets() == {"Bo": ("Present", datetime.time(6, 30), TWO)}


@pytest.mark.parametrize("write", ["sql", "save"])
def test_undo_clears_a_check_out_filled_per_person_only_while_it_is_as_pushed(settings, ops, write):
    use_timesheets(settings, write)
    for name in ("Ada", "Bo"):
        member = Member.objects.create(full_name=name, group=ops)
        Timesheet.objects.create(member=member, day=DAY, status="Present", time_in=datetime.time(7))
    run = pushed_run()
    assert (run.created, run.filled) == (0, 2)
    assert run.pushed[SHEETS]["filled_rows"] == ["time_out"]
    assert sheets() == {"Ada": ("Present", datetime.time(7), TWO), "Bo": ("Present", datetime.time(7), TWO)}
    Timesheet.objects.filter(member__full_name="Bo").update(time_out=datetime.time(15))

    assert run_undo(run).counts[SHEETS] == {"deleted": 0, "cleared": 1, "kept": 1}
    assert sheets() == {
        "Ada": ("Present", datetime.time(7), None),
        "Bo": ("Present", datetime.time(7), datetime.time(15)),
    }


def test_an_undo_preview_compares_fingerprints_too(settings, ops):
    from attendance_push.ledger.undo import undo

    use_timesheets(settings)
    Member.objects.create(full_name="Ada", group=ops)
    Member.objects.create(full_name="Di")  # no group: the check-in falls back to CHECK_IN
    run = pushed_run()
    Timesheet.objects.filter(member__full_name="Di").update(time_out=None)

    assert undo(run, dry_run=True).counts()[SHEETS] == {"deleted": 1, "cleared": 0, "kept": 1}
    assert len(sheets()) == 2


# Corrections by a rule whose values are per row -----------------------------------------------


def test_a_rule_with_values_per_row_corrects_unchanged_records_and_owns_them(settings, ops):
    use_timesheets(
        settings,
        check_in=None,
        check_out=None,
        rules=[
            {
                "name": "Ops shift",
                "people": "tests.variants.days.ops",
                "status": "Shift",
                "check_in": {"field": "group__starts_at"},
                "check_out": {"field": "group__ends_at"},
            }
        ],
    )
    ada, bo, cy = (Member.objects.create(full_name=name) for name in ("Ada", "Bo", "Cy"))
    dan = Member.objects.create(full_name="Dan", group=ops)
    first = pushed_run()
    nine, five = datetime.time(9), datetime.time(17)
    assert sheets() == {
        "Ada": ("Present", nine, five),
        "Bo": ("Present", nine, five),
        "Cy": ("Present", nine, five),
        "Dan": ("Shift", SIX, TWO),
    }
    # Ada and Bo join Ops after the push; someone had already corrected Bo's record by hand.
    Member.objects.filter(pk__in=[ada.pk, bo.pk]).update(group=ops)
    Timesheet.objects.filter(member=bo).update(status="Late")

    preview = push(DAY, dry_run=True)
    assert preview.targets[0].corrected == 1
    second = pushed_run()

    # Only Ada's record changes; Dan's is what the rule gives already and stays with the first run.
    assert second.counts[SHEETS]["corrected"] == 1
    assert sheets() == {
        "Ada": ("Shift", SIX, TWO),
        "Bo": ("Late", nine, five),
        "Cy": ("Present", nine, five),
        "Dan": ("Shift", SIX, TWO),
    }
    moved = PushedRecord.objects.get(run=second)
    assert (moved.person, moved.rule) == (str(ada.pk), 0)
    assert moved.fingerprint  # fresh: what the correction wrote
    assert set(PushedRecord.objects.filter(run=first).values_list("person", flat=True)) == {
        str(bo.pk),
        str(cy.pk),
        str(dan.pk),
    }
    assert run_undo(second).counts[SHEETS] == {"deleted": 1, "cleared": 0, "kept": 0}
    assert run_undo(first).counts[SHEETS] == {"deleted": 2, "cleared": 0, "kept": 1}
    assert list(Timesheet.objects.values_list("member", flat=True)) == [bo.pk]
    assert cy.pk and dan.pk


# The preview of corrections -------------------------------------------------------------------


def test_the_dry_run_counts_corrections_and_writes_nothing(superuser, make_employees, capsys):
    late_leave, working = make_employees(2)
    first = pushed_run()
    Leave.objects.create(employee=late_leave, first_day=DAY, last_day=DAY, approved=True)
    ledger_before = list(PushedRecord.objects.order_by("pk").values_list("pk", "run", "rule", "fingerprint"))

    preview = push(DAY, dry_run=True)

    by_label = {target.label: target for target in preview.targets}
    assert by_label[EMPLOYEES].corrected == 1
    assert preview.counts()[EMPLOYEES]["corrected"] == 1
    assert set(EmployeeAttendance.objects.values_list("status", flat=True)) == {"Present"}
    assert list(PushedRecord.objects.order_by("pk").values_list("pk", "run", "rule", "fingerprint")) == ledger_before
    assert list(PushRun.objects.values_list("pk", flat=True)) == [first.pk]

    call_command("push_attendance", "--date", f"{DAY:%Y-%m-%d}", "--dry-run")
    out = capsys.readouterr().out
    assert "school.EmployeeAttendance: 0 created, 0 check-outs filled, 0 skipped, 1 earlier record corrected" in out
    assert set(EmployeeAttendance.objects.values_list("status", flat=True)) == {"Present"}
    assert working.pk


def test_the_confirmation_page_and_the_run_page_show_corrections(superuser_client, make_employees):
    late_leave, _working = make_employees(2)
    pushed_run()
    Leave.objects.create(employee=late_leave, first_day=DAY, last_day=DAY, approved=True)
    url = reverse("admin:attendance_push_pushrun_push")

    page = superuser_client.get(url, {"start": f"{DAY:%Y-%m-%d}"}).content.decode()

    assert "Earlier records corrected" in page
    assert '<td class="attendance-push-corrected">1</td>' in page
    assert set(EmployeeAttendance.objects.values_list("status", flat=True)) == {"Present"}
    second = pushed_run()
    run_page = superuser_client.get(reverse("admin:attendance_push_pushrun_change", args=[second.pk])).content.decode()
    assert "1 earlier record corrected" in run_page


# Withdrawing false Presents -------------------------------------------------------------------


def test_a_closure_added_after_the_push_withdraws_its_unchanged_presents(superuser, make_students):
    created, edited, came = make_students(3)
    attendance(came, status="Present", time_in=datetime.time(8, 30))
    first = pushed_run()
    assert (first.created, first.filled) == (2, 1)
    StudentAttendance.objects.filter(student=edited, date=DAY).update(status="Late")
    Closure.objects.create(name="Snow", first_day=DAY, last_day=DAY)

    preview = push(DAY, dry_run=True)
    assert preview.counts()[STUDENTS]["corrected"] == 1
    assert StudentAttendance.objects.filter(date=DAY).count() == 3
    second = pushed_run()

    assert second.counts[STUDENTS]["closed"] == "Snow"
    assert second.counts[STUDENTS]["corrected"] == 1
    remaining = {r.student_id: (r.status, r.time_out) for r in StudentAttendance.objects.filter(date=DAY)}
    # The edited record stays; the check-out filled for someone who came stays.
    assert remaining == {edited.pk: ("Late", datetime.time(17)), came.pk: ("Present", datetime.time(17))}
    assert not PushedRecord.objects.filter(person=str(created.pk)).exists()
    # Undoing the first run now keeps what is left of it and clears its fill.
    assert run_undo(first).counts[STUDENTS] == {"deleted": 0, "cleared": 1, "kept": 1}


def test_a_push_of_a_closed_day_on_purpose_is_not_withdrawn_later(superuser, make_students):
    make_students(2)
    Closure.objects.create(name="Strike", first_day=DAY, last_day=DAY)
    forced = pushed_run(include_closed=True)
    assert forced.created == 2

    again = pushed_run()

    assert "corrected" not in again.counts[STUDENTS]
    assert StudentAttendance.objects.filter(date=DAY).count() == 2
    # Pushing it closed again on purpose withdraws nothing either.
    assert "corrected" not in pushed_run(include_closed=True).counts[STUDENTS]


def test_a_closure_for_one_target_withdraws_only_its_records(superuser, make_students, make_employees):
    make_students(2)
    make_employees(2)
    pushed_run()
    Closure.objects.create(name="Exams", first_day=DAY, last_day=DAY, targets=[STUDENTS])

    second = pushed_run()

    assert second.counts[STUDENTS]["corrected"] == 2
    assert "corrected" not in second.counts[EMPLOYEES]
    assert not StudentAttendance.objects.exists()
    assert EmployeeAttendance.objects.count() == 2


def test_a_left_on_entered_after_the_push_withdraws_that_persons_present(superuser, make_students):
    left, edited_left, stays = make_students(3)
    pushed_run()
    StudentAttendance.objects.filter(student=edited_left).update(status="Sick")
    for student in (left, edited_left):
        student.left_on = DAY
        student.save(update_fields=["left_on"])

    second = pushed_run()

    assert second.counts[STUDENTS]["corrected"] == 1
    assert dict(StudentAttendance.objects.values_list("student", "status")) == {
        edited_left.pk: "Sick",
        stays.pk: "Present",
    }


@pytest.mark.parametrize("write", ["sql", "save"])
def test_who_is_inactive_now_keeps_the_presents_of_then_and_who_left_loses_them(settings, ops, write):
    use_timesheets(settings, write)
    graduated, left, stays = (Member.objects.create(full_name=name, group=ops) for name in ("Gia", "Lu", "Sam"))
    pushed_run()
    Member.objects.filter(pk=graduated.pk).update(inactive=True)  # people_filter: not pushed any more
    Member.objects.filter(pk=left.pk).update(left_on=DAY)  # people_on_day: not there on the day

    preview = push(DAY, dry_run=True)
    assert preview.targets[0].corrected == 1
    second = pushed_run()

    assert second.counts[SHEETS]["corrected"] == 1
    assert sheets() == {"Gia": ("Present", SIX, TWO), "Sam": ("Present", SIX, TWO)}
    assert stays.pk


@pytest.mark.parametrize("write", ["sql", "save"])
def test_a_closure_withdraws_through_the_hosts_model_too_and_keeps_edited_records(settings, ops, write):
    use_timesheets(settings, write)
    for name in ("Ada", "Bo"):
        Member.objects.create(full_name=name, group=ops)
    pushed_run()
    Timesheet.objects.filter(member__full_name="Bo").update(time_out=datetime.time(15))
    Closure.objects.create(name="Flood", first_day=DAY, last_day=DAY)

    assert pushed_run().counts[SHEETS]["corrected"] == 1
    assert sheets() == {"Bo": ("Present", SIX, datetime.time(15))}


def test_write_save_enters_the_rule_of_each_record_and_undo_compares_with_it(settings, ops):
    use_timesheets(settings, "save", rules=[{"people": "tests.variants.days.ops", "status": "Shift"}])
    ada = Member.objects.create(full_name="Ada", group=ops)
    bo = Member.objects.create(full_name="Bo")
    run = pushed_run()
    assert set(PushedRecord.objects.filter(run=run).values_list("person", "rule")) == {
        (str(ada.pk), 0),
        (str(bo.pk), 1),
    }
    assert sheets() == {"Ada": ("Shift", SIX, TWO), "Bo": ("Present", datetime.time(9), datetime.time(17))}

    assert run_undo(run).counts[SHEETS] == {"deleted": 2, "cleared": 0, "kept": 0}
    assert not Timesheet.objects.exists()
