"""From dry runs to the confirmation pages' context: a pure step, tested with values and no database.

No test here is marked django_db: pytest-django fails any that touches the database.
"""

from __future__ import annotations

import datetime

import pytest

from attendance_push import text
from attendance_push.admin.confirmation import (
    RUN_NOW_MAX_ROWS,
    push_confirmation,
    run_now_refusal,
    undo_confirmation,
)
from attendance_push.models import PushRun
from attendance_push.results import PushResult, RuleResult, TargetResult, TargetUndo, UndoResult

STUDENTS = "school.StudentAttendance"
EMPLOYEES = "school.EmployeeAttendance"
MON, TUE, WED, FRI = (datetime.date(2026, 11, day) for day in (16, 17, 18, 20))
SQL = {STUDENTS: "sql", EMPLOYEES: "sql"}
SNOW = {"kind": "closure", "name": "Snow"}


def students(created=3, filled=0, skipped=0, *, corrected=0, closed=None) -> TargetResult:
    rules = (RuleResult(rule="", status="Present", created=created),) if created else ()
    return TargetResult(
        STUDENTS,
        created,
        filled,
        skipped,
        rules=rules,
        corrected=corrected,
        closed_reason=closed,
        closed=worded(closed),
    )


def employees(created=2, filled=1, skipped=0, *, closed=None) -> TargetResult:
    rules = (RuleResult(rule="", status="Present", created=created),) if created else ()
    return TargetResult(EMPLOYEES, created, filled, skipped, rules=rules, closed_reason=closed, closed=worded(closed))


def worded(reason):
    """Return a closed day's reason in words, as the push gives it with the reason."""
    return text.reason_text(reason) if reason else None


def preview(day, *targets) -> PushResult:
    return PushResult(day, targets, dry_run=True)


# Push -------------------------------------------------------------------------------------------------------


def test_one_open_day_may_run_now_and_says_what_each_target_gets():
    context = push_confirmation([FRI], [preview(FRI, students(), employees())], modes=SQL)
    assert context["can_run_now"] is True
    assert context["run_now_refusal"] is None
    assert context["days"] == [FRI]
    assert context["totals"][STUDENTS] == {
        "created": 3,
        "filled": 0,
        "skipped": 0,
        "rules": [{"rule": "", "status": "Present", "created": 3, "skipped": 0}],
    }
    assert [(name, records) for name, _counts, records in context["target_rows"]] == [
        ("Student attendance", "3 Present"),
        ("Employee attendance", "2 Present"),
    ]
    # One day: the page lists no day by day.
    assert context["previews"] == []
    assert context["closed_rows"] == []
    assert context["partly_closed"] is False
    assert context["any_corrected"] is False
    assert context["day_groups"] == [(FRI, FRI)]
    assert context["refusal"] is None and context["no_actor"] is False and context["forcing_refusal"] is None


def test_several_days_add_up_list_each_day_and_group_the_consecutive_ones():
    previews = [preview(day, students(created=2, skipped=1)) for day in (MON, TUE, FRI)]
    context = push_confirmation([MON, TUE, FRI], previews, modes=SQL)
    totals = context["totals"][STUDENTS]
    assert (totals["created"], totals["filled"], totals["skipped"]) == (6, 0, 3)
    assert len(totals["rules"]) == 3
    assert context["target_rows"][0][2] == "6 Present"
    assert context["previews"] == previews
    assert context["day_groups"] == [(MON, TUE), (FRI, FRI)]
    assert context["can_run_now"] is False
    assert context["run_now_refusal"].startswith("Only a single day runs in this request")


def test_corrections_are_counted_only_where_an_earlier_push_left_some():
    context = push_confirmation(
        [MON, TUE], [preview(MON, students(corrected=2)), preview(TUE, students(corrected=1), employees())], modes=SQL
    )
    assert context["totals"][STUDENTS]["corrected"] == 3
    assert "corrected" not in context["totals"][EMPLOYEES]
    assert context["any_corrected"] is True


def test_a_day_closed_for_one_target_lists_it_and_what_still_gets_records():
    written = [(STUDENTS, "Student attendance: Present"), (EMPLOYEES, "Employee attendance: Present")]
    context = push_confirmation(
        [WED], [preview(WED, students(created=0, closed=SNOW), employees())], modes=SQL, written=written
    )
    assert context["closed_rows"] == [(WED, [("Student attendance", "Snow")], ["Employee attendance"])]
    assert context["partly_closed"] is True
    # Closed on every day pushed: what its records would hold is shown only for a forced push.
    assert context["written"] == ["Employee attendance: Present"]
    assert context["written_if_forced"] == ["Student attendance: Present"]


def test_a_target_closed_on_some_of_the_days_keeps_its_records_among_what_is_written():
    written = [(STUDENTS, "Student attendance: Present")]
    previews = [preview(WED, students(created=0, closed=SNOW)), preview(FRI, students())]
    context = push_confirmation([WED, FRI], previews, modes=SQL, written=written)
    assert context["closed_rows"] == [(WED, [("Student attendance", "Snow")], [])]
    assert context["partly_closed"] is False
    assert context["written"] == ["Student attendance: Present"]
    assert context["written_if_forced"] == []


def test_a_refusal_offers_nothing_to_run():
    context = push_confirmation([FRI], [], modes={}, refusal="Run 4 is pushing 2026-11-20.", no_actor=False)
    assert context["can_run_now"] is False
    # Nothing to say about running now: the push itself is refused.
    assert context["run_now_refusal"] is None
    assert context["refusal"] == "Run 4 is pushing 2026-11-20."
    assert context["totals"] == {} and context["target_rows"] == [] and context["closed_rows"] == []
    assert context["written"] == [] and context["written_if_forced"] == []


def test_what_the_view_found_is_passed_through():
    context = push_confirmation(
        [WED],
        [preview(WED, students(created=0, closed=SNOW))],
        modes=SQL,
        no_actor=True,
        forcing_refusal="No active superuser to record as the creator of pushed records.",
    )
    assert context["no_actor"] is True
    assert context["forcing_refusal"] == "No active superuser to record as the creator of pushed records."


# Run now ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "rows", "refused"),
    [
        ("sql", RUN_NOW_MAX_ROWS["sql"], False),
        ("sql", RUN_NOW_MAX_ROWS["sql"] + 1, True),
        ("save", RUN_NOW_MAX_ROWS["save"], False),
        ("save", RUN_NOW_MAX_ROWS["save"] + 1, True),
        # A mode the limits do not know is held to the tighter one.
        ("other", RUN_NOW_MAX_ROWS["save"] + 1, True),
    ],
)
def test_run_now_is_refused_past_the_rows_one_request_can_write(mode, rows, refused):
    result = preview(FRI, students(created=rows - 1, filled=1))
    refusal = run_now_refusal([FRI], [result], {STUDENTS: mode})
    assert (refusal is not None) == refused
    if refused:
        assert refusal == (
            f"This push writes {rows} rows to Student attendance, more than one web request can finish in time "
            f"({RUN_NOW_MAX_ROWS.get(mode, RUN_NOW_MAX_ROWS['save'])}); queue it for the worker instead."
        )


def test_a_target_without_a_known_mode_is_held_to_the_set_based_limit():
    result = preview(FRI, students(created=RUN_NOW_MAX_ROWS["save"] + 1))
    assert run_now_refusal([FRI], [result], {}) is None


def test_several_days_never_run_now():
    assert run_now_refusal([MON, TUE], [], SQL) == (
        "Only a single day runs in this request; queue a range for the worker instead."
    )


# Undo -------------------------------------------------------------------------------------------------------


def test_the_undo_confirmation_names_each_target():
    run = PushRun(pk=7, date=FRI)
    undo = UndoResult(7, FRI, (TargetUndo(STUDENTS, 3, 0, 1), TargetUndo(EMPLOYEES, 0, 2, 0)), dry_run=True)
    context = undo_confirmation(run, undo)
    assert context["run"] is run and context["preview"] is undo and context["refusal"] is None
    assert context["rows"] == [("Student attendance", undo.targets[0]), ("Employee attendance", undo.targets[1])]


def test_a_refused_undo_has_no_rows():
    run = PushRun(pk=7, date=FRI, trigger=PushRun.Trigger.UNDO)
    context = undo_confirmation(run, None, "Run 7 is itself an undo; push 2026-11-20 again instead.")
    assert context == {
        "can_run_now": False,
        "run_now_refusal": None,
        "run": run,
        "preview": None,
        "rows": [],
        "refusal": "Run 7 is itself an undo; push 2026-11-20 again instead.",
    }
