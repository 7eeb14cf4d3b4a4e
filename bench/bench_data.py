"""The benchmark's people and their records: built with set-based SQL, the same shape on SQLite and PostgreSQL.

Person ids run 1..n in each people table; the id alone decides everything about a person, so the expected counts
of a push follow from arithmetic:

- every 20th person (id % 20 == 0) is inactive: 5 %; half of them (id % 40 == 20) left after the benchmarked days,
  so they are still expected on them (a backfill pushes them), the other half have no leaving date (never pushed);
- id % 50 == 7 joins after the benchmarked days and id % 50 == 13 left before them (still marked active): 4 % of
  people the push must not give a record, which only their dates tell (`people_on_day`);
- every 5th person (id % 5 == 1, all expected) has a record on each benchmarked day: 20 %;
- half of those (id % 10 == 1) checked in without checking out; of those, id % 100 == 1 checked in at 18:30,
  after the default 17:00 check-out, so the push leaves them open and counts them as skipped;
- the other half (id % 10 == 6) have a complete record (08:xx to 16:30);
- employees with id % 5 == 4 have an approved leave covering the benchmarked days: 20 % of the employees, 2 % of all
  people, matched by the demo's "On leave" rule (a Leave record with no times); id % 10 == 2 had an approved leave
  that ended before, id % 10 == 7 has one not approved: both get Present.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

STUDENT_SHARE = 0.9
INACTIVE = (20, 0)
LEFT_LATER = (40, 20)  # inactive, with a leaving day after the benchmarked days
NOT_YET = (50, 7)
GONE = (50, 13)
HAS_RECORD = (5, 1)
ON_LEAVE = (5, 4)  # employees only
PAST_LEAVE = (10, 2)
UNAPPROVED_LEAVE = (10, 7)
# Far from any benchmarked day, before and after.
LONG_AGO = datetime.date(2000, 1, 1)
FAR_AHEAD = datetime.date(2100, 1, 1)
OPEN = (10, 1)
LATE = (100, 1)
# Seeded records look as if a device wrote them in the morning of their day.
SEEDED_AT = datetime.time(8, 0)


@dataclass(frozen=True)
class Table:
    """One people table of the demo `school` app and its attendance table."""

    label: str
    people: str
    attendance: str
    person_column: str
    size: int
    first_day_column: str
    leave: bool

    def expected(self) -> dict[str, int]:
        """Return what a push of one seeded day must do to this table ("active": the people expected that day)."""
        n = self.size
        never = count_ids(n, *INACTIVE) - count_ids(n, *LEFT_LATER)
        active = n - never - count_ids(n, *NOT_YET) - count_ids(n, *GONE)
        with_record = count_ids(n, *HAS_RECORD)
        late = count_ids(n, *LATE)
        on_leave = count_ids(n, *ON_LEAVE) if self.leave else 0
        return {
            "active": active,
            "created": active - with_record,
            "filled": count_ids(n, *OPEN) - late,
            "skipped": late,
            "leave": on_leave,
            "present": active - with_record - on_leave,
        }


def count_ids(n: int, modulus: int, remainder: int) -> int:
    """Return how many of the ids 1..n are `remainder` modulo `modulus`."""
    if remainder == 0:
        return n // modulus
    return 0 if n < remainder else (n - remainder) // modulus + 1


def tables(people: int) -> tuple[Table, Table]:
    """Split `people` into 90 % students and 10 % employees."""
    students = round(people * STUDENT_SHARE)
    return (
        Table(
            "school.StudentAttendance",
            "school_student",
            "school_studentattendance",
            "student_id",
            students,
            "enrolled_on",
            leave=False,
        ),
        Table(
            "school.EmployeeAttendance",
            "school_employee",
            "school_employeeattendance",
            "employee_id",
            people - students,
            "joined_on",
            leave=True,
        ),
    )


def expected(people: int) -> dict[str, dict[str, int]]:
    """Return the expected push counts per attendance model for `people`."""
    return {table.label: table.expected() for table in tables(people)}


def seeded_at(day: datetime.date) -> datetime.datetime:
    """Return the creation instant (UTC) of the records seeded on `day`."""
    return datetime.datetime.combine(day, SEEDED_AT, tzinfo=datetime.UTC)


# psycopg2 reads % as a placeholder: modulo is %% in the PostgreSQL statements.
# The table and column names below are the demo app's own, formatted in from `Table`; values are parameters.
SQLITE_PEOPLE = """
INSERT INTO {people} (id, name, is_active, {first_day}, left_on)
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
SELECT i, ? || ' ' || i, i % 20 != 0,
       CASE WHEN i % 50 = 7 THEN ? ELSE ? END,
       CASE WHEN i % 50 = 13 THEN ? WHEN i % 40 = 20 THEN ? END
FROM seq
"""
SQLITE_RECORDS = """
INSERT INTO {attendance} ({person}, date, status, time_in, time_out, created_by_id, created_at, updated_at)
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 5 FROM seq WHERE i + 5 <= ?)
SELECT i, ?,
       CASE WHEN i % 100 = 11 THEN 'Late' ELSE 'Present' END,
       CASE WHEN i % 100 = 1 THEN '18:30:00' WHEN i % 100 = 11 THEN '10:15:00'
            ELSE printf('08:%02d:00', i % 60) END,
       CASE WHEN i % 10 = 1 THEN NULL ELSE '16:30:00' END,
       NULL, ?, ?
FROM seq
"""
POSTGRES_PEOPLE = """
INSERT INTO {people} (id, name, is_active, {first_day}, left_on)
SELECT i, %s || ' ' || i, i %% 20 <> 0,
       CASE WHEN i %% 50 = 7 THEN %s::date ELSE %s::date END,
       CASE WHEN i %% 50 = 13 THEN %s::date WHEN i %% 40 = 20 THEN %s::date END
FROM generate_series(1, %s) AS i
"""
POSTGRES_RECORDS = """
INSERT INTO {attendance} ({person}, date, status, time_in, time_out, created_by_id, created_at, updated_at)
SELECT i, %s,
       CASE WHEN i %% 100 = 11 THEN 'Late' ELSE 'Present' END,
       CASE WHEN i %% 100 = 1 THEN time '18:30' WHEN i %% 100 = 11 THEN time '10:15'
            ELSE time '08:00' + (i %% 60) * interval '1 minute' END,
       CASE WHEN i %% 10 = 1 THEN NULL ELSE time '16:30' END,
       NULL, %s, %s
FROM generate_series(1, %s, 5) AS i
"""
# Leave rows of the employees: covering the days and approved (id % 5 == 4), approved but over before them
# (id % 10 == 2), covering them but not approved (id % 10 == 7).
SQLITE_LEAVES = """
INSERT INTO school_leave (employee_id, first_day, last_day, approved)
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
SELECT i,
       CASE WHEN i % 10 = 2 THEN ? ELSE ? END,
       CASE WHEN i % 10 = 2 THEN ? ELSE ? END,
       i % 10 != 7
FROM seq WHERE i % 5 = 4 OR i % 10 = 2 OR i % 10 = 7
"""
POSTGRES_LEAVES = """
INSERT INTO school_leave (employee_id, first_day, last_day, approved)
SELECT i,
       CASE WHEN i %% 10 = 2 THEN %s::date ELSE %s::date END,
       CASE WHEN i %% 10 = 2 THEN %s::date ELSE %s::date END,
       i %% 10 <> 7
FROM generate_series(1, %s) AS i WHERE i %% 5 = 4 OR i %% 10 = 2 OR i %% 10 = 7
"""
POSTGRES_SEQUENCE = "SELECT setval(pg_get_serial_sequence(%s, 'id'), GREATEST(%s, 1))"


def people_dates() -> list[datetime.date]:
    """Return the parameters of a people statement: first day (not yet, others), left day (gone, left later)."""
    return [FAR_AHEAD, LONG_AGO, LONG_AGO, FAR_AHEAD]


def leave_dates(days: list[datetime.date]) -> list[datetime.date]:
    """Return the parameters of the leaves statement: first day (past, covering), last day (past, covering)."""
    first, last = min(days), max(days)
    past = first - datetime.timedelta(days=30)
    return [past, first, first - datetime.timedelta(days=1), last]


def fill_sqlite(connection, people: int, days: list[datetime.date]) -> None:
    """Insert the people and the seeded records of `days` through a sqlite3 connection (autocommit mode)."""
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("BEGIN")
    for table in tables(people):
        name = table.people.removeprefix("school_").capitalize()
        dates = [day.isoformat() for day in people_dates()]
        sql = SQLITE_PEOPLE.format(people=table.people, first_day=table.first_day_column)
        connection.execute(sql, [table.size, name, *dates])
        if table.leave:
            connection.execute(SQLITE_LEAVES, [table.size, *(day.isoformat() for day in leave_dates(days))])
        sql = SQLITE_RECORDS.format(attendance=table.attendance, person=table.person_column)
        for day in days:
            stamp = seeded_at(day).strftime("%Y-%m-%d %H:%M:%S")
            connection.execute(sql, [table.size, day.isoformat(), stamp, stamp])
    connection.execute("COMMIT")
    # A maintained database has statistics; without them SQLite plans from guesses.
    connection.execute("ANALYZE")


def fill_postgres(connection, people: int, days: list[datetime.date]) -> None:
    """Insert the people and the seeded records of `days` through a psycopg2 connection, then commit."""
    with connection.cursor() as cursor:
        for table in tables(people):
            name = table.people.removeprefix("school_").capitalize()
            sql = POSTGRES_PEOPLE.format(people=table.people, first_day=table.first_day_column)
            cursor.execute(sql, [name, *people_dates(), table.size])
            cursor.execute(POSTGRES_SEQUENCE, [table.people, table.size])
            if table.leave:
                cursor.execute(POSTGRES_LEAVES, [*leave_dates(days), table.size])
            sql = POSTGRES_RECORDS.format(attendance=table.attendance, person=table.person_column)
            for day in days:
                cursor.execute(sql, [day, seeded_at(day), seeded_at(day), table.size])
    connection.commit()
