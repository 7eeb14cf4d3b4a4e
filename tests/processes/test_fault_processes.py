"""Honest history under faults, with real processes: a kill after the push's COMMIT, a long push that
is alive, a push that was killed, a database connection cut mid-push."""

from __future__ import annotations

import ast
import contextlib
import datetime
import os
import signal
import socket
import subprocess
import sys
import threading

import pytest
import time_machine
from django.db import connection

from attendance_push import liveness
from attendance_push.days import today
from attendance_push.liveness import mark_never_finishing_interrupted
from attendance_push.models import PushRun
from school.models import StudentAttendance
from tests.support.processes import ROOT, answers, database_url, free_port, process_env, shell, start, stop, wait_for
from tests.support.races import holding_the_day, push_is_writing
from tests.support.servers import day_lock_sessions, query

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]

KILL_AFTER_COMMIT = """
import os, signal
from django.core.management import call_command
from django.db import transaction
from attendance_push.signals import target_pushed

def kill_after_commit(sender, using, **kwargs):
    transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL), using=using)

target_pushed.connect(kill_after_commit, weak=False)
call_command("push_attendance", "--date", "{day}")
"""

HELD = """
import pathlib, time
from django.core.management import call_command
from attendance_push.signals import target_pushed

release = pathlib.Path({release!r})

def hold(sender, **kwargs):
    while not release.exists():
        time.sleep(0.05)

target_pushed.connect(hold, weak=False)
call_command("push_attendance", "--date", "{day}")
"""


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def wait_until_pushing(process: subprocess.Popen, day: datetime.date) -> PushRun:
    """Wait until `process` records its run and holds the push's write transaction of `day`; return the run."""
    wait_for(
        lambda: PushRun.objects.filter(status="running").exists() or process.poll() is not None,
        timeout=120,
        what="the push to start",
    )
    assert process.poll() is None, process.communicate()
    wait_for(lambda: push_is_writing(day) or process.poll() is not None, timeout=60, what="the push's transaction")
    assert process.poll() is None, process.communicate()
    return PushRun.objects.get(status="running")


def test_a_kill_right_after_the_pushs_commit_leaves_a_truthful_history(superuser, make_students):
    make_students(5)
    day = today() - datetime.timedelta(days=1)
    process = shell(KILL_AFTER_COMMIT.format(day=day))
    process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL

    run = PushRun.objects.get()
    records = StudentAttendance.objects.filter(date=day).count()
    # The COMMIT that wrote the records also wrote the outcome: never "running" with records in.
    assert (run.status, run.created, records) == ("succeeded", 5, 5)
    assert mark_never_finishing_interrupted(now() + datetime.timedelta(hours=1)) == 0
    run.refresh_from_db()
    assert run.status == "succeeded"


def test_a_push_running_longer_than_the_task_timeout_is_not_interrupted_while_alive(superuser, make_students, tmp_path):
    make_students(3)
    day = today() - datetime.timedelta(days=1)
    release = tmp_path / "release"
    process = shell(HELD.format(day=day, release=str(release)), env=process_env(Q_TIMEOUT="1", Q_RETRY="2"))
    try:
        run = wait_until_pushing(process, day)
        if connection.vendor == "sqlite":
            # The push holds SQLite's write lock: marking runs interrupted waits for it, so let the
            # push go on in a moment, as a long push eventually does.
            threading.Timer(2, release.touch).start()
        # Two hours after it started, far beyond Q_CLUSTER["timeout"] (1 s for this process).
        assert mark_never_finishing_interrupted(now() + datetime.timedelta(hours=2)) == 0
        release.touch()
        out, err = process.communicate(timeout=120)
    finally:
        release.touch()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    run.refresh_from_db()
    assert (run.status, run.created) == ("succeeded", 3)


def test_a_killed_push_is_found_dead_by_its_lock_or_its_heartbeat_not_the_task_timeout(
    superuser, make_students, tmp_path
):
    make_students(3)
    day = today() - datetime.timedelta(days=1)
    release = tmp_path / "release"  # never created: the push hangs until killed
    process = shell(HELD.format(day=day, release=str(release)))
    try:
        run = wait_until_pushing(process, day)
    finally:
        process.kill()
        process.communicate(timeout=60)
    assert not StudentAttendance.objects.exists()
    # Well within Q_CLUSTER["timeout"] (600 s), which no longer decides it.
    soon = liveness.LOCK_GRACE if connection.vendor == "postgresql" else liveness.HEARTBEAT_STALE
    assert soon < liveness.task_timeout()
    assert mark_never_finishing_interrupted(run.started_at + soon - datetime.timedelta(seconds=1)) == 0
    assert mark_never_finishing_interrupted(run.started_at + soon + datetime.timedelta(seconds=1)) == 1
    run.refresh_from_db()
    assert run.status == "interrupted" and "nothing was written" in run.error


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="SQLite has no server connection to cut")
def test_a_connection_cut_mid_push_fails_the_command_with_one_line_and_the_run(superuser, make_students, tmp_path):
    make_students(3)
    day = today() - datetime.timedelta(days=1)
    release = tmp_path / "release"
    process = shell(HELD.format(day=day, release=str(release)))
    try:
        run = wait_until_pushing(process, day)
        # The server ends the push's session, as a restart or a failover does.
        # Its own session: the server is shared, and another database's push of the day holds the same lock there.
        (pid,) = [pid for pid, granted in day_lock_sessions(database_url(), day) if granted]
        assert query(database_url(), "SELECT pg_terminate_backend(%s)", (pid,)) == [(True,)]
        release.touch()
        out, err = process.communicate(timeout=120)
    finally:
        release.touch()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"CommandError: Push of {day} failed (PushRun {run.pk}): ")
    run.refresh_from_db()
    assert run.status == "failed"
    assert not StudentAttendance.objects.exists()


class Proxy:
    """A TCP proxy to PostgreSQL: stopping it is the database dying, for the processes behind it."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self.stopped.set()
        # shutdown() first: close() alone leaves the socket listening while accept() blocks on it.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="SQLite is a file: it has no server to die")
def test_a_database_server_that_dies_mid_push_fails_the_command_with_one_line(superuser, make_students, tmp_path):
    make_students(3)
    day = today() - datetime.timedelta(days=1)
    settings = connection.settings_dict
    proxy = Proxy((settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)))
    url = database_url().replace(f":{settings['PORT'] or 5432}/", f":{proxy.port}/")
    release = tmp_path / "release"
    process = shell(HELD.format(day=day, release=str(release)), env=process_env(DATABASE_URL=url))
    try:
        run = wait_until_pushing(process, day)
        proxy.stop()  # the server is gone: the push's connection breaks, and no new one is accepted
        release.touch()
        out, err = process.communicate(timeout=120)
    finally:
        release.touch()
        proxy.stop()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"CommandError: Push of {day} failed (OperationalError: ")
    assert "the database did not answer to record it" in lines[0]
    assert not StudentAttendance.objects.exists()
    # It could not say so itself; the database, back, shows the push's session gone with its lock.
    wait_for(lambda: not push_is_writing(day), timeout=60, what="the server to end the dead push's session")
    assert mark_never_finishing_interrupted(run.started_at + liveness.LOCK_GRACE + datetime.timedelta(seconds=1)) == 1
    run.refresh_from_db()
    assert run.status == "interrupted"


def test_a_killed_attendance_scheduler_test_leaves_no_hourly_push_behind(superuser, make_students, tmp_path):
    from django_q.models import Schedule

    from attendance_push.conf import TEST_SCHEDULE_NAME
    from attendance_push.schedule import TEST_LEASE
    from attendance_push.tasks import catch_up, push_today

    make_students(1)
    log = tmp_path / "scheduler.log"
    scheduler = start("attendance_scheduler", "--test", log=log)
    try:
        schedule = wait_for(
            lambda: Schedule.objects.filter(name=TEST_SCHEDULE_NAME).first(), timeout=120, what="test mode", log=log
        )
    finally:
        # SIGKILL: the command cannot clean up after itself.
        os.killpg(scheduler.pid, signal.SIGKILL)
        scheduler.wait(timeout=60)
    assert Schedule.objects.filter(name=TEST_SCHEDULE_NAME).exists()
    lease = ast.literal_eval(schedule.kwargs)["lease_until"]
    pushes = PushRun.objects.count()

    # The production worker fires the hourly schedule after the lease ran out: nothing is pushed.
    with time_machine.travel(datetime.datetime.fromisoformat(lease), tick=False):
        assert push_today(lease_until=lease) is None
    assert not Schedule.objects.filter(name=TEST_SCHEDULE_NAME).exists()
    assert PushRun.objects.count() == pushes
    # The catch-up check (every five minutes) drops one too, whether or not it fires again.
    Schedule.objects.create(name=TEST_SCHEDULE_NAME, func="attendance_push.tasks.push_today", kwargs=schedule.kwargs)
    with time_machine.travel(datetime.datetime.fromisoformat(lease) + TEST_LEASE, tick=False):
        catch_up()
    assert not Schedule.objects.filter(name=TEST_SCHEDULE_NAME).exists()


def test_run_now_cut_off_by_gunicorns_timeout_leaves_no_run_running(superuser, make_students, tmp_path, client):
    import http.client
    import re

    make_students(3)
    day = today()
    client.force_login(superuser)
    session = client.cookies["sessionid"].value
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--timeout", "2"],
            cwd=ROOT,
            env=process_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def request(method: str, path: str, body: str | None = None, cookies: str = "") -> tuple[int, str]:
        connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Host": "localhost", "Cookie": f"sessionid={session}{cookies}"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection_.request(method, path, body=body, headers=headers)
            response = connection_.getresponse()
            return response.status, response.read().decode()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return 0, ""  # the browser's empty response
        finally:
            connection_.close()

    try:
        wait_for(lambda: answers(port) or gunicorn.poll() is not None, timeout=60, what="gunicorn", log=log)
        status, page = request("GET", f"/admin/attendance_push/pushrun/push/?start={day}")
        # (Whether the page offers the button depends on worker stats other tests may have left.)
        assert status == 200 and "csrfmiddlewaretoken" in page, log.read_text()[-3000:]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
        body = f"csrfmiddlewaretoken={token}&start={day}&end={day}&confirm=yes&run_now=1"
        with holding_the_day(database_url(), day):
            # The push waits for its day's lock past gunicorn's timeout: the worker is killed. (The day's
            # lock, not the attendance table's: the confirmation's preview plans the push's INSERT, which
            # would wait for the table before the run is recorded.)
            status, _page = request("POST", "/admin/attendance_push/pushrun/push/", body, f"; csrftoken={token}")
    finally:
        stop(gunicorn, signal.SIGTERM, timeout=30)
    assert status == 0, (status, log.read_text()[-3000:])
    assert not StudentAttendance.objects.exists()
    # Never left running: interrupted at once (SystemExit), or as soon as its lock or heartbeat
    # says it died. (On SQLite the held write lock kept the request from even recording its run.)
    soon = liveness.LOCK_GRACE if connection.vendor == "postgresql" else liveness.HEARTBEAT_STALE
    mark_never_finishing_interrupted(now() + soon + datetime.timedelta(seconds=1))
    runs = list(PushRun.objects.values_list("status", "error"))
    assert len(runs) == (1 if connection.vendor == "postgresql" else 0), runs
    assert all(status == "interrupted" and "nothing was written" in error for status, error in runs), runs
