"""Is the push healthy? Worker liveness, the next push and the last successful one."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.utils import timezone
from django.utils.timesince import timesince

from .conf import conf
from .models import PushRun
from .runs import is_pushed
from .schedule import daily_next_run

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
    last_success = PushRun.objects.filter(status=PushRun.Status.SUCCEEDED).order_by("-finished_at").first()
    yesterday_pushed = is_pushed(yesterday)
    problems = []
    if last_success is None:
        problems.append("No push has ever succeeded.")
    elif now - last_success.finished_at > STALE_AFTER:
        problems.append(
            f"The last successful push finished {timesince(last_success.finished_at, now)} ago (more than 26 hours)."
        )
    if not yesterday_pushed:
        problems.append(f"Yesterday ({yesterday:%Y-%m-%d}) has not been pushed since its push time.")
    return Health(running_clusters(), daily_next_run(), last_success, yesterday, yesterday_pushed, problems)
