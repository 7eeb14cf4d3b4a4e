"""`attendance_scheduler` stops on SIGTERM within 15 s, every time, and its processes die with it."""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django_q.models import OrmQ

from attendance_push.days import today
from attendance_push.management.cluster import descendants
from attendance_push.models import PushRun
from attendance_push.runs import queue_push
from tests.support.processes import patience, process_env, start, wait_for

pytestmark = [
    pytest.mark.process,
    pytest.mark.clock,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("noon_zone"),
]

STOP_WITHIN = 15.0
STOPS = 50
MID_PUSH_EVERY = 10  # every tenth stop lands while a push is held in its transaction


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie is dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def cluster_up(scheduler: subprocess.Popen, log: Path) -> list[int] | None:
    """Return the scheduler's descendants once its cluster says it is running."""
    return descendants(scheduler.pid) if "running." in log.read_text() else None


def start_scheduler(tmp_path: Path, n: int, hold: Path) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"scheduler-{n}.log"
    scheduler = start("attendance_scheduler", env=process_env(ATTENDANCE_PUSH_TEST_HOLD=str(hold)), log=log)
    wait_for(lambda: cluster_up(scheduler, log), timeout=patience(starts=2), what="the cluster to run", log=log)
    return scheduler, log


def assert_gone(pids: list[int], *, within: float, log: Path) -> None:
    deadline = time.monotonic() + within
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in pids if alive(pid)]
    assert not left, f"processes left alive: {left}\n{log.read_text()[-3000:]}"


def test_a_sigkilled_scheduler_leaves_no_process_behind(tmp_path):
    hold = tmp_path / "hold"
    hold.mkdir()
    scheduler, log = start_scheduler(tmp_path, 0, hold)
    try:
        children = descendants(scheduler.pid)
        assert len(children) >= 3  # the sentinel, its workers, monitor and pusher
        os.kill(scheduler.pid, signal.SIGKILL)  # the command alone: it cannot clean up
        scheduler.wait(timeout=10)
        assert_gone(children, within=5, log=log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(scheduler.pid, signal.SIGKILL)


def one_stop(tmp_path: Path, n: int, *, mid_push: bool, group: bool) -> float:
    """Start the scheduler, stop it with SIGTERM, assert it and its processes are gone; return the seconds."""
    hold = tmp_path / f"hold-{n}"
    hold.mkdir()
    scheduler, log = start_scheduler(tmp_path, n, hold)
    try:
        if mid_push:
            # A day of its own each time: the killed push's run stays "running" on its day.
            queue_push(today() - datetime.timedelta(days=n // MID_PUSH_EVERY + 1), trigger=PushRun.Trigger.ADMIN)
            wait_for((hold / "held").exists, timeout=patience(starts=1), what="the push to hold", log=log)
        children = descendants(scheduler.pid)
        stopping = time.monotonic()
        # systemd (KillMode=mixed) signals the main process; a Heroku dyno signals every process.
        if group:
            os.killpg(scheduler.pid, signal.SIGTERM)
        else:
            scheduler.send_signal(signal.SIGTERM)
        try:
            scheduler.wait(timeout=STOP_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"stop {n} took more than {STOP_WITHIN}s\n{log.read_text()[-3000:]}")
        took = time.monotonic() - stopping
        assert_gone(children, within=max(0.5, STOP_WITHIN - took), log=log)
        return took
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(scheduler.pid, signal.SIGKILL)
        # A push killed in its task would be handed out again by the broker: not to the next start.
        OrmQ.objects.all().delete()


def test_the_scheduler_stops_on_sigterm_mid_push(superuser, make_students, tmp_path):
    make_students(5)
    assert one_stop(tmp_path, 0, mid_push=True, group=False) < STOP_WITHIN


def test_fifty_stops_in_a_row(superuser, make_students, tmp_path):
    make_students(5)
    took = [one_stop(tmp_path, n, mid_push=n % MID_PUSH_EVERY == 0, group=n % 2 == 1) for n in range(STOPS)]
    assert max(took) < STOP_WITHIN
