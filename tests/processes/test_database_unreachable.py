"""A database that does not answer: the health URL says so in JSON (503, "database"), the admin answers a short 503
page with no traceback, and nothing is lost (issue 20, point 5).

On PostgreSQL the app reaches the real server through a TCP proxy that the test stops (the shared server keeps
running); on SQLite the database file's folder goes away.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import socket
import threading
from collections.abc import Iterator

import pytest
from django.db import OperationalError, connection
from django.test import RequestFactory
from django.urls import resolve

from attendance_push.middleware import DatabaseUnreachableMiddleware
from attendance_push.models import PushRun
from tests.support.admin_pages import CHANGELIST

pytestmark = pytest.mark.django_db(transaction=True)

HEALTH = "/attendance-push/health/"
MIDDLEWARE = "attendance_push.middleware.DatabaseUnreachableMiddleware"


class Proxy:
    """A TCP proxy to `upstream`; `stop()` closes it and every connection through it, as a server that died."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        # Closing alone leaves a socket listening while a thread waits in accept(); shutting it down wakes it.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self.lock:
            for end in self.sockets:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()


class Outage:
    """Make the test database unreachable for the app, and reachable again."""

    def __init__(self, tmp_path) -> None:
        self.settings = connection.settings_dict
        self.saved = dict(self.settings)
        self.tmp_path = tmp_path
        self.proxy: Proxy | None = None
        if connection.vendor == "postgresql":
            self.proxy = Proxy((self.settings["HOST"] or "127.0.0.1", int(self.settings["PORT"] or 5432)))
            self.settings.update(HOST="127.0.0.1", PORT=str(self.proxy.port))
            connection.close()
            connection.ensure_connection()
            assert self.proxy.sockets, "the app does not talk to the server through the proxy"

    def begin(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        else:
            connection.close()
            self.settings["NAME"] = str(self.tmp_path / "gone" / "db.sqlite3")

    def end(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        self.settings.clear()
        self.settings.update(self.saved)
        connection.close()


@pytest.fixture
def outage(tmp_path) -> Iterator[Outage]:
    """Return an Outage of the test database; it ends with the test at the latest."""
    outage = Outage(tmp_path)
    yield outage
    outage.end()


def recorded_run() -> PushRun:
    start = datetime.datetime(2026, 11, 20, 15, 15, 20, tzinfo=datetime.UTC)
    return PushRun.objects.create(
        date=datetime.date(2026, 11, 20), trigger="schedule", status="succeeded", started_at=start, finished_at=start
    )


def test_health_answers_503_naming_the_database_and_the_admin_a_short_503_page(client, superuser, outage):
    run = recorded_run()
    client.force_login(superuser)
    assert client.get(HEALTH).status_code in (200, 503)
    assert client.get(CHANGELIST).status_code == 200

    outage.begin()

    health = client.get(HEALTH)
    assert health.status_code == 503
    assert health["Content-Type"] == "application/json"
    assert json.loads(health.content) == {
        "healthy": False,
        "problems": ["database"],
        "checked_at": json.loads(health.content)["checked_at"],
    }
    for page in (CHANGELIST, f"{CHANGELIST}{run.pk}/change/", "/admin/", "/admin/login/"):
        response = client.get(page)
        content = response.content.decode()
        assert response.status_code == 503, page
        assert "<h1>The database cannot be reached</h1>" in content
        assert "Traceback" not in content and "OperationalError" not in content and "Server Error" not in content
        assert response["Retry-After"] == "60"
    client.cookies.clear()  # anyone
    assert json.loads(client.get(HEALTH).content)["problems"] == ["database"]


def test_with_debug_on_the_page_shows_no_traceback_either(client, superuser, outage, settings):
    settings.DEBUG = True
    client.force_login(superuser)
    outage.begin()
    response = client.get(CHANGELIST)
    assert response.status_code == 503
    assert "Traceback" not in response.content.decode()


def test_the_page_is_in_the_readers_language(client, superuser, outage):
    client.force_login(superuser)
    outage.begin()
    response = client.get(CHANGELIST, headers={"accept-language": "ne"})
    assert response.status_code == 503
    assert '<html lang="ne">' in response.content.decode()
    assert "The database cannot be reached" not in response.content.decode()


def test_without_the_middleware_the_health_url_still_answers_in_json(client, outage, settings):
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != MIDDLEWARE]
    outage.begin()
    response = client.get(HEALTH)
    assert (response.status_code, json.loads(response.content)["problems"]) == (503, ["database"])


def test_nothing_is_lost_and_everything_answers_again(client, superuser, outage):
    run = recorded_run()
    client.force_login(superuser)
    outage.begin()
    assert client.get(CHANGELIST).status_code == 503
    assert client.get(HEALTH).status_code == 503

    outage.end()

    assert client.get(CHANGELIST).status_code == 200
    assert json.loads(client.get(HEALTH).content)["problems"] != ["database"]
    assert PushRun.objects.get(pk=run.pk).status == "succeeded"


def test_an_operational_error_of_a_database_that_answers_is_left_to_django(superuser):
    # SQLite says "no such table" with an OperationalError: a missing migration is no unreachable database.
    request = RequestFactory().get(CHANGELIST)
    request.resolver_match = resolve(CHANGELIST)
    middleware = DatabaseUnreachableMiddleware(lambda request: None)
    assert middleware.process_exception(request, OperationalError("no such table: attendance_push_pushrun")) is None
    assert middleware.process_exception(request, ValueError("not the database")) is None


def test_pages_outside_the_admin_and_the_health_url_are_left_to_django(outage):
    request = RequestFactory().get("/")
    request.resolver_match = None
    outage.begin()
    assert DatabaseUnreachableMiddleware(lambda request: None).process_exception(request, OperationalError("x")) is None
