"""Will the next push happen and succeed, and is a push missing? One function decides (`check_health`), for the
admin's warnings, the health URL and `attendance_push_status`; its answer lists the problems as codes.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import DatabaseError, InterfaceError, OperationalError, connections, router, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .calendar import standing_days
from .conf import conf
from .exceptions import NoActorError
from .liveness import interrupt_dead_runs, never_finishing_ids, runs_alias
from .locks import waiting_at_most
from .models import PushRun
from .plan.actor import actor_needed, resolve_actor
from .results import HealthProblem
from .runs import is_pushed, undone_days
from .schedule import catch_up_next_run, daily_next_run, next_push_after
from .text import closed_for_all

logger = logging.getLogger("attendance_push")

# A daily push plus the slack of a late worker: older than this, a push was missed.
STALE_AFTER = datetime.timedelta(hours=26)
# A running worker fires a due schedule within about 30 s (one scheduler pass); a push still not started
# this long after its time is overdue, not merely due. The catch-up check, due every 5 minutes, tells the
# same of the worker: past its time by this much, no worker has run the schedules since.
OVERDUE_AFTER = datetime.timedelta(minutes=5)

# (day, the reasons it is closed, how many pushed records still stand on it), as calendar.standing_days.
Standing = tuple[datetime.date, list[str], int]


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
    """What a monitor needs to know, and what is wrong: `problems` lists codes, empty when healthy."""

    checked_at: datetime.datetime
    problems: tuple[HealthProblem, ...]
    clusters: list
    # The daily schedule's next run, None when it is not registered.
    next_run: datetime.datetime | None
    # The day the next push is for, in the push zone (from the push time when the schedule is missing).
    next_day: datetime.date
    last_success: PushRun | None
    last_finish: datetime.datetime | None
    yesterday: datetime.date
    yesterday_pushed: bool
    # When the daily push was due and has not started since (more than OVERDUE_AFTER ago), else None.
    overdue_since: datetime.datetime | None = None
    # Why yesterday was closed for every target (nothing to push, as catch-up sees it), else empty.
    yesterday_closed: tuple[str, ...] = ()
    # The days a push still accepts closed after their push, whose pushed records still stand.
    standing: tuple[Standing, ...] = ()
    # Why the next push will fail for want of a user to record as the creator (NO_ACTOR), else None.
    no_actor: NoActorError | None = None
    # When the catch-up check was due, with no worker running and none having fired it since (NO_WORKER).
    worker_missing_since: datetime.datetime | None = None
    # The runs that will never finish and are still recorded queued or running (STUCK).
    stuck: tuple[int, ...] = ()
    # How many runs whose process is gone this check marked interrupted.
    interrupted: int = 0
    # The undo that took back yesterday's latest push after its push time, else None. Handled, as catch-up
    # sees it (an administrator's decision: not a problem), but not pushed: no pushed records stand.
    yesterday_undone_by: int | None = None

    @property
    def healthy(self) -> bool:
        return not self.problems


def is_overdue(next_run: datetime.datetime | None, now: datetime.datetime) -> bool:
    """Return whether the daily schedule's `next_run` is past by more than OVERDUE_AFTER at `now`."""
    return next_run is not None and now - next_run > OVERDUE_AFTER


def check_health(
    now: datetime.datetime | None = None,
    *,
    dead: DeadRuns | None = None,
    standing: tuple[Standing, ...] | None = None,
) -> Health:
    """Return the push's health at `now`: will the next push happen and succeed, and is a push missing.

    First mark the runs whose process is gone interrupted (the liveness rules catch-up uses), unless the caller
    did and gives what it found as `dead`. `standing` is `calendar.standing_days` of `standing_window()` when
    the caller has it already (the history draws its calendar from the same query).
    """
    now = now or timezone.now()
    if dead is None:
        dead = mark_dead_runs(now)
    next_run = daily_next_run()
    catch_up_due = catch_up_next_run()
    clusters = running_clusters()
    local_today = now.astimezone(conf.TIME_ZONE).date()
    yesterday = local_today - datetime.timedelta(days=1)
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
    if standing is None:
        # False "Present" records nobody sees are the worst news: a closure entered after the day was pushed.
        # Only the days a push still accepts (MAX_PAST_DAYS): an older one cannot be pushed again to clear it.
        standing = tuple(standing_days(local_today, standing_window()))
    overdue_since = next_run if is_overdue(next_run, now) else None
    # Not registered: the push time still says which day the next push would be for.
    next_day = (next_run or next_push_after(now)).astimezone(conf.TIME_ZONE).date()
    no_actor = missing_actor(next_day)
    worker_missing_since = None
    if not clusters and catch_up_due is not None and now - catch_up_due > OVERDUE_AFTER:
        worker_missing_since = catch_up_due
    problems = []
    if last_finish is None:
        problems.append(HealthProblem.NEVER_PUSHED)
    elif now - last_finish > STALE_AFTER:
        problems.append(HealthProblem.STALE)
    if not handled and not yesterday_closed:
        problems.append(HealthProblem.YESTERDAY_MISSED)
    if standing:
        problems.append(HealthProblem.STANDING)
    if overdue_since is not None:
        problems.append(HealthProblem.OVERDUE)
    if next_run is None or catch_up_due is None:
        problems.append(HealthProblem.NO_SCHEDULE)
    if worker_missing_since is not None:
        problems.append(HealthProblem.NO_WORKER)
    if no_actor is not None:
        problems.append(HealthProblem.NO_ACTOR)
    if dead.stuck:
        problems.append(HealthProblem.STUCK)
    return Health(
        checked_at=now,
        problems=tuple(problems),
        clusters=clusters,
        next_run=next_run,
        next_day=next_day,
        last_success=last_success,
        last_finish=last_finish,
        yesterday=yesterday,
        yesterday_pushed=yesterday_pushed,
        overdue_since=overdue_since,
        yesterday_closed=yesterday_closed,
        standing=standing,
        no_actor=no_actor,
        worker_missing_since=worker_missing_since,
        stuck=dead.stuck,
        interrupted=dead.marked,
        yesterday_undone_by=yesterday_undone_by,
    )


def standing_window() -> int:
    """Return how many days, up to today, the health report looks at for closed days with records still standing."""
    return min(90, conf.MAX_PAST_DAYS + 1)


def missing_actor(day: datetime.date) -> NoActorError | None:
    """Return why a push of `day` will fail for want of a creator to record, or None (a closed day needs none)."""
    if not actor_needed([day]):
        return None
    try:
        resolve_actor()
    except NoActorError as exc:
        return exc
    return None


@dataclass(frozen=True)
class DeadRuns:
    """What a look for runs whose process is gone found: how many it marked interrupted, and those it could not."""

    marked: int = 0
    # Still recorded queued or running: the database refused to mark them (STUCK).
    stuck: tuple[int, ...] = ()


# How long a page waits for SQLite's write lock to mark dead runs or keep its answer in a database cache: other
# writes take milliseconds; a push holding it is alive, and is judged at the next look.
WRITE_WAIT_SECONDS = 0.25


def mark_dead_runs(now: datetime.datetime | None = None) -> DeadRuns:
    """Mark the runs whose process is gone interrupted (the liveness rules catch-up uses); say which could not be.

    A database that is gone raises; one that refuses the UPDATE (read-only) leaves them stuck; SQLite's write
    lock held by a push leaves them for the next look.
    """
    alias = runs_alias()
    # Inside a request's transaction (ATOMIC_REQUESTS) a refused UPDATE must not break what follows.
    savepoint = transaction.atomic(using=alias) if connections[alias].in_atomic_block else contextlib.nullcontext()
    try:
        with waiting_at_most(alias, WRITE_WAIT_SECONDS), savepoint:
            return DeadRuns(marked=interrupt_dead_runs(now))
    except (OperationalError, InterfaceError) as exc:
        if database_unreachable(exc):
            raise  # the caller says so
        if "locked" in str(exc):
            # SQLite's write lock, held by a push whose heartbeat cannot be written while it holds it.
            logger.info("Dead runs not looked for now (%s); the next look will.", exc)
            return DeadRuns()
        logger.warning("Could not mark the runs that will never finish interrupted: %s", exc)
        return DeadRuns(stuck=tuple(sorted(never_finishing_ids(now))))
    except DatabaseError as exc:
        # A read-only database, say: the report says which runs are stuck.
        logger.warning("Could not mark the runs that will never finish interrupted: %s", exc)
        return DeadRuns(stuck=tuple(sorted(never_finishing_ids(now))))


def problem_texts(health: Health) -> list[str]:
    """Return what is wrong, in sentences in the active language, for a staff login and the status command."""
    now = health.checked_at
    texts = []
    for problem in health.problems:
        if problem == HealthProblem.NEVER_PUSHED:
            texts.append(_("No push has ever succeeded."))
        elif problem == HealthProblem.STALE:
            texts.append(
                _("The last successful push finished %(ago)s ago (more than 26 hours).")
                % {"ago": timesince(health.last_finish, now)}
            )
        elif problem == HealthProblem.YESTERDAY_MISSED:
            texts.append(
                _("Yesterday (%(day)s) has not been pushed since its push time.")
                % {"day": f"{health.yesterday:%Y-%m-%d}"}
            )
        elif problem == HealthProblem.STANDING:
            texts.extend(standing_text(day, reasons, count) for day, reasons, count in health.standing)
        elif problem == HealthProblem.OVERDUE:
            texts.append(
                _("The daily push is %(overdue)s.")
                % {"overdue": overdue_text(health.overdue_since, now, health.clusters)}
            )
        elif problem == HealthProblem.NO_SCHEDULE:
            texts.append(no_schedule_text())
        elif problem == HealthProblem.NO_WORKER:
            texts.append(no_worker_text(health.worker_missing_since, now))
        elif problem == HealthProblem.NO_ACTOR:
            texts.append(
                _("The next push (%(day)s) will fail: %(why)s")
                % {"day": f"{health.next_day:%Y-%m-%d}", "why": health.no_actor}
            )
        elif problem == HealthProblem.STUCK:
            texts.append(stuck_text(health.stuck))
    return texts


def no_schedule_text() -> str:
    """Return that the plugin's schedules are not registered, so the daily push will not run."""
    return _("The daily push is not scheduled, so it will not run: register it with `python manage.py migrate`.")


def no_worker_text(since: datetime.datetime, now: datetime.datetime) -> str:
    """Return that no worker has run the schedules since `since`, so the next push will not run."""
    local = since.astimezone(conf.TIME_ZONE)
    return _(
        "No worker is running, and none has run the schedules since %(day)s, %(time)s %(zone)s (%(ago)s ago): "
        "the next push will not run until one starts (`python manage.py qcluster`)."
    ) % {
        "day": _push_day_text(local),
        "time": f"{local:%H:%M}",
        "zone": conf.TIME_ZONE.key,
        "ago": duration_text(now - since),
    }


def stuck_text(runs: tuple[int, ...]) -> str:
    """Return that `runs` will never finish and still hold their days."""
    return ngettext(
        "Run %(runs)s is recorded as queued or running, but its process is gone, and it could not be marked "
        "interrupted: its day cannot be pushed until it is.",
        "Runs %(runs)s are recorded as queued or running, but their processes are gone, and they could not be "
        "marked interrupted: their days cannot be pushed until they are.",
        len(runs),
    ) % {"runs": ", ".join(map(str, runs))}


def interrupt_dead_runs_throttled(now: datetime.datetime | None = None) -> int:
    """Mark the runs whose process is gone interrupted, at most once per HEALTH_CACHE_SECONDS across processes;
    return how many were marked.

    For the pages polled while a run is on (the history's status JSON): a dead run is marked within
    HEALTH_CACHE_SECONDS of the liveness rules finding it, and a hundred polls cost one check.
    """
    now = now or timezone.now()
    key = "attendance_push:liveness_checked"
    period = conf.HEALTH_CACHE_SECONDS
    last = cache_get(key)
    # A time from the future (another clock) does not hold the check back.
    if isinstance(last, float) and now.timestamp() - period < last <= now.timestamp():
        return 0
    cache_set(key, now.timestamp(), period)
    return mark_dead_runs(now).marked


def cache_get(key: str):
    """Return `key` from the default cache, or None when the cache does not answer."""
    return _cached(lambda: cache.get(key), key, None)


def cache_set(key: str, value, timeout: float) -> None:
    """Store `value` under `key` in the default cache for `timeout` seconds, if the cache answers."""
    _cached(lambda: cache.set(key, value, timeout), key, None)


def cache_add(key: str, value, timeout: float) -> bool:
    """Store `value` under `key` unless it is there; return whether it was stored (True when the cache is down)."""
    return _cached(lambda: cache.add(key, value, timeout), key, True)


def _cached(call, key: str, default):
    """Return what `call` answers from the cache, or `default` when the cache does not answer.

    A database cache whose database cannot be reached raises: the caller says so. Its database's write lock
    held by a push (SQLite) is waited for a moment only: the answer is then not kept, which costs one more check.
    """
    backend = caches[DEFAULT_CACHE_ALIAS]
    alias = router.db_for_write(backend.cache_model_class) if isinstance(backend, DatabaseCache) else None
    try:
        with waiting_at_most(alias, WRITE_WAIT_SECONDS) if alias else contextlib.nullcontext():
            return call()
    except (OperationalError, InterfaceError) as exc:
        if database_unreachable(exc):
            raise
        logger.info("The cache did not answer (%s): %s", key, exc)
    except Exception as exc:
        logger.warning("The cache did not answer (%s): %s", key, exc)
    return default


# The health URL's answers ------------------------------------------------------------------------------------

PUBLIC_KEY = "attendance_push:health"
COMPUTING_KEY = "attendance_push:health_computing"


def public_report(health: Health) -> dict:
    """Return the health URL's answer for anyone: codes, booleans and instants; no name, reason or count."""
    last = health.last_success
    return {
        "healthy": health.healthy,
        "problems": [str(problem) for problem in health.problems],
        "checked_at": health.checked_at.isoformat(),
        "last_pushed_day": f"{last.date:%Y-%m-%d}" if last else None,
        # "closed": yesterday was closed for every target (nothing to push: not a problem).
        # "undone": its push was undone after its push time (an administrator's decision: not a problem).
        "yesterday": {
            "day": f"{health.yesterday:%Y-%m-%d}",
            "pushed": health.yesterday_pushed,
            "undone": health.yesterday_undone_by is not None,
            "closed": bool(health.yesterday_closed),
        },
        "next_push": health.next_run.isoformat() if health.next_run else None,
        # The daily push was due then and no worker has started it (null when it is not overdue).
        "overdue_since": health.overdue_since.isoformat() if health.overdue_since else None,
        "worker": {"running": bool(health.clusters)},
    }


def staff_report(health: Health) -> dict:
    """Return the health URL's answer for a staff login: the public one with the words, names and counts."""
    report = public_report(health)
    report["messages"] = problem_texts(health)
    report["yesterday"]["reasons"] = list(health.yesterday_closed)
    # How many, not where: host names and process ids stay in `attendance_push_status`.
    report["worker"]["clusters"] = len(health.clusters)
    report["standing"] = [
        {"day": f"{day:%Y-%m-%d}", "reasons": reasons, "records": count} for day, reasons, count in health.standing
    ]
    report["stuck_runs"] = list(health.stuck)
    report["interrupted_now"] = health.interrupted
    return report


def database_report(now: datetime.datetime | None = None) -> dict:
    """Return the health URL's answer when the database cannot be reached."""
    return {
        "healthy": False,
        "problems": [str(HealthProblem.DATABASE)],
        "checked_at": (now or timezone.now()).isoformat(),
    }


def cached_public_report(now: datetime.datetime | None = None) -> dict:
    """Return `public_report` of a check at most HEALTH_CACHE_SECONDS old, from the default cache.

    One process computes it again when it is older; the others answer the last one meanwhile, so a crowd of
    calls costs one check per period, whatever the data. Only a cold cache lets a caller compute alongside.
    """
    now = now or timezone.now()
    period = conf.HEALTH_CACHE_SECONDS
    stamp = now.timestamp()
    entry = cache_get(PUBLIC_KEY)
    at = entry.get("at") if isinstance(entry, dict) else None
    # A check from the future (another clock, a clock set back) counts as none.
    last = entry["report"] if isinstance(at, float) and at <= stamp and "report" in entry else None
    if last is not None and stamp - at < period:
        return last
    if last is not None and not _claim_check(stamp, period):
        return last  # another process is checking now
    try:
        report = public_report(check_health(now))
    except (OperationalError, InterfaceError) as exc:
        if not database_unreachable(exc):
            raise
        log_unreachable("the health URL", exc)
        # Kept too where the cache is not the database, so that a crowd of calls does not knock on a dead server.
        report = database_report(now)
    # Kept for longer than the period, so that it answers while the next check runs.
    with contextlib.suppress(DatabaseError):
        cache_set(PUBLIC_KEY, {"at": stamp, "report": report}, period * 20)
    return report


def _claim_check(stamp: float, period: int) -> bool:
    """Return whether this process is the one to check again (none is, or the one that was has died)."""
    if cache_add(COMPUTING_KEY, stamp, period):
        return True
    held = cache_get(COMPUTING_KEY)
    if isinstance(held, float) and stamp - period < held <= stamp:
        return False
    cache_set(COMPUTING_KEY, stamp, period)
    return True


def log_unreachable(where: str, exc: BaseException) -> None:
    """Log, in one line, that the database could not be reached from `where`."""
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    logger.error("The database cannot be reached (%s): %s", where, first_line)


def database_unreachable(exc: BaseException) -> bool:
    """Return whether `exc` says that a database cannot be reached (a connection to it fails now).

    An OperationalError is also SQLite's "no such table" or "database is locked": only a database that
    does not answer a new connection is unreachable.
    """
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    for alias in connections:
        connection = connections[alias]
        if connection.in_atomic_block:
            continue  # no new connection inside a transaction; the other aliases decide
        try:
            if connection.connection is not None and connection.is_usable():
                continue
            with contextlib.suppress(DatabaseError):
                connection.close()  # a broken connection: Django reconnects on the next query
            connection.ensure_connection()
        except (OperationalError, InterfaceError):
            return True
    return False


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


def next_push_text(
    now: datetime.datetime | None = None, clusters: list | None = None, *, health: Health | None = None
) -> str:
    """Return "Thursday 3 December, 21:00 Asia/Kathmandu (in 2 h 10 min)" for the daily schedule's next run.

    Past its time by more than OVERDUE_AFTER (no worker fired it), say since when it is overdue and why.
    `clusters` are the running clusters when the caller has them already; `health` holds them, the instant
    and the time it was checked (then a schedule that is not registered is "not scheduled").
    """
    if health is not None:
        now, clusters, instant = health.checked_at, health.clusters, health.next_run
        if instant is None:
            return _("not scheduled")
    else:
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
