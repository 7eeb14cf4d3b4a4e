"""Words people read outside the pages' templates, in Nepali: the push form's errors, the commands' headings
and errors, and what the confirmation says a rule with no times writes."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from attendance_push.forms import PushDaysForm
from attendance_push.models import PushRun
from attendance_push.runs import run_push
from tests.support.admin_pages import PUSH
from tests.support.config import push_settings
from tests.support.demo import DAY

pytestmark = pytest.mark.django_db


def command(name: str, *args: str, language: str = "ne") -> str:
    out = StringIO()
    with translation.override(language):
        call_command(name, *args, stdout=out)
    return out.getvalue()


# The push form ------------------------------------------------------------------------------


def test_a_day_too_long_ago_is_refused_in_nepali():
    with translation.override("ne"):
        form = PushDaysForm(data={"start": "2020-01-01"})
        assert not form.is_valid()
        [error] = form.non_field_errors()
    assert error.startswith("2020-01-01 पुश गर्न धेरै पुरानो भयो: पुश बढीमा 366 दिन पछाडिसम्म जान्छ")
    assert "(२०८२ मंसिर ४)" in error
    assert "MAX_PAST_DAYS" not in error
    with translation.override("en"):
        form = PushDaysForm(data={"start": "2020-01-01"})
        assert not form.is_valid()
        assert form.non_field_errors()[0].startswith("2020-01-01 is too long ago to push")
    assert form.errors.as_data()["__all__"][0].code == "too_old"


def test_the_admin_refuses_a_day_too_long_ago_in_nepali(superuser_client):
    with translation.override("ne"):
        content = superuser_client.get(PUSH, {"start": "2020-01-01"}, HTTP_ACCEPT_LANGUAGE="ne").content.decode()
    assert "पुश बढीमा 366 दिन पछाडिसम्म जान्छ" in content
    assert "is too long ago" not in content


# undo_push and the other commands ------------------------------------------------------------


def test_undo_push_speaks_nepali(superuser, make_students):
    make_students(2)
    run = run_push(DAY, trigger=PushRun.Trigger.COMMAND)
    out = command("undo_push", str(run.pk), "--dry-run")
    assert out.splitlines() == [
        f"रन {run.pk} (2026-11-20) उल्टाउँदा:",
        "  school.StudentAttendance: 2 रेकर्ड मेटाइए, 0 चेक-आउट हटाइए, पुशपछि परिवर्तन भएका 0 राखिए",
        "  school.EmployeeAttendance: 0 रेकर्ड मेटाइए, 0 चेक-आउट हटाइए, पुशपछि परिवर्तन भएका 0 राखिए",
    ]
    out = command("undo_push", str(run.pk))
    undo_run = PushRun.objects.get(undoes=run)
    assert out.startswith(f"रन {run.pk} (2026-11-20) लाई PushRun {undo_run.pk} ले उल्टाइयो:\n")
    with pytest.raises(CommandError, match="^पुश रन 999999 छैन।$"):
        command("undo_push", "999999")
    with pytest.raises(CommandError, match="रन आईडी होइन"):
        command("undo_push", "abc")


def test_undo_push_keeps_its_english(superuser, make_students):
    make_students(1)
    run = run_push(DAY, trigger=PushRun.Trigger.COMMAND)
    out = command("undo_push", str(run.pk), "--dry-run", language="en")
    assert out.splitlines()[0] == f"Undoing run {run.pk} (2026-11-20) would:"
    assert "1 records deleted, 0 check-outs cleared, kept 0 changed since the push" in out


def test_prune_push_history_speaks_nepali():
    assert command("prune_push_history", "--dry-run").startswith("खाताका 0 पङ्क्ति (0 रनका खाता, KEEP_LEDGER_DAYS=400)")
    assert command("prune_push_history").rstrip().endswith("मेटाइए।")


def test_attendance_calendar_speaks_nepali_with_bikram_sambat_dates(settings):
    settings.ATTENDANCE_PUSH = settings.DEMO_ATTENDANCE_PUSH
    out = command("attendance_calendar", "--from", "2026-11-27", "--to", "2026-11-28")
    assert out.splitlines() == [
        "2026-11-27 (२०८३ मंसिर ११) शुक्र school.StudentAttendance खुला",
        "2026-11-27 (२०८३ मंसिर ११) शुक्र school.EmployeeAttendance खुला",
        "2026-11-28 (२०८३ मंसिर १२) शनि school.StudentAttendance बन्द: साप्ताहिक बिदा (शनिबार)",
        "2026-11-28 (२०८३ मंसिर १२) शनि school.EmployeeAttendance बन्द: साप्ताहिक बिदा (शनिबार)",
    ]
    with pytest.raises(CommandError, match="भन्दा पछि छ"):
        command("attendance_calendar", "--from", "2026-11-28", "--to", "2026-11-01")
    with pytest.raises(CommandError, match="मिति होइन"):
        command("attendance_calendar", "--from", "28/11/2026", "--to", "2026-11-01")


def test_attendance_calendar_refuses_no_targets_in_nepali(settings):
    settings.ATTENDANCE_PUSH = push_settings(TARGETS=[])
    with pytest.raises(CommandError, match="खाली छ"):
        command("attendance_calendar", "--from", "2026-11-27", "--to", "2026-11-28")


# The confirmation ---------------------------------------------------------------------------


def test_a_rule_with_no_times_reads_as_such(superuser_client, make_employees):
    make_employees(1)
    content = superuser_client.get(PUSH, {"start": "2026-11-20"}).content.decode()
    assert "<li>Employee attendance, On leave: Leave, no check-in or check-out times, created by root</li>" in content
    assert "no time" not in content
    with translation.override("ne"):
        content = superuser_client.get(PUSH, {"start": "2026-11-20"}, HTTP_ACCEPT_LANGUAGE="ne").content.decode()
    assert "चेक-इन वा चेक-आउट समय छैन" in content


@pytest.mark.parametrize(
    ("check_in", "check_out", "text"),
    [
        ("09:00", None, "Leave, check-in 09:00, no check-out time"),
        (None, "17:00", "Leave, no check-in time, check-out 17:00"),
    ],
)
def test_a_rule_with_one_time_names_the_missing_one(settings, superuser_client, check_in, check_out, text):
    students, employees = settings.ATTENDANCE_PUSH["TARGETS"]
    [leave] = employees["rules"]
    employees = {**employees, "rules": [{**leave, "check_in": check_in, "check_out": check_out}]}
    settings.ATTENDANCE_PUSH = push_settings(TARGETS=[students, employees])
    content = superuser_client.get(PUSH, {"start": "2026-11-20"}).content.decode()
    assert f"<li>Employee attendance, On leave: {text}, created by root</li>" in content


def test_a_rule_with_no_check_in_reads_as_such_where_there_is_no_check_out(settings, superuser_client):
    students, employees = settings.ATTENDANCE_PUSH["TARGETS"]
    employees = {**employees, "check_out_field": None}
    settings.ATTENDANCE_PUSH = push_settings(TARGETS=[students, employees])
    content = superuser_client.get(PUSH, {"start": "2026-11-20"}).content.decode()
    assert "<li>Employee attendance: Present, check-in 09:00, created by root</li>" in content
    assert "<li>Employee attendance, On leave: Leave, no check-in time, created by root</li>" in content
