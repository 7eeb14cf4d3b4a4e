"""Database and broker servers for the tests that need real ones, with a clear skip where they are absent.

PostgreSQL: TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres, a maintenance
database the tests create their own databases from). Redis: TEST_REDIS_URL (default
redis://127.0.0.1:6379/13, a database index the tests empty; in a parallel run, pytest-xdist's worker gwN
uses that index plus N, so that workers never empty each other's). CI sets ATTENDANCE_PUSH_REQUIRE_SERVERS=1
so a missing server fails the run instead of skipping.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
import redis

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def _workers_own(url: str) -> str:
    """Return the Redis `url` with this pytest-xdist worker's database index: the given one plus its number."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, … in a parallel run
    if not worker:
        return url
    parts = urlsplit(url)
    index = int(parts.path.lstrip("/") or 0) + int(worker.removeprefix("gw"))
    return urlunsplit(parts._replace(path=f"/{index}"))


REDIS_URL = _workers_own(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13"))


def _unavailable(what: str, error: Exception) -> None:
    message = f"needs {what}; not reachable here ({type(error).__name__}: {str(error).strip()[:120]})"
    if os.environ.get("ATTENDANCE_PUSH_REQUIRE_SERVERS"):
        pytest.fail(message)
    pytest.skip(message)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """Create an empty PostgreSQL database for one test; yield its URL; drop it afterwards."""
    try:
        admin = psycopg2.connect(POSTGRES_URL, connect_timeout=3)
    except psycopg2.OperationalError as error:
        _unavailable(f"a PostgreSQL server at {POSTGRES_URL} (set TEST_POSTGRES_URL)", error)
    admin.autocommit = True
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(POSTGRES_URL, name)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Run one query on the PostgreSQL database at `url` and return its rows."""
    with contextlib.closing(psycopg2.connect(url)) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def redis_url() -> str:
    """Return the URL of an emptied Redis database for the test, or skip."""
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        client.flushdb()
    except redis.RedisError as error:
        _unavailable(f"a Redis server at {REDIS_URL} (set TEST_REDIS_URL)", error)
    return REDIS_URL


# The sessions of the current database only: the server is shared (other test databases, other
# projects), and their pushes of the same day take the same advisory lock in their own database.
# pg_advisory_xact_lock(namespace, day) shows in pg_locks as classid (the namespace, as an unsigned
# oid), objid (the day's ordinal) and objsubid 2.
DAY_LOCK_SESSIONS = (
    "SELECT pid, granted FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 "
    "AND classid::bigint = %s AND objid::bigint = %s "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def day_lock_sessions(url: str, day: datetime.date) -> list[tuple[int, bool]]:
    """Return (pid, granted) of each session of the database at `url` holding or awaiting the push lock of `day`."""
    from attendance_push.locks import LOCK_NAMESPACE

    return query(url, DAY_LOCK_SESSIONS, (LOCK_NAMESPACE & 0xFFFFFFFF, day.toordinal()))


def backend_waiting_on_a_lock(query_like: str, *, what: str, timeout: float = 10) -> int:
    """Return the pid of the PostgreSQL backend that waits on a lock while running a query LIKE `query_like`."""
    from django.db import connections

    # Its own autocommit connection: pg_stat_activity is a snapshot within a transaction.
    watcher = connections.create_connection("default")
    try:
        with watcher.cursor() as cursor:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s "
                    "AND datname = current_database()",  # not another database's push on the shared server
                    [query_like],
                )
                row = cursor.fetchone()
                if row:
                    return row[0]
                time.sleep(0.05)
    finally:
        watcher.close()
    pytest.fail(f"{what} never waited on a lock")
