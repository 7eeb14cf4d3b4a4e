"""Run django-q2's cluster so that it stops on a signal and dies with its parent.

django-q2 stops the cluster from inside its signal handler (its issue #346): the handler sets a
multiprocessing Event and joins the sentinel, and when the sentinel died first (a platform that
signals every process) or a worker never finishes its task, the main process waits for ever. Here
the handler only records the signal; the main loop stops the cluster, gives it STOP_GRACE seconds,
then kills what is left. Every process the cluster forks asks the kernel for a SIGKILL when its
parent dies (Linux's PR_SET_PDEATHSIG), or, elsewhere, watches its parent and exits when it is gone:
a SIGKILL of the command leaves no sentinel or worker taking tasks.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django_q.conf import logger

# How long the cluster may take to finish its tasks after a signal, before what is left is
# killed. A push is one transaction: killed, it writes nothing, and catch-up runs it again.
STOP_GRACE = 10.0
POLL = 0.2
_PR_SET_PDEATHSIG = 1

_forking_parent = 0


def _before_fork() -> None:
    global _forking_parent  # noqa: PLW0603 (the at-fork hooks share the parent's pid)
    _forking_parent = os.getpid()


def _die_with_parent() -> None:
    """In a child just forked: make sure it does not outlive the process that forked it."""
    parent = _forking_parent
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                # The parent may have died between the fork and the prctl.
                if os.getppid() != parent:
                    os._exit(1)
                return
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="watch-parent").start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


_hooked = False


def children_die_with_parent() -> None:
    """From now on, every process this one forks (and they fork) dies when its parent does."""
    global _hooked  # noqa: PLW0603
    if not _hooked:
        os.register_at_fork(before=_before_fork, after_in_child=_die_with_parent)
        _hooked = True


def descendants(pid: int) -> list[int]:
    """Return the pids of the live descendants of `pid` (read from /proc; empty where there is none)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid …": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields and fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: list[int] = []
    wanted = [pid]
    while wanted:
        parent = wanted.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found.extend(children)
        wanted.extend(children)
    return found


def run_cluster(cluster, *, every: Callable[[], None] | None = None) -> int | None:
    """Start `cluster` and run it until SIGTERM or SIGINT; return the signal that stopped it, if any.

    `every` runs in the main loop about every POLL seconds while the cluster runs.
    """
    children_die_with_parent()
    received: list[int] = []

    def record(signum, frame) -> None:
        # Nothing else here: stopping the cluster inside the handler is django-q2's deadlock.
        received.append(signum)

    # Cluster() installed django-q2's handler; replace it with ours.
    signal.signal(signal.SIGTERM, record)
    signal.signal(signal.SIGINT, record)
    cluster.start()
    while not received and cluster.sentinel.is_alive():
        time.sleep(POLL)
        if every is not None and not received:
            every()
    if received:
        logger.info("Q Cluster %s stopping.", cluster.name)
    stop_cluster(cluster)
    if received:
        logger.info("Q Cluster %s has stopped.", cluster.name)
    return received[0] if received else None


def stop_cluster(cluster, grace: float = STOP_GRACE) -> None:
    """Ask the cluster to stop; after `grace` seconds kill the sentinel and its processes."""
    sentinel = cluster.sentinel
    if sentinel is None:
        return
    if sentinel.is_alive():
        # Event.set() waits for the sentinel to wake from its wait: if the sentinel dies in between,
        # set() never returns. A thread of its own keeps the main loop free.
        threading.Thread(target=cluster.stop_event.set, daemon=True, name="stop-cluster").start()
        deadline = time.monotonic() + grace
        while sentinel.is_alive() and time.monotonic() < deadline:
            sentinel.join(POLL)
    # Whatever is left (a worker held in its task, a sentinel that would not stop) is killed; the
    # descendants first, read while the sentinel still holds them.
    for pid in [*descendants(os.getpid()), sentinel.pid]:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    sentinel.join(POLL * 10)
