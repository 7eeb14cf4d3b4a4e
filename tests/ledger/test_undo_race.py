"""Concurrent undos of one run: one undo, and the others refused before they become runs, with no e-mail.

The race the tests force: every loser has checked, as the page and the command do, that the run can be
undone, while the winner's undo is written but not committed; the losers then reach the database after
it commits. Each must be refused there with a clear message, and leave no run behind.
"""

from __future__ import annotations

import html
import importlib
import os
import re
import threading
import time
from pathlib import Path

import psycopg2
import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from attendance_push.models import PushRun
from attendance_push.runs import run_push
from school.models import StudentAttendance
from tests.support.demo import DAY
from tests.support.processes import database_url, patience, process_env, start, stop, wait_for
from tests.support.races import holding_writes
from tests.support.servers import query

STUDENTS = "school.StudentAttendance"
PEOPLE = 12


def pushed_run() -> PushRun:
    run = run_push(DAY, trigger=PushRun.Trigger.COMMAND)
    assert run.status == PushRun.Status.SUCCEEDED, run.error
    return run


def undo_url(run: PushRun) -> str:
    return reverse("admin:attendance_push_pushrun_undo", args=[run.pk])


def first_write(statement: str) -> bool:
    """Return whether `statement` is where a request stops reading and starts to write."""
    words = statement.lstrip().split(None, 1)
    # SQLite opens each write with BEGIN IMMEDIATE (and waits there); PostgreSQL waits at the INSERT.
    return bool(words) and words[0].upper() in ("BEGIN", "INSERT", "UPDATE", "DELETE")


def messages_on(page: str) -> str:
    """Return the messages a page shows, one per line."""
    return "\n".join(html.unescape(text) for text in re.findall(r'<li class="(?:success|error|info)">(.*?)</li>', page))


def waiting_inserts() -> int:
    """Return how many sessions of the test database wait on a lock to insert a run (PostgreSQL)."""
    return query(
        database_url(),
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s "
        "AND datname = current_database()",
        ('INSERT INTO "attendance_push_pushrun"%',),
    )[0][0]


@pytest.mark.django_db(transaction=True)
def test_six_concurrent_undos_make_one_undo_run_and_no_failure(settings, superuser, make_students, monkeypatch):
    settings.ADMINS = [("Head", "head@school.example")]
    make_students(PEOPLE)
    run = pushed_run()
    mail.outbox = []

    # The winner stops inside its transaction right after recording its undo as succeeded.
    written, go = threading.Event(), threading.Event()
    real_mark_undone = PushRun.mark_undone

    def mark_undone_then_wait(self, result):
        real_mark_undone(self, result)
        if not written.is_set():
            written.set()
            go.wait(timeout=60)

    monkeypatch.setattr(PushRun, "mark_undone", mark_undone_then_wait)

    outcome: dict[str, object] = {}
    at_first_write: list[str] = []

    clients = {}
    for name in ["winner", *(f"loser {n}" for n in range(5))]:
        # Logged in before the race, as admins who opened the page are: a session is a write.
        clients[name] = Client()
        clients[name].force_login(superuser)

    def undo_from(name: str, how: str) -> None:
        def watch(execute, sql, params, many, context):
            # The page's or the command's check that the run can be undone is done by now.
            if first_write(sql) and name not in at_first_write:
                at_first_write.append(name)
            return execute(sql, params, many, context)

        client = clients[name]
        try:
            with connection.execute_wrapper(watch):
                if how == "command":
                    try:
                        call_command("undo_push", str(run.pk), verbosity=0)
                        outcome[name] = "done"
                    except CommandError as exc:
                        outcome[name] = str(exc)
                    return
                data = {"confirm": "yes", **({"run_now": "1"} if how == "run now" else {})}
                response = client.post(undo_url(run), data, follow=True)
                # The page, not response.context: the test client collects the templates other threads render too.
                outcome[name] = messages_on(response.content.decode())
        except Exception as exc:  # reported by the assertions below
            outcome[name] = exc
        finally:
            connections.close_all()

    winner = threading.Thread(target=undo_from, args=("winner", "run now"))
    winner.start()
    assert written.wait(timeout=60), outcome
    ways = ["run now", "run now", "run now", "queue", "command"]
    losers = [threading.Thread(target=undo_from, args=(f"loser {n}", how)) for n, how in enumerate(ways)]
    for loser in losers:
        loser.start()
    # Every loser has checked that the run can be undone and is at its first write...
    wait_for(lambda: len(at_first_write) == 1 + len(losers), timeout=60, what="the losers to reach the database")
    if connection.vendor == "postgresql":
        # ...where it waits for the winner's transaction (SQLite: for the write lock the winner holds), or
        # is refused at once, seeing the winner's undo under way.
        wait_for(
            lambda: waiting_inserts() + sum(not loser.is_alive() for loser in losers) == len(losers),
            timeout=60,
            what="the losers to wait for the winner",
        )
    go.set()
    for thread in [winner, *losers]:
        thread.join(timeout=60)

    undos = PushRun.objects.filter(trigger=PushRun.Trigger.UNDO)
    assert list(undos.values_list("status", flat=True)) == ["succeeded"], outcome
    assert not PushRun.objects.filter(status=PushRun.Status.FAILED).exists()
    assert mail.outbox == []
    (undo_run,) = undos
    assert undo_run.counts[STUDENTS] == {"deleted": PEOPLE, "cleared": 0, "kept": 0}
    assert not StudentAttendance.objects.filter(date=DAY).exists()
    assert f"as run {undo_run.pk}" in outcome["winner"]
    for n in range(len(losers)):
        assert outcome[f"loser {n}"] in (
            f"Run {run.pk} was already undone by run {undo_run.pk}.",
            f"The undo of run {run.pk} is already under way (running, run {undo_run.pk}); wait for it to finish.",
        ), outcome


@pytest.mark.django_db(transaction=True)
def test_an_undo_while_the_run_is_being_undone_is_refused_as_under_way(superuser, make_students, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite: the second undo waits for the first's write lock, then finds the run undone (above)")
    make_students(3)
    run = pushed_run()
    mail.outbox = []
    inside, go = threading.Event(), threading.Event()
    ledger_module = importlib.import_module("attendance_push.ledger.undo")
    real_undo_target = ledger_module._undo_target

    def paused_undo_target(*args, **kwargs):
        # Not the previews: of the others, nor the winner's own (run now checks the undo's size first).
        if threading.current_thread().name == "winner" and not kwargs.get("dry_run"):
            inside.set()
            go.wait(timeout=60)
        return real_undo_target(*args, **kwargs)

    monkeypatch.setattr(ledger_module, "_undo_target", paused_undo_target)

    def winner() -> None:
        try:
            client = Client()
            client.force_login(superuser)
            client.post(undo_url(run), {"confirm": "yes", "run_now": "1"})
        finally:
            connections.close_all()

    thread = threading.Thread(target=winner, name="winner")
    thread.start()
    try:
        assert inside.wait(timeout=60)
        undo_run = PushRun.objects.get(trigger=PushRun.Trigger.UNDO)
        under_way = (
            f"The undo of run {run.pk} is already under way (running, run {undo_run.pk}); wait for it to finish."
        )
        for how in ({"run_now": "1"}, {}):
            client = Client()
            client.force_login(superuser)
            response = client.post(undo_url(run), {"confirm": "yes", **how}, follow=True)
            assert messages_on(response.content.decode()) == under_way
        with pytest.raises(CommandError) as refused:
            call_command("undo_push", str(run.pk), verbosity=0)
        assert str(refused.value) == under_way
    finally:
        go.set()
        thread.join(timeout=60)
    assert list(PushRun.objects.filter(trigger="undo").values_list("status", flat=True)) == ["succeeded"]
    assert mail.outbox == []


# Real processes -------------------------------------------------------------------------------------------------

# The winner's transaction waits inside its UPDATE to "succeeded" for an advisory lock the test holds.
HOLD_KEY = 7_777_001
HOLD_TRIGGER = f"""
CREATE FUNCTION attendance_push_test_hold_undo() RETURNS trigger AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared({HOLD_KEY});
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER attendance_push_test_hold_undo AFTER UPDATE ON attendance_push_pushrun FOR EACH ROW
    WHEN (NEW.trigger = 'undo' AND NEW.status = 'succeeded') EXECUTE FUNCTION attendance_push_test_hold_undo();
"""
DROP_HOLD = """
DROP TRIGGER IF EXISTS attendance_push_test_hold_undo ON attendance_push_pushrun;
DROP FUNCTION IF EXISTS attendance_push_test_hold_undo();
"""


def sessions_waiting(url: str, like: str) -> int:
    return query(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s "
        "AND datname = current_database()",
        (like,),
    )[0][0]


def mails(outbox: Path) -> list[str]:
    return [path.read_text() for path in outbox.iterdir()] if outbox.exists() else []


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
def test_six_undo_push_processes_make_one_undo_run_on_postgresql(superuser, make_students, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("a trigger holds the winner's transaction open: PostgreSQL (SQLite: the next test)")
    make_students(PEOPLE)
    run = pushed_run()
    url = database_url()
    outbox = tmp_path / "mail"
    env = process_env(
        ADMINS="Head:head@school.example",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(outbox),
    )
    with connection.cursor() as cursor:
        cursor.execute(HOLD_TRIGGER)
    holder = psycopg2.connect(url)
    processes = []
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [HOLD_KEY])
        holder.commit()
        processes.append(start("undo_push", str(run.pk), env=env, log=tmp_path / "undo-0.log"))
        # The winner has written its undo and waits, in its transaction, for the test.
        wait_for(
            lambda: sessions_waiting(url, "UPDATE%attendance_push_pushrun%") == 1,
            timeout=patience(starts=1),
            what="the first undo to hold its transaction",
            log=tmp_path / "undo-0.log",
        )
        for n in range(1, 6):
            processes.append(start("undo_push", str(run.pk), env=env, log=tmp_path / f"undo-{n}.log"))
        # Five start-ups side by side; each checks the run can be undone, then waits to record its own undo.
        wait_for(
            lambda: sessions_waiting(url, 'INSERT INTO "attendance_push_pushrun"%') == 5,
            timeout=patience(starts=5),
            what="the five other undos to wait for the first",
            log=tmp_path / "undo-1.log",
        )
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [HOLD_KEY])
        holder.commit()
        codes = [process.wait(timeout=patience(starts=1)) for process in processes]
    finally:
        holder.close()
        for process in processes:
            stop(process)
        with connection.cursor() as cursor:
            cursor.execute(DROP_HOLD)
    logs = [(tmp_path / f"undo-{n}.log").read_text() for n in range(6)]
    undo_run = PushRun.objects.get(trigger=PushRun.Trigger.UNDO)
    assert undo_run.status == PushRun.Status.SUCCEEDED
    assert PushRun.objects.count() == 2, logs
    assert codes == [0, 1, 1, 1, 1, 1], logs
    for log in logs[1:]:
        assert f"Run {run.pk} was already undone by run {undo_run.pk}." in log, logs
    assert mails(outbox) == []


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
def test_six_undo_push_processes_side_by_side(superuser, make_students, tmp_path):
    make_students(PEOPLE)
    run = pushed_run()
    outbox = tmp_path / "mail"
    env = process_env(
        ADMINS="Head:head@school.example",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(outbox),
    )
    processes = []
    try:
        # Every process starts and checks the run before any can write; then they race.
        with holding_writes(database_url(), "attendance_push_pushrun"):
            processes = [start("undo_push", str(run.pk), env=env, log=tmp_path / f"undo-{n}.log") for n in range(6)]
            deadline = time.monotonic() + patience(starts=6)
            while not all_reading_done(processes) and time.monotonic() < deadline:
                time.sleep(0.2)
        codes = [process.wait(timeout=patience(starts=6)) for process in processes]
    finally:
        for process in processes:
            stop(process)
    logs = [(tmp_path / f"undo-{n}.log").read_text() for n in range(6)]
    undos = PushRun.objects.filter(trigger=PushRun.Trigger.UNDO)
    assert list(undos.values_list("status", flat=True)) == ["succeeded"], logs
    assert sorted(codes) == [0, 1, 1, 1, 1, 1], logs
    assert mails(outbox) == []
    undo_run = undos.get()
    for code, log in zip(codes, logs, strict=True):
        if code:
            assert (
                f"Run {run.pk} was already undone by run {undo_run.pk}." in log
                or f"The undo of run {run.pk} is already under way (running, run {undo_run.pk})" in log
            ), logs


def all_reading_done(processes) -> bool:
    """Return whether every process has opened the database (they then wait for the writes held back)."""
    if connection.vendor == "postgresql":
        return sessions_waiting(database_url(), 'INSERT INTO "attendance_push_pushrun"%') == len(processes)
    name = os.path.realpath(connection.settings_dict["NAME"])
    opened = 0
    for process in processes:
        fds = Path(f"/proc/{process.pid}/fd")
        try:
            if any(os.path.realpath(fd) == name for fd in fds.iterdir()):
                opened += 1
        except (FileNotFoundError, PermissionError):
            pass
    return opened == len(processes)
