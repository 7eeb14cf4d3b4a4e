"""A closed day never needs a superuser: only a day and target that will create records looks for one."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError

from attendance_push.models import Closure, PushRun
from attendance_push.plan.actor import actor_needed
from attendance_push.runs import run_push, scheduled_push
from attendance_push.schedule import push_instant
from school.models import StudentAttendance
from tests.support.admin_pages import PUSH, messages_of
from tests.support.demo import EMPLOYEES, FRIDAY, KTM, SATURDAY, STUDENTS, SUNDAY, attendance, records

pytestmark = pytest.mark.django_db

NO_SUPERUSER = "No active superuser to record as the creator of pushed records."


@pytest.fixture(autouse=True)
def nobody_to_act(monday_afternoon):
    """The demo's calendar (Saturdays off, Nepal's holidays), on a Monday afternoon, and nobody to be the actor."""
    yield
    assert not get_user_model().objects.filter(is_superuser=True).exists()


@pytest.fixture
def people_no_superuser(make_students, make_employees):
    """Return the demo's `people`, but with no superuser to record as their pushes' creator."""
    students, employees = make_students(3), make_employees(2)
    # Came in on Saturday and never checked out: the push of Saturday fills this.
    attendance(students[0], SATURDAY, status="Present", time_in=datetime.time(9, 30))
    return students, employees


def push_attendance(*args: str) -> str:
    out = StringIO()
    call_command("push_attendance", *args, stdout=out)
    return out.getvalue()


# Which requests need an actor -------------------------------------------------------------------------------------


def test_actor_needed_only_where_a_day_and_target_will_create_records():
    assert not actor_needed([SATURDAY])
    assert actor_needed([SATURDAY], include_closed=True)
    assert actor_needed([FRIDAY, SATURDAY])
    assert actor_needed([SUNDAY])
    assert not actor_needed([])


def test_a_day_closed_for_one_target_only_still_needs_an_actor_for_the_other():
    Closure.objects.create(name="Sports day", first_day=FRIDAY, last_day=FRIDAY, targets=[STUDENTS])
    assert actor_needed([FRIDAY])
    Closure.objects.create(name="Staff retreat", first_day=FRIDAY, last_day=FRIDAY, targets=[EMPLOYEES])
    assert not actor_needed([FRIDAY])


# The command ------------------------------------------------------------------------------------------------------


def test_the_command_pushes_a_closed_saturday_without_a_superuser(people_no_superuser):
    output = push_attendance("--date", "2026-11-28")

    run = PushRun.objects.get()
    assert (run.status, run.created, run.filled) == ("succeeded", 0, 1)
    assert f"2026-11-28 pushed (PushRun {run.pk}):" in output
    assert "school.StudentAttendance: closed (weekly off (Saturday)): 0 created, 1 check-outs filled" in output
    assert StudentAttendance.objects.get(date=SATURDAY).time_out == datetime.time(17, 0)
    assert records(SATURDAY) == (1, 0)


def test_the_command_pushes_a_closure_for_every_target_without_a_superuser(people_no_superuser):
    Closure.objects.create(name="Bandh (general strike)", first_day=FRIDAY, last_day=FRIDAY)
    output = push_attendance("--date", "2026-11-27")
    assert "closed (Bandh (general strike)): 0 created" in output
    assert PushRun.objects.get().status == "succeeded"
    assert records(FRIDAY) == (0, 0)


def test_the_command_refuses_a_range_with_an_open_day_before_recording_anything(people_no_superuser):
    with pytest.raises(CommandError, match=NO_SUPERUSER):
        push_attendance("--from", "2026-11-28", "--to", "2026-11-29")
    assert not PushRun.objects.exists()


def test_the_command_refuses_a_forced_closed_day_without_a_superuser(people_no_superuser):
    with pytest.raises(CommandError, match=NO_SUPERUSER):
        push_attendance("--date", "2026-11-28", "--include-closed")
    assert not PushRun.objects.exists()
    assert records(SATURDAY) == (1, 0)


def test_the_command_refuses_a_day_closed_for_one_target_only(people_no_superuser):
    Closure.objects.create(name="Sports day", first_day=FRIDAY, last_day=FRIDAY, targets=[STUDENTS])
    with pytest.raises(CommandError, match=NO_SUPERUSER):
        push_attendance("--date", "2026-11-27")
    assert not PushRun.objects.exists()


def test_a_dry_run_of_a_closed_day_needs_no_superuser_either(people_no_superuser):
    output = push_attendance("--date", "2026-11-28", "--dry-run")
    assert "2026-11-28 would push:" in output
    assert "closed (weekly off (Saturday)): 0 created, 1 check-outs filled" in output
    assert not PushRun.objects.exists()


# The schedule -----------------------------------------------------------------------------------------------------


def test_the_scheduled_push_of_a_closed_saturday_needs_no_superuser(people_no_superuser):
    with time_machine.travel(datetime.datetime(2026, 11, 28, 21, 0, 5, tzinfo=KTM), tick=False):
        run = scheduled_push(push_instant(SATURDAY))
    assert (run.status, run.trigger, run.created, run.filled) == ("succeeded", "schedule", 0, 1), run.error


def test_the_scheduled_push_of_an_open_day_without_a_superuser_fails_and_says_so(people_no_superuser):
    with time_machine.travel(datetime.datetime(2026, 11, 27, 21, 0, 5, tzinfo=KTM), tick=False):
        run = scheduled_push(push_instant(FRIDAY))
    assert run.status == "failed"
    assert NO_SUPERUSER in run.error


def test_a_queued_run_of_a_closed_day_needs_no_superuser(people_no_superuser):
    run = PushRun.objects.create(date=SATURDAY, trigger="admin")
    run = run_push(SATURDAY, trigger="admin", run=run)
    assert (run.status, run.filled) == ("succeeded", 1), run.error


# The admin --------------------------------------------------------------------------------------------------------


@pytest.fixture
def clerk(client):
    """A staff member allowed to push, while the site has no superuser."""
    user = get_user_model().objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_pushrun", "push_attendance"]))
    client.force_login(user)
    return client


def test_the_confirmation_of_a_closed_saturday_needs_no_superuser(clerk, people_no_superuser):
    response = clerk.get(PUSH, {"start": "2026-11-28"})
    assert response.status_code == 200
    assert response.context["refusal"] is None
    content = response.content.decode()
    assert "weekly off (Saturday)" in content
    assert "created by" not in content
    # Forcing would create records: not offered, and the page says why and whom to ask: this clerk may not
    # add users, so no link to a page that would refuse them.
    assert 'name="include_closed"' not in content
    assert "The closed days cannot be pushed too:" in content
    assert NO_SUPERUSER in content
    assert "manages this website&#x27;s users to add one (Users › Add user" in content
    assert "/admin/auth/user/add/" not in content


def test_the_confirmation_of_an_open_day_without_a_superuser_is_refused(clerk, people_no_superuser):
    response = clerk.get(PUSH, {"start": "2026-11-27"})
    assert NO_SUPERUSER in response.context["refusal"]


def test_the_admin_runs_a_closed_saturday_now_without_a_superuser(clerk, people_no_superuser):
    response = clerk.post(PUSH, {"start": "2026-11-28", "end": "2026-11-28", "confirm": "yes", "run_now": "1"})
    assert response.status_code == 302
    run = PushRun.objects.get()
    assert (run.status, run.created, run.filled) == ("succeeded", 0, 1), run.error


def test_the_admin_queues_a_closed_saturday_without_a_superuser(clerk, people_no_superuser):
    response = clerk.post(PUSH, {"start": "2026-11-28", "end": "2026-11-28", "confirm": "yes"}, follow=True)
    run = PushRun.objects.get()
    assert run.status in ("queued", "succeeded"), run.error
    assert any("Queued the push of 2026-11-28" in message for message in messages_of(response))


def test_forcing_a_closed_day_in_the_admin_without_a_superuser_fails_and_creates_nothing(clerk, people_no_superuser):
    # The confirmation does not offer it; a hand-made POST gets the push's own failure, recorded.
    response = clerk.post(
        PUSH,
        {"start": "2026-11-28", "end": "2026-11-28", "confirm": "yes", "run_now": "1", "include_closed": "yes"},
        follow=True,
    )
    assert any(NO_SUPERUSER in message for message in messages_of(response))
    run = PushRun.objects.get()
    assert (run.status, run.include_closed) == ("failed", True)
    assert records(SATURDAY) == (1, 0)
    assert StudentAttendance.objects.get(date=SATURDAY).time_out is None
