"""Whether a queued or running PushRun will still finish.

A running push is alive while it holds (or waits for) its day's PostgreSQL advisory lock, where
the run and the attendance share a PostgreSQL database; elsewhere while its process writes a
heartbeat. A queued run is alive while its task waits in the broker, or until the task timeout
has passed since it was queued (the worker may have taken it and not started it yet). How long a
push takes does not matter: `Q_CLUSTER["timeout"]` no longer decides that a running push is dead.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import threading
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError, connections, router, transaction
from django.db.models import Q
from django.utils import timezone

from .conf import conf
from .locks import locked_days
from .models import PushRun
from .text import LOST, NEVER_QUEUED, STOPPED, STOPPED_ELSEWHERE

logger = logging.getLogger("attendance_push")

# Where the lock cannot tell, the pushing process writes `heartbeat_at` this often…
HEARTBEAT_EVERY = datetime.timedelta(seconds=5)
# …and a run whose last sign of life is older than this is dead.
HEARTBEAT_STALE = 3 * HEARTBEAT_EVERY
# A push takes its day's lock moments after it is recorded as running; this long without it, it is dead.
LOCK_GRACE = datetime.timedelta(seconds=10)


def task_timeout() -> datetime.timedelta:
    """Return how long a push may run in the worker before django-q2 kills it."""
    cluster = getattr(settings, "Q_CLUSTER", {})
    return datetime.timedelta(seconds=cluster.get("timeout") or cluster.get("retry", 60))


def runs_alias() -> str:
    return router.db_for_write(PushRun)


def shares_database() -> bool:
    """Return whether the runs and every target's attendance are on one database (one transaction)."""
    alias = runs_alias()
    return all(router.db_for_write(target.model) == alias for target in conf.TARGETS)


def lock_tells() -> bool:
    """Return whether the day's advisory lock shows a push alive (a shared PostgreSQL database)."""
    return connections[runs_alias()].vendor == "postgresql" and shares_database()


def waiting_task_ids() -> set[str] | None:
    """Return the ids of the tasks waiting in the django-q2 broker, or None when it cannot be read."""
    try:
        from django_q.brokers import get_broker, orm, redis_broker
        from django_q.conf import Conf
        from django_q.signing import SignedPackage

        # The ORM broker closes the thread's old connections when it is made outside a transaction: inside
        # one it leaves the caller's connection (and what the caller set on it) alone.
        with transaction.atomic(using=Conf.ORM) if Conf.ORM else contextlib.nullcontext():
            broker = get_broker()
        if isinstance(broker, orm.ORM):
            # A taken task stays in the table (locked) until acknowledged, and comes back after
            # `retry`. A savepoint: a missing table must not break the caller's transaction.
            with transaction.atomic(using=Conf.ORM):
                payloads = list(broker.get_connection().filter(key=broker.list_key).values_list("payload", flat=True))
            return {task_id for payload in payloads if (task_id := _task_id(SignedPackage, payload))}
        if isinstance(broker, redis_broker.Redis):
            # Redis hands a task over with BLPOP: once taken, only the worker holding it knows it.
            return {
                task_id
                for payload in broker.connection.lrange(broker.list_key, 0, -1)
                if (task_id := _task_id(SignedPackage, payload))
            }
    except Exception as exc:  # a broker that is down cannot say which tasks it holds
        logger.warning("Could not read the task queue to find lost pushes: %s", exc)
    return None


def _task_id(package, payload) -> str | None:
    try:
        return package.loads(payload).get("id")
    except Exception:  # another project's task, or another SECRET_KEY's
        return None


def never_finishing(now: datetime.datetime | None = None) -> list[tuple[Q, str]]:
    """Return (condition, reason) pairs matching the queued and running runs that will never finish."""
    now = now or timezone.now()
    queued_too_long = Q(status=PushRun.Status.QUEUED, created_at__lt=now - task_timeout())
    found = [(queued_too_long & Q(task_id=""), NEVER_QUEUED)]
    waiting = waiting_task_ids()
    if waiting is not None:
        found.append((queued_too_long & ~Q(task_id="") & ~Q(task_id__in=waiting), LOST))
    running = Q(status=PushRun.Status.RUNNING)
    if lock_tells():
        locked = locked_days(runs_alias())
        candidates = PushRun.objects.filter(running, started_at__lt=now - LOCK_GRACE).values_list("pk", "date")
        dead = [pk for pk, day in candidates if day.toordinal() not in locked]
        found.append((running & Q(pk__in=dead), STOPPED))
    else:
        # Part of the UPDATE itself: on SQLite that waits for a live push's write lock and then
        # sees the outcome it recorded.
        cutoff = now - HEARTBEAT_STALE
        stale = (
            Q(heartbeat_at__lt=cutoff)
            | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
            | Q(heartbeat_at__isnull=True, started_at__isnull=True, created_at__lt=cutoff)
        )
        found.append((running & stale, STOPPED if shares_database() else STOPPED_ELSEWHERE))
    return found


def never_finishing_ids(now: datetime.datetime | None = None) -> set[int]:
    """Return the ids of the queued and running runs that will never finish."""
    ids: set[int] = set()
    for condition, _reason in never_finishing(now):
        ids.update(PushRun.objects.filter(condition).values_list("pk", flat=True))
    return ids


def mark_never_finishing_interrupted(now: datetime.datetime | None = None) -> int:
    """Mark the queued and running runs that will never finish interrupted, each with its reason; return how many."""
    return _mark_interrupted(never_finishing(now))


def _mark_interrupted(found: list[tuple[Q, str]]) -> int:
    marked = 0
    for condition, reason in found:
        # One UPDATE whose WHERE holds the status: a run that finished meanwhile is left alone.
        marked += PushRun.objects.filter(condition).update(
            status=PushRun.Status.INTERRUPTED, finished_at=timezone.now(), error=reason
        )
    return marked


def interrupt_dead_runs(now: datetime.datetime | None = None) -> int:
    """Mark the runs that will never finish interrupted, as `mark_never_finishing_interrupted`, writing only when
    the liveness rules find some; return how many were marked.

    For the pages that read the history: where nothing is dead (nearly always) they only read, so they
    never queue behind a push's write lock on SQLite to find that out.
    """
    found = never_finishing(now)
    if not any(PushRun.objects.filter(condition).exists() for condition, _reason in found):
        return 0
    return _mark_interrupted(found)


@contextlib.contextmanager
def heartbeat(run: PushRun) -> Iterator[None]:
    """Write `run`'s heartbeat from a thread while the block runs, where the day's lock cannot tell."""
    if lock_tells():
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(HEARTBEAT_EVERY.total_seconds()):
                try:
                    PushRun.objects.filter(pk=run.pk, status=PushRun.Status.RUNNING).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    # SQLite: the push holds the write lock, and while it does nobody can mark it
                    # interrupted either.
                    continue
        finally:
            connections.close_all()  # this thread's own connections

    thread = threading.Thread(target=beat, name=f"attendance_push heartbeat of run {run.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
