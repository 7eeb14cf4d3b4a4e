"""Real processes racing for one day: hold back what they race for from another connection, and see who holds or
waits for it. The day's lock is the push's (attendance_push.locks.LOCK_NAMESPACE); on SQLite, whose one writer at
a time stands in for it, the database's write lock."""

from __future__ import annotations

import contextlib
import datetime
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
from django.db import connection

from attendance_push.locks import LOCK_NAMESPACE
from tests.support.processes import database_url, startup_seconds
from tests.support.servers import day_lock_sessions, query


@contextlib.contextmanager
def holding_writes(url: str, table: str) -> Iterator[None]:
    """Hold back every write to `table` of the database at `url` from another connection until the block
    ends, as a long push does, so that processes racing for it all start before any can write."""
    if not url.startswith("postgres"):
        with _holding_sqlite(url):
            yield
        return
    other = psycopg2.connect(url)
    with other.cursor() as cursor:
        # Reads go on, writes wait: every push gets as far as its first write (or the day lock).
        cursor.execute(f"LOCK TABLE {table} IN SHARE MODE")
    try:
        yield
    finally:
        other.rollback()
        other.close()


@contextlib.contextmanager
def holding_the_day(url: str, day: datetime.date) -> Iterator[None]:
    """Hold the push lock of `day` (PostgreSQL) or the write lock (SQLite) of the database at `url` until the
    block ends."""
    if not url.startswith("postgres"):
        with _holding_sqlite(url):
            yield
        return
    holder = psycopg2.connect(url)
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, day.toordinal()])
    try:
        yield
    finally:
        holder.rollback()
        holder.close()


@contextlib.contextmanager
def holding_day_lock(day: datetime.date):
    """On PostgreSQL, hold `day`'s push lock from another session, as a live push does."""
    if connection.vendor != "postgresql":
        yield
        return
    with contextlib.closing(psycopg2.connect(database_url())) as other, other.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, day.toordinal()])
        yield


@contextlib.contextmanager
def _holding_sqlite(url: str) -> Iterator[None]:
    # SQLite has one writer at a time: an open IMMEDIATE transaction holds every write back.
    other = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def push_is_writing(day: datetime.date) -> bool:
    """Return whether a push of `day` holds an open write transaction on the test database right now."""
    if connection.vendor == "postgresql":
        # The day's lock in this database: not any advisory lock on the (shared) server.
        return any(granted for _pid, granted in day_lock_sessions(database_url(), day))
    # SQLite keeps a rollback journal next to the database while a write transaction is open.
    return os.path.exists(f"{connection.settings_dict['NAME']}-journal")


def racers_waiting(url: str, day: datetime.date, racers: int) -> bool:
    """Return whether `racers` pushes of `day` on the database at `url` hold or wait for its lock."""
    if url.startswith("postgres"):
        # One holds the day's lock and waits for the table; the others wait for the day's lock. (In
        # this database: another one on the shared server may be pushing the same day.)
        return len(day_lock_sessions(url, day)) == racers
    # Blocked on SQLite's write lock they show nowhere: give them time to get there, four start-ups
    # side by side (on two cores they take about twice one start-up).
    time.sleep(4 * startup_seconds())
    return True


def one_waiting(processes: list, *, vendor: str) -> bool:
    """Return whether one of `processes` is stuck behind the lock held on the test database."""
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
