"""Honest history under faults, in-process: one active run per day, lost tasks, heartbeats, a database
that stops answering."""

from __future__ import annotations

import datetime
import threading
import time
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, connections, transaction
from django.db.utils import OperationalError
from django_q.conf import Conf
from django_q.signing import SignedPackage

from attendance_push import liveness
from attendance_push.days import today
from attendance_push.exceptions import PushError
from attendance_push.liveness import mark_never_finishing_interrupted
from attendance_push.models import PushRun
from attendance_push.runs import blocking_run, queue_push, queue_pushes, run_push
from school.models import StudentAttendance
from tests.support.servers import redis_url

pytestmark = pytest.mark.django_db(transaction=True)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# --- 7. one queued or running run per day, enforced by the database --------------------------------


@pytest.mark.parametrize("first", ["queued", "running"])
@pytest.mark.parametrize("second", ["queued", "running"])
def test_the_database_refuses_a_second_active_run_of_a_day(first, second):
    day = today()
    PushRun.objects.create(date=day, trigger="admin", status=first)
    with pytest.raises(IntegrityError), transaction.atomic():
        PushRun.objects.create(date=day, trigger="admin", status=second)
    # Finished runs, and other days, are not limited.
    for status in ("succeeded", "failed", "interrupted"):
        PushRun.objects.create(date=day, trigger="admin", status=status)
    PushRun.objects.create(date=day - datetime.timedelta(days=1), trigger="admin", status=second)


def test_six_administrators_confirming_the_same_day_at_once_queue_one_run(superuser, make_students):
    make_students(2)
    day = today() - datetime.timedelta(days=1)
    racers = 6
    barrier = threading.Barrier(racers)
    outcomes: list[str] = []

    def confirm() -> None:
        try:
            barrier.wait(timeout=30)
            queue_pushes([day], trigger="admin", requested_by=superuser)
            outcomes.append("queued")
        except PushError as exc:
            outcomes.append(str(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=confirm) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert outcomes.count("queued") == 1, outcomes
    refused = [outcome for outcome in outcomes if outcome != "queued"]
    assert len(refused) == racers - 1
    assert all(f"The push of {day:%Y-%m-%d} is already under way (queued, run " in text for text in refused), refused
    assert PushRun.objects.filter(date=day).count() == 1


def test_a_push_that_meets_a_live_run_of_its_day_says_already_under_way(superuser, make_students):
    make_students(2)
    day = today() - datetime.timedelta(days=1)
    live = PushRun.objects.create(date=day, trigger="admin", status="queued", task_id="waiting")
    with pytest.raises(PushError, match=rf"already under way \(queued, run {live.pk}, requested "):
        run_push(day, trigger="command")
    with pytest.raises(CommandError, match=rf"already under way \(queued, run {live.pk}"):
        call_command("push_attendance", "--date", f"{day}")
    assert list(PushRun.objects.values_list("pk", flat=True)) == [live.pk]
    assert not StudentAttendance.objects.exists()


def test_a_dead_run_gives_way_to_a_new_push_of_its_day(superuser, make_students):
    make_students(2)
    day = today() - datetime.timedelta(days=1)
    dead = PushRun.objects.create(
        date=day, trigger="schedule", status="running", started_at=now() - datetime.timedelta(hours=1)
    )
    run = run_push(day, trigger="command")
    dead.refresh_from_db()
    assert (dead.status, run.status, run.created) == ("interrupted", "succeeded", 2)


def test_the_migration_interrupts_extra_active_runs_before_adding_the_constraint():
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate([("attendance_push", "0003_ledger")])
    try:
        old = executor.loader.project_state([("attendance_push", "0003_ledger")]).apps.get_model(
            "attendance_push", "PushRun"
        )
        day = datetime.date(2026, 11, 20)
        queued = old.objects.create(date=day, trigger="admin", status="queued")
        running = old.objects.create(date=day, trigger="schedule", status="running")
        other = old.objects.create(date=day, trigger="admin", status="queued")
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
        statuses = dict(PushRun.objects.values_list("pk", "status"))
        assert statuses == {queued.pk: "interrupted", running.pk: "running", other.pk: "interrupted"}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


# --- 2. tasks lost by the Redis broker ---------------------------------------------------------------


@pytest.fixture
def redis_broker(monkeypatch):
    """Make django-q2 use the test Redis as its broker, on a queue of this test's own."""
    from django_q.brokers import get_broker

    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", redis_url())
    monkeypatch.setattr(Conf, "CLUSTER_NAME", f"attendance_push_test_{uuid.uuid4().hex[:8]}")
    broker = get_broker()
    yield broker
    broker.delete_queue()


def test_a_queued_run_whose_task_redis_lost_is_interrupted_and_the_day_can_be_pushed(
    superuser, make_students, redis_broker, settings
):
    make_students(2)
    waiting_day, lost_day = today() - datetime.timedelta(days=2), today() - datetime.timedelta(days=1)
    waiting = queue_push(waiting_day, trigger="admin", requested_by=superuser)
    lost = queue_push(lost_day, trigger="admin", requested_by=superuser)
    waiting.refresh_from_db()
    lost.refresh_from_db()
    assert waiting.task_id and lost.task_id and redis_broker.queue_size() == 2
    # A worker takes tasks with BLPOP: killed before running one (or Redis restarted without
    # persistence), the task is gone and its run stays queued.
    payloads = redis_broker.connection.lrange(redis_broker.list_key, 0, -1)
    (lost_payload,) = [p for p in payloads if SignedPackage.loads(p)["id"] == lost.task_id]
    redis_broker.connection.lrem(redis_broker.list_key, 1, lost_payload)
    assert liveness.waiting_task_ids() == {waiting.task_id}

    # Within the task timeout it may still be waiting for a worker's free process.
    assert mark_never_finishing_interrupted(now() + datetime.timedelta(seconds=590)) == 0
    timeout = liveness.task_timeout()
    assert mark_never_finishing_interrupted(now() + timeout + datetime.timedelta(seconds=1)) == 1
    lost.refresh_from_db()
    waiting.refresh_from_db()
    assert lost.status == "interrupted" and "left the broker and never started" in lost.error
    assert waiting.status == "queued"  # still in Redis: a worker will run it
    # The day is free again: the admin can push it.
    assert blocking_run([lost_day]) is None
    again = queue_push(lost_day, trigger="admin", requested_by=superuser)
    assert again.status == "queued"


def test_a_queued_run_whose_task_the_orm_broker_holds_is_never_lost(superuser, make_students):
    make_students(1)
    day = today() - datetime.timedelta(days=1)
    run = queue_push(day, trigger="admin", requested_by=superuser)
    run.refresh_from_db()
    assert run.task_id in liveness.waiting_task_ids()
    assert mark_never_finishing_interrupted(now() + datetime.timedelta(days=1)) == 0


def test_a_broker_that_cannot_be_read_lost_nothing(superuser, monkeypatch, make_students):
    make_students(1)
    day = today() - datetime.timedelta(days=1)
    run = queue_push(day, trigger="admin", requested_by=superuser)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", "redis://127.0.0.1:1/0")  # nothing listens there
    assert liveness.waiting_task_ids() is None
    assert mark_never_finishing_interrupted(now() + datetime.timedelta(days=1)) == 0
    run.refresh_from_db()
    assert run.status == "queued"


# --- 5. a running run is dead when its lock or its heartbeat says so, not after the task timeout -----


def test_a_long_running_push_is_not_interrupted_while_it_is_alive(superuser, make_students, monkeypatch):
    """A run older than Q_CLUSTER["timeout"] whose push is alive stays running."""
    make_students(1)
    day = today() - datetime.timedelta(days=1)
    started = now() - datetime.timedelta(hours=2)
    run = PushRun.objects.create(date=day, trigger="command", status="running", started_at=started)
    if connection.vendor == "postgresql":
        from tests.support.races import holding_day_lock

        with holding_day_lock(day):
            assert mark_never_finishing_interrupted() == 0
        assert mark_never_finishing_interrupted() == 1
    else:
        run.heartbeat_at = now()
        run.save(update_fields=["heartbeat_at"])
        assert mark_never_finishing_interrupted() == 0
        assert mark_never_finishing_interrupted(now() + liveness.HEARTBEAT_STALE + datetime.timedelta(seconds=1)) == 1
    run.refresh_from_db()
    assert run.status == "interrupted"


def test_the_heartbeat_is_written_while_the_push_runs(superuser, monkeypatch):
    monkeypatch.setattr(liveness, "lock_tells", lambda: False)
    monkeypatch.setattr(liveness, "HEARTBEAT_EVERY", datetime.timedelta(seconds=0.05))
    day = today() - datetime.timedelta(days=1)
    run = PushRun.objects.create(date=day, trigger="command", status="running", started_at=now())
    with liveness.heartbeat(run):
        deadline = time.monotonic() + 30
        while PushRun.objects.get(pk=run.pk).heartbeat_at is None:
            assert time.monotonic() < deadline, "no heartbeat was written"
            time.sleep(0.05)
    beat = PushRun.objects.get(pk=run.pk).heartbeat_at
    time.sleep(0.2)
    assert PushRun.objects.get(pk=run.pk).heartbeat_at == beat  # it stops with the push


def test_the_outcome_is_recorded_in_the_pushs_own_transaction(superuser, make_students, monkeypatch):
    """A kill between the COMMIT and the status write cannot happen: they are one transaction."""
    make_students(3)
    day = today() - datetime.timedelta(days=1)

    def killed(self, result):
        raise KeyboardInterrupt  # what a signal looks like to the code it lands in

    monkeypatch.setattr(PushRun, "mark_succeeded", killed)
    with pytest.raises(KeyboardInterrupt):
        run_push(day, trigger="command")
    # Nothing of the push committed without its outcome, and the run says so at once.
    assert not StudentAttendance.objects.filter(date=day).exists()
    (run,) = PushRun.objects.all()
    assert run.status == "interrupted" and "nothing was written" in run.error
    assert run.error.endswith("(KeyboardInterrupt)")


# --- 6. a database that stops answering mid-push -------------------------------------------------------


def test_a_database_that_stops_answering_fails_the_command_with_one_line(superuser, make_students, monkeypatch):
    """The push's statement fails, and so do the first attempts to record it; the run ends failed."""
    make_students(2)
    day = today() - datetime.timedelta(days=1)
    from attendance_push import runs

    monkeypatch.setattr(runs, "RECORD_ATTEMPTS", (0, 0, 0, 0))
    failures = {"record": 2}

    def dying_push(day, *, dry_run=False, **kwargs):
        raise OperationalError("server closed the connection unexpectedly\n\tThis probably means the server died")

    original = PushRun.mark_failed

    def mark_failed_while_down(self, exc):
        if failures["record"]:
            failures["record"] -= 1
            raise OperationalError("connection refused")
        return original(self, exc)

    monkeypatch.setattr(runs, "push", dying_push)
    monkeypatch.setattr(PushRun, "mark_failed", mark_failed_while_down)
    with pytest.raises(CommandError) as excinfo:
        call_command("push_attendance", "--date", f"{day}")
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith(f"Push of {day} failed (PushRun ")
    assert "OperationalError: server closed the connection unexpectedly" in message
    assert PushRun.objects.get().status == "failed"


def test_a_database_that_never_answers_again_fails_the_command_with_one_line(superuser, make_students, monkeypatch):
    make_students(2)
    day = today() - datetime.timedelta(days=1)
    from attendance_push import runs

    monkeypatch.setattr(runs, "RECORD_ATTEMPTS", (0, 0))

    def dying_push(day, *, dry_run=False, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    def mark_failed_while_down(self, exc):
        raise OperationalError("could not connect to server: Connection refused\n\tIs the server running?")

    monkeypatch.setattr(runs, "push", dying_push)
    monkeypatch.setattr(PushRun, "mark_failed", mark_failed_while_down)
    with pytest.raises(CommandError) as excinfo:
        call_command("push_attendance", "--date", f"{day}")
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith(f"Push of {day:%Y-%m-%d} failed (OperationalError: server closed the connection")
    assert "will show as interrupted once it does" in message
    # Left running for now; the lock or the heartbeat tells it is dead once the database answers.
    run = PushRun.objects.get()
    assert run.status == "running"
    monkeypatch.undo()
    assert mark_never_finishing_interrupted(now() + datetime.timedelta(minutes=1)) == 1


def test_an_undo_that_meets_a_live_run_of_its_day_says_already_under_way(superuser, make_students):
    make_students(2)
    day = today() - datetime.timedelta(days=1)
    pushed = run_push(day, trigger="command")
    assert pushed.status == "succeeded"
    live = PushRun.objects.create(date=day, trigger="admin", status="queued", task_id="waiting")
    with pytest.raises(CommandError, match=rf"already under way \(queued, run {live.pk}"):
        call_command("undo_push", f"{pushed.pk}", stdout=StringIO())
    assert StudentAttendance.objects.filter(date=day).count() == 2
    assert set(PushRun.objects.values_list("pk", flat=True)) == {pushed.pk, live.pk}


def test_a_scheduled_push_that_meets_a_live_run_of_its_day_pushes_nothing(superuser, make_students):
    from attendance_push.runs import scheduled_push
    from attendance_push.schedule import push_instant
    from attendance_push.tasks import push_today

    make_students(2)
    day = today() - datetime.timedelta(days=1)
    live = PushRun.objects.create(date=day, trigger="admin", status="queued", task_id="waiting")
    assert scheduled_push(push_instant(day), now=push_instant(day)) is None
    PushRun.objects.create(date=today(), trigger="admin", status="queued", task_id="waiting too")
    assert push_today(lease_until=(now() + datetime.timedelta(minutes=1)).isoformat()) is None
    assert PushRun.objects.filter(status="queued").count() == 2 and live.pk
    assert not StudentAttendance.objects.exists()


def test_two_confirmations_that_both_pass_the_check_meet_the_constraint(superuser, make_students, monkeypatch):
    from attendance_push import runs

    make_students(1)
    day = today() - datetime.timedelta(days=1)
    first = queue_push(day, trigger="admin", requested_by=superuser)
    # As when both read "nothing under way" before either inserted.
    monkeypatch.setattr(runs, "refuse_days_under_way", lambda days: None)
    with pytest.raises(PushError, match=rf"already under way \(queued, run {first.pk}"):
        queue_push(day, trigger="admin", requested_by=superuser)
    assert PushRun.objects.count() == 1


def test_with_the_history_on_another_database_the_outcome_follows_the_push(superuser, make_students, monkeypatch):
    from attendance_push import runs

    make_students(2)
    monkeypatch.setattr(runs, "shares_database", lambda: False)
    run = run_push(today() - datetime.timedelta(days=1), trigger="command")
    assert (run.status, run.created) == ("succeeded", 2)


def test_the_test_mode_lease_is_renewed_by_its_command(superuser):
    from django_q.models import Schedule

    from attendance_push.conf import TEST_SCHEDULE_NAME
    from attendance_push.management.commands.attendance_scheduler import Command
    from attendance_push.schedule import ensure_test_schedule

    ensure_test_schedule()
    Schedule.objects.filter(name=TEST_SCHEDULE_NAME).update(kwargs="{'lease_until': '2000-01-01T00:00:00+00:00'}")
    Command()._renew_lease()
    lease = Schedule.objects.get(name=TEST_SCHEDULE_NAME).kwargs
    assert "2000-01-01" not in lease and "lease_until" in lease


def test_an_undo_is_queued_once_per_day(superuser, make_students):
    from attendance_push.runs import queue_undo
    from attendance_push.tasks import execute_run

    make_students(2)
    day = today() - datetime.timedelta(days=1)
    pushed = run_push(day, trigger="command")
    undo_run = queue_undo(pushed, requested_by=superuser)
    undo_run.refresh_from_db()
    assert (undo_run.status, undo_run.trigger, undo_run.undoes_id) == ("queued", "undo", pushed.pk)
    assert undo_run.task_id
    with pytest.raises(PushError, match=rf"already under way \(queued, run {undo_run.pk}"):
        queue_undo(pushed, requested_by=superuser)
    execute_run(undo_run.pk)  # what the worker does with the task
    undo_run.refresh_from_db()
    assert undo_run.status == "succeeded"
    assert not StudentAttendance.objects.filter(date=day).exists()
