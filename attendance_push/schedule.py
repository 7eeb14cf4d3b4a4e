"""The django-q2 Schedule that runs the daily push at TIME in the push time zone.

django-q2 computes a DAILY schedule's next run in the *cluster's* time zone, so on a server in
UTC or New York a daily 21:00 Kathmandu push would drift by the difference and by every daylight
saving change. `keep_on_time` corrects `next_run` whenever the schedule is saved (the scheduler
saves it after each run), so the instant is always TIME in ATTENDANCE_PUSH['TIME_ZONE'].
"""

from __future__ import annotations

import datetime
from typing import Any

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS, router
from django.utils import timezone

from .conf import SCHEDULE_NAME, TEST_SCHEDULE_NAME, conf

TASK = "attendance_push.tasks.scheduled_push"
INTENDED_DATE_KWARG = "intended_date"


def next_push_after(moment: datetime.datetime) -> datetime.datetime:
    """Return the first instant strictly after `moment` at which the daily push is due, in UTC."""
    zone = conf.TIME_ZONE
    local_day = moment.astimezone(zone).date()
    for day in (local_day, local_day + datetime.timedelta(days=1)):
        candidate = datetime.datetime.combine(day, conf.TIME, tzinfo=zone)
        if candidate > moment:
            return candidate.astimezone(datetime.UTC)
    raise AssertionError("unreachable: the next day's push is always after moment")  # pragma: no cover


def is_on_time(next_run: datetime.datetime | None) -> bool:
    """Return whether `next_run` falls on TIME in the push time zone."""
    if next_run is None:
        return False
    return next_push_after(next_run - datetime.timedelta(seconds=1)) == next_run


def keep_on_time(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Snap the daily schedule's `next_run` to the nearest push instant before it is saved."""
    if instance.name != SCHEDULE_NAME or instance.next_run is None:
        return
    # django-q2 adds a day in the cluster's zone, which is off by at most the zones' DST shift
    # (an hour); the push instant nearest to its guess is the one it meant.
    instance.next_run = next_push_after(instance.next_run - datetime.timedelta(hours=12))


def ensure_schedule(schedule_model: Any = None, using: str = DEFAULT_DB_ALIAS) -> tuple[Any, bool]:
    """Create or update the daily push schedule by name; return it and whether it was created.

    An existing schedule keeps its `next_run` while that is still on TIME, so a migration that
    runs just after 21:00, before the scheduler fired, does not skip the day.
    """
    if schedule_model is None:
        from django_q.models import Schedule as schedule_model
    schedules = schedule_model._default_manager.using(using)
    existing = schedules.filter(name=SCHEDULE_NAME).order_by("pk")
    keep = existing.values_list("pk", "next_run").first()
    current = None
    if keep:
        # Schedule.name is not unique: copies made by hand would push twice.
        existing.exclude(pk=keep[0]).delete()
        current = keep[1]
    schedule, created = schedules.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": TASK,
            "schedule_type": "D",
            "repeats": -1,
            "intended_date_kwarg": INTENDED_DATE_KWARG,
            "cluster": None,
            "next_run": current if is_on_time(current) else next_push_after(timezone.now()),
        },
    )
    # The hourly test schedule lives only while `attendance_scheduler --test` runs.
    schedules.filter(name=TEST_SCHEDULE_NAME).delete()
    return schedule, created


def ensure_test_schedule(using: str = DEFAULT_DB_ALIAS) -> Any:
    """Create the hourly test-mode schedule, first due now."""
    from django_q.models import Schedule

    schedule, _created = Schedule.objects.using(using).update_or_create(
        name=TEST_SCHEDULE_NAME,
        defaults={
            "func": TASK,
            "schedule_type": Schedule.HOURLY,
            "repeats": -1,
            "intended_date_kwarg": INTENDED_DATE_KWARG,
            "next_run": timezone.now(),
            "cluster": None,
        },
    )
    return schedule


def remove_test_schedule(using: str = DEFAULT_DB_ALIAS) -> None:
    """Delete the hourly test-mode schedule."""
    from django_q.models import Schedule

    Schedule.objects.using(using).filter(name=TEST_SCHEDULE_NAME).delete()


def create_push_schedule(
    app_config: Any,
    verbosity: int = 2,
    interactive: bool = True,
    using: str = DEFAULT_DB_ALIAS,
    apps: Any = global_apps,
    **kwargs: Any,
) -> None:
    """Register the daily push schedule after `migrate` (a post_migrate handler)."""
    try:
        schedule_model = apps.get_model("django_q", "Schedule")
    except LookupError:
        return
    if not router.allow_migrate_model(using, schedule_model):
        return
    schedule, created = ensure_schedule(schedule_model, using)
    if verbosity >= 2:
        zone = conf.TIME_ZONE
        print(  # noqa: T201 (migrate's own output channel, like django.contrib.sites)
            f"{'Created' if created else 'Updated'} schedule {SCHEDULE_NAME}: next push "
            f"{schedule.next_run.astimezone(zone):%Y-%m-%d %H:%M} {zone.key} ({schedule.next_run:%H:%M} UTC)."
        )
