"""Hosts shaped unlike the demo: every way a target can describe a real project's models."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from attendance_push.checks import check_settings, check_status_rows
from attendance_push.exceptions import PushError
from attendance_push.push import push
from attendance_push.signals import target_pushed
from attendance_push.text import describe_rules
from tests.support.config import member_target, push_settings
from tests.support.demo import DAY
from tests.variants.models import (
    AttendanceState,
    Badge,
    Checkmark,
    DayTotal,
    Group,
    Member,
    Presence,
    Roll,
    Shift,
    Timesheet,
)

pytestmark = pytest.mark.django_db


def use(settings, attendance: str, **target) -> None:
    """Push only `attendance`, a variants model whose person is `member` and whose day is `day`."""
    settings.ATTENDANCE_PUSH = push_settings(target=member_target(attendance, bare=True, **target))


def errors() -> list[tuple[str, str]]:
    """Return the settings checks' and the database checks' (as `check --database default`) findings."""
    found = [*check_settings(), *check_status_rows(databases=["default"])]
    return [(error.id, error.msg) for error in found]


@pytest.fixture
def members():
    ops, temps = Group.objects.create(name="Ops"), Group.objects.create(name="Temps")
    return {
        "ada": Member.objects.create(full_name="Ada", group=ops),
        "bo": Member.objects.create(full_name="Bo", group=temps),
        "cy": Member.objects.create(full_name="Cy", inactive=True, group=ops),
        "di": Member.objects.create(full_name="Di"),
    }


# No status, no times, no creator ----------------------------------------------------------------


def test_a_model_with_only_person_and_day(settings, members):
    use(settings, "variants.Presence", people_filter={"inactive": False})
    assert errors() == []
    # No creator field: no superuser is needed.
    assert push(DAY).created == 3
    assert set(Presence.objects.values_list("member__full_name", flat=True)) == {"Ada", "Bo", "Di"}


# Status kinds ------------------------------------------------------------------------------------


def test_an_integer_choice_status_takes_the_value_of_the_status_label(settings, members):
    use(settings, "variants.Shift", status_field="state")
    assert errors() == []
    push(DAY)
    assert set(Shift.objects.values_list("state", flat=True)) == {Shift.State.PRESENT}


def test_a_status_given_by_its_label_is_found_whatever_language_the_push_runs_in(settings, members, monkeypatch):
    from django.utils import translation
    from django.utils.translation import gettext_lazy

    # Labels translated lazily, as a host's usually are; "Present" is "उपस्थित" in the demo's Nepali.
    field = Shift._meta.get_field("state")
    monkeypatch.setattr(field, "choices", [(1, gettext_lazy("Present")), (2, gettext_lazy("Absent"))])
    use(settings, "variants.Shift", status_field="state", status="Present")
    with translation.override("ne"):
        assert str(dict(field.flatchoices)[1]) == "उपस्थित"
        push(DAY)  # a push from an admin page read in Nepali
    assert set(Shift.objects.values_list("state", flat=True)) == {Shift.State.PRESENT}


def test_an_integer_choice_status_can_be_given_per_target(settings, members):
    use(settings, "variants.Shift", status_field="state", status=Shift.State.ABSENT)
    push(DAY)
    assert set(Shift.objects.values_list("state", flat=True)) == {Shift.State.ABSENT}


def test_an_integer_status_outside_the_choices_is_a_check_error_and_a_push_error(settings, members):
    use(settings, "variants.Shift", status_field="state", status=9)
    ((check_id, message),) = errors()
    assert check_id == "attendance_push.E009"
    assert "9 is not a choice of variants.Shift.state" in message
    with pytest.raises(PushError, match="9 is not a choice"):
        push(DAY)
    assert not Shift.objects.exists()


def test_a_boolean_status_means_present_is_true(settings, members):
    use(settings, "variants.Checkmark", status_field="present", extra_values={"hours": "8:00"})
    assert errors() == []
    result = push(DAY)
    assert set(Checkmark.objects.values_list("present", flat=True)) == {True}
    assert describe_rules(result.counts()["variants.Checkmark"]["rules"]) == "4 present"


def test_a_boolean_status_takes_true_or_false_only(settings, members):
    use(settings, "variants.Checkmark", status_field="present", status="yes", extra_values={"hours": "8:00"})
    ((check_id, message),) = errors()
    assert check_id == "attendance_push.E009" and "must be True or False" in message


def test_a_lookup_status_takes_the_row_the_target_names(settings, members):
    present = AttendanceState.objects.create(name="Present")
    AttendanceState.objects.create(name="Absent")
    use(settings, "variants.Roll", status_field="state", status={"name": "Present"})
    assert errors() == []
    assert push(DAY).created == 4
    assert set(Roll.objects.values_list("state", flat=True)) == {present.pk}


def test_a_missing_lookup_row_is_a_check_error_not_a_surprise_at_push_time(settings, members):
    AttendanceState.objects.create(name="Absent")
    use(settings, "variants.Roll", status_field="state", status={"name": "Present"})
    ((check_id, message),) = errors()
    assert check_id == "attendance_push.E016"
    assert "no variants.AttendanceState matches {'name': 'Present'}" in message
    with pytest.raises(PushError, match="no variants.AttendanceState matches"):
        push(DAY)


def test_a_lookup_status_needs_a_lookup(settings, members):
    use(settings, "variants.Roll", status_field="state")
    ((check_id, message),) = errors()
    assert check_id == "attendance_push.E016" and "name the status row with a lookup" in message


def test_any_record_of_the_day_counts_even_when_the_unique_constraint_includes_the_status(settings, members):
    present = AttendanceState.objects.create(name="Present")
    absent = AttendanceState.objects.create(name="Absent")
    Roll.objects.create(member=members["ada"], day=DAY, state=absent)
    use(settings, "variants.Roll", status_field="state", status={"name": "Present"})

    assert push(DAY).created == 3

    assert list(Roll.objects.filter(member=members["ada"]).values_list("state", flat=True)) == [absent.pk]
    assert Roll.objects.filter(state=present).count() == 3


# Constant extra values -----------------------------------------------------------------------------


def test_extra_values_fill_the_hosts_own_columns(settings, members):
    use(settings, "variants.Checkmark", status_field="present", extra_values={"validated": True, "hours": "7:30"})
    push(DAY)
    assert set(Checkmark.objects.values_list("validated", "hours")) == {(True, "7:30")}


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"hours": "8:00", "minutes": 5}, "names 'minutes', not a field of variants.Checkmark"),
        ({"hours": "10:00:00"}, "is not valid: Ensure this value has at most 5 characters"),
        ({"hours": "8:00", "day": "2026-01-01"}, "cannot set variants.Checkmark.day: the push sets it"),
        ({"hours": "8:00", "validated": "maybe"}, "'maybe' is not valid"),
        ("validated", "cannot import 'validated'"),
        (["validated"], "must be a dict"),
    ],
)
def test_extra_values_are_validated_against_the_model(settings, members, extra, fragment):
    use(settings, "variants.Checkmark", status_field="present", extra_values=extra)
    found = errors()
    assert [check_id for check_id, _ in found] == ["attendance_push.E017"]
    assert fragment in found[0][1]


def test_a_required_column_without_a_value_is_a_check_error(settings, members):
    use(settings, "variants.Checkmark", status_field="present")
    assert [check_id for check_id, _ in errors()] == ["attendance_push.E013"]


# people_filter --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("people_filter", "expected"),
    [
        ({"inactive": False}, {"Ada", "Bo", "Di"}),
        ({"inactive": False, "group__name": "Ops"}, {"Ada"}),
        (Q(inactive=False) & ~Q(group__name="Temps"), {"Ada", "Di"}),
        (Q(group__isnull=True) | Q(group__name="Temps"), {"Bo", "Di"}),
    ],
    ids=["negated-flag", "related", "q-with-negation", "q-or"],
)
def test_people_filter_is_lookups_or_a_q(settings, members, people_filter, expected):
    use(settings, "variants.Presence", people_filter=people_filter)
    assert errors() == []
    push(DAY)
    assert set(Presence.objects.values_list("member__full_name", flat=True)) == expected


def test_a_q_people_filter_with_an_unknown_field_is_a_check_error(settings, members):
    use(settings, "variants.Presence", people_filter=Q(retired=False))
    ((check_id, message),) = errors()
    assert check_id == "attendance_push.E008" and "retired" in message


# Business logic in save() / post_save: the "save" write mode, and the bulk signal -------------------------


def timesheets(settings, write: str) -> None:
    use(
        settings,
        "variants.Timesheet",
        status_field="status",
        check_in_field="time_in",
        check_out_field="time_out",
        write=write,
    )


def test_write_save_runs_the_hosts_save_and_post_save_for_each_record(settings, members):
    timesheets(settings, "save")
    open_one = Timesheet.objects.create(member=members["ada"], day=DAY, status="Present", time_in=datetime.time(8, 0))
    assert errors() == []

    result = push(DAY)

    assert (result.created, result.filled) == (3, 1)
    # save() derived the minutes of every new and every filled record…
    assert set(Timesheet.objects.exclude(pk=open_one.pk).values_list("minutes", flat=True)) == {480}
    open_one.refresh_from_db()
    assert (open_one.time_out, open_one.minutes) == (datetime.time(17, 0), 540)
    # …and post_save counted each new one (plus the one created above).
    assert DayTotal.objects.get(day=DAY).records == 4


def test_write_sql_is_set_based_and_skips_the_hosts_save(settings, members):
    timesheets(settings, "sql")
    push(DAY)
    assert set(Timesheet.objects.values_list("minutes", flat=True)) == {0}
    assert not DayTotal.objects.exists()


def test_write_save_costs_statements_per_record_while_sql_does_not(settings, members):
    counts = {}
    for write, day in (("sql", DAY - datetime.timedelta(days=1)), ("save", DAY)):
        timesheets(settings, write)
        with CaptureQueriesContext(connection) as captured:
            push(day)
        counts[write] = len(captured)
    assert counts["save"] > counts["sql"] + 3  # one INSERT and the counter's statements per person


def test_an_unknown_write_mode_is_a_check_error(settings, members):
    timesheets(settings, "bulk")
    ((check_id, message),) = errors()
    assert check_id == "attendance_push.E018" and "'bulk'" in message


def test_the_target_pushed_signal_is_sent_once_per_target_and_day_with_the_counts(settings, members):
    timesheets(settings, "sql")
    Timesheet.objects.create(member=members["bo"], day=DAY, status="Present", time_in=datetime.time(9, 0))
    received = []

    def on_pushed(sender, **kwargs):
        received.append((sender, kwargs["day"], kwargs["created"], kwargs["filled"], kwargs["skipped"]))

    target_pushed.connect(on_pushed)
    try:
        push(DAY)
    finally:
        target_pushed.disconnect(on_pushed)
    assert received == [(Timesheet, DAY, 3, 1, 0)]  # four members, one of them already in


# What the push cannot handle: a check error with a hint, never a crash at 21:00 -----------------------------


def test_a_check_in_stored_as_a_date_time_is_a_check_error(settings, members):
    use(settings, "variants.Stamp", check_in_field="clock_in", check_out_field="clock_out")
    found = check_settings()
    assert {error.id for error in found} == {"attendance_push.E007"}
    assert all("DateTimeField is not supported" in error.hint for error in found)


def test_a_day_only_reachable_through_a_parent_row_is_a_check_error(settings, members):
    use(settings, "variants.Visit", date_field="session__day")
    ((error),) = check_settings()
    assert error.id == "attendance_push.E006"
    assert "reaches through a related model" in error.msg and "itself" in error.hint


def test_a_unique_key_computed_per_record_is_a_check_error_unless_saved_one_by_one(settings, members):
    use(settings, "variants.Badge")
    found = check_settings()
    assert [error.id for error in found] == ["attendance_push.E019"]
    assert "variants.Badge.id is unique" in found[0].msg and "'write': 'save'" in found[0].hint

    use(settings, "variants.Badge", write="save")
    assert errors() == []
    assert push(DAY).created == 4
    assert len(set(Badge.objects.values_list("id", flat=True))) == 4


def test_a_dict_status_on_a_text_field_is_reported_not_a_crash(settings):
    settings.ATTENDANCE_PUSH = push_settings(
        target={"attendance": "school.StudentAttendance", "person_field": "student", "status": {"name": "x"}}
    )
    ((check_id, message),) = errors()
    assert check_id == "attendance_push.E009" and "must be a plain value" in message


def test_a_misspelled_status_lookup_is_reported_not_a_crash(settings, members):
    use(settings, "variants.Roll", status_field="state", status={"nmae": "Present"})
    ((check_id, message),) = errors()
    assert check_id == "attendance_push.E016" and "nmae" in message
