"""An undo racing a push of the same day, in real processes: the day lock keeps the day consistent."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.models import Count

from attendance_push.models import PushedRecord, PushRun
from attendance_push.runs import run_push
from school.models import StudentAttendance
from tests.support.demo import DAY, attendance
from tests.support.processes import database_url, patience, start, stop, wait_for
from tests.support.races import holding_the_day, one_waiting

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]

PEOPLE, OPEN = 40, 5


def test_an_undo_racing_a_push_of_the_same_day(superuser, make_students, tmp_path):
    students = make_students(PEOPLE)
    for student in students[:OPEN]:
        attendance(student, status="Present", time_in=datetime.time(8, 15))
    pushed = run_push(DAY, trigger=PushRun.Trigger.COMMAND)
    assert (pushed.created, pushed.filled) == (PEOPLE - OPEN, OPEN)

    with holding_the_day(database_url(), DAY):
        racers = [
            start("undo_push", str(pushed.pk), log=tmp_path / "undo.log"),
            start("push_attendance", "--date", f"{DAY}", log=tmp_path / "push.log"),
        ]
        try:
            # Two processes start side by side: one reaches the day's lock, and the other either
            # waits there too or is told the day is under way (one queued or running run per day).
            wait_for(
                lambda: one_waiting(racers, vendor=connection.vendor) or any(r.poll() is not None for r in racers),
                timeout=patience(starts=2),
                what="the undo or the push to wait on the day",
                log=tmp_path / "undo.log",
            )
        except BaseException:
            for racer in racers:
                stop(racer)
            raise
    codes = [racer.wait(timeout=patience(starts=1)) for racer in racers]
    logs = [(tmp_path / name).read_text() for name in ("undo.log", "push.log")]
    assert codes.count(0) >= 1, logs
    for code, log in zip(codes, logs, strict=True):
        assert code == 0 or "already under way" in log, logs

    records = StudentAttendance.objects.filter(date=DAY)
    assert not records.values("student").annotate(n=Count("id")).filter(n__gt=1).exists()
    hand_made = {str(s.pk) for s in students[:OPEN]}
    others = PushRun.objects.exclude(pk=pushed.pk)
    undo_run = others.filter(trigger=PushRun.Trigger.UNDO).first()
    second = others.exclude(trigger=PushRun.Trigger.UNDO).first()
    if codes[1] == 0:
        assert second.status == PushRun.Status.SUCCEEDED
        assert (second.created, second.filled) in [(0, 0), (PEOPLE - OPEN, OPEN)]
    else:
        assert second is None
    if codes[0] != 0:
        assert undo_run is None
        return  # the push ran alone on a day already pushed: the first push's records stand
    assert undo_run.status == PushRun.Status.SUCCEEDED and undo_run.undoes_id == pushed.pk
    # Whichever went first, the undo removed everything the first push wrote...
    assert undo_run.counts["school.StudentAttendance"] == {"deleted": PEOPLE - OPEN, "cleared": OPEN, "kept": 0}
    # ...and what is left of the day is exactly the hand-made records plus what a second push wrote.
    created = set(PushedRecord.objects.filter(run=second, action="created").values_list("person", flat=True))
    filled = set(PushedRecord.objects.filter(run=second, action="filled").values_list("person", flat=True))
    assert {str(pk) for pk in records.values_list("student", flat=True)} == hand_made | created
    closed = {str(pk) for pk in records.filter(time_out__isnull=False).values_list("student", flat=True)}
    assert closed == created | filled
