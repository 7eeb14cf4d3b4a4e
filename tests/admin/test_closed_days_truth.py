"""Closed days told truthfully: what each screen says about a closed day that was pushed, forced or partly closed."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.utils import translation

from attendance_push.bikram import bs_date
from attendance_push.models import Closure, PushRun
from attendance_push.runs import run_push
from tests.support.admin_pages import CHANGELIST, PUSH, calendar_cell, messages_of
from tests.support.config import push_settings
from tests.support.demo import EMPLOYEES, FRIDAY, MONDAY_AFTERNOON, SATURDAY, STUDENTS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday_afternoon")]


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
    assert "school.StudentAttendance: closed (weekly off (Saturday)), would be pushed anyway: 3 created" in out


def test_one_earlier_record_corrected_is_singular():
    from attendance_push.text import corrected_words

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


# A closure entered after the day was pushed ----------------------------------------------------------------------


def add_closure(pusher, name: str, first: str, last: str, *targets: str):
    data = {"name": name, "first_day": first, "last_day": last, "note": ""}
    if targets:
        data["targets"] = list(targets)
    response = pusher.post("/admin/attendance_push/closure/add/", data, follow=True)
    assert Closure.objects.filter(name=name).exists()
    return response


def test_a_closure_after_the_push_warns_and_links_to_the_push_that_withdraws(pusher, people):
    run_push(FRIDAY, trigger=PushRun.Trigger.SCHEDULE)

    response = add_closure(pusher, "Snow day", "2026-11-26", "2026-11-28")

    [warning] = [m for m in response.context["messages"] if m.level_tag == "warning"]
    assert str(warning).startswith(
        "“Snow day” closes days a push already created records on: 2026-11-27 (5). 5 pushed records still stand "
        "there until the days are pushed again, which withdraws them."
    )
    assert f'<a href="{PUSH}?start=2026-11-27&amp;end=2026-11-27">Push 2026-11-27 again</a>' in str(warning)
    confirmation = pusher.get(PUSH, {"start": "2026-11-27", "end": "2026-11-27"})
    assert confirmation.context["totals"][STUDENTS]["corrected"] == 3
    assert confirmation.context["totals"][EMPLOYEES]["corrected"] == 2
    assert "Earlier records corrected" in confirmation.content.decode()


def test_a_closure_of_days_no_push_created_records_on_says_nothing(pusher, people):
    run_push(SATURDAY, trigger=PushRun.Trigger.SCHEDULE)  # the weekly off: nothing created
    response = add_closure(pusher, "Snow day", "2026-11-28", "2026-12-05")
    assert not [m for m in response.context["messages"] if m.level_tag == "warning"]


def test_widening_a_closure_over_a_pushed_day_warns(pusher, people):
    run_push(FRIDAY, trigger=PushRun.Trigger.SCHEDULE)
    closure = Closure.objects.create(name="Strike", first_day=SATURDAY, last_day=SATURDAY, targets=[STUDENTS])
    response = pusher.post(
        f"/admin/attendance_push/closure/{closure.pk}/change/",
        {"name": "Strike", "first_day": "2026-11-27", "last_day": "2026-11-28", "targets": [STUDENTS], "note": ""},
        follow=True,
    )
    [warning] = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert "2026-11-27 (3). 3 pushed records still stand" in warning


def test_the_calendar_shows_a_closed_day_whose_pushed_records_still_stand(pusher, people):
    students, _ = people
    run_push(FRIDAY, trigger=PushRun.Trigger.SCHEDULE)
    Closure.objects.create(name="Snow day", first_day=FRIDAY, last_day=FRIDAY)
    # A record a person changed since is theirs: a push of the day keeps it, so it is not counted.
    from school.models import StudentAttendance

    StudentAttendance.objects.filter(student=students[0], date=FRIDAY).update(status="Absent")

    content = pusher.get(CHANGELIST).content.decode()

    cell = calendar_cell(content, "2026-11-27")
    assert 'data-outcome="standing"' in cell
    assert (
        'title="Fri 27 Nov 2026: Closed (Snow day), but 4 records pushed before the closure still stand: '
        'push the day again to withdraw them"'
    ) in cell
    assert "Closed after its push: records pushed before the closure still stand (push the day again)" in content

    run_push(FRIDAY, trigger=PushRun.Trigger.ADMIN)
    cell = calendar_cell(pusher.get(CHANGELIST).content.decode(), "2026-11-27")
    assert 'data-outcome="closed"' in cell
    assert 'title="Fri 27 Nov 2026: Closed (Snow day)"' in cell


def test_a_closure_for_one_target_after_the_push_counts_that_target_only(pusher, people):
    run_push(FRIDAY, trigger=PushRun.Trigger.SCHEDULE)
    Closure.objects.create(name="Sports day", first_day=FRIDAY, last_day=FRIDAY, targets=[STUDENTS])
    cell = calendar_cell(pusher.get(CHANGELIST).content.decode(), "2026-11-27")
    assert 'data-outcome="standing"' in cell
    assert (
        'title="Fri 27 Nov 2026: Pushed; closed for student attendance (Sports day), but 3 records pushed before '
        'the closure still stand: push the day again to withdraw them"'
    ) in cell


def test_an_undone_push_leaves_nothing_standing(pusher, people):
    from attendance_push.runs import run_undo

    run = run_push(FRIDAY, trigger=PushRun.Trigger.SCHEDULE)
    run_undo(run)
    Closure.objects.create(name="Snow day", first_day=FRIDAY, last_day=FRIDAY)
    assert 'data-outcome="closed"' in calendar_cell(pusher.get(CHANGELIST).content.decode(), "2026-11-27")


def test_the_live_updates_tell_the_same_outcome(pusher, people):
    run = run_push(FRIDAY, trigger=PushRun.Trigger.SCHEDULE)
    Closure.objects.create(name="Snow day", first_day=FRIDAY, last_day=FRIDAY)
    forced = run_push(SATURDAY, trigger=PushRun.Trigger.ADMIN, include_closed=True)
    data = pusher.get(f"{CHANGELIST}status/", {"ids": f"{run.pk},{forced.pk}"}).json()
    assert data["days"] == {"2026-11-27": "standing", "2026-11-28": "pushed"}


# Days pushed with "Push closed days too" ------------------------------------------------------------------------


def test_a_day_pushed_anyway_shows_as_pushed(pusher, people):
    run_push(SATURDAY, trigger=PushRun.Trigger.ADMIN, include_closed=True)
    cell = calendar_cell(pusher.get(CHANGELIST).content.decode(), "2026-11-28")
    assert 'data-outcome="pushed"' in cell
    assert 'title="Sat 28 Nov 2026: Closed (weekly off (Saturday)), pushed anyway"' in cell


def test_a_day_pushed_anyway_for_its_closed_target_says_so_for_that_target(pusher, people):
    Closure.objects.create(name="Sports day", first_day=FRIDAY, last_day=FRIDAY, targets=[STUDENTS])
    run_push(FRIDAY, trigger=PushRun.Trigger.ADMIN, include_closed=True)
    cell = calendar_cell(pusher.get(CHANGELIST).content.decode(), "2026-11-27")
    assert 'data-outcome="pushed"' in cell
    assert 'title="Fri 27 Nov 2026: Pushed; closed for student attendance (Sports day), pushed anyway"' in cell


# attendance_push_status and the health URL ----------------------------------------------------------------------


def test_status_and_health_report_a_closed_day_whose_pushed_records_still_stand(client, people, superuser):
    from io import StringIO

    from django.core.management import CommandError

    run_push(FRIDAY, trigger=PushRun.Trigger.SCHEDULE)
    Closure.objects.create(name="Snow day", first_day=FRIDAY, last_day=FRIDAY)
    line = (
        "2026-11-27 is closed (Snow day), but 5 records pushed before the closure still stand: "
        "push the day again to withdraw them."
    )

    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("attendance_push_status", stdout=out)
    assert line in out.getvalue()
    assert line in str(error.value)
    response = client.get("/attendance-push/health/")
    assert response.status_code == 503
    # Anyone gets the code; the closure's name and the count need a staff login.
    assert "standing" in response.json()["problems"] and "Snow day" not in response.content.decode()
    client.force_login(superuser)
    assert line in client.get("/attendance-push/health/").json()["messages"]

    run_push(FRIDAY, trigger=PushRun.Trigger.ADMIN)
    assert line not in " ".join(client.get("/attendance-push/health/").json()["messages"])


def test_the_calendar_counts_standing_records_per_target_not_per_person(superuser, make_students, make_employees):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from attendance_push.calendar import history_calendar

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            history_calendar(MONDAY_AFTERNOON.date(), MONDAY_AFTERNOON)
        return len(captured)

    make_students(2), make_employees(1)
    run_push(FRIDAY, trigger=PushRun.Trigger.SCHEDULE)
    Closure.objects.create(name="Snow day", first_day=FRIDAY, last_day=FRIDAY)
    one_day = queries()
    make_students(5), make_employees(3)
    thursday = FRIDAY - datetime.timedelta(days=1)
    run_push(thursday, trigger=PushRun.Trigger.SCHEDULE)
    Closure.objects.create(name="Strike", first_day=thursday, last_day=thursday)
    calendar = {cell.day: cell for cell in history_calendar(MONDAY_AFTERNOON.date(), MONDAY_AFTERNOON)}
    assert (calendar[thursday].standing, calendar[FRIDAY].standing) == (11, 3)
    assert queries() == one_day


# The confirmation of a partly closed day ------------------------------------------------------------------------


def written_of(content: str) -> str:
    return (
        content.split('class="attendance-push-written"', 1)[1].split("</div>", 1)[0]
        if "push-written" in content
        else ""
    )


def test_the_confirmation_of_a_day_closed_for_students_only_says_employees_get_records(pusher, people):
    Closure.objects.create(name="Sports day", first_day=FRIDAY, last_day=FRIDAY, targets=[STUDENTS])

    response = pusher.get(PUSH, {"start": "2026-11-27"})

    content = response.content.decode()
    closed = content.split('class="attendance-push-closed"', 1)[1].split("</div>", 1)[0]
    assert "This day is closed: no records are created on it" not in content
    assert "This day is closed for some attendance only" in closed
    assert "Student attendance: Sports day — open for Employee attendance: records are created</li>" in closed
    written = written_of(content)
    assert "Employee attendance" in written
    assert "Student attendance" not in written
    # Only with forcing would students get records: what they would hold is listed with the closed day.
    assert "With “Push closed days too” ticked" in closed
    assert "Student attendance: Present" in closed
    assert response.context["totals"][EMPLOYEES]["created"] == 2
    assert response.context["totals"][STUDENTS]["created"] == 0


def test_the_confirmation_of_a_day_closed_for_all_lists_no_record_holds_unless_forced(pusher, people):
    content = pusher.get(PUSH, {"start": "2026-11-28"}).content.decode()
    assert "This day is closed: no records are created on it" in content
    assert "Each record the push creates holds:" not in content
    closed = content.split('class="attendance-push-closed"', 1)[1].split("</div>", 1)[0]
    assert "Student attendance: Present" in closed and "Employee attendance" in closed


def test_a_range_with_one_closed_day_says_so_and_keeps_every_target_that_gets_records(pusher, people):
    content = pusher.get(PUSH, {"start": "2026-11-27", "end": "2026-11-28"}).content.decode()
    assert "1 of these days is closed, for all attendance or some" in content
    written = written_of(content)
    assert "Student attendance" in written and "Employee attendance" in written
    assert "With “Push closed days too” ticked" not in content


def test_days_a_push_no_longer_accepts_get_no_link_and_no_health_alarm(pusher, people, settings):
    run_push(FRIDAY, trigger=PushRun.Trigger.SCHEDULE)
    settings.ATTENDANCE_PUSH = push_settings(MAX_PAST_DAYS=2)  # Friday is 3 days ago

    response = add_closure(pusher, "Snow day", "2026-11-27", "2026-11-27")

    [warning] = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert "2026-11-27 (5). 5 pushed records still stand" in warning
    assert "<a " not in warning
    messages = pusher.get("/attendance-push/health/").json()["messages"]
    assert not [message for message in messages if "pushed before the closure" in message]


def test_the_link_asks_for_at_most_the_days_a_push_takes(pusher, people):
    from attendance_push.forms import MAX_DAYS

    first = FRIDAY - datetime.timedelta(days=MAX_DAYS + 2)
    for back in (0, MAX_DAYS, MAX_DAYS + 2):
        run_push(FRIDAY - datetime.timedelta(days=back), trigger=PushRun.Trigger.SCHEDULE)

    response = add_closure(pusher, "Long strike", f"{first:%Y-%m-%d}", "2026-11-27")

    [warning] = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    last = FRIDAY - datetime.timedelta(days=MAX_DAYS)
    assert f'?start={first:%Y-%m-%d}&amp;end={last:%Y-%m-%d}">Push {first:%Y-%m-%d} to {last:%Y-%m-%d} again' in warning
    assert pusher.get(PUSH, {"start": f"{first:%Y-%m-%d}", "end": f"{last:%Y-%m-%d}"}).status_code == 200
