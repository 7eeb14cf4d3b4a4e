"""An undo racing a push of the same day, in real processes: the day lock keeps the day consistent."""

from __future__ import annotations

import contextlib
import datetime
import os
import sqlite3
from pathlib import Path

import psycopg2
import pytest
from django.db import connection
from django.db.models import Count

from attendance_push.models import PushedRecord, PushRun
from attendance_push.runs import run_push
from attendance_push.service import LOCK_NAMESPACE
from school.models import StudentAttendance
from tests.support.demo import DAY, attendance
from tests.support.processes import database_url, patience, start, stop, wait_for
from tests.support.servers import query

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]

PEOPLE, OPEN = 40, 5


@contextlib.contextmanager
def holding_the_day(day: datetime.date):
    """Hold the push lock of `day` (PostgreSQL) or the database's write lock (SQLite) until the block ends."""
    if connection.vendor == "postgresql":
        holder = psycopg2.connect(database_url())
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, day.toordinal()])
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
    else:
        holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()


def one_waiting(processes: list, *, vendor: str) -> bool:
    """Return whether a process is stuck behind the held lock."""
    if vendor == "postgresql":
        rows = query(
            database_url(),
            # This database's sessions: another database's push on the shared server waits the same way.
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s "
            "AND datname = current_database()",
            ("%pg_advisory_xact_lock%",),
        )
        return rows[0][0] >= 1
    # SQLite shows no waiters: a process that has opened the database file is at its first write,
    # recording its run, which the held write lock blocks.
    name = os.path.realpath(connection.settings_dict["NAME"])
    opened = 0
    for process in processes:
        fds = Path(f"/proc/{process.pid}/fd")
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if any(os.path.realpath(fd) == name for fd in fds.iterdir()):
                opened += 1
    return opened >= 1


def test_an_undo_racing_a_push_of_the_same_day(superuser, make_students, tmp_path):
    students = make_students(PEOPLE)
    for student in students[:OPEN]:
        attendance(student, status="Present", time_in=datetime.time(8, 15))
    pushed = run_push(DAY, trigger=PushRun.Trigger.COMMAND)
    assert (pushed.created, pushed.filled) == (PEOPLE - OPEN, OPEN)

    with holding_the_day(DAY):
        racers = [
            start("undo_push", str(pushed.pk), log=tmp_path / "undo.log"),
            start("push_attendance", "--date", f"{DAY}", log=tmp_path / "push.log"),
        ]
        try:
            # Two processes start side by side: one reaches the day's lock, and the other either
            # waits there too or is told the day is under way (one queued or running run per day).
            wait_for(
                lambda: one_waiting(racers, vendor=connection.vendor) or any(r.poll() is not None for r in racers),
                timeout=patience(starts=2),
                what="the undo or the push to wait on the day",
                log=tmp_path / "undo.log",
            )
        except BaseException:
            for racer in racers:
                stop(racer)
            raise
    codes = [racer.wait(timeout=patience(starts=1)) for racer in racers]
    logs = [(tmp_path / name).read_text() for name in ("undo.log", "push.log")]
    assert codes.count(0) >= 1, logs
    for code, log in zip(codes, logs, strict=True):
        assert code == 0 or "already under way" in log, logs

    records = StudentAttendance.objects.filter(date=DAY)
    assert not records.values("student").annotate(n=Count("id")).filter(n__gt=1).exists()
    hand_made = {str(s.pk) for s in students[:OPEN]}
    others = PushRun.objects.exclude(pk=pushed.pk)
    undo_run = others.filter(trigger=PushRun.Trigger.UNDO).first()
    second = others.exclude(trigger=PushRun.Trigger.UNDO).first()
    if codes[1] == 0:
        assert second.status == PushRun.Status.SUCCEEDED
        assert (second.created, second.filled) in [(0, 0), (PEOPLE - OPEN, OPEN)]
    else:
        assert second is None
    if codes[0] != 0:
        assert undo_run is None
        return  # the push ran alone on a day already pushed: the first push's records stand
    assert undo_run.status == PushRun.Status.SUCCEEDED and undo_run.undoes_id == pushed.pk
    # Whichever went first, the undo removed everything the first push wrote...
    assert undo_run.counts["school.StudentAttendance"] == {"deleted": PEOPLE - OPEN, "cleared": OPEN, "kept": 0}
    # ...and what is left of the day is exactly the hand-made records plus what a second push wrote.
    created = set(PushedRecord.objects.filter(run=second, action="created").values_list("person", flat=True))
    filled = set(PushedRecord.objects.filter(run=second, action="filled").values_list("person", flat=True))
    assert {str(pk) for pk in records.values_list("student", flat=True)} == hand_made | created
    closed = {str(pk) for pk in records.filter(time_out__isnull=False).values_list("student", flat=True)}
    assert closed == created | filled
