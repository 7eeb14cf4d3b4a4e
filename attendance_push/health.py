"""Is the push healthy? Worker liveness, the next push and the last successful one."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from .conf import conf
from .models import PushRun
from .runs import is_pushed
from .schedule import daily_next_run, next_push_after

logger = logging.getLogger("attendance_push")

# A daily push plus the slack of a late worker: older than this, a push was missed.
STALE_AFTER = datetime.timedelta(hours=26)


def running_clusters() -> list:
    """Return django-q2's stats of the clusters running now (empty when none is, or the broker is down)."""
    from django_q.conf import Conf
    from django_q.status import Stat

    try:
        return [stat for stat in Stat.get_all() if stat.status != Conf.STOPPED]
    except Exception as exc:
        # Whatever the broker's trouble, the answer for the admin is the same: no worker seen.
        logger.warning("Could not read django-q2 cluster stats: %s", exc)
        return []


@dataclass(frozen=True)
class Health:
    """What a monitor needs to know, and what is wrong (an empty `problems` is healthy)."""

    clusters: list
    next_run: datetime.datetime | None
    last_success: PushRun | None
    yesterday: datetime.date
    yesterday_pushed: bool
    problems: list[str]


def check_health(now: datetime.datetime | None = None) -> Health:
    """Return the push's health at `now`."""
    now = now or timezone.now()
    yesterday = now.astimezone(conf.TIME_ZONE).date() - datetime.timedelta(days=1)
    succeeded = PushRun.objects.filter(status=PushRun.Status.SUCCEEDED)
    # The latest day pushed, not the last run to finish: a rerun of an old day says nothing about yesterday.
    last_success = succeeded.order_by("-date", "-finished_at").first()
    last_finish = succeeded.order_by("-finished_at").values_list("finished_at", flat=True).first()
    yesterday_pushed = is_pushed(yesterday)
    problems = []
    if last_finish is None:
        problems.append(_("No push has ever succeeded."))
    elif now - last_finish > STALE_AFTER:
        problems.append(
            _("The last successful push finished %(ago)s ago (more than 26 hours).")
            % {"ago": timesince(last_finish, now)}
        )
    if not yesterday_pushed:
        problems.append(
            _("Yesterday (%(day)s) has not been pushed since its push time.") % {"day": f"{yesterday:%Y-%m-%d}"}
        )
    return Health(running_clusters(), daily_next_run(), last_success, yesterday, yesterday_pushed, problems)


def until_text(delta: datetime.timedelta) -> str:
    """Return how long until an instant `delta` away, to the minute: "in 2 h 10 min", "now" when past."""
    minutes = int(delta.total_seconds() // 60)
    if minutes <= 0:
        return _("due now")
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return _("in %(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    if hours:
        return _("in %(hours)d h") % {"hours": hours}
    return _("in %(minutes)d min") % {"minutes": minutes}


def next_push_text(now: datetime.datetime | None = None) -> str:
    """Return "Thursday 3 December, 21:00 Asia/Kathmandu (in 2 h 10 min)" for the daily schedule's next run."""
    from .bikram import bs_date, in_nepali

    now = now or timezone.now()
    # Not registered yet (before `migrate`): the push time itself still says when it will be.
    instant = daily_next_run() or next_push_after(now)
    local = instant.astimezone(conf.TIME_ZONE)
    day = date_format(local, "l j F")
    if in_nepali():
        day = f"{day} ({bs_date(local.date())})"
    return _("%(day)s, %(time)s %(zone)s (%(until)s)") % {
        "day": day,
        "time": f"{local:%H:%M}",
        "zone": conf.TIME_ZONE.key,
        "until": until_text(instant - now),
    }


def worker_contacts() -> str:
    """Return who to ask to start the worker: the site's ADMINS ("Ram (ram@example.com)"), or "" if none."""
    people = []
    for admin in getattr(settings, "ADMINS", ()):
        # Django 6 allows plain addresses; Django 5.2 has (name, address) pairs.
        name, address = admin if isinstance(admin, (tuple, list)) else ("", admin)
        people.append(f"{name} ({address})" if name else address)
    return ", ".join(people)
