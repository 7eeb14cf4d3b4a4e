"""Is the push healthy? Worker liveness, the next push and the last successful one."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .calendar import standing_days
from .conf import conf
from .models import PushRun
from .runs import is_pushed, undone_days
from .schedule import daily_next_run, next_push_after
from .text import closed_for_all

logger = logging.getLogger("attendance_push")

# A daily push plus the slack of a late worker: older than this, a push was missed.
STALE_AFTER = datetime.timedelta(hours=26)
# A running worker fires a due schedule within about 30 s (one scheduler pass); a push still not started
# this long after its time is overdue, not merely due.
OVERDUE_AFTER = datetime.timedelta(minutes=5)


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
    # The latest day pushed whose push nobody undid since.
    last_success: PushRun | None
    yesterday: datetime.date
    # Pushed since its push time, and not undone since.
    yesterday_pushed: bool
    problems: list[str]
    # When the daily push was due and has not started since (more than OVERDUE_AFTER ago), else None.
    overdue_since: datetime.datetime | None = None
    # Why yesterday was closed for every target (nothing to push, as catch-up sees it), else empty.
    yesterday_closed: tuple[str, ...] = ()
    # The days of the history's window closed after their push, whose pushed records still stand:
    # (day, reasons, how many records), as calendar.standing_days.
    standing: tuple[tuple[datetime.date, list[str], int], ...] = ()
    # The undo that took back yesterday's latest push after its push time, else None. Handled, as catch-up
    # sees it (an administrator's decision: not a problem), but not pushed: no pushed records stand.
    yesterday_undone_by: int | None = None


def is_overdue(next_run: datetime.datetime | None, now: datetime.datetime) -> bool:
    """Return whether the daily schedule's `next_run` is past by more than OVERDUE_AFTER at `now`."""
    return next_run is not None and now - next_run > OVERDUE_AFTER


def check_health(now: datetime.datetime | None = None) -> Health:
    """Return the push's health at `now`."""
    now = now or timezone.now()
    next_run = daily_next_run()
    clusters = running_clusters()
    yesterday = now.astimezone(conf.TIME_ZONE).date() - datetime.timedelta(days=1)
    # Pushes, not undos: an undo writes no attendance.
    succeeded = PushRun.objects.filter(status=PushRun.Status.SUCCEEDED).exclude(trigger=PushRun.Trigger.UNDO)
    # The latest day pushed, not the last run to finish: a rerun of an old day says nothing about yesterday.
    # A push that was undone since pushed nothing that stands.
    undone = PushRun.objects.filter(undoes=OuterRef("pk"), status=PushRun.Status.SUCCEEDED)
    last_success = succeeded.filter(~Exists(undone)).order_by("-date", "-finished_at").first()
    last_finish = succeeded.order_by("-finished_at").values_list("finished_at", flat=True).first()
    handled = is_pushed(yesterday)
    yesterday_undone_by = undone_days(yesterday, yesterday).get(yesterday) if handled else None
    yesterday_pushed = handled and yesterday_undone_by is None
    yesterday_closed: tuple[str, ...] = ()
    if not handled:
        # As catch-up (runs.missed_days) sees it: a day closed for every target has nothing to push.
        yesterday_closed = tuple(closed_for_all(conf.TARGETS, yesterday, yesterday).get(yesterday, ()))
    problems = []
    if last_finish is None:
        problems.append(_("No push has ever succeeded."))
    elif now - last_finish > STALE_AFTER:
        problems.append(
            _("The last successful push finished %(ago)s ago (more than 26 hours).")
            % {"ago": timesince(last_finish, now)}
        )
    if not handled and not yesterday_closed:
        problems.append(
            _("Yesterday (%(day)s) has not been pushed since its push time.") % {"day": f"{yesterday:%Y-%m-%d}"}
        )
    # False "Present" records nobody sees are the worst news: a closure entered after the day was pushed.
    # Only the days a push still accepts (MAX_PAST_DAYS): an older one cannot be pushed again to clear it.
    standing = tuple(standing_days(now.astimezone(conf.TIME_ZONE).date(), min(90, conf.MAX_PAST_DAYS + 1)))
    for day, reasons, count in standing:
        problems.append(standing_text(day, reasons, count))
    overdue_since = next_run if is_overdue(next_run, now) else None
    if overdue_since is not None:
        problems.append(_("The daily push is %(overdue)s.") % {"overdue": overdue_text(overdue_since, now, clusters)})
    return Health(
        clusters,
        next_run,
        last_success,
        yesterday,
        yesterday_pushed,
        problems,
        overdue_since,
        yesterday_closed,
        standing,
        yesterday_undone_by,
    )


def standing_text(day: datetime.date, reasons: list[str], count: int) -> str:
    """Return "2026-11-27 is closed (Snow day), but 33 records pushed before the closure still stand: …"."""
    return ngettext(
        "%(day)s is closed (%(reasons)s), but %(count)d record pushed before the closure still stands: "
        "push the day again to withdraw it.",
        "%(day)s is closed (%(reasons)s), but %(count)d records pushed before the closure still stand: "
        "push the day again to withdraw them.",
        count,
    ) % {"day": f"{day:%Y-%m-%d}", "reasons": "; ".join(reasons), "count": count}


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


def duration_text(delta: datetime.timedelta) -> str:
    """Return a duration to the minute: "2 h 5 min", "45 min", "3 h"; from a day on, to the hour: "2 days 3 h"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = []
    if days:
        parts.append(ngettext("%(days)d day", "%(days)d days", days) % {"days": days})
    if hours:
        parts.append(_("%(hours)d h") % {"hours": hours})
    if minutes and not days or not parts:
        parts.append(_("%(minutes)d min") % {"minutes": minutes})
    return " ".join(parts)


def _push_day_text(local: datetime.datetime) -> str:
    """Return "Thursday 3 December" (in Nepali, with its Bikram Sambat date) for a push instant in the push zone."""
    from .bikram import bs_date, in_nepali

    day = date_format(local, "l j F")
    if in_nepali():
        day = f"{day} ({bs_date(local.date())})"
    return day


def overdue_text(instant: datetime.datetime, now: datetime.datetime, clusters: list | None = None) -> str:
    """Return "overdue since Wednesday 2 December, 21:00 Asia/Kathmandu (2 h 5 min ago): no worker is running"."""
    local = instant.astimezone(conf.TIME_ZONE)
    values = {
        "day": _push_day_text(local),
        "time": f"{local:%H:%M}",
        "zone": conf.TIME_ZONE.key,
        "ago": duration_text(now - instant),
    }
    if clusters is None:
        clusters = running_clusters()
    if clusters:
        # A cluster that runs no scheduler, or serves another queue, never starts it.
        return (
            _("overdue since %(day)s, %(time)s %(zone)s (%(ago)s ago): a worker is running but has not started it")
            % values
        )
    return _("overdue since %(day)s, %(time)s %(zone)s (%(ago)s ago): no worker is running") % values


def next_push_text(now: datetime.datetime | None = None, clusters: list | None = None) -> str:
    """Return "Thursday 3 December, 21:00 Asia/Kathmandu (in 2 h 10 min)" for the daily schedule's next run.

    Past its time by more than OVERDUE_AFTER (no worker fired it), say since when it is overdue and why.
    `clusters` are the running clusters when the caller has them already.
    """
    now = now or timezone.now()
    # Not registered yet (before `migrate`): the push time itself still says when it will be.
    instant = daily_next_run() or next_push_after(now)
    if is_overdue(instant, now):
        return overdue_text(instant, now, clusters)
    local = instant.astimezone(conf.TIME_ZONE)
    return _("%(day)s, %(time)s %(zone)s (%(until)s)") % {
        "day": _push_day_text(local),
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
