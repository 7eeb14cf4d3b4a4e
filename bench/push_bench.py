"""Benchmark the attendance push against the SQL floor and the per-person ORM loop (issue 5).

    python bench/push_bench.py --people 1000000 --db sqlite|postgres [--check] [--range-days 31]

Builds the people once, with set-based SQL, into a migrated template database, then runs every contender in a fresh
Python process (bench_worker.py) on a fresh copy of that template: our push, the hand-written SQL floor, and the
per-person ORM loop on a sample (scaled linearly). It also pushes 1,000 people to compare the number of statements,
renders the PushRun admin changelist with 10,000 runs, and checks that push and floor leave the same records.
With --range-days N it pushes N days one after the other instead, to show the time per day stays flat.
Every database and file it creates is removed at the end. docs/performance.md explains the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import secrets
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench_data import expected, fill_postgres, fill_sqlite, tables

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "bench_worker.py"
RESULT_MARK = "BENCH-RESULT "
DAY_MARK = "BENCH-DAY "
DB_PREFIX = "attendance_bench"
# The day pushed by default: a recent working Monday (see default_day), so that it stays within MAX_PAST_DAYS.
DEFAULT_WEEKS_BACK = 6
SMALL_PEOPLE = 1_000
ADMIN_RUNS_SMALL, ADMIN_RUNS = 100, 10_000  # as in bench_worker.run_admin

TARGET_FLOOR_RATIO = 1.2
# A day closed for every target: the push fills check-outs only, at no more than this times the hand-written fill
# (the calendar's first use in a process, a fixed cost whatever the number of people, is reported on its own).
TARGET_CLOSED_RATIO = 1.2
TARGET_LOOP_SPEEDUP = 100
TARGET_RSS_MB = 150
# Over a range, the push's time per day may grow at most this much more than the floor's.
TARGET_FLAT_RATIO = 1.25
FLAT_WINDOW = 5
# The ledger (issue 11): the push with its ledger against the floor, the undo against a hand-written undo.
TARGET_LEDGER_RATIO = 2.0
TARGET_UNDO_RATIO = 2.0


def default_day(today: datetime.date | None = None) -> datetime.date:
    """Return the Monday at least DEFAULT_WEEKS_BACK weeks before `today` that is no public holiday in Nepal.

    A push may not go further back than MAX_PAST_DAYS (366 by default), so a fixed date would stop working; a
    31-day range ending on this day stays well inside it. The demo's calendar (Saturday off, Nepal's holidays)
    leaves a Monday that is no holiday open, so the push and the floor do the same work.
    """
    import holidays

    today = today or datetime.date.today()
    day = today - datetime.timedelta(weeks=DEFAULT_WEEKS_BACK, days=today.weekday())
    public = holidays.country_holidays("NP", years=[day.year - 1, day.year])
    while day in public:
        day -= datetime.timedelta(weeks=1)
    return day


class BenchError(Exception):
    """Something went wrong around the contenders (a build, a worker); the benchmark cannot report."""


def emit(line: str = "") -> None:
    """Print one line of the benchmark's output at once."""
    print(line, flush=True)  # noqa: T201 (a benchmark's output is its purpose)


def emit_report(store: SqliteStore | PostgresStore, pg_url: str, table_rows: list) -> None:
    """Print the machine's description and the results table, each set off by blank lines."""
    emit()
    for line in machine(store, pg_url):
        emit(line)
    emit()
    for line in table(table_rows):
        emit(line)
    emit()


def run(command: list[str], env: dict[str, str]) -> None:
    # Our own interpreter and manage.py with fixed arguments; nothing comes from outside.
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode:
        raise BenchError(f"{shlex.join(command[1:])} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def django_env(url: str, *, debug: bool = False) -> dict[str, str]:
    """Return the environment of a Django process of the project on the database at `url`."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": url,
        "ENV_FILE": os.devnull,  # a developer's .env must not change what is measured
        "ALLOWED_HOSTS": "testserver",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        "DEBUG": "1" if debug else "0",
    }
    if not debug:
        # Production-like: no query log, no debug templates. The key signs nothing that outlives the run.
        env["SECRET_KEY"] = secrets.token_urlsafe(32)
    return env


# --- the databases ------------------------------------------------------------------------------------------


class SqliteStore:
    """SQLite databases as files in a private temporary directory; a copy is a file copy."""

    vendor = "sqlite"

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix=f"{DB_PREFIX}_"))
        self.serial = 0

    def name(self, label: str) -> str:
        self.serial += 1
        return f"{self.serial:02d}_{label}.sqlite3"

    def url(self, name: str) -> str:
        return f"sqlite:///{self.directory / name}"

    def create(self, label: str) -> str:
        return self.name(label)  # migrate creates the file

    def fill(self, name: str, people: int, days: list[datetime.date]) -> None:
        connection = sqlite3.connect(self.directory / name, isolation_level=None)
        try:
            fill_sqlite(connection, people, days)
        finally:
            connection.close()

    def copy(self, source: str, label: str) -> str:
        name = self.name(label)
        shutil.copyfile(self.directory / source, self.directory / name)
        # The copy's dirty pages would otherwise be written back while the next contender is timed.
        os.sync()
        return name

    def drop(self, name: str) -> None:
        for path in (self.directory / name, self.directory / f"{name}-journal"):
            path.unlink(missing_ok=True)

    def size_mb(self, name: str) -> float:
        return (self.directory / name).stat().st_size / 2**20

    def describe(self) -> str:
        return f"SQLite {sqlite3.sqlite_version} (file in {tempfile.gettempdir()}, journal_mode=delete)"

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class PostgresStore:
    """PostgreSQL databases named attendance_bench_<pid>_…; a copy is CREATE DATABASE … TEMPLATE …."""

    vendor = "postgres"

    def __init__(self, url: str) -> None:
        import psycopg2
        import psycopg2.errors
        from psycopg2 import sql

        self.sql = sql
        self.psycopg2 = psycopg2
        parts = urlsplit(url)
        self.netloc = parts.netloc
        self.params = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
            "user": parts.username or "postgres",
            "password": parts.password or "",
        }
        self.prefix = f"{DB_PREFIX}_{os.getpid()}_"
        self.created: list[str] = []
        self.serial = 0
        self.admin = self.connect(parts.path.lstrip("/") or "postgres")
        self.admin.autocommit = True
        self.server_version = self.scalar("SHOW server_version")
        self.file_copy = int(self.scalar("SHOW server_version_num")) >= 150000
        self.can_checkpoint = True

    def connect(self, dbname: str):
        return self.psycopg2.connect(dbname=dbname, **self.params)

    def scalar(self, query: str) -> str:
        with self.admin.cursor() as cursor:
            cursor.execute(query)
            return cursor.fetchone()[0]

    def url(self, name: str) -> str:
        return f"postgres://{self.netloc}/{name}"

    def execute(self, query, *identifiers: str) -> None:
        with self.admin.cursor() as cursor:
            cursor.execute(self.sql.SQL(query).format(*map(self.sql.Identifier, identifiers)))

    def create(self, label: str, template: str | None = None) -> str:
        self.serial += 1
        name = f"{self.prefix}{self.serial:02d}_{label}"
        self.created.append(name)
        if template is None:
            self.execute("CREATE DATABASE {}", name)
        else:
            # FILE_COPY (PostgreSQL 15+) copies the files instead of writing the whole database to the WAL.
            strategy = " STRATEGY FILE_COPY" if self.file_copy else ""
            self.execute("CREATE DATABASE {} TEMPLATE {}" + strategy, name, template)
        return name

    def fill(self, name: str, people: int, days: list[datetime.date]) -> None:
        connection = self.connect(name)
        try:
            fill_postgres(connection, people, days)
            connection.autocommit = True
            with connection.cursor() as cursor:
                # A maintained database: statistics for the planner, hint bits set, visibility map complete.
                cursor.execute("VACUUM (FREEZE, ANALYZE)")
        finally:
            connection.close()

    def copy(self, source: str, label: str) -> str:
        name = self.create(label, template=source)
        if self.can_checkpoint:
            # Flush what the copy left dirty now rather than during the next contender's timing.
            try:
                self.execute("CHECKPOINT")
            except self.psycopg2.errors.InsufficientPrivilege:
                self.can_checkpoint = False
                emit("warning: this user may not CHECKPOINT; copies are not flushed before a contender starts")
        return name

    def drop(self, name: str) -> None:
        self.execute("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)
        if name in self.created:
            self.created.remove(name)

    def size_mb(self, name: str) -> float:
        with self.admin.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(%s)", [name])
            return cursor.fetchone()[0] / 2**20

    def describe(self) -> str:
        settings = ", ".join(
            f"{name}={self.scalar(f'SHOW {name}')}"
            for name in ("shared_buffers", "work_mem", "synchronous_commit", "max_wal_size")
        )
        return f"PostgreSQL {self.server_version} on {self.params['host']}:{self.params['port']} ({settings})"

    def cleanup(self) -> None:
        try:
            for name in reversed(self.created[:]):
                try:
                    self.drop(name)
                except self.psycopg2.Error as exc:
                    emit(f"warning: could not drop database {name}: {exc}".strip())
        finally:
            self.admin.close()


# --- running the contenders -----------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, store: SqliteStore | PostgresStore) -> None:
        self.args = args
        self.store = store
        self.day: datetime.date = args.day
        self.empty: str | None = None

    def migrated_empty(self) -> str:
        """Return a migrated database with a superuser and no people, the source of every template."""
        if self.empty is None:
            name = self.store.create("empty")
            env = django_env(self.store.url(name), debug=True)
            run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env)
            # As the README deploys it: the database cache holds django-q2's cluster stats the admin reads.
            run([sys.executable, "manage.py", "createcachetable"], env)
            env["DJANGO_SUPERUSER_PASSWORD"] = secrets.token_urlsafe(16)
            command = ["createsuperuser", "--noinput", "--username", "bench", "--email", "bench@example.invalid"]
            run([sys.executable, "manage.py", *command], env)
            self.empty = name
        return self.empty

    def template(self, label: str, people: int, days: list[datetime.date]) -> str:
        """Return a template database holding `people` and the seeded records of `days`."""
        if isinstance(self.store, SqliteStore):
            name = self.store.copy(self.migrated_empty(), label)
        else:
            name = self.store.create(label, template=self.migrated_empty())
        self.store.fill(name, people, days)
        return name

    def worker(self, contender: str, template: str, *extra: str) -> dict[str, Any]:
        """Run `contender` in a fresh process on a fresh copy of `template`; return its result."""
        with Worker(self, contender, template, *extra) as worker:
            return worker.finish()


class Worker:
    """A contender's process on its own fresh copy of a template; the copy is dropped when it is done."""

    def __init__(self, bench: Bench, contender: str, template: str, *extra: str, interactive: bool = False) -> None:
        self.bench, self.contender, self.template = bench, contender, template
        self.command = [sys.executable, str(WORKER), contender, "--day", bench.day.isoformat(), *extra]
        self.interactive = interactive
        self.name: str | None = None
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Worker:
        store = self.bench.store
        self.name = store.copy(self.template, self.contender)
        # Our own worker script with arguments we built; nothing comes from outside.
        self.process = subprocess.Popen(  # noqa: S603
            self.command,
            cwd=ROOT,
            env=django_env(store.url(self.name)),
            stdin=subprocess.PIPE if self.interactive else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        return self

    def read(self, mark: str) -> dict[str, Any]:
        """Relay the worker's lines until one starts with `mark`; return what follows it."""
        for line in self.process.stdout:
            if line.startswith(mark):
                return json.loads(line.removeprefix(mark))
            emit(line.rstrip("\n"))
        code = self.process.wait()
        raise BenchError(f"the {self.contender} worker stopped (exit {code}); its error is above")

    def ask(self, line: str, mark: str) -> dict[str, Any]:
        """Send one line to an interactive worker and return its answer."""
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.read(mark)

    def finish(self) -> dict[str, Any]:
        if self.interactive:
            self.process.stdin.close()
        result = self.read(RESULT_MARK)
        code = self.process.wait()
        if code:
            raise BenchError(f"the {self.contender} worker failed (exit {code}); its error is above")
        return result

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        finally:
            if self.name is not None:
                self.bench.store.drop(self.name)


def sample_sizes(people: int, sample: int) -> list[int]:
    """Split a sample of `sample` people like the people (90/10), capped at the active people of each table."""
    students = round(sample * 0.9)
    wanted = (students, sample - students)
    return [min(size, table.expected()["active"]) for size, table in zip(wanted, tables(people), strict=True)]


def scale_loop(loop: dict[str, Any], people: int) -> dict[str, float]:
    """Scale a loop measured on a sample to all active people, linearly, per table."""
    seconds = statements = sampled = 0.0
    for table in tables(people):
        measured = loop["targets"][table.label]
        factor = table.expected()["active"] / measured["people"] if measured["people"] else 0
        seconds += measured["seconds"] * factor
        statements += measured["statements"] * factor
        sampled += measured["people"]
    return {"seconds": seconds, "statements": statements, "sampled": sampled}


def rows_written(people: int) -> int:
    counts = expected(people).values()
    return sum(count["created"] + count["filled"] for count in counts)


# --- output ---------------------------------------------------------------------------------------------------

HEADER = ("contender", "people", "seconds", "rows/s", "peak RSS MB", "statements", "ratio to floor", "ratio to loop")


def table(rows: list[tuple[str, ...]]) -> list[str]:
    """Return `rows` as a Markdown table (the contender left-aligned, the figures right-aligned)."""
    widths = [max(len(row[i]) for row in (HEADER, *rows)) for i in range(len(HEADER))]

    def line(cells: tuple[str, ...]) -> str:
        padded = [
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i else (":" + "-" * (w + 1)) for i, w in enumerate(widths)) + "|"
    return [line(HEADER), rule, *(line(row) for row in rows)]


def ratio(value: float, reference: float) -> str:
    """Return value / reference, written 1/n when the value is far below the reference."""
    if not reference:
        return "—"
    quotient = value / reference
    if quotient < 0.1:
        return f"1/{1 / quotient:,.0f}"
    return f"{quotient:,.2f}" if quotient < 100 else f"{quotient:,.0f}"


def seconds_text(seconds: float) -> str:
    return f"{seconds:,.3f}" if seconds < 100 else f"{seconds:,.0f}"


def machine(store: SqliteStore | PostgresStore, pg_url: str) -> list[str]:
    cpu = ram = "?"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        kib = next(
            int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line
        )
        ram = f"{kib / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        pass
    postgres = store.server_version if isinstance(store, PostgresStore) else postgres_version(pg_url)
    return [
        f"machine:  {os.cpu_count()} cores ({cpu}), {ram} RAM, {platform.platform()}",
        f"software: Python {platform.python_version()}, Django {version('Django')}, SQLite {sqlite3.sqlite_version}, "
        f"PostgreSQL {postgres}, psycopg2 {version('psycopg2-binary')}",
        f"database: {store.describe()}",
        "load:     average {:.2f} {:.2f} {:.2f} (1, 5, 15 min) at the end of the run".format(*os.getloadavg()),
        f"code:     {code_version()}",
        f"command:  {command_line()}",
    ]


def code_version() -> str:
    """Return the commit measured, and whether the push's code differed from it (others edit it meanwhile)."""
    git = shutil.which("git")
    if git is None:
        return "unknown (no git)"

    def ask(*args: str) -> str:
        # Read-only, fixed arguments; --no-optional-locks: never write the index while someone commits.
        command = [git, "--no-optional-locks", *args]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
        return done.stdout.strip() if done.returncode == 0 else ""

    head = ask("rev-parse", "--short", "HEAD") or "unknown"
    changed = ask("status", "--porcelain", "--", "attendance_push", "config", "school")
    return f"git {head}" + (", with uncommitted changes in attendance_push/, config/ or school/" if changed else "")


def postgres_version(url: str) -> str:
    try:
        import psycopg2

        parts = urlsplit(url)
        connection = psycopg2.connect(
            host=parts.hostname,
            port=parts.port or 5432,
            user=parts.username,
            password=parts.password or "",
            dbname=parts.path.lstrip("/") or "postgres",
            connect_timeout=3,
        )
    except Exception:  # only informative: the SQLite run does not need the server
        return "not reachable"
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    finally:
        connection.close()


def command_line() -> str:
    python = Path(sys.executable)
    shown = str(python.relative_to(ROOT)) if python.is_relative_to(ROOT) else python.name
    return shlex.join([shown, *sys.argv])


# --- the two modes --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class DayRuns:
    """What the contenders measured on one day."""

    # "push" and "floor", then "closed" (a push of the day closed by a Closure) and "fill" (the floor's
    # UPDATE of the check-outs alone), in the order they ran.
    runs: dict[str, list[dict[str, Any]]]
    loop_runs: dict[str, list[dict[str, float]]]  # "autocommit" and "atomic", scaled to every person
    sizes: list[int]  # the students and employees the ORM loop was timed on
    small_push: dict[str, Any]
    admin: dict[str, Any]

    @property
    def pushes(self) -> list[dict[str, Any]]:
        return self.runs["push"]

    @property
    def floors(self) -> list[dict[str, Any]]:
        return self.runs["floor"]

    @property
    def loops(self) -> dict[str, dict[str, float]]:
        """Return the run of median time of each ORM loop, which stands for it."""
        return {
            mode: sorted(results, key=lambda run: run["seconds"])[len(results) // 2]
            for mode, results in self.loop_runs.items()
        }

    @property
    def push_s(self) -> float:
        return statistics.median(run["seconds"] for run in self.pushes)

    @property
    def floor_s(self) -> float:
        return statistics.median(run["seconds"] for run in self.floors)

    @property
    def closed_s(self) -> float:
        return statistics.median(run["seconds"] for run in self.runs["closed"])

    @property
    def closed_off_s(self) -> float:
        return statistics.median(run["seconds"] for run in self.runs["closed_off"])

    @property
    def calendar_s(self) -> float:
        return statistics.median(run["calendar_seconds"] for run in self.runs["closed"])

    @property
    def fill_s(self) -> float:
        return statistics.median(run["seconds"] for run in self.runs["fill"])

    @property
    def push_statements(self) -> list[int]:
        return sorted({run["statements"] for run in self.pushes})


def bench_day(bench: Bench) -> list[str]:
    """Run the contenders on one day; print the table; return the missed targets and failed checks."""
    measured = run_day(bench)
    emit_report(bench.store, bench.args.pg_url, day_table_rows(measured, bench.args.people))
    explain_day(bench, measured)
    problems = correctness(bench.args.people, measured.pushes, measured.floors, measured.small_push, measured.admin)
    problems += closed_correctness(measured.runs["closed"], measured.runs["closed_off"], measured.runs["fill"])
    emit()
    emit("correctness: " + ("OK: " + CORRECT if not problems else "FAILED"))
    for problem in problems:
        emit(f"  - {problem}")
    targets = day_targets(measured, bench.args.people)
    report_targets(targets)
    show_day_statements(measured, show_sql=bench.args.show_sql)
    return problems + [text for met, text in targets if not met]


def run_day(bench: Bench) -> DayRuns:
    """Build the day's data and run every contender on it, printing progress."""
    args, store, people = bench.args, bench.store, bench.args.people
    emit(f"· building {people:,} people into a migrated template ({store.vendor}) …")
    big = bench.template("people", people, [bench.day])
    small = bench.template("small", SMALL_PEOPLE, [bench.day])
    emit(f"  template: {store.size_mb(big):,.0f} MB")

    runs: dict[str, list[dict[str, Any]]] = {"push": [], "floor": []}
    for index in range(args.repeat):
        # Interleaved in ABBA order, so a drift of the machine, or going first, weighs on both alike.
        for name in ("push", "floor") if index % 2 == 0 else ("floor", "push"):
            emit(f"· {name} {len(runs[name]) + 1}/{args.repeat} …")
            runs[name].append(bench.worker(name, big))
            emit(f"  {runs[name][-1]['seconds']:.3f} s")
    runs.update(run_closed_days(bench, big))
    sizes = sample_sizes(people, args.sample)
    loop_runs: dict[str, list[dict[str, float]]] = {"autocommit": [], "atomic": []}
    for index in range(args.loop_repeat):
        for mode in loop_runs:
            emit(f"· ORM loop ({mode}) {index + 1}/{args.loop_repeat} on {sum(sizes):,} people …")
            result = bench.worker("loop", big, "--sample", *map(str, sizes), "--loop-mode", mode)
            loop_runs[mode].append({**scale_loop(result, people), "peak_rss_mb": result["peak_rss_mb"]})
            emit(f"  {loop_runs[mode][-1]['seconds']:,.1f} s scaled")
    emit(f"· push at {SMALL_PEOPLE:,} people …")
    small_push = bench.worker("push", small)
    emit(f"· admin changelist with {10_000:,} runs …")
    admin = bench.worker("admin", small)
    return DayRuns(runs=runs, loop_runs=loop_runs, sizes=sizes, small_push=small_push, admin=admin)


def bench_closed(bench: Bench) -> list[str]:
    """Run only the closed-day contenders (closure, weekly off) and the fill alone; print their table."""
    args, store, people = bench.args, bench.store, bench.args.people
    emit(f"· building {people:,} people into a migrated template ({store.vendor}) …")
    big = bench.template("people", people, [bench.day])
    runs = run_closed_days(bench, big)
    fill_s = statistics.median(run["seconds"] for run in runs["fill"])
    rows = []
    for name, title in (
        ("closed", "closed day: push(day) of a day closed by a Closure"),
        ("closed_off", "closed day: push(day) of a weekly off (holidays computed)"),
        ("fill", "fill alone: hand-written UPDATEs, 1 transaction"),
    ):
        seconds = statistics.median(run["seconds"] for run in runs[name])
        written = filled_rows(runs[name])
        rows.append(
            (
                title,
                f"{people:,}",
                seconds_text(seconds),
                f"{written / seconds:,.0f}",
                f"{max(run['peak_rss_mb'] for run in runs[name]):.1f}",
                str(runs[name][0]["statements"]),
                ratio(seconds, fill_s),
                "—",
            )
        )
    calendar_s = statistics.median(run["calendar_seconds"] for run in runs["closed"])
    rows.insert(2, ("calendar: first use in a process (import, year)", "—", seconds_text(calendar_s), "—", "—", "2",
                    "—", "—"))  # fmt: skip
    emit_report(store, args.pg_url, rows)
    emit("ratio to floor: here the ratio to the fill alone. " + " ".join(
        f"{name}: " + " ".join(f"{run['seconds']:.3f}" for run in results) + " s;" for name, results in runs.items()
    ))  # fmt: skip
    problems = closed_correctness(runs["closed"], runs["closed_off"], runs["fill"])
    emit()
    emit("correctness: " + ("OK: no record created on a closed day, the same records as the fill alone"
                            if not problems else "FAILED"))  # fmt: skip
    for problem in problems:
        emit(f"  - {problem}")
    closed_s = statistics.median(run["seconds"] for run in runs["closed"])
    closed_off_s = statistics.median(run["seconds"] for run in runs["closed_off"])
    targets = [
        (closed_s / fill_s <= TARGET_CLOSED_RATIO,
         f"a closed day within {TARGET_CLOSED_RATIO}x of the fill alone: {closed_s / fill_s:.2f}x"),
        (closed_off_s / fill_s <= TARGET_CLOSED_RATIO,
         f"a weekly off, the calendar's first use included, within {TARGET_CLOSED_RATIO}x of the fill alone: "
         f"{closed_off_s / fill_s:.2f}x"),
    ]  # fmt: skip
    report_targets(targets)
    if args.show_sql:
        for name, results in runs.items():
            index, median_run = sorted(enumerate(results, start=1), key=lambda item: item[1]["seconds"])[
                len(results) // 2
            ]
            emit()
            emit(f"statements of the {name}, run {index} (the median): seconds, SQL")
            for statement in median_run["sql"]:
                emit(f"  {statement}")
    return problems + [text for met, text in targets if not met]


def run_closed_days(bench: Bench, template: str) -> dict[str, list[dict[str, Any]]]:
    """Run the closed-day contenders and the fill alone `--repeat` times each, interleaved."""
    runs: dict[str, list[dict[str, Any]]] = {"closed": [], "closed_off": [], "fill": []}
    for index in range(bench.args.repeat):
        for name in ("closed", "closed_off", "fill") if index % 2 == 0 else ("fill", "closed_off", "closed"):
            emit(f"· {name} day {len(runs[name]) + 1}/{bench.args.repeat} …")
            runs[name].append(bench.worker(name, template))
            emit(f"  {runs[name][-1]['seconds']:.3f} s")
    return runs


def day_table_rows(measured: DayRuns, people: int) -> list[tuple[str, ...]]:
    """Return the results table's rows of the one-day benchmark."""
    floor_s, loops = measured.floor_s, measured.loops
    loop_s = loops["autocommit"]["seconds"]
    rows = rows_written(people)
    small_push, admin = measured.small_push, measured.admin

    def row(name, n, seconds, rss, statements, written=None, compare=True) -> tuple[str, ...]:
        return (
            name,
            f"{n:,}" if n else "—",
            seconds_text(seconds),
            f"{written / seconds:,.0f}" if written else "—",
            f"{rss:.1f}",
            statements,
            ratio(seconds, floor_s) if compare else "—",
            ratio(seconds, loop_s) if compare else "—",
        )

    return [
        row("push: attendance_push.push.push(day)", people, measured.push_s,
            max(run["peak_rss_mb"] for run in measured.pushes), "/".join(map(str, measured.push_statements)), rows),
        row("floor: hand-written SQL, 1 transaction", people, floor_s,
            max(run["peak_rss_mb"] for run in measured.floors), str(measured.floors[0]["statements"]), rows),
        row("ORM loop, autocommit (scaled)", people, loop_s, loops["autocommit"]["peak_rss_mb"],
            f"≈{loops['autocommit']['statements']:,.0f}", rows),
        row("ORM loop, 1 transaction (scaled)", people, loops["atomic"]["seconds"], loops["atomic"]["peak_rss_mb"],
            f"≈{loops['atomic']['statements']:,.0f}", rows),
        row("closed day: push(day) of a day closed by a Closure", people, measured.closed_s,
            max(run["peak_rss_mb"] for run in measured.runs["closed"]),
            str(measured.runs["closed"][0]["statements"]), filled_rows(measured.runs["closed"])),
        row("closed day: push(day) of a weekly off (holidays computed)", people, measured.closed_off_s,
            max(run["peak_rss_mb"] for run in measured.runs["closed_off"]),
            str(measured.runs["closed_off"][0]["statements"]), filled_rows(measured.runs["closed_off"])),
        row("calendar: first use in a process (import, year)", None, measured.calendar_s,
            max(run["peak_rss_mb"] for run in measured.runs["closed"]), "2", compare=False),
        row("fill alone: hand-written UPDATEs, 1 transaction", people, measured.fill_s,
            max(run["peak_rss_mb"] for run in measured.runs["fill"]),
            str(measured.runs["fill"][0]["statements"]), filled_rows(measured.runs["fill"])),
        row(f"push at {SMALL_PEOPLE:,} people", SMALL_PEOPLE, small_push["seconds"], small_push["peak_rss_mb"],
            str(small_push["statements"]), rows_written(SMALL_PEOPLE), compare=False),
        row(f"admin: PushRun changelist, {ADMIN_RUNS:,} runs", None, admin[str(ADMIN_RUNS)]["seconds"],
            admin["peak_rss_mb"], str(admin[str(ADMIN_RUNS)]["statements"]), compare=False),
    ]  # fmt: skip


def filled_rows(runs: list[dict[str, Any]]) -> int:
    """Return the check-outs the first of `runs` filled (every run starts from the same data)."""
    return sum(counts["filled"] for counts in runs[0]["counts"].values())


def explain_day(bench: Bench, measured: DayRuns) -> None:
    """Print how the one-day figures were obtained: the data, the runs, the scaling of the loop."""
    args, people, loops = bench.args, bench.args.people, measured.loops
    active = sum(count["active"] for count in expected(people).values())
    speedup_atomic = loops["atomic"]["seconds"] / measured.push_s
    students, employees = (table_.size for table_ in tables(people))
    seconds_of = {name: " ".join(f"{run['seconds']:.3f}" for run in results) for name, results in measured.runs.items()}
    seconds_of.update(
        {mode: " ".join(f"{run['seconds']:,.0f}" for run in results) for mode, results in measured.loop_runs.items()}
    )
    sampled = int(loops["autocommit"]["sampled"])
    sizes = measured.sizes
    small_admin = measured.admin[str(ADMIN_RUNS_SMALL)]
    for line in (
        f"people: {students:,} students + {employees:,} employees; {active:,} expected on {bench.day} by their dates "
        "(not yet joined, gone, inactive without a leaving day: not expected); 20% have a record that day, half of "
        "them without check-out (1% of people checked in at 18:30: skipped); 2% of all people (20% of the "
        "employees) are on approved leave, matched by the employees' 'On leave' rule.",
        f"rows: {rows_written(people):,} per push (records created + check-outs filled); rows/s = rows / seconds.",
        f"push, floor: median of {args.repeat} runs each, every run in a fresh process on a fresh copy of the data, "
        f"interleaved (push {seconds_of['push']} s; floor {seconds_of['floor']} s).",
        f"ORM loop: get_or_create + save() per person (rules ignored), timed on the first {sizes[0]:,} expected "
        f"students and {sizes[1]:,} expected employees ({sampled:,} people) and scaled linearly to {active:,} people "
        f"(x{active / sampled:,.0f}); its statements (through the cursor) scaled alike; median of {args.loop_repeat} "
        f"runs (autocommit {seconds_of['autocommit']} s, 1 transaction {seconds_of['atomic']} s). The 1-transaction "
        f"variant runs the same loop inside one atomic(): the push is {speedup_atomic:,.0f}x faster than that one.",
        "ratio to floor / to loop: seconds divided by the floor's / the autocommit loop's seconds.",
        f"closed day: the same day closed for every target by a Closure; the push fills check-outs only (rows = "
        f"check-outs filled), in a fresh process, its calendar included (a day a closure closes needs no public "
        f"holidays); calendar: then, in the same process, the first use of the calendar for an open day (importing "
        f"holidays, computing the year), paid once per process and inside the push's time on a working day; fill "
        f"alone: the floor's UPDATEs without its INSERTs; weekly off: the same day made the weekly off (the public "
        f"holidays still configured, so computed inside the push's time); median of {args.repeat} runs each, "
        f"interleaved (closed {seconds_of['closed']} s; weekly off {seconds_of['closed_off']} s; fill "
        f"{seconds_of['fill']} s).",
        f"admin: median of 5 renders after a warm-up, logged in as a superuser; with {ADMIN_RUNS_SMALL} runs "
        f"{small_admin['seconds']:.3f} s and {small_admin['statements']} statements.",
    ):
        emit(line)


def day_targets(measured: DayRuns, people: int) -> list[tuple[bool, str]]:
    """Return each target of the one-day benchmark with whether it was met."""
    push_s, floor_s = measured.push_s, measured.floor_s
    speedup = measured.loops["autocommit"]["seconds"] / push_s
    push_rss = max(run["peak_rss_mb"] for run in measured.pushes)
    statements_small = measured.small_push["statements"]
    return [
        (
            push_s / floor_s <= TARGET_FLOOR_RATIO,
            f"push within {TARGET_FLOOR_RATIO}x of the floor: {push_s / floor_s:.2f}x",
        ),
        (
            speedup >= TARGET_LOOP_SPEEDUP,
            f"push at least {TARGET_LOOP_SPEEDUP}x faster than the ORM loop (autocommit): {speedup:,.0f}x",
        ),
        (
            measured.closed_s / measured.fill_s <= TARGET_CLOSED_RATIO,
            f"a closed day within {TARGET_CLOSED_RATIO}x of the fill alone: {measured.closed_s / measured.fill_s:.2f}x",
        ),
        (
            measured.closed_off_s / measured.fill_s <= TARGET_CLOSED_RATIO,
            f"a weekly off, the calendar's first use included, within {TARGET_CLOSED_RATIO}x of the fill alone: "
            f"{measured.closed_off_s / measured.fill_s:.2f}x",
        ),
        (push_rss < TARGET_RSS_MB, f"push peak RSS under {TARGET_RSS_MB} MB: {push_rss:.1f} MB"),
        (
            measured.push_statements == [statements_small],
            f"statements of a push the same at {SMALL_PEOPLE:,} and {people:,} people: {statements_small} and "
            f"{'/'.join(map(str, measured.push_statements))}",
        ),
    ]


def show_day_statements(measured: DayRuns, *, show_sql: bool) -> None:
    """Print the statements of the median runs when asked, and those of any push whose count differs."""
    shown = []
    if show_sql:
        for name, results in measured.runs.items():
            # The run of median time, so the statements add up to the time in the table.
            index, median_run = sorted(enumerate(results, start=1), key=lambda item: item[1]["seconds"])[
                len(results) // 2
            ]
            shown.append((f"{name}, run {index} (the median)", median_run))
    statements_small = measured.small_push["statements"]
    if measured.push_statements != [statements_small]:
        # Say which statements differ, not just that they do.
        shown = [(f"push at {SMALL_PEOPLE:,}", measured.small_push)]
        shown += [
            (f"push run {n}", run)
            for n, run in enumerate(measured.pushes, start=1)
            if run["statements"] != statements_small
        ]
    for name, result in shown:
        emit()
        emit(f"statements of the {name}: seconds, SQL")
        for statement in result["sql"]:
            emit(f"  {statement}")


CORRECT = "after the push and after the floor, each table holds one record of the day per person expected on it "
CORRECT += "(by their dates) and none of anyone else; employees on approved leave hold Leave with no times; push and "
CORRECT += "floor leave the same records; the counts, per rule too, are the expected ones."
COUNT_KEYS = ("created", "filled", "skipped")


def by_status(counts: dict[str, Any]) -> dict[str, int]:
    """Return the records a push or the floor created per status ("Present", "Leave")."""
    if "by_status" in counts:
        return dict(counts["by_status"])
    out: dict[str, int] = {}
    for rule in counts.get("rules", []):
        out[rule["status"]] = out.get(rule["status"], 0) + rule["created"]
    return out


def correctness(people: int, pushes, floors, small_push, admin) -> list[str]:
    problems = []
    want = expected(people)
    for name, runs in (("push", pushes), ("floor", floors)):
        for index, result in enumerate(runs, start=1):
            for label, digest in result["digest"].items():
                if digest["records"] != digest["active_people"] or digest["of_unexpected"]:
                    problems.append(
                        f"{name} run {index}, {label}: {digest['records']:,} records of the day for "
                        f"{digest['active_people']:,} expected people ({digest['of_unexpected']} of others)"
                    )
                if digest["leave"] != want[label]["leave"]:
                    problems.append(
                        f"{name} run {index}, {label}: {digest['leave']:,} Leave records, "
                        f"expected {want[label]['leave']:,}"
                    )
            for label, counts in result["counts"].items():
                got = {key: counts[key] for key in want[label] if key in counts}
                if got != {key: want[label][key] for key in got}:
                    problems.append(f"{name} run {index}, {label}: counts {got}, expected {want[label]}")
                statuses = {status: n for status, n in by_status(counts).items() if n}
                wanted = {
                    status: n
                    for status, n in (("Present", want[label]["present"]), ("Leave", want[label]["leave"]))
                    if n
                }
                if statuses != wanted:
                    problems.append(f"{name} run {index}, {label}: created per status {statuses}, expected {wanted}")
    digests = [json.dumps(result["digest"], sort_keys=True) for result in (*pushes, *floors)]
    if len(set(digests)) != 1:
        problems.append("push and floor leave different records: " + " / ".join(sorted(set(digests))))
    small_want = expected(SMALL_PEOPLE)
    for label, counts in small_push["counts"].items():
        if any(counts[key] != small_want[label][key] for key in COUNT_KEYS):
            problems.append(f"push at {SMALL_PEOPLE:,}, {label}: counts {counts}, expected {small_want[label]}")
    for total, render in admin.items():
        if isinstance(render, dict) and not render["shows_total"]:
            problems.append(f"the admin changelist with {total} runs does not say it holds {total} push runs")
    return problems


def closed_correctness(
    closed: list[dict[str, Any]], closed_off: list[dict[str, Any]], fill: list[dict[str, Any]]
) -> list[str]:
    """Return what is wrong with the closed-day pushes: any record created, or records unlike the fill's."""
    problems = []
    for name, runs, reason in (("closed day", closed, "Benchmark closure"), ("weekly off", closed_off, "weekly off")):
        for index, result in enumerate(runs, start=1):
            for label, counts in result["counts"].items():
                if counts["created"] or not str(counts.get("closed", "")).startswith(reason):
                    problems.append(f"{name} run {index}, {label}: counts {counts}, expected 0 created and the reason")
    digests = {json.dumps(result["digest"], sort_keys=True) for result in (*closed, *closed_off, *fill)}
    if len(digests) != 1:
        problems.append(
            "the closed-day push and the fill alone leave different records: " + " / ".join(sorted(digests))
        )
    return problems


def report_targets(targets: list[tuple[bool, str]]) -> None:
    emit("targets:")
    for met, text in targets:
        emit(f"  [{'met' if met else 'MISSED'}] {text}")


def bench_range(bench: Bench) -> list[str]:
    """Push `--range-days` days one by one, the floor alongside; print whether the time per day stays flat."""
    args, people = bench.args, bench.args.people
    days = [bench.day - datetime.timedelta(days=n) for n in reversed(range(args.range_days))]
    results = run_range(bench, days)
    summary = summarise_range(results, days)
    rows = rows_written(people) * len(days)
    table_rows = [
        (
            f"{name}: {len(days)} days, one {name} per day",
            f"{people:,}",
            seconds_text(value["total"]),
            f"{rows / value['total']:,.0f}",
            f"{results[name]['peak_rss_mb']:.1f}",
            "/".join(map(str, value["statements"])) + " per day",
            ratio(value["total"], summary["floor"]["total"]),
            "—",
        )
        for name, value in summary.items()
    ]
    emit_report(bench.store, args.pg_url, table_rows)
    first_records = results["push"]["days"][0]["records_before"]
    last_records = results["push"]["days"][-1]["records_before"]
    emit(
        f"data: {people:,} people, records seeded on each day as in the one-day benchmark; the tables hold "
        f"{first_records:,} records before the first day and {last_records:,} before the last. "
        f"rows = {rows:,} (created + filled over all days)."
    )
    for name, value in summary.items():
        emit(
            f"{name} per day: mean of the first {value['window']} days {value['first']:.3f} s, of the last "
            f"{value['window']} {value['last']:.3f} s; fitted line {value['slope'] * 1000:+,.0f} ms per million "
            f"records already in the tables, so the last day costs x{value['growth']:.2f} the first."
        )

    problems = range_problems(results, days, people)
    emit()
    emit(
        "correctness: "
        + ("OK: every day got the expected counts, from the push and from the floor" if not problems else "FAILED")
    )
    for problem in problems:
        emit(f"  - {problem}")
    targets = range_targets(results, summary)
    report_targets(targets)
    if args.show_sql:
        for name, result in results.items():
            emit()
            emit(f"{name}: seconds per statement, day by day:")
            for day in result["days"]:
                emit(f"  {day['day']}  " + " ".join(statement.split(" s ")[0].strip() for statement in day["sql"]))
    return problems + [text for met, text in targets if not met]


def run_range(bench: Bench, days: list[datetime.date]) -> dict[str, dict[str, Any]]:
    """Build records on each of `days`, then push them and run the floor day by day, printing each day."""
    people, store = bench.args.people, bench.store
    emit(f"· building {people:,} people with records on each of {len(days)} days ({store.vendor}) …")
    template = bench.template("range", people, days)
    emit(f"  template: {store.size_mb(template):,.0f} MB")
    results: dict[str, dict[str, Any]] = {"push": {"days": []}, "floor": {"days": []}}
    emit(f"· push and floor, {days[0]} to {days[-1]}, one day at a time, each in its own process on its own copy:")
    with (
        Worker(bench, "range", template, interactive=True) as push_worker,
        Worker(bench, "range", template, "--floor", interactive=True) as floor_worker,
    ):
        workers = {"push": push_worker, "floor": floor_worker}
        for index, day in enumerate(days, start=1):
            # Day by day, in alternating order, so a change in the machine's load weighs on both alike.
            for name in ("push", "floor") if index % 2 else ("floor", "push"):
                results[name]["days"].append(workers[name].ask(day.isoformat(), DAY_MARK))
            pushed, floored = results["push"]["days"][-1], results["floor"]["days"][-1]
            created = sum(counts["created"] for counts in pushed["counts"].values())
            filled = sum(counts["filled"] for counts in pushed["counts"].values())
            emit(
                f"  [{index:>{len(str(len(days)))}}/{len(days)}] {day}  push {pushed['seconds']:6.3f} s  "
                f"floor {floored['seconds']:6.3f} s  ({pushed['seconds'] / floored['seconds']:.2f}x)  "
                f"{created:,} created, {filled:,} filled, {pushed['statements']} statements; "
                f"{pushed['records_before']:,} records before"
            )
        for name, worker in workers.items():
            results[name].update(worker.finish())
    return results


def summarise_range(results: dict[str, dict[str, Any]], days: list[datetime.date]) -> dict[str, dict[str, Any]]:
    """Return, for push and floor, the total time, the first and last days' means and the fitted growth."""
    window = min(FLAT_WINDOW, max(1, len(days) // 2))
    summary = {}
    for name, result in results.items():
        seconds = [day["seconds"] for day in result["days"]]
        millions = [day["records_before"] / 1e6 for day in result["days"]]
        # A straight line through all days is steadier than a few noisy days at either end.
        slope, intercept = statistics.linear_regression(millions, seconds) if len(days) > 1 else (0.0, seconds[0])
        summary[name] = {
            "total": sum(seconds),
            "window": window,
            "first": statistics.mean(seconds[:window]),
            "last": statistics.mean(seconds[-window:]),
            "slope": slope,
            "growth": (intercept + slope * millions[-1]) / (intercept + slope * millions[0]),
            "statements": sorted({day["statements"] for day in result["days"]}),
        }
    return summary


def range_problems(results: dict[str, dict[str, Any]], days: list[datetime.date], people: int) -> list[str]:
    """Return what went wrong over the range: unexpected counts, missing records, push and floor disagreeing."""
    problems = []
    want = expected(people)
    for name, result in results.items():
        for day in result["days"]:
            for label, counts in day["counts"].items():
                if any(counts[key] != want[label][key] for key in COUNT_KEYS if key in counts):
                    problems.append(f"{name} {day['day']}, {label}: counts {counts}, expected {want[label]}")
        for label, digest in result["digest_last"].items():
            if digest["records"] != digest["active_people"] or digest["of_unexpected"]:
                problems.append(
                    f"{name} {days[-1]}, {label}: {digest['records']:,} records for {digest['active_people']:,}"
                )
    if results["push"]["digest_last"] != results["floor"]["digest_last"]:
        problems.append("push and floor leave different records on the last day")
    return problems


def range_targets(results: dict[str, dict[str, Any]], summary: dict[str, dict[str, Any]]) -> list[tuple[bool, str]]:
    """Return each target of the range benchmark with whether it was met."""
    growth = {name: value["growth"] for name, value in summary.items()}
    relative = growth["push"] / growth["floor"]
    return [
        (
            relative <= TARGET_FLAT_RATIO,
            f"time per day flat: over the range, the push's time per day grows no more than the floor's "
            f"(fitted x{growth['push']:.2f} vs x{growth['floor']:.2f}: {relative:.2f}, at most {TARGET_FLAT_RATIO})",
        ),
        (
            len(summary["push"]["statements"]) == 1,
            f"statements per day the same every day: {'/'.join(map(str, summary['push']['statements']))}",
        ),
        (
            results["push"]["peak_rss_mb"] < TARGET_RSS_MB,
            f"push process peak RSS under {TARGET_RSS_MB} MB: {results['push']['peak_rss_mb']:.1f} MB",
        ),
    ]


# --- the ledger: the push with its ledger, and the undo ---------------------------------------------------


# The undo preview with the statistics a push left before issue 20 took minutes; it is stopped here.
UNDO_PREVIEW_TIMEOUT_S = 300
# The confirmation page must open well inside gunicorn's 30 s.
TARGET_UNDO_PREVIEW_S = 10


def bench_ledger(bench: Bench) -> list[str]:
    """Time the push with its ledger against the floor, and the undo against a hand-written undo."""
    args, people, store = bench.args, bench.args.people, bench.store
    emit(f"· building {people:,} people into a migrated template ({store.vendor}) …")
    big = bench.template("people", people, [bench.day])
    small = bench.template("small", SMALL_PEOPLE, [bench.day])
    runs: dict[str, list[dict[str, Any]]] = {"push_ledger": [], "floor": [], "undo": [], "undo_floor": []}
    for index in range(args.repeat):
        for pair in (("push_ledger", "floor"), ("undo", "undo_floor")):
            for name in pair if index % 2 == 0 else reversed(pair):
                emit(f"· {name} {len(runs[name]) + 1}/{args.repeat} …")
                runs[name].append(bench.worker(name, big))
                emit(f"  {runs[name][-1]['seconds']:.3f} s")
    # The undo's confirmation page right after the push, as a user meets it: no ANALYZE by hand. "stale" skips
    # the refresh of statistics the push does after a big write (what main did before issue 20).
    previews = {}
    for label, extra in (("fresh", ()), ("stale", ("--stale", "--timeout", str(UNDO_PREVIEW_TIMEOUT_S)))):
        emit(f"· undo preview right after the push ({label} statistics) …")
        previews[label] = bench.worker("undo_preview", big, *extra)
        stopped = " (stopped by the timeout)" if previews[label]["timed_out"] else ""
        emit(
            f"  {previews[label]['seconds']:.3f} s{stopped} (refresh of statistics after the push: "
            f"{previews[label]['refresh_seconds']:.3f} s)"
        )
    emit(f"· push with ledger and undo at {SMALL_PEOPLE:,} people …")
    small_runs = {name: bench.worker(name, small) for name in ("push_ledger", "undo")}

    def median(name: str) -> float:
        return statistics.median(run["seconds"] for run in runs[name])

    rows = rows_written(people)
    ledger_rows = runs["push_ledger"][0]["ledger_rows"]
    ledger_mb = runs["push_ledger"][0]["ledger_mb"]
    table_rows = []
    for name, title, reference in (
        ("push_ledger", "push with its ledger", "floor"),
        ("floor", "floor: hand-written SQL, records only", "floor"),
        ("undo", "undo: attendance_push.ledger.undo(run)", "undo_floor"),
        ("undo_floor", "hand-written undo: DELETE … WHERE EXISTS + UPDATE", "undo_floor"),
    ):
        seconds = median(name)
        table_rows.append(
            (
                title,
                f"{people:,}",
                seconds_text(seconds),
                f"{rows / seconds:,.0f}",
                f"{max(run['peak_rss_mb'] for run in runs[name]):.1f}",
                "/".join(sorted({str(run["statements"]) for run in runs[name]})),
                ratio(seconds, median(reference)),
                "—",
            )
        )
    emit_report(store, args.pg_url, table_rows)
    size = f"{ledger_mb:,.1f} MB" if ledger_mb is not None else "unknown (the database cannot say)"
    per_million = f", {ledger_mb / ledger_rows * 1e6:,.0f} MB per million records" if ledger_mb and ledger_rows else ""
    emit(f"ledger: {ledger_rows:,} rows after one push, {size} with its indexes{per_million}.")
    for name in runs:
        emit(f"{name}: " + " ".join(f"{run['seconds']:.3f}" for run in runs[name]) + " s")

    problems = []
    want = expected(people)
    for run in runs["push_ledger"]:
        written = sum(c["created"] + c["filled"] for c in run["counts"].values())
        if run["ledger_rows"] != written:
            problems.append(f"push with ledger: {run['ledger_rows']:,} ledger rows for {written:,} rows written")
        for label, counts in run["counts"].items():
            if counts["created"] != want[label]["created"] or counts["filled"] != want[label]["filled"]:
                problems.append(f"push with ledger, {label}: counts {counts}, expected {want[label]}")
    undo_digests = {json.dumps(run["digest"], sort_keys=True) for run in (*runs["undo"], *runs["undo_floor"])}
    if len(undo_digests) != 1:
        problems.append("undo and hand-written undo leave different records: " + " / ".join(sorted(undo_digests)))
    for run in runs["undo"]:
        for label, counts in run["counts"].items():
            pushed = run["pushed"][label]
            if (counts["deleted"], counts["cleared"]) != (pushed["created"], pushed["filled"]):
                problems.append(f"undo, {label}: {counts} after a push of {pushed}")
    emit()
    emit("correctness: " + ("OK: one ledger row per row written; the undo removes exactly what the push wrote, "
                            "as the hand-written undo does" if not problems else "FAILED"))  # fmt: skip
    for problem in problems:
        emit(f"  - {problem}")
    push_rss = max(run["peak_rss_mb"] for name in ("push_ledger", "undo") for run in runs[name])
    statements_of = {name: sorted({run["statements"] for run in runs[name]}) for name in ("push_ledger", "undo")}
    targets = [
        (
            median("push_ledger") / median("floor") <= TARGET_LEDGER_RATIO,
            f"push with its ledger within {TARGET_LEDGER_RATIO}x of the floor: "
            f"{median('push_ledger') / median('floor'):.2f}x",
        ),
        (
            median("undo") / median("undo_floor") <= TARGET_UNDO_RATIO,
            f"undo within {TARGET_UNDO_RATIO}x of the hand-written undo: {median('undo') / median('undo_floor'):.2f}x",
        ),
        (push_rss < TARGET_RSS_MB, f"push with ledger and undo peak RSS under {TARGET_RSS_MB} MB: {push_rss:.1f} MB"),
        (
            previews["fresh"]["seconds"] < TARGET_UNDO_PREVIEW_S and not previews["fresh"]["timed_out"],
            f"undo preview right after the push under {TARGET_UNDO_PREVIEW_S} s: {previews['fresh']['seconds']:.2f} s "
            f"(with the statistics the push left before issue 20: {previews['stale']['seconds']:.2f} s"
            + (", stopped by the timeout)" if previews["stale"]["timed_out"] else ")"),
        ),
    ]
    for name in ("push_ledger", "undo"):
        targets.append(
            (
                statements_of[name] == [small_runs[name]["statements"]],
                f"statements of the {name} the same at {SMALL_PEOPLE:,} and {people:,} people: "
                f"{small_runs[name]['statements']} and {'/'.join(map(str, statements_of[name]))}",
            )
        )
    report_targets(targets)
    if args.show_sql:
        for name in ("push_ledger", "floor", "undo", "undo_floor"):
            # The run of median time, so the statements add up to the time in the table.
            index, median_run = sorted(enumerate(runs[name], start=1), key=lambda item: item[1]["seconds"])[
                len(runs[name]) // 2
            ]
            emit()
            emit(f"statements of the {name}, run {index} (the median): seconds, SQL")
            for statement in median_run["sql"]:
                emit(f"  {statement}")
    return problems + [text for met, text in targets if not met]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000, help="people in total (90%% students)")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--range-days", type=int, default=0, metavar="N", help="push N days one by one instead")
    parser.add_argument("--repeat", type=int, default=7, help="runs of push and of floor (the median is shown)")
    parser.add_argument("--sample", type=int, default=2_000, help="people the ORM loop is timed on")
    parser.add_argument("--loop-repeat", type=int, default=5, help="runs of each ORM loop (the median is shown)")
    parser.add_argument(
        "--day", type=datetime.date.fromisoformat, default=None, help="the day pushed (default: a Monday 6 weeks ago)"
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL server and a database to connect to for CREATE DATABASE (env BENCH_PG_URL)",
    )
    parser.add_argument("--show-sql", action="store_true", help="also print the statements, with their seconds")
    parser.add_argument(
        "--closed-only", action="store_true", help="time only the closed days and the fill alone (against the fill)"
    )
    parser.add_argument(
        "--ledger", action="store_true", help="time the push with its ledger and the undo (against their floors)"
    )
    args = parser.parse_args(argv)
    args.day = args.day or default_day()
    if args.people < 20 or args.repeat < 1 or args.loop_repeat < 1 or args.sample < 2:
        parser.error("--people must be at least 20, --repeat and --loop-repeat at least 1, --sample at least 2")

    # A SIGTERM (make interrupted, a CI timeout) unwinds like Ctrl-C, so the databases are dropped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        store = PostgresStore(args.pg_url) if args.db == "postgres" else SqliteStore()
    except Exception as exc:  # psycopg2's errors: one clear line, not a traceback
        emit(f"error: cannot use PostgreSQL at {args.pg_url}: {exc}".strip())
        return 2
    try:
        bench = Bench(args, store)
        mode = (
            bench_ledger
            if args.ledger
            else bench_range
            if args.range_days
            else bench_closed
            if args.closed_only
            else bench_day
        )
        missed = mode(bench)
    except BenchError as exc:
        emit(f"error: {exc}")
        return 2
    finally:
        store.cleanup()
    if missed and args.check:
        emit(f"--check: {len(missed)} target(s) missed or checks failed:")
        for text in missed:
            emit(f"  - {text}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
