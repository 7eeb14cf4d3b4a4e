"""Closed days told truthfully: what each screen says about a closed day that was pushed, forced or partly closed."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import translation

from attendance_push.bikram import bs_date
from attendance_push.models import PushRun
from attendance_push.runs import run_push

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/attendance_push/pushrun/"
PUSH = "/admin/attendance_push/pushrun/push/"
KTM = datetime.timezone(datetime.timedelta(hours=5, minutes=45))
NOW = datetime.datetime(2026, 11, 30, 14, 5, tzinfo=KTM)  # a Monday afternoon
SATURDAY = datetime.date(2026, 11, 28)
FRIDAY = datetime.date(2026, 11, 27)
STUDENTS, EMPLOYEES = "school.StudentAttendance", "school.EmployeeAttendance"


@pytest.fixture(autouse=True)
def demo(settings):
    settings.ATTENDANCE_PUSH = django_settings.DEMO_ATTENDANCE_PUSH
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def people(superuser, make_students, make_employees):
    return make_students(3), make_employees(2)


@pytest.fixture
def pusher(client, superuser):
    client.force_login(superuser)
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def run_now(pusher, day: str, **extra) -> list[str]:
    response = pusher.post(PUSH, {"start": day, "end": day, "confirm": "yes", "run_now": "yes", **extra})
    assert response.status_code == 302
    return messages_of(pusher.get(response.url))


# Words of a run -------------------------------------------------------------------------------------------------


def test_the_run_page_does_not_claim_records_were_created_on_closed_days_when_they_were_not(pusher, people):
    run = run_push(SATURDAY, trigger=PushRun.Trigger.COMMAND)
    page = pusher.get(f"{CHANGELIST}{run.pk}/change/").content.decode()
    assert "Records were created even where the day was closed" not in page
    assert "Whether whoever pushed asked for records on closed days too" in page


def test_the_admin_says_which_targets_a_pushed_day_was_closed_for(pusher, people):
    [message] = run_now(pusher, "2026-11-28")
    assert message.endswith(
        "0 created, 0 check-outs filled, 0 skipped. Closed: Student attendance (weekly off (Saturday)); "
        "Employee attendance (weekly off (Saturday))."
    )


def test_the_admin_says_a_forced_closed_day_was_pushed_anyway(pusher, people):
    [message] = run_now(pusher, "2026-11-28", include_closed="yes")
    assert message.endswith(
        "5 created, 0 check-outs filled, 0 skipped. Closed, pushed anyway: Student attendance (weekly off "
        "(Saturday)); Employee attendance (weekly off (Saturday))."
    )


def test_an_open_day_s_message_names_no_closure(pusher, people):
    [message] = run_now(pusher, "2026-11-27")
    assert message.endswith("5 created, 0 check-outs filled, 0 skipped.")


def test_push_attendance_dry_run_with_include_closed_says_pushed_anyway(people, capsys):
    call_command("push_attendance", "--date", "2026-11-28", "--include-closed", "--dry-run")
    out = capsys.readouterr().out
    assert "school.StudentAttendance: closed (weekly off (Saturday)), pushed anyway: 3 created" in out


def test_one_earlier_record_corrected_is_singular():
    from attendance_push.service import corrected_words

    assert corrected_words(1) == "1 earlier record corrected"
    assert corrected_words(2) == "2 earlier records corrected"
    with translation.override("ne"):
        assert corrected_words(1) != "1 earlier record corrected"


# The confirmation -----------------------------------------------------------------------------------------------


def test_the_closed_days_of_the_confirmation_have_their_bikram_sambat_date_in_nepali(pusher, people):
    with translation.override("ne"):
        content = pusher.get(PUSH, {"start": "2026-11-28"}, HTTP_ACCEPT_LANGUAGE="ne").content.decode()
        twin = bs_date(SATURDAY)
    closed = content.split('class="attendance-push-closed"', 1)[1].split("</div>", 1)[0]
    assert f"({twin})</strong>" in closed
