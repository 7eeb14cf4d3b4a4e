"""The day's lock: one push or undo of a day at a time, across processes and hosts.

On PostgreSQL a transaction-level advisory lock keyed on the day; on SQLite the write lock that an
IMMEDIATE transaction takes when it opens. `liveness.py` reads the same lock to tell a live push.
"""

from __future__ import annotations

import datetime
import zlib
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager

from django.db import connections, transaction

# pg_advisory_xact_lock(namespace, day) serialises pushes of one day across processes and hosts.
LOCK_NAMESPACE = zlib.crc32(b"attendance_push") - 2**31


def lock_day(alias: str, day: datetime.date) -> None:
    """Take `day`'s lock on database `alias`, inside its open transaction, until it commits or rolls back."""
    connection = connections[alias]
    if connection.vendor == "postgresql":
        # Released at commit or rollback; concurrent pushes of the same day wait here, then
        # find nothing left to do.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, day.toordinal()])
    # SQLite serialises writers itself: with transaction_mode IMMEDIATE the transaction
    # already holds the write lock.


@contextmanager
def day_lock(aliases: Iterable[str], day: datetime.date) -> Iterator[None]:
    """Open one transaction on each database of `aliases` (in a stable order) holding `day`'s lock."""
    with ExitStack() as stack:
        for alias in sorted(set(aliases)):
            stack.enter_context(transaction.atomic(using=alias))
            lock_day(alias, day)
        yield


def locked_days(alias: str) -> set[int]:
    """Return the days (as ordinals) whose advisory lock some session holds or waits for."""
    with connections[alias].cursor() as cursor:
        # pg_advisory_xact_lock(int4, int4) shows as classid (the first key, as an unsigned oid),
        # objid (the second) and objsubid 2.
        cursor.execute(
            "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND classid::bigint = %s "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [LOCK_NAMESPACE & 0xFFFFFFFF],
        )
        return {row[0] for row in cursor.fetchall()}


@contextmanager
def waiting_at_most(alias: str, seconds: float) -> Iterator[None]:
    """On SQLite, wait at most `seconds` for the write lock inside the block (then "database is locked").

    A page that only looks after dead runs must not queue behind a long push for the project's whole
    busy timeout. PostgreSQL's row locks need no such limit: they are held for the rows, not the file.
    """
    connection = connections[alias]
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(previous)}")
