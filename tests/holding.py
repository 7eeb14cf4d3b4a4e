"""Hold a push inside its transaction, in a process a test starts, until the test lets it go on or kills it.

tests/settings.py installs this app in a process started with ATTENDANCE_PUSH_TEST_HOLD naming a directory: each
push there, once it has written a target's records (target_pushed is sent inside the push's transaction), creates
`held` in that directory and waits for `release`. A test that signals the process then knows where the signal lands:
records written, nothing committed. Watching the database from outside cannot tell that on SQLite, where the worker's
own bookkeeping (the broker's task lock, the cluster's stats in the database cache) takes the same write lock and
leaves the same journal, for as long as a busy disk makes its fsync last.
"""

from __future__ import annotations

import os
import pathlib
import time

from django.apps import AppConfig


class HoldingConfig(AppConfig):
    name = "tests.holding"
    label = "attendance_push_test_holding"

    def ready(self) -> None:
        from attendance_push.signals import target_pushed

        target_pushed.connect(hold, dispatch_uid="attendance_push_test_holding")


def hold(sender, **kwargs) -> None:
    """Say the push is held, then wait until the test releases it."""
    directory = pathlib.Path(os.environ["ATTENDANCE_PUSH_TEST_HOLD"])
    (directory / "held").touch()
    while not (directory / "release").exists():
        time.sleep(0.05)
