"""The daily django-q2 schedule: registered on migrate, always at TIME in the push time zone."""

from __future__ import annotations

import datetime
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django.db.models.signals import post_migrate
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule
from django_q.scheduler import scheduler
from django_q.signing import SignedPackage

from attendance_push.conf import SCHEDULE_NAME, TEST_SCHEDULE_NAME
from attendance_push.schedule import (
    INTENDED_DATE_KWARG,
    TASK,
    create_push_schedule,
    ensure_schedule,
    ensure_test_schedule,
    next_push_after,
    remove_test_schedule,
)
from tests.support.config import push_settings

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

UTC = datetime.UTC
MORNING = datetime.datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 08:45 in Kathmandu
NIGHT = datetime.datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # 21:45 in Kathmandu


@pytest.fixture(autouse=True)
def no_schedule(db):
    # `migrate` registered one when the test database was created; start from none.
    Schedule.objects.all().delete()


def daily() -> Schedule:
    return Schedule.objects.get(name=SCHEDULE_NAME)


def with_push(settings, **changes):
    settings.ATTENDANCE_PUSH = push_settings(**changes)


@pytest.mark.parametrize("server_zone", ["UTC", "Asia/Kathmandu", "America/New_York"])
@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (MORNING, datetime.datetime(2026, 11, 20, 15, 15, tzinfo=UTC)),
        (NIGHT, datetime.datetime(2026, 11, 21, 15, 15, tzinfo=UTC)),
    ],
)
def test_next_run_is_21_00_kathmandu_whatever_the_server_zone(settings, server_zone, now, expected):
    settings.TIME_ZONE = server_zone
    with time_machine.travel(now, tick=False), mock.patch.object(Conf, "TIME_ZONE", server_zone):
        schedule, created = ensure_schedule()
    assert created
    assert schedule.next_run == expected
    stored = daily()
    assert stored.next_run == expected
    assert (stored.func, stored.schedule_type, stored.repeats) == (TASK, Schedule.DAILY, -1)
    assert stored.intended_date_kwarg == INTENDED_DATE_KWARG


def test_next_push_after_handles_a_push_zone_with_daylight_saving(settings):
    with_push(settings, TIME_ZONE="Europe/London", TIME="21:00")
    winter = next_push_after(datetime.datetime(2026, 1, 10, 12, 0, tzinfo=UTC))
    summer = next_push_after(datetime.datetime(2026, 7, 10, 12, 0, tzinfo=UTC))
    assert winter == datetime.datetime(2026, 1, 10, 21, 0, tzinfo=UTC)
    assert summer == datetime.datetime(2026, 7, 10, 20, 0, tzinfo=UTC)


def test_next_push_after_is_strictly_after(settings):
    at_push = datetime.datetime(2026, 11, 20, 15, 15, tzinfo=UTC)
    assert next_push_after(at_push) == at_push + datetime.timedelta(days=1)
    assert next_push_after(at_push - datetime.timedelta(seconds=1)) == at_push


def test_changing_time_and_migrating_again_moves_the_schedule(settings):
    with time_machine.travel(MORNING, tick=False):
        ensure_schedule()
        with_push(settings, TIME="18:30")
        call_command("migrate", verbosity=0)
    assert daily().next_run == datetime.datetime(2026, 11, 20, 12, 45, tzinfo=UTC)
    assert Schedule.objects.filter(name=SCHEDULE_NAME).count() == 1


def test_migrating_while_a_push_is_due_does_not_skip_the_day():
    with time_machine.travel(MORNING, tick=False):
        ensure_schedule()
    due = daily().next_run
    # 20 seconds after 21:00: the scheduler has not fired yet when the release migrates.
    with time_machine.travel(due + datetime.timedelta(seconds=20), tick=False):
        ensure_schedule()
    assert daily().next_run == due


def test_copies_of_the_schedule_collapse_into_one():
    with time_machine.travel(MORNING, tick=False):
        ensure_schedule()
        Schedule.objects.create(name=SCHEDULE_NAME, func=TASK, schedule_type=Schedule.DAILY)
        ensure_schedule()
    assert Schedule.objects.filter(name=SCHEDULE_NAME).count() == 1


def test_the_post_migrate_handler_is_idempotent(capsys):
    app_config = apps.get_app_config("attendance_push")
    with time_machine.travel(MORNING, tick=False):
        create_push_schedule(app_config, verbosity=2)
        first = daily()
        create_push_schedule(app_config, verbosity=0)
        post_migrate.send(sender=app_config, app_config=app_config, verbosity=0, interactive=False, using="default")
        post_migrate.send(sender=app_config, app_config=app_config, verbosity=0, interactive=False, using="default")
    assert list(Schedule.objects.filter(name=SCHEDULE_NAME).values_list("pk", "next_run")) == [
        (first.pk, first.next_run)
    ]
    assert "Created schedule attendance_push.daily: next push 2026-11-20 21:00 Asia/Kathmandu (15:15 UTC)" in (
        capsys.readouterr().out
    )


def test_the_handler_uses_the_apps_it_is_given_and_stays_quiet_below_verbosity_2(capsys):
    app_config = apps.get_app_config("attendance_push")
    with time_machine.travel(MORNING, tick=False):
        create_push_schedule(app_config, verbosity=1, apps=apps)
    assert daily().next_run == datetime.datetime(2026, 11, 20, 15, 15, tzinfo=UTC)
    assert capsys.readouterr().out == ""


def test_the_handler_does_nothing_without_django_q():
    class NoDjangoQ:
        def get_model(self, app_label, model_name):
            raise LookupError(app_label)

    create_push_schedule(apps.get_app_config("attendance_push"), apps=NoDjangoQ())
    assert not Schedule.objects.exists()


def test_the_test_schedule_lives_only_while_test_mode_is_on():
    with time_machine.travel(MORNING, tick=False):
        test_schedule = ensure_test_schedule()
        assert (test_schedule.schedule_type, test_schedule.next_run) == (Schedule.HOURLY, MORNING)
        remove_test_schedule()
        assert not Schedule.objects.filter(name=TEST_SCHEDULE_NAME).exists()
        # Left behind by a killed test run: the next registration removes it.
        ensure_test_schedule()
        ensure_schedule()
    assert not Schedule.objects.filter(name=TEST_SCHEDULE_NAME).exists()


def _queued_kwargs() -> dict:
    """Return the kwargs of the daily push task queued last (the catch-up check is queued too)."""
    for queued in OrmQ.objects.order_by("-id")[:2]:
        task = SignedPackage.loads(queued.payload)
        if task["func"] == TASK:
            return task["kwargs"]
    raise AssertionError("no daily push task was queued")


# The scheduler closes old connections between passes, as in a real cluster: no test transaction.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("cluster_zone", "push_zone", "push_time"),
    [
        ("UTC", "Asia/Kathmandu", "21:00"),
        ("Asia/Kathmandu", "Asia/Kathmandu", "21:00"),
        ("America/New_York", "Asia/Kathmandu", "21:00"),
        ("UTC", "Europe/London", "21:00"),
        ("America/New_York", "Europe/London", "21:00"),
    ],
)
def test_django_q2s_scheduler_fires_at_the_push_time_every_day_of_a_year(settings, cluster_zone, push_zone, push_time):
    """Drive the real django-q2 scheduler through a year, DST changes included."""
    settings.TIME_ZONE = cluster_zone
    with_push(settings, TIME_ZONE=push_zone, TIME=push_time)
    broker = get_broker()
    start = datetime.datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    fired = []
    with mock.patch.object(Conf, "TIME_ZONE", cluster_zone):
        with time_machine.travel(start, tick=False):
            ensure_schedule()
        for _ in range(366):
            due = daily().next_run
            # The cluster's scheduler runs about every 30 s: fire within that window.
            with time_machine.travel(due + datetime.timedelta(seconds=29), tick=False):
                scheduler(broker=broker)
            fired.append((due, _queued_kwargs()[INTENDED_DATE_KWARG]))
    expected = []
    instant = start
    for _ in range(366):
        instant = next_push_after(instant)
        expected.append(instant)
    assert [due for due, _ in fired] == expected
    # Every local day of the year exactly once, each at TIME in the push zone.
    days = [datetime.datetime.fromisoformat(intended).astimezone(ZoneInfo(push_zone)) for _, intended in fired]
    assert {day.strftime("%H:%M") for day in days} == {push_time}
    assert [day.date() for day in days] == [datetime.date(2026, 1, 1) + datetime.timedelta(days=n) for n in range(366)]
