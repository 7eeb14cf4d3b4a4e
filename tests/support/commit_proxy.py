"""A TCP proxy in front of PostgreSQL that loses the answer to one COMMIT: the server commits, the client is
told the connection broke.

It reads just enough of PostgreSQL's protocol (version 3) to find that COMMIT. A client opens with
untyped messages: psycopg2's SSLRequest (the proxy answers it with the one byte "N", no TLS, so that
it can read what follows), then the start-up message, which it passes on. Every later message is
typed: one byte, then a length that counts itself. A simple query ('Q') carries the SQL text with the
parameters already in it, as psycopg2 sends everything. Once a session has sent a statement containing
`after` (by default the day's advisory lock, which only a push's or an undo's transaction takes), the
next COMMIT of that session goes to the server; the proxy reads the server's answer up to its
ReadyForQuery, keeps it in `lost_answer`, and closes both sides instead of passing it on. One COMMIT
per proxy: every later session passes through untouched, as a database that answers again.

Bounded in time: it listens on 127.0.0.1 only, every socket gives up after `timeout` seconds of
silence, and leaving the `with` block closes everything.
"""

from __future__ import annotations

import contextlib
import socket
import threading

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("peer closed")
        data += chunk
    return data


def _ends_with_ready_for_query(data: bytes) -> bool:
    """Return whether `data` (whole typed messages from the server) holds a ReadyForQuery ('Z')."""
    offset = 0
    while offset + 5 <= len(data):
        kind, length = data[offset : offset + 1], int.from_bytes(data[offset + 1 : offset + 5], "big")
        if offset + 1 + length > len(data):
            return False
        if kind == b"Z":
            return True
        offset += 1 + length
    return False


class _Session:
    def __init__(self, client: socket.socket, server: socket.socket):
        self.client, self.server = client, server
        self.dropping = False
        self.answer = b""
        self.answered = threading.Event()

    def close(self) -> None:
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class CommitProxy:
    """Listen on 127.0.0.1 and pass every session to PostgreSQL at `server`, losing one COMMIT's answer."""

    def __init__(self, server: tuple[str, int], *, after: str = "pg_advisory_xact_lock", timeout: float = 120.0):
        self.server = server
        self.after = after.lower()
        self.timeout = timeout
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lost_answer = b""  # what the server answered to the COMMIT the client never heard of
        self.dropped = threading.Event()
        self._drops_left = 1
        self._lock = threading.Lock()
        self._sessions: list[_Session] = []
        self._closed = False

    def url(self, database_url: str) -> str:
        """Return `database_url` (postgres://user@host:port/name) pointed at this proxy."""
        scheme, rest = database_url.split("://", 1)
        credentials, _, location = rest.rpartition("@")
        _hostport, slash, path = location.partition("/")
        return f"{scheme}://{credentials + '@' if credentials else ''}127.0.0.1:{self.port}{slash}{path}"

    def __enter__(self) -> CommitProxy:
        threading.Thread(target=self._accept, name="commit proxy", daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for session in list(self._sessions):
            session.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.server, timeout=self.timeout)
            except OSError:
                client.close()
                continue
            client.settimeout(self.timeout)
            session = _Session(client, server)
            self._sessions.append(session)
            threading.Thread(target=self._answers, args=(session,), daemon=True).start()
            threading.Thread(target=self._requests, args=(session,), daemon=True).start()

    def _take_drop(self) -> bool:
        with self._lock:
            if self._drops_left:
                self._drops_left -= 1
                return True
            return False

    def _requests(self, session: _Session) -> None:
        """Pass the client's messages to the server; lose the answer to the COMMIT after `after`."""
        client, server = session.client, session.server
        try:
            while True:  # the untyped opening messages
                header = _read(client, 4)
                body = _read(client, int.from_bytes(header, "big") - 4)
                if int.from_bytes(body[:4], "big") in (SSL_REQUEST, GSSENC_REQUEST):
                    client.sendall(b"N")  # no encryption: the start-up message follows in the clear
                    continue
                server.sendall(header + body)
                break
            armed = False
            while True:
                kind = _read(client, 1)
                header = _read(client, 4)
                body = _read(client, int.from_bytes(header, "big") - 4)
                if kind == b"Q":
                    sql = body.rstrip(b"\0").decode("utf-8", "replace").strip().rstrip(";").strip().upper()
                    if self.after.upper() in sql:
                        armed = True
                    elif sql in ("COMMIT", "ROLLBACK", "END"):
                        if armed and sql != "ROLLBACK" and self._take_drop():
                            session.dropping = True  # before the server can answer
                            server.sendall(kind + header + body)
                            session.answered.wait(self.timeout)
                            self.lost_answer = session.answer
                            self.dropped.set()
                            return  # closes both sides: the client hears the connection break
                        armed = False
                server.sendall(kind + header + body)
        except (OSError, ConnectionError):
            pass
        finally:
            session.close()

    @staticmethod
    def _answers(session: _Session) -> None:
        """Pass the server's messages to the client, except the answer being lost."""
        try:
            while data := session.server.recv(65536):
                if session.dropping:
                    # The client waited for ReadyForQuery before its COMMIT: this is the answer to it.
                    session.answer += data
                    if _ends_with_ready_for_query(session.answer):
                        session.answered.set()
                        return
                    continue
                session.client.sendall(data)
        except OSError:
            pass
        finally:
            session.answered.set()
            if not session.dropping:
                session.close()
