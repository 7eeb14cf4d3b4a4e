"""One contender of the push benchmark, in a fresh Python process of its own.

`push_bench.py` starts it with DATABASE_URL naming a fresh copy of the benchmark data; it prints its result as
one JSON line after RESULT_MARK. The range contender answers each day read from stdin with a DAY_MARK line.
The peak RSS it reports is this process's own high-water mark, read at the very end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULT_MARK = "BENCH-RESULT "
DAY_MARK = "BENCH-DAY "
ADMIN_RUNS = 10_000
ADMIN_RUNS_SMALL = 100
ADMIN_RENDERS = 5

# The floor: what a person who knows SQL writes by hand for the demo tables: one UPDATE and one
# INSERT … SELECT … WHERE NOT EXISTS per table, plus one INSERT … SELECT for the employees on approved leave; people
# are expected on the day when their dates cover it. Identifiers are the demo's own fixed names; values are
# parameters.
FLOOR_EXPECTED = "({first_day} IS NULL OR {first_day} <= %s) AND ((left_on IS NULL AND is_active) OR left_on > %s)"
FLOOR_ON_LEAVE = """EXISTS (
    SELECT 1 FROM school_leave l WHERE l.employee_id = p.id AND l.approved AND l.first_day <= %s AND l.last_day >= %s
)"""
FLOOR_UPDATE = """
UPDATE {attendance} SET time_out = %s, updated_at = %s
WHERE date = %s AND time_in IS NOT NULL AND time_out IS NULL AND time_in <= %s
  AND {person} IN (SELECT id FROM {people} p WHERE {expected})
"""
FLOOR_INSERT = """
INSERT INTO {attendance} ({person}, date, status, time_in, time_out, created_by_id, created_at, updated_at)
SELECT p.id, %s, %s, %s, %s, %s, %s, %s FROM {people} p
WHERE {expected} AND {rule} AND NOT EXISTS (SELECT 1 FROM {attendance} a WHERE a.{person} = p.id AND a.date = %s)
"""
FLOOR_TABLES = (
    ("school.StudentAttendance", "school_studentattendance", "student_id", "school_student", "enrolled_on", False),
    ("school.EmployeeAttendance", "school_employeeattendance", "employee_id", "school_employee", "joined_on", True),
)


def emit(line: str) -> None:
    """Write one line to stdout at once: the parent relays progress lines as they come."""
    print(line, flush=True)  # noqa: T201 (a benchmark's output is its purpose)


def peak_rss_mb() -> float:
    """Return this process's peak resident set size in MB (2**20 bytes)."""
    try:
        # VmHWM is the high-water mark of this process's own memory: unlike ru_maxrss it does not
        # inherit the parent's size from before exec.
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def digest(day: datetime.date) -> dict[str, dict[str, int]]:
    """Return, per attendance model, counts describing the records of `day` (for comparing contenders)."""
    from django.db.models import Count, Exists, OuterRef, Q
    from django.utils.module_loading import import_string

    from attendance_push.conf import conf

    out = {}
    for target in conf.TARGETS:
        records = target.model._default_manager.filter(**{target.date_field: day})
        counts = records.aggregate(
            records=Count("pk"),
            open=Count("pk", filter=Q(time_out__isnull=True)),
            default_check_out=Count("pk", filter=Q(time_out=conf.CHECK_OUT)),
            by_user=Count("pk", filter=Q(created_by__isnull=False)),
            leave=Count("pk", filter=Q(status="Leave", time_in__isnull=True, time_out__isnull=True)),
        )
        expected_people = target.person_model._default_manager.filter(import_string(target.people_on_day)(day))
        # NOT EXISTS, not NOT IN: PostgreSQL cannot hash a million-row NOT IN list in its work_mem.
        expected_person = expected_people.filter(pk=OuterRef(target.person_field))
        counts["of_unexpected"] = records.filter(~Exists(expected_person)).count()
        counts["active_people"] = expected_people.count()
        out[target.label] = counts
    return out


def statements(queries) -> list[str]:
    """Return the captured statements, each as its time and the start of its SQL."""
    return [
        f"{float(query['time']):7.3f} s  {' '.join(query['sql'].split())[:100]}" for query in queries.captured_queries
    ]


def push_day(day: datetime.date) -> dict[str, Any]:
    """Time `attendance_push.push.push(day)` and capture its SQL statements."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from attendance_push.push import push

    connection.ensure_connection()
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        result = push(day)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "statements": len(queries), "sql": statements(queries), "counts": result.counts()}


def floor_day(day: datetime.date) -> dict[str, Any]:
    """Time the hand-written SQL: one UPDATE and one INSERT … SELECT … WHERE NOT EXISTS per table, one transaction."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from attendance_push.conf import conf

    ops = connection.ops
    # The floor gets its user id for free: the push looks its actor up inside its timing.
    actor = get_user_model().objects.filter(is_active=True, is_superuser=True).order_by("pk").values_list("pk")[0][0]
    date = ops.adapt_datefield_value(day)
    check_in = ops.adapt_timefield_value(conf.CHECK_IN)
    check_out = ops.adapt_timefield_value(conf.CHECK_OUT)
    counts = {}
    connection.ensure_connection()
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            for label, attendance, person, people, first_day, leave in FLOOR_TABLES:
                now = ops.adapt_datetimefield_value(timezone.now())
                expected_sql = FLOOR_EXPECTED.format(first_day=first_day)
                names = {"attendance": attendance, "person": person, "people": people, "expected": expected_sql}
                cursor.execute(FLOOR_UPDATE.format(**names), [check_out, now, date, check_out, date, date])
                filled = cursor.rowcount
                created = {}
                rules = [("Leave", FLOOR_ON_LEAVE, None), (conf.STATUS, f"NOT {FLOOR_ON_LEAVE}", check_in)]
                for status, rule, time_in in rules if leave else [(conf.STATUS, "true", check_in)]:
                    time_out = check_out if time_in else None
                    rule_params = [date, date] if rule != "true" else []
                    cursor.execute(
                        FLOOR_INSERT.format(**names, rule=rule),
                        [date, status, time_in, time_out, actor, now, now, date, date, *rule_params, date],
                    )
                    created[status] = cursor.rowcount
                counts[label] = {"created": sum(created.values()), "filled": filled, "by_status": created}
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "statements": len(queries), "sql": statements(queries), "counts": counts}


def fill_day(day: datetime.date) -> dict[str, Any]:
    """Time the hand-written fill alone: the floor's UPDATE of the open check-outs per table, one transaction."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from attendance_push.conf import conf

    ops = connection.ops
    date = ops.adapt_datefield_value(day)
    check_out = ops.adapt_timefield_value(conf.CHECK_OUT)
    counts = {}
    connection.ensure_connection()
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            for label, attendance, person, people, first_day, _leave in FLOOR_TABLES:
                now = ops.adapt_datetimefield_value(timezone.now())
                expected_sql = FLOOR_EXPECTED.format(first_day=first_day)
                names = {"attendance": attendance, "person": person, "people": people, "expected": expected_sql}
                cursor.execute(FLOOR_UPDATE.format(**names), [check_out, now, date, check_out, date, date])
                counts[label] = {"created": 0, "filled": cursor.rowcount}
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "statements": len(queries), "sql": statements(queries), "counts": counts}


def run_closed(day: datetime.date, args: argparse.Namespace) -> dict[str, Any]:
    """Push `day` once after closing it for every target (a Closure, made before the timing).

    The push runs in a fresh process like every other contender, its calendar included: a day a closure
    closes needs no public holidays. Then the calendar's first use for an open day (importing `holidays`,
    computing the year) is timed on its own: paid once per process, whatever the number of people.
    """
    from attendance_push.conf import conf
    from attendance_push.models import Closure
    from attendance_push.text import closed_days

    Closure.objects.create(name="Benchmark closure", first_day=day, last_day=day)
    pushed = push_day(day)
    open_day = day + datetime.timedelta(days=1)
    start = time.perf_counter()
    closed_days(conf.TARGETS, open_day, open_day)
    calendar_seconds = time.perf_counter() - start
    return {**pushed, "calendar_seconds": calendar_seconds, "digest": digest(day)}


def run_closed_off(day: datetime.date, args: argparse.Namespace) -> dict[str, Any]:
    """Push `day` once with its weekday made the weekly off, the demo's public holidays kept.

    A weekly off needs the public holidays (a holiday's name wins over the weekday's), so this push pays the
    calendar's first use in a process (importing `holidays`, computing the year) inside its time, as the
    evening's push of a Saturday in a fresh `push_attendance` process does.
    """
    from django.conf import settings
    from django.test.utils import override_settings

    weekday = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[day.weekday()]
    with override_settings(ATTENDANCE_PUSH={**settings.ATTENDANCE_PUSH, "WEEKLY_OFF": [weekday]}):
        return {**push_day(day), "digest": digest(day)}


def run_fill(day: datetime.date, args: argparse.Namespace) -> dict[str, Any]:
    """Run the hand-written fill alone on `day` once; describe the records it leaves."""
    return {**fill_day(day), "digest": digest(day)}


def run_push(day: datetime.date, args: argparse.Namespace) -> dict[str, Any]:
    """Push `day` once; describe the records it leaves."""
    return {**push_day(day), "digest": digest(day)}


def run_floor(day: datetime.date, args: argparse.Namespace) -> dict[str, Any]:
    """Run the floor on `day` once; describe the records it leaves."""
    return {**floor_day(day), "digest": digest(day)}


def run_loop(day: datetime.date, args: argparse.Namespace) -> dict[str, Any]:
    """Time the per-person ORM loop (get_or_create, then save() of the check-out) on the first active people."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils.module_loading import import_string

    from attendance_push.conf import conf

    actor = get_user_model().objects.filter(is_active=True, is_superuser=True).order_by("pk").first()
    check_in, check_out = conf.CHECK_IN, conf.CHECK_OUT
    executed = 0

    def count(execute, sql, params, many, context):
        nonlocal executed
        executed += 1
        return execute(sql, params, many, context)

    per_target = {}
    connection.ensure_connection()
    for target, size in zip(conf.TARGETS, args.sample, strict=True):
        model, person_field = target.model, target.person_field
        created = filled = 0
        executed = 0
        # autocommit: what the loop does as written, one commit per write; atomic: the whole loop in one transaction.
        block = transaction.atomic() if args.loop_mode == "atomic" else contextlib.nullcontext()
        with connection.execute_wrapper(count):
            start = time.perf_counter()
            with block:
                # The people expected on the day; the loop ignores the rules (a correct one would be slower).
                expected_people = import_string(target.people_on_day)(day)
                people = target.person_model._default_manager.filter(expected_people).order_by("pk")[:size]
                for person in people:
                    record, was_created = model._default_manager.get_or_create(
                        **{person_field: person, target.date_field: day},
                        defaults={
                            target.status_field: conf.STATUS,
                            target.check_in_field: check_in,
                            target.check_out_field: check_out,
                            target.created_by_field: actor,
                        },
                    )
                    if was_created:
                        created += 1
                    elif record.time_in is not None and record.time_out is None and record.time_in <= check_out:
                        record.time_out = check_out
                        record.save()
                        filled += 1
            seconds = time.perf_counter() - start
        per_target[target.label] = {
            "people": size,
            "seconds": seconds,
            "statements": executed,
            "created": created,
            "filled": filled,
        }
    return {"targets": per_target}


def run_range(day: datetime.date, args: argparse.Namespace) -> dict[str, Any]:
    """Push (or run the floor on) each day read from stdin, one per line; answer each with a DAY_MARK line."""
    from django.conf import settings
    from django.test.utils import override_settings

    from school.models import EmployeeAttendance, StudentAttendance

    one_day = floor_day if args.floor else push_day
    last = None
    # The range measures working days, as the floor (which knows no calendar) does: the demo's Saturdays
    # and holidays would otherwise be days the push leaves empty and the floor fills.
    every_day_open = override_settings(ATTENDANCE_PUSH={**settings.ATTENDANCE_PUSH, "WEEKLY_OFF": [], "HOLIDAYS": None})
    every_day_open.enable()
    for line in sys.stdin:
        last = datetime.date.fromisoformat(line.strip())
        records = StudentAttendance.objects.count() + EmployeeAttendance.objects.count()
        emit(DAY_MARK + json.dumps({"day": last.isoformat(), "records_before": records, **one_day(last)}))
    return {"digest_last": digest(last) if last else {}}


def run_admin(day: datetime.date, args: argparse.Namespace) -> dict[str, Any]:
    """Render the PushRun admin changelist with 100, then 10,000 runs in the history; time it and count queries."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings
    from django.urls import reverse

    from attendance_push.models import PushRun

    # DEBUG is off, so the project's static storage wants a collectstatic manifest; serve from the apps instead.
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # WhiteNoise warns that STATIC_ROOT does not exist: nothing was collected, and nothing needs to be.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    user = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
    url = reverse("admin:attendance_push_pushrun_changelist")
    out: dict[str, Any] = {}
    with override_settings(STORAGES=storages):
        client = Client()
        client.force_login(user)
        for total in (ADMIN_RUNS_SMALL, ADMIN_RUNS):
            PushRun.objects.bulk_create(
                (_push_run(n, day, user, PushRun) for n in range(PushRun.objects.count(), total)), batch_size=500
            )
            # secure: production settings redirect plain HTTP to HTTPS.
            client.get(url, secure=True)  # templates compiled, caches warm
            times = []
            for _ in range(ADMIN_RENDERS):
                with CaptureQueriesContext(connection) as queries:
                    start = time.perf_counter()
                    response = client.get(url, secure=True)
                    times.append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise SystemExit(f"the changelist answered {response.status_code}")
            out[str(total)] = {
                "seconds": statistics.median(times),
                "statements": len(queries),
                "bytes": len(response.content),
                "shows_total": f"{total} push runs" in response.content.decode(),
            }
    return out


def _push_run(n: int, day: datetime.date, user, model) -> Any:
    """Return the n-th PushRun of a plausible history: mostly daily schedules, some commands and failures."""
    from django.utils import timezone

    trigger = ("schedule", "schedule", "schedule", "command", "admin", "catch-up")[n % 6]
    failed = n % 17 == 0
    started = timezone.now() - datetime.timedelta(days=n // 3, minutes=n % 60)
    return model(
        date=day - datetime.timedelta(days=n // 3),
        status="failed" if failed else "succeeded",
        trigger=trigger,
        requested_by=user if trigger in ("command", "admin") else None,
        started_at=started,
        finished_at=started + datetime.timedelta(seconds=3 + n % 7),
        created=0 if failed else 760_000 + n % 1000,
        filled=0 if failed else 95_000,
        skipped=0 if failed else 10_000,
        counts={} if failed else {"school.StudentAttendance": {"created": 684_000, "filled": 85_500, "skipped": 9_000}},
        error="OperationalError: could not serialize access" if failed else "",
        traceback="Traceback (most recent call last):\n  ...\n" if failed else "",
    )


def _ledger_push(day: datetime.date) -> tuple[Any, dict[str, Any]]:
    """Push `day` as a PushRun with its ledger; return the run and the timing of the push alone."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from attendance_push.models import PushRun
    from attendance_push.push import push

    run = PushRun.objects.create(date=day, trigger=PushRun.Trigger.COMMAND)
    run.mark_running()
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        result = push(day, run_id=run.pk)
        seconds = time.perf_counter() - start
    run.mark_succeeded(result)
    timing = {"seconds": seconds, "statements": len(queries), "sql": statements(queries), "counts": result.counts()}
    return run, timing


def after_push(run) -> None:
    """Do what run_push does after a push commits: refresh the statistics of what it wrote when it wrote many rows.

    No ANALYZE by hand: an undo (and its dry run, the confirmation page) meets what a user's would.
    """
    from attendance_push.runs import refresh_run_statistics

    run.refresh_from_db()
    refresh_run_statistics(run)


def ledger_size_mb() -> float | None:
    """Return the ledger table's size with its indexes in MB, or None when the database cannot say."""
    from django.db import DatabaseError, connection

    from attendance_push.models import PushedRecord

    table = PushedRecord._meta.db_table
    with connection.cursor() as cursor:
        try:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            else:
                cursor.execute(
                    "SELECT SUM(pgsize) FROM dbstat WHERE name = %s OR name IN "
                    "(SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = %s)",
                    [table, table],
                )
            size = cursor.fetchone()[0]
        except DatabaseError:
            return None
    return size / 2**20 if size is not None else None


def run_push_ledger(day: datetime.date, args: argparse.Namespace) -> dict[str, Any]:
    """Push `day` with its ledger once; describe the records it leaves and the ledger's size."""
    from attendance_push.models import PushedRecord

    run, timing = _ledger_push(day)
    return {
        **timing,
        "digest": digest(day),
        "ledger_rows": PushedRecord.objects.filter(run=run).count(),
        "ledger_mb": ledger_size_mb(),
    }


def run_undo(day: datetime.date, args: argparse.Namespace) -> dict[str, Any]:
    """Push `day` with its ledger (not timed), then time `ledger.undo` of that run."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from attendance_push.ledger.undo import undo
    from attendance_push.models import PushRun

    run, pushed = _ledger_push(day)
    after_push(run)
    undo_run = PushRun.objects.create(date=day, trigger=PushRun.Trigger.UNDO, undoes=run)
    undo_run.mark_running()
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        result = undo(run, undo_run=undo_run)
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "statements": len(queries),
        "sql": statements(queries),
        "pushed": pushed["counts"],
        "counts": result.counts(),
        "digest": digest(day),
    }


def run_undo_preview(day: datetime.date, args: argparse.Namespace) -> dict[str, Any]:
    """Push `day` with its ledger as run_push does (not timed), then time the undo's dry run: its confirmation page.

    With --stale, skip the refresh of statistics after the push (what the push did before it had one).
    """
    from django.db import OperationalError, connection

    from attendance_push.ledger.undo import undo

    run, pushed = _ledger_push(day)
    start = time.perf_counter()
    if not args.stale:
        after_push(run)
    refresh_seconds = time.perf_counter() - start
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{args.timeout}s"])
    start = time.perf_counter()
    try:
        counts = undo(run, dry_run=True).counts()
    except OperationalError:
        counts = None  # cancelled by the statement timeout
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "refresh_seconds": refresh_seconds,
        "timed_out": counts is None,
        "pushed": pushed["counts"],
        "counts": counts,
    }


UNDO_FLOOR_DELETE = """
DELETE FROM {attendance} WHERE date = %s AND EXISTS (
    SELECT 1 FROM attendance_push_pushedrecord l
    WHERE l.run_id = %s AND l.target = %s AND l.action = 'created' AND l.day = {attendance}.date
      AND l.person = CAST({attendance}.{person} AS varchar))
"""
UNDO_FLOOR_UPDATE = """
UPDATE {attendance} SET time_out = NULL WHERE date = %s AND time_out = %s AND EXISTS (
    SELECT 1 FROM attendance_push_pushedrecord l
    WHERE l.run_id = %s AND l.target = %s AND l.action = 'filled' AND l.day = {attendance}.date
      AND l.person = CAST({attendance}.{person} AS varchar))
"""


def run_undo_floor(day: datetime.date, args: argparse.Namespace) -> dict[str, Any]:
    """Push `day` with its ledger (not timed), then time the hand-written undo: a DELETE … WHERE EXISTS and an
    UPDATE per table, in one transaction."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from attendance_push.conf import conf

    run, pushed = _ledger_push(day)
    after_push(run)
    ops = connection.ops
    date = ops.adapt_datefield_value(day)
    check_out = ops.adapt_timefield_value(conf.CHECK_OUT)
    counts = {}
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            for label, attendance, person, *_rest in FLOOR_TABLES:
                names = {"attendance": attendance, "person": person}
                cursor.execute(UNDO_FLOOR_DELETE.format(**names), [date, run.pk, label])
                deleted = cursor.rowcount
                cursor.execute(UNDO_FLOOR_UPDATE.format(**names), [date, check_out, run.pk, label])
                counts[label] = {"deleted": deleted, "cleared": cursor.rowcount, "kept": 0}
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "statements": len(queries),
        "sql": statements(queries),
        "pushed": pushed["counts"],
        "counts": counts,
        "digest": digest(day),
    }


CONTENDERS: dict[str, Callable[[datetime.date, argparse.Namespace], dict[str, Any]]] = {
    "push_ledger": run_push_ledger,
    "undo": run_undo,
    "undo_floor": run_undo_floor,
    "undo_preview": run_undo_preview,
    "push": run_push,
    "floor": run_floor,
    "closed": run_closed,
    "closed_off": run_closed_off,
    "fill": run_fill,
    "loop": run_loop,
    "range": run_range,
    "admin": run_admin,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("contender", choices=sorted(CONTENDERS))
    parser.add_argument("--day", type=datetime.date.fromisoformat, required=True)
    parser.add_argument("--floor", action="store_true", help="range: run the floor each day instead of the push")
    parser.add_argument("--sample", type=int, nargs=2, default=[1800, 200], metavar=("STUDENTS", "EMPLOYEES"))
    parser.add_argument("--loop-mode", choices=["autocommit", "atomic"], default="autocommit")
    parser.add_argument("--stale", action="store_true", help="undo_preview: no refresh of statistics after the push")
    parser.add_argument("--timeout", type=int, default=600, help="undo_preview: the dry run's statement timeout (s)")
    args = parser.parse_args()
    setup_django()
    result = CONTENDERS[args.contender](args.day, args)
    result["peak_rss_mb"] = peak_rss_mb()
    emit(RESULT_MARK + json.dumps(result))


if __name__ == "__main__":
    main()
