"""The django-q2 Schedules of the plugin: the daily push at TIME in the push time zone, and a
catch-up check every few minutes.

django-q2 computes a DAILY schedule's next run in the *cluster's* time zone, so on a server in
UTC or New York a daily 21:00 Kathmandu push would drift by the difference and by every daylight
saving change. `keep_on_time` corrects `next_run` whenever a schedule is saved (the scheduler
saves it after each run), so the instant is always TIME in ATTENDANCE_PUSH['TIME_ZONE'].
"""

from __future__ import annotations

import datetime
from typing import Any

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS, router
from django.utils import timezone

from .conf import CATCH_UP_SCHEDULE_NAME, PRUNE_SCHEDULE_NAME, SCHEDULE_NAME, TEST_SCHEDULE_NAME, conf

TASK = "attendance_push.tasks.scheduled_push"
CATCH_UP_TASK = "attendance_push.tasks.catch_up"
TEST_TASK = "attendance_push.tasks.push_today"
PRUNE_TASK = "attendance_push.tasks.prune_history"
CATCH_UP_EVERY_MINUTES = 5
INTENDED_DATE_KWARG = "intended_date"


def push_instant(day: datetime.date) -> datetime.datetime:
    """Return the instant (UTC) at which `day` is due to be pushed: TIME on that day in the push zone."""
    return datetime.datetime.combine(day, conf.TIME, tzinfo=conf.TIME_ZONE).astimezone(datetime.UTC)


def next_push_after(moment: datetime.datetime) -> datetime.datetime:
    """Return the first instant strictly after `moment` at which the daily push is due, in UTC."""
    zone = conf.TIME_ZONE
    local_day = moment.astimezone(zone).date()
    for day in (local_day, local_day + datetime.timedelta(days=1)):
        candidate = datetime.datetime.combine(day, conf.TIME, tzinfo=zone)
        if candidate > moment:
            return candidate.astimezone(datetime.UTC)
    raise AssertionError("unreachable: the next day's push is always after moment")  # pragma: no cover


def daily_next_run() -> datetime.datetime | None:
    """Return when the daily schedule fires next (UTC), or None when it is not registered."""
    from django_q.models import Schedule

    return Schedule.objects.filter(name=SCHEDULE_NAME).values_list("next_run", flat=True).first()


def catch_up_next_run() -> datetime.datetime | None:
    """Return when the catch-up check fires next (UTC), or None when it is not registered.

    A running worker fires it every CATCH_UP_EVERY_MINUTES, so how far past it is says how long no worker has.
    """
    from django_q.models import Schedule

    return Schedule.objects.filter(name=CATCH_UP_SCHEDULE_NAME).values_list("next_run", flat=True).first()


def is_on_time(next_run: datetime.datetime | None) -> bool:
    """Return whether `next_run` falls on TIME in the push time zone."""
    if next_run is None:
        return False
    return next_push_after(next_run - datetime.timedelta(seconds=1)) == next_run


def keep_on_time(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Correct the plugin's schedules before they are saved (a pre_save receiver)."""
    if instance.next_run is None:
        return
    if instance.name == SCHEDULE_NAME:
        # django-q2 adds a day in the cluster's zone, which is off by at most the zones' DST shift
        # (an hour); the push instant nearest to its guess is the one it meant.
        instance.next_run = next_push_after(instance.next_run - datetime.timedelta(hours=12))
    elif instance.name in (CATCH_UP_SCHEDULE_NAME, PRUNE_SCHEDULE_NAME):
        # With Q_CLUSTER catch_up on, django-q2 would replay every missed 5-minute slot after an
        # outage; one check (one prune) covers them all.
        instance.next_run = max(instance.next_run, timezone.now())


def ensure_schedule(schedule_model: Any = None, using: str = DEFAULT_DB_ALIAS) -> tuple[Any, bool]:
    """Create or update the daily push and catch-up schedules by name; return the daily one and
    whether it was created.

    An existing daily schedule keeps its `next_run` while that is still on TIME, so a migration
    that runs just after 21:00, before the scheduler fired, does not skip the day.
    """
    if schedule_model is None:
        from django_q.models import Schedule as schedule_model
    schedules = schedule_model._default_manager.using(using)
    current = _drop_copies(schedules, SCHEDULE_NAME)
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
    for name, fields in (
        (CATCH_UP_SCHEDULE_NAME, {"func": CATCH_UP_TASK, "schedule_type": "I", "minutes": CATCH_UP_EVERY_MINUTES}),
        (PRUNE_SCHEDULE_NAME, {"func": PRUNE_TASK, "schedule_type": "D"}),
    ):
        _drop_copies(schedules, name)
        fields = {**fields, "repeats": -1, "cluster": None}
        # Due at once when new; an existing one keeps its next run.
        schedules.update_or_create(name=name, defaults=fields, create_defaults={**fields, "next_run": timezone.now()})
    # The hourly test schedule lives only while `attendance_scheduler --test` runs.
    schedules.filter(name=TEST_SCHEDULE_NAME).delete()
    return schedule, created


def _drop_copies(schedules: Any, name: str) -> datetime.datetime | None:
    """Delete all but the oldest schedule called `name`; return its next_run (None if there is none)."""
    # Schedule.name is not unique: copies made by hand would push twice.
    kept = schedules.filter(name=name).order_by("pk").values_list("pk", "next_run").first()
    if kept is None:
        return None
    schedules.filter(name=name).exclude(pk=kept[0]).delete()
    return kept[1]


# The hourly test schedule holds a lease that `attendance_scheduler --test` renews while it runs:
# killed (SIGKILL, a crash), the command cannot delete its schedule, and the lease runs out.
TEST_LEASE = datetime.timedelta(minutes=2)
TEST_LEASE_RENEW_EVERY = datetime.timedelta(seconds=30)
LEASE_KWARG = "lease_until"


def _lease_kwargs(now: datetime.datetime) -> str:
    return repr({LEASE_KWARG: (now + TEST_LEASE).isoformat()})


def ensure_test_schedule(using: str = DEFAULT_DB_ALIAS) -> Any:
    """Create the hourly test-mode schedule, first due now, with a lease of TEST_LEASE."""
    from django_q.models import Schedule

    now = timezone.now()
    schedule, _created = Schedule.objects.using(using).update_or_create(
        name=TEST_SCHEDULE_NAME,
        defaults={
            "func": TEST_TASK,
            "schedule_type": Schedule.HOURLY,
            "repeats": -1,
            "next_run": now,
            "cluster": None,
            "kwargs": _lease_kwargs(now),
        },
    )
    return schedule


def renew_test_lease(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Extend the hourly test schedule's lease; return False when the schedule is gone."""
    from django_q.models import Schedule

    # update(), not save(): the scheduler may be saving the same row with its next run.
    return bool(
        Schedule.objects.using(using).filter(name=TEST_SCHEDULE_NAME).update(kwargs=_lease_kwargs(timezone.now()))
    )


def lease_expired(lease_until: str | None, now: datetime.datetime | None = None) -> bool:
    """Return whether a test schedule's lease (an ISO instant, None for none) has run out."""
    if not lease_until:
        return True
    try:
        until = datetime.datetime.fromisoformat(lease_until)
    except (TypeError, ValueError):
        return True
    return (now or timezone.now()) >= until


def drop_stale_test_schedule(now: datetime.datetime | None = None, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Delete the hourly test schedule when its command stopped renewing the lease; return whether it did."""
    import ast

    from django_q.models import Schedule

    dropped = False
    for pk, kwargs in Schedule.objects.using(using).filter(name=TEST_SCHEDULE_NAME).values_list("pk", "kwargs"):
        try:
            lease = ast.literal_eval(kwargs or "{}").get(LEASE_KWARG)
        except (ValueError, SyntaxError, AttributeError):
            lease = None
        if lease_expired(lease, now):
            dropped |= bool(Schedule.objects.using(using).filter(pk=pk).delete()[0])
    return dropped


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
