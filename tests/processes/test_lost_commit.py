"""A push or an undo whose COMMIT reached the database but whose answer was lost is recorded as what the
database holds: succeeded with its counts, never "failed", and no failure e-mail; undo reaches it.

In process, the connection's commit commits and then raises, as psycopg2 does when the connection
breaks before the answer; with real processes, a TCP proxy in front of a real PostgreSQL passes the
COMMIT to the server and drops the answer (tests/commit_proxy.py).
"""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import OperationalError, connections

from attendance_push import locks, runs
from attendance_push.conf import conf
from attendance_push.days import today
from attendance_push.ledger import refusal
from attendance_push.models import PushedRecord, PushRun
from attendance_push.runs import run_push, run_undo
from school.models import StudentAttendance
from tests.support.commit_proxy import CommitProxy
from tests.support.processes import manage, process_env
from tests.support.servers import postgres_database, query


class LostAnswer:
    """The next transaction that takes a day's lock: its COMMIT commits (or not), then raises as a broken connection."""

    def __init__(self, monkeypatch, *, commits: bool):
        self.commits = commits
        self.armed = self.fired = False
        real_lock_day = locks.lock_day

        def lock_day(alias, day):
            real_lock_day(alias, day)
            self.armed = True

        monkeypatch.setattr(locks, "lock_day", lock_day)
        for alias in connections:
            connection = connections[alias]
            monkeypatch.setattr(connection, "commit", self._commit(connection.commit, connection.rollback))

    def _commit(self, commit, rollback):
        def lossy_commit():
            if not self.armed or self.fired:
                return commit()
            self.fired = True
            commit() if self.commits else rollback()
            raise OperationalError(
                "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally"
            )

        return lossy_commit


@pytest.fixture
def answer_lost(monkeypatch, settings):
    """Return a function arming the fault for the next transaction that takes a day's lock."""
    settings.ADMINS = [("Office", "office@example.org")]

    def arm(*, commits: bool = True) -> LostAnswer:
        return LostAnswer(monkeypatch, commits=commits)

    return arm


def yesterday() -> datetime.date:
    return today() - datetime.timedelta(days=1)


# --- in process, on the suite's database ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_push_that_committed_is_recorded_succeeded_with_its_counts_and_undo_reaches_it(
    superuser, make_students, answer_lost
):
    make_students(3)
    fault = answer_lost()
    run = run_push(yesterday(), trigger="command")
    assert fault.fired
    assert (run.status, run.created, run.error) == ("succeeded", 3, "")
    run.refresh_from_db()
    assert (run.status, run.created, run.filled, run.error) == ("succeeded", 3, 0, "")
    assert run.target_counts["school.StudentAttendance"].created == 3
    assert mail.outbox == []
    assert refusal(run) is None
    undo_run = run_undo(run)
    assert undo_run.status == "succeeded"
    assert not StudentAttendance.objects.filter(date=yesterday()).exists()


@pytest.mark.django_db(transaction=True)
def test_a_push_the_database_does_not_hold_is_recorded_failed_without_counts(superuser, make_students, answer_lost):
    make_students(3)
    fault = answer_lost(commits=False)
    run = run_push(yesterday(), trigger="command")
    assert fault.fired
    assert (run.status, run.created, run.counts, run.pushed) == ("failed", 0, {}, {})
    assert run.error.startswith("OperationalError: server closed the connection unexpectedly")
    run.refresh_from_db()
    assert (run.status, run.created, run.counts) == ("failed", 0, {})
    assert len(mail.outbox) == 1
    assert not StudentAttendance.objects.exists()
    assert not PushedRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_undo_that_committed_is_recorded_done(superuser, make_students, answer_lost):
    make_students(3)
    pushed = run_push(yesterday(), trigger="command")
    fault = answer_lost()
    undo_run = run_undo(pushed)
    assert fault.fired
    undo_run.refresh_from_db()
    assert (undo_run.status, undo_run.error) == ("succeeded", "")
    assert undo_run.target_counts["school.StudentAttendance"].deleted == 3
    assert mail.outbox == []
    assert not StudentAttendance.objects.exists()
    # The original run now reads as undone by it: a second undo is refused, not run.
    assert f"run {undo_run.pk}" in refusal(pushed)


@pytest.mark.django_db(transaction=True)
def test_an_undo_the_database_does_not_hold_is_recorded_failed(superuser, make_students, answer_lost):
    make_students(3)
    pushed = run_push(yesterday(), trigger="command")
    answer_lost(commits=False)
    undo_run = run_undo(pushed)
    assert undo_run.status == "failed"
    assert StudentAttendance.objects.count() == 3
    assert len(mail.outbox) == 1
    assert refusal(pushed) is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("commits", [True, False], ids=["committed", "not-committed"])
def test_with_the_history_on_another_database_the_ledger_tells_whether_the_push_committed(
    superuser, make_students, answer_lost, monkeypatch, commits
):
    make_students(3)
    monkeypatch.setattr(runs, "shares_database", lambda: False)
    fault = answer_lost(commits=commits)
    run = run_push(yesterday(), trigger="command")
    assert fault.fired
    run.refresh_from_db()
    if commits:
        assert (run.status, run.created, run.error) == ("succeeded", 3, "")
        assert mail.outbox == []
        assert run_undo(run).status == "succeeded"
        assert not StudentAttendance.objects.exists()
    else:
        assert (run.status, run.created) == ("failed", 0)
        assert len(mail.outbox) == 1
        assert not StudentAttendance.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_command_prints_the_committed_push_as_pushed(superuser, make_students, answer_lost, capsys):
    from django.core.management import call_command

    make_students(2)
    answer_lost()
    call_command("push_attendance", "--date", f"{yesterday()}")
    run = PushRun.objects.get()
    out = capsys.readouterr().out
    assert f"{yesterday()} pushed (PushRun {run.pk}):" in out
    assert "2 created" in out


# --- real processes, a real PostgreSQL, a proxy that drops the COMMIT's answer --------------------------------

STUDENTS = 40
SEED = f"""
from django.contrib.auth import get_user_model
from school.models import Student
get_user_model().objects.create_superuser("root", "root@example.com", "pw")
Student.objects.bulk_create(Student(name=f"Student {{i:03d}}") for i in range({STUDENTS}))
"""


@pytest.fixture(scope="module")
def database():
    """A PostgreSQL database of its own, migrated, with a superuser and STUDENTS students; its URL."""
    with postgres_database("attendance_push_commit") as url:
        for args in (("migrate", "--noinput", "-v", "0"), ("shell", "-c", SEED)):
            done = manage(*args, env=process_env(DATABASE_URL=url))
            assert done.returncode == 0, done.stderr[-3000:]
        yield url


def push_day(back: int) -> datetime.date:
    """Return the day `back` days before today in the push zone, by the real clock the processes read."""
    return datetime.datetime.now(ZoneInfo(conf.TIME_ZONE.key)).date() - datetime.timedelta(days=back)


def env(url: str, mail_folder) -> dict[str, str]:
    return process_env(
        DATABASE_URL=url,
        ADMINS="Office:office@example.org",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail_folder),
    )


def proxy_for(url: str) -> CommitProxy:
    parts = urlsplit(url)
    return CommitProxy((parts.hostname or "127.0.0.1", parts.port or 5432))


def run_row(url: str, pk: int) -> tuple:
    (row,) = query(url, "SELECT status, created, filled, error FROM attendance_push_pushrun WHERE id = %s", (pk,))
    return row


def records(url: str, day: datetime.date) -> int:
    return query(url, "SELECT count(*) FROM school_studentattendance WHERE date = %s", (day,))[0][0]


@pytest.mark.process
def test_a_push_whose_commit_answer_the_proxy_dropped_is_recorded_succeeded(database, tmp_path):
    day = push_day(2)
    mail_folder = tmp_path / "mail"
    with proxy_for(database) as proxy:
        pushed = manage("push_attendance", "--date", f"{day}", env=env(proxy.url(database), mail_folder))
    assert proxy.dropped.is_set(), pushed.stderr[-3000:]
    assert b"COMMIT" in proxy.lost_answer  # the server committed; the client never heard it
    assert pushed.returncode == 0, pushed.stderr[-3000:]
    (run_id,) = query(database, "SELECT id FROM attendance_push_pushrun WHERE date = %s", (day,))[0]
    assert f"{day} pushed (PushRun {run_id}):" in pushed.stdout
    assert run_row(database, run_id) == ("succeeded", STUDENTS, 0, "")
    assert records(database, day) == STUDENTS
    assert not mail_folder.exists() or not list(mail_folder.iterdir())

    undone = manage("undo_push", f"{run_id}", env=env(database, mail_folder))
    assert undone.returncode == 0, undone.stderr[-3000:]
    assert records(database, day) == 0


@pytest.mark.process
def test_an_undo_whose_commit_answer_the_proxy_dropped_is_recorded_done(database, tmp_path):
    day = push_day(3)
    mail_folder = tmp_path / "mail"
    pushed = manage("push_attendance", "--date", f"{day}", env=env(database, mail_folder))
    assert pushed.returncode == 0, pushed.stderr[-3000:]
    (run_id,) = query(database, "SELECT id FROM attendance_push_pushrun WHERE date = %s", (day,))[0]
    with proxy_for(database) as proxy:
        undone = manage("undo_push", f"{run_id}", env=env(proxy.url(database), mail_folder))
    assert proxy.dropped.is_set(), undone.stderr[-3000:]
    assert b"COMMIT" in proxy.lost_answer
    assert undone.returncode == 0, undone.stderr[-3000:]
    ((undo_id,),) = query(database, "SELECT id FROM attendance_push_pushrun WHERE undoes_id = %s", (run_id,))
    assert f"as PushRun {undo_id}:" in undone.stdout
    assert run_row(database, undo_id) == ("succeeded", 0, 0, "")
    assert records(database, day) == 0
    assert not mail_folder.exists() or not list(mail_folder.iterdir())
    # The push reads as undone: a second undo is refused before it becomes a run.
    again = manage("undo_push", f"{run_id}", env=env(database, mail_folder))
    assert again.returncode == 1 and f"run {undo_id}" in again.stderr, again.stderr
