"""Runs the liveness rules see alive, for tests that draw a queued or running run without a process behind it.

Reading the history, the health URL or its status JSON marks a run whose process is gone interrupted
(attendance_push.liveness). A test that wants a page to show a run still running keeps it alive as a push
does: a heartbeat (SQLite, or the history on another database), or its day's lock held by a session
(PostgreSQL).
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator

import psycopg2
from django.db import connection
from django.utils import timezone

from attendance_push.liveness import lock_tells
from attendance_push.locks import LOCK_NAMESPACE
from attendance_push.models import PushRun


@contextlib.contextmanager
def kept_alive(*runs: PushRun) -> Iterator[None]:
    """Keep the running `runs` alive while the block runs: a heartbeat that does not go stale, and on PostgreSQL
    their days' locks held by another session."""
    # A day ahead: whatever the test's clock does meanwhile, the heartbeat stays fresh.
    PushRun.objects.filter(pk__in=[run.pk for run in runs]).update(
        heartbeat_at=timezone.now() + datetime.timedelta(days=1)
    )
    if not lock_tells():
        yield
        return
    settings = connection.settings_dict
    holder = psycopg2.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"] or None,
    )
    try:
        holder.autocommit = True
        with holder.cursor() as cursor:
            for day in sorted({run.date for run in runs}):
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, day.toordinal()])
        yield
    finally:
        holder.close()
