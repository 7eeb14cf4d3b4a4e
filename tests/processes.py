"""Start the project's real processes (manage.py commands, qcluster) against the test database."""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

from attendance_push.conf import conf

ROOT = Path(__file__).resolve().parent.parent


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


def manage(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `manage.py *args` to completion and return it (output captured as text)."""
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


def stop(process: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 30) -> int:
    """Stop `process` with `sig` as Ctrl-C would, then kill its group if it lingers."""
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
