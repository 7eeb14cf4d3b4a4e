"""Start the project's real processes (manage.py commands, qcluster) against the test database."""

from __future__ import annotations

import contextlib
import datetime
import functools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from django.db import connection

from attendance_push.conf import conf

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """Return a DATABASE_URL naming the database the tests are using right now."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def zone_at_noon(now: datetime.datetime | None = None) -> str:
    """Return a time zone in which it is between 12:00 and 13:00 at `now` (the wall clock by default).

    A worker's clock cannot be moved from the test, so a test that starts one moves the push zone
    instead: there, midnight and the 21:00 push are eight hours away or more, whatever the hour.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    offset = (12 - now.astimezone(datetime.UTC).hour + 12) % 24 - 12  # -12 … +11 hours from UTC
    # The signs of the Etc/GMT zones are POSIX's, the opposite of ISO's: Etc/GMT-5 is UTC+5.
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


def process_env(**extra: str) -> dict[str, str]:
    """Return the environment of a project process on the test database, in the tests' push zone."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "PYTHONUNBUFFERED": "1",
        "ATTENDANCE_PUSH_TIME_ZONE": conf.TIME_ZONE.key,
        **extra,
    }


# How long to wait for a process is worked out from what the wait covers, never guessed once for
# every machine: the start-ups of Django processes, measured on this machine under its present
# load; passes of django-q2's scheduler, which runs every 30 s of guard cycles
# (django_q/cluster.py); and seconds of work the test itself measured. HEADROOM covers load that
# rises during the wait (the machine is shared); ATTENDANCE_PUSH_TEST_TIMEOUT_FACTOR stretches
# everything on a machine slower than any measurement shows (e.g. 3 under an emulator).
SCHEDULER_PERIOD = 30.0
HEADROOM = 5.0
FLOOR = 10.0  # a poll loop's own slack: a few polls, a database round trip


def timeout_factor() -> float:
    return float(os.environ.get("ATTENDANCE_PUSH_TEST_TIMEOUT_FACTOR", "1"))


@functools.cache
def startup_seconds() -> float:
    """Return how long a `manage.py check` takes here now: one Django process start-up, measured once."""
    started = time.monotonic()
    subprocess.run(  # noqa: S603 (our interpreter and manage.py)
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        timeout=300,
        check=True,
    )
    return time.monotonic() - started


def patience(*, starts: int = 0, scheduler_passes: int = 0, work: float = 0.0) -> float:
    """Return the seconds to wait for `starts` process start-ups, `scheduler_passes` passes of a
    cluster's scheduler and `work` measured seconds of work."""
    measured = starts * startup_seconds() + work
    return timeout_factor() * (HEADROOM * measured + scheduler_passes * SCHEDULER_PERIOD + FLOOR)


def manage(*args: str, env: dict[str, str] | None = None, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run `manage.py *args` to completion and return it (output captured as text)."""
    # Only a guard against a hang: a command is a start-up and some seconds of work.
    timeout = timeout if timeout is not None else patience(starts=4)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env or process_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start(*args: str, env: dict[str, str] | None = None, log: Path) -> subprocess.Popen:
    """Start `manage.py *args` in the background, its output going to `log`."""
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env or process_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def shell(code: str, *, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.Popen:
    """Start `manage.py shell -c code` in the background (in `cwd`'s project), its output piped back."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=cwd,
        env=env or process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def stop(process: subprocess.Popen, sig: int = signal.SIGINT, timeout: float | None = None) -> int:
    """Stop `process` with `sig` as Ctrl-C would, then kill its group if it lingers."""
    # A clean stop takes about a start-up's worth of work (closing connections, joining workers).
    timeout = timeout if timeout is not None else patience(starts=1)
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    # A cluster's children can outlive their parent; never leave them behind.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    return process.returncode


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, log: Path | None = None) -> object:
    """Poll `condition` until it returns something truthy; fail with the log after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.25)
    output = log.read_text() if log and log.exists() else ""
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}.\n{output[-4000:]}")


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(port: int) -> bool:
    """Return whether a server accepts connections on `port` of 127.0.0.1."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def push_time_ahead(zone: str) -> tuple[datetime.datetime, datetime.datetime]:
    """Return now in `zone` and a push time there: the next whole minute at least a minute away."""
    now = datetime.datetime.now(ZoneInfo(zone))
    return now, (now + datetime.timedelta(seconds=119)).replace(second=0, microsecond=0)
