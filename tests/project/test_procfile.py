"""The Procfile works as written: release on a fresh database, then web and worker under honcho,
driven over real HTTP as Heroku's router and an administrator would."""

from __future__ import annotations

import contextlib
import datetime
import http.client
import http.cookies
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.processes import ROOT, answers, free_port, patience, wait_for
from tests.support.servers import postgres_database, query

pytestmark = pytest.mark.process

PROCFILE = ROOT / "Procfile"
# The virtualenv running the tests: its gunicorn, python and honcho are the deployment's.
VENV_BIN = Path(sys.executable).parent
PUSH_ZONE = ZoneInfo("Asia/Kathmandu")
MARKER = "ATTENDANCE_PUSH_PROCFILE_TEST"

# Variables config/settings.py (or gunicorn, or honcho) read: none of the developer's may leak in.
LEAKING = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "REDIS_URL",
    "SQLITE_TIMEOUT",
    "CONN_MAX_AGE",
    "TIME_ZONE",
    "ADMINS",
    "SERVER_EMAIL",
    "LOG_LEVEL",
    "SITE_URL",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "ENV_FILE",
    "PORT",
    "WEB_CONCURRENCY",
    "PROCFILE",
}
LEAKING_PREFIXES = ("DJANGO_", "ATTENDANCE_PUSH_", "SECURE_", "EMAIL_", "Q_", "GUNICORN", "HONCHO_")


def procfile() -> dict[str, str]:
    """Return the Procfile's process types and their commands, exactly as written."""
    processes = {}
    for line in PROCFILE.read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_-]+):\s*(.+)", line.strip())
        if match:
            processes[match[1]] = match[2]
    return processes


def production_env(database_url: str, port: int, marker: str, static_root: Path) -> dict[str, str]:
    """The environment of a Heroku dyno: DEBUG unset, a strong key, the add-on's DATABASE_URL, no Redis."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in LEAKING and not name.startswith(LEAKING_PREFIXES)
    }
    # DJANGO_SETTINGS_MODULE is gone with the prefix: manage.py and config/wsgi.py pick config.settings.
    return {
        **env,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "ENV_FILE": "/dev/null",
        "STATIC_ROOT": str(static_root),
        "PORT": str(port),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        # Every process of this test inherits it, whatever session or group it puts itself in.
        MARKER: marker,
    }


def manage(env: dict[str, str], *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout if timeout is not None else patience(starts=4),  # only a guard against a hang
        check=False,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def sql(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    """Run one query (%s placeholders) on the test's own database."""
    if url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"), timeout=20)) as connection:
            return connection.execute(statement.replace("%s", "?"), params).fetchall()
    return query(url, statement, params)


@contextlib.contextmanager
def fresh_database(vendor: str, tmp_path: Path) -> Iterator[str]:
    if vendor == "postgresql":
        with postgres_database("attendance_push_procfile") as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"


def processes_of_this_test(marker: str) -> dict[int, str]:
    """Return {pid: command line} of every live process carrying this test's marker."""
    found = {}
    needle = f"{MARKER}={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    text: str

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")


@dataclass
class Browser:
    """An administrator's browser behind Heroku's router: TLS ends upstream, which says so in a header."""

    port: int
    cookies: dict[str, http.cookies.Morsel] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, form: dict | None = None, *, behind_router: bool = True) -> Response:
        headers = {}
        if behind_router:
            headers["X-Forwarded-Proto"] = "https"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={morsel.value}" for name, morsel in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers.update(
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Origin": self.origin,
                    "Referer": f"{self.origin}{path}",
                }
            )
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = http.cookies.SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel.value:
                    self.cookies[name] = morsel
                else:
                    self.cookies.pop(name, None)
        return Response(response.status, response.headers, content.decode("utf-8", "replace"))

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, form: dict) -> Response:
        return self.request("POST", path, form)


def csrf_token(page: Response) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert match, f"no CSRF token in the page:\n{page.text[:2000]}"
    return match[1]


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory) -> Path:
    """Collect the static files as Heroku's Python buildpack does at build time (DEBUG off: hashed,
    compressed, with whitenoise's manifest), into a folder of the test's own."""
    static_root = tmp_path_factory.mktemp("staticfiles")
    env = production_env("sqlite:////dev/null", free_port(), uuid.uuid4().hex, static_root)
    # Only a guard against a hang: copying the admin's static files is a few start-ups' worth.
    manage(env, "collectstatic", "--noinput", "-v", "0", timeout=patience(starts=10))
    return static_root


@pytest.mark.parametrize("vendor", ["sqlite", "postgresql"])
def test_the_procfile_releases_serves_pushes_and_stops(vendor, collected_static, tmp_path):
    processes = procfile()
    assert {"release", "web", "worker"} <= processes.keys(), f"the Procfile declares {sorted(processes)}"
    assert (collected_static / "staticfiles.json").exists(), "collectstatic wrote no manifest"

    with fresh_database(vendor, tmp_path) as url:
        port = free_port()
        marker = uuid.uuid4().hex
        env = production_env(url, port, marker, collected_static)

        # release: exactly the Procfile's line, through a shell, as Heroku runs it before new dynos start.
        for _ in range(2):  # every deploy runs it again: it must be idempotent
            release = subprocess.run(
                ["bash", "-c", processes["release"]],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                # Only a guard against a hang: two commands, one of them every migration.
                timeout=patience(starts=10),
                check=False,
            )
            assert release.returncode == 0, f"release failed:\n{release.stdout}\n{release.stderr}"
        manage(env, "migrate", "--check")  # every migration applied
        assert sql(url, "SELECT count(*) FROM django_cache") == [(0,)]  # the cache table exists
        assert sorted(sql(url, "SELECT name FROM django_q_schedule")) == [
            ("attendance_push.catch_up",),
            ("attendance_push.daily",),
            ("attendance_push.prune",),
        ]

        password = secrets.token_urlsafe(16)
        manage(
            {
                **env,
                "DJANGO_SUPERUSER_USERNAME": "headteacher",
                "DJANGO_SUPERUSER_PASSWORD": password,
                "DJANGO_SUPERUSER_EMAIL": "headteacher@example.org",
            },
            "createsuperuser",
            "--noinput",
        )
        manage(
            env,
            "shell",
            "-c",
            "from school.models import Employee, Student\n"
            "Student.objects.bulk_create(Student(name=f'Student {n}') for n in range(3))\n"
            "Student.objects.create(name='Gone', is_active=False)\n"
            "Employee.objects.create(name='Teacher')",
        )

        log = tmp_path / "honcho.log"
        with log.open("w") as out:
            honcho = subprocess.Popen(
                # The Procfile itself, its web and worker lines; no .env (honcho reads one by default).
                [str(VENV_BIN / "honcho"), "--no-colour", "start", "-f", str(PROCFILE), "-e", "/dev/null"]
                + ["web", "worker"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for(
                lambda: answers(port) or honcho.poll() is not None,
                timeout=patience(starts=3),  # honcho, gunicorn's master and its worker
                what=f"gunicorn to answer on port {port}",
                log=log,
            )
            assert honcho.poll() is None, f"honcho stopped:\n{log.read_text()[-4000:]}"
            browse_login_and_push(Browser(port), url, password, log)
        finally:
            outcome = stop_honcho(honcho, marker)
        assert outcome["exited_in"] < 30, f"honcho took {outcome['exited_in']:.1f}s to stop"
        assert not outcome["left"], f"processes left behind: {outcome['left']}"
        output = log.read_text()
        assert "SIGINT received" in output, output[-4000:]
        # gunicorn stops gracefully on honcho's SIGTERM.
        assert "Shutting down: Master" in output, output[-4000:]
        # The qcluster sees the signal. honcho sends it to the process's whole group, as Heroku does
        # to a dyno: it kills django-q2's Sentinel (SIG_DFL) while it waits on the stop event, so the
        # main process's stop_event.set() waits for that dead waiter forever and honcho SIGKILLs it
        # after 5 s (Heroku after 30 s; docs/deployment.md, "A dyno restart"). Nothing is left either way.
        # When the signal kills the Sentinel before the main process's handler runs, django-q2's
        # stop() finds it dead and logs nothing; under load the worker was then seen to end on the
        # signal itself (rc=-15). Both mean the worker stopped on the platform's SIGTERM.
        assert re.search(r"worker\.1 .*Q Cluster .+ stopping\.|worker\.1 stopped \(rc=-15\)", output), output[-4000:]
        assert honcho.returncode == 130, f"honcho exited with {honcho.returncode}:\n{output[-4000:]}"


def browse_login_and_push(browser: Browser, url: str, password: str, log: Path) -> None:
    # Without the router's header the request came over plain HTTP: the project sends it to HTTPS.
    insecure = browser.get("/admin/login/", behind_router=False)
    assert insecure.status == 301
    assert insecure.location == f"https://127.0.0.1:{browser.port}/admin/login/"

    login = browser.get("/admin/login/?next=/admin/")
    assert login.status == 200, login.text[:2000]
    assert login.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert browser.cookies["csrftoken"]["secure"], "the CSRF cookie must be Secure in production"

    # whitenoise serves the collected, hashed admin stylesheet from the web process.
    stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.text)
    assert stylesheet, f"no hashed admin stylesheet in the login page:\n{login.text[:2000]}"
    css = browser.get(stylesheet[1])
    assert css.status == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert "immutable" in css.headers.get("Cache-Control", "")
    assert "body" in css.text

    logged_in = browser.post(
        "/admin/login/?next=/admin/",
        {"csrfmiddlewaretoken": csrf_token(login), "username": "headteacher", "password": password, "next": "/admin/"},
    )
    assert logged_in.status == 302, logged_in.text[:3000]
    assert logged_in.location == "/admin/"
    assert browser.cookies["sessionid"]["secure"], "the session cookie must be Secure in production"
    index = browser.get("/admin/")
    assert index.status == 200
    assert "Push runs" in index.text
    assert "Log out" in index.text

    # The worker is up when its stats reach the shared (database) cache the web process reads.
    wait_for(
        lambda: re.search(r"worker\.1 .*Q Cluster .+ running\.", log.read_text()),
        timeout=patience(starts=2),  # the cluster and its workers
        what="the qcluster to start",
        log=log,
    )
    day = datetime.datetime.now(PUSH_ZONE).date()
    push_url = f"/admin/attendance_push/pushrun/push/?start={day:%Y-%m-%d}"

    def confirmation_seeing_the_worker() -> Response | None:
        page = browser.get(push_url)
        assert page.status == 200, page.text[:3000]
        return page if "No worker is running" not in page.text else None

    # The cluster's stats reach the shared cache within a guard cycle; each poll is a page load.
    seeing = patience(starts=1)
    confirmation = wait_for(confirmation_seeing_the_worker, timeout=seeing, what="the admin to see the worker", log=log)
    assert "Push attendance?" in confirmation.text
    # The dry-run preview: three active students and one employee to create.
    assert '<th scope="row">Student attendance</th><td>3</td>' in confirmation.text, confirmation.text
    assert '<th scope="row">Employee attendance</th><td>1</td>' in confirmation.text, confirmation.text

    queued = browser.post(
        "/admin/attendance_push/pushrun/push/",
        {
            "csrfmiddlewaretoken": csrf_token(confirmation),
            "start": f"{day:%Y-%m-%d}",
            "end": f"{day:%Y-%m-%d}",
            "confirm": "yes",
            "queue": "Yes, push this day",
        },
    )
    assert queued.status == 302, queued.text[:3000]
    assert queued.location == "/admin/attendance_push/pushrun/"
    history = browser.get(queued.location)
    assert history.status == 200
    assert "Queued the push of" in history.text

    run = wait_for(
        lambda: sql(
            url,
            "SELECT r.status, r.created, r.filled, r.skipped, r.error, u.username FROM attendance_push_pushrun r "
            "JOIN auth_user u ON u.id = r.requested_by_id "
            "WHERE r.trigger = 'admin' AND r.date = %s AND r.status IN ('succeeded', 'failed')",
            (f"{day}",),
        ),
        timeout=patience(starts=1),  # a running worker polls the broker at once; four people are no work
        what="the worker to run the queued push",
        log=log,
    )
    assert run == [("succeeded", 4, 0, 0, "", "headteacher")], run
    students = "SELECT count(*) FROM school_studentattendance WHERE date = %s AND status = 'Present'"
    employees = "SELECT count(*) FROM school_employeeattendance WHERE date = %s AND status = 'Present'"
    assert sql(url, students, (f"{day}",)) == [(3,)]
    assert sql(url, employees, (f"{day}",)) == [(1,)]
    history = browser.get("/admin/attendance_push/pushrun/")
    assert "Succeeded" in history.text


def stop_honcho(honcho: subprocess.Popen, marker: str) -> dict:
    """Ctrl-C honcho; measure how long everything takes to end; kill what is left as a last resort."""
    started = time.monotonic()
    left: dict[int, str] = {}
    try:
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                honcho.wait(timeout=30)
        exited_in = time.monotonic() - started
        # honcho waits for its direct children; give their children a moment to follow.
        deadline = time.monotonic() + 10
        while (left := processes_of_this_test(marker)) and time.monotonic() < deadline:
            time.sleep(0.25)
    finally:
        # Last resort: honcho puts every Procfile process in a session of its own, so kill by marker.
        for pid in processes_of_this_test(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(honcho.pid, signal.SIGKILL)
        if honcho.poll() is None:
            honcho.wait(timeout=10)
    return {"exited_in": exited_in, "left": left}
