"""The push: fill one day's missing attendance, set-based, all targets in one transaction.

Everything that pushes (the schedule, the command, the admin) ends up in `push`; `runs.py`
records each attempt as a PushRun. Nothing else writes attendance.
"""

from __future__ import annotations

import datetime
import logging
import zlib
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connections, models, router, transaction
from django.db.models import Exists, OuterRef
from django.db.models.constants import OnConflict
from django.db.models.fields import AutoFieldMixin
from django.utils import timezone
from django.utils.translation import gettext as _

from .conf import Target, conf
from .exceptions import NoActorError, PushError
from .signals import target_pushed

logger = logging.getLogger("attendance_push")

# pg_advisory_xact_lock(namespace, day) serialises pushes of one day across processes and hosts.
LOCK_NAMESPACE = zlib.crc32(b"attendance_push") - 2**31


@dataclass(frozen=True)
class TargetResult:
    """What a push did (or, in a dry run, would do) to one attendance model."""

    label: str
    created: int
    filled: int
    skipped: int


@dataclass(frozen=True)
class PushResult:
    """What a push did to every target for one day."""

    day: datetime.date
    targets: tuple[TargetResult, ...]
    dry_run: bool = False

    @property
    def created(self) -> int:
        return sum(target.created for target in self.targets)

    @property
    def filled(self) -> int:
        return sum(target.filled for target in self.targets)

    @property
    def skipped(self) -> int:
        return sum(target.skipped for target in self.targets)

    def counts(self) -> dict[str, dict[str, int]]:
        return {t.label: {"created": t.created, "filled": t.filled, "skipped": t.skipped} for t in self.targets}


def today() -> datetime.date:
    """Return today's date in the push time zone."""
    return timezone.localdate(timezone=conf.TIME_ZONE)


def validate_day(day: datetime.date) -> datetime.date:
    """Return `day`, or raise PushError when it is in the future of the push time zone."""
    current = today()
    if day > current:
        raise PushError(
            _("%(day)s is in the future (today is %(today)s in %(zone)s); only today and past days can be pushed.")
            % {"day": f"{day:%Y-%m-%d}", "today": f"{current:%Y-%m-%d}", "zone": conf.TIME_ZONE.key}
        )
    return day


def resolve_actor() -> models.Model:
    """Return the user recorded as the creator of pushed records, or raise PushError."""
    User = get_user_model()  # noqa: N806
    users = User._default_manager.filter(is_active=True)
    if conf.ACTOR:
        actor = users.filter(**{User.USERNAME_FIELD: conf.ACTOR}).first()
        if actor is None:
            raise NoActorError(
                _(
                    "ATTENDANCE_PUSH['ACTOR'] is %(actor)r, but no active user has that username. In the admin, "
                    "add that user under Users › Add user (on the server: python manage.py createsuperuser), "
                    "or correct the setting."
                )
                % {"actor": conf.ACTOR}
            )
        return actor
    actor = users.filter(is_superuser=True).order_by("pk").first()
    if actor is None:
        raise NoActorError(
            _(
                "No active superuser to record as the creator of pushed records. In the admin, add one under "
                "Users › Add user and tick “Superuser status” (on the server: python manage.py createsuperuser)."
            )
        )
    return actor


def push(day: datetime.date, *, dry_run: bool = False) -> PushResult:
    """Push `day` for every target in one transaction and return the counts.

    With `dry_run`, count what would change and write nothing.
    """
    validate_day(day)
    targets = conf.TARGETS
    actor = resolve_actor() if any(target.created_by_field for target in targets) else None
    if dry_run:
        return PushResult(day, tuple(_preview_target(target, day) for target in targets), dry_run=True)
    aliases = sorted({router.db_for_write(target.model) for target in targets})
    with ExitStack() as stack:
        for alias in aliases:
            stack.enter_context(transaction.atomic(using=alias))
            _lock_day(alias, day)
        results = tuple(_push_target(target, day, actor) for target in targets)
    return PushResult(day, results)


def _lock_day(alias: str, day: datetime.date) -> None:
    connection = connections[alias]
    if connection.vendor == "postgresql":
        # Released at commit or rollback; concurrent pushes of the same day wait here, then
        # find nothing left to do.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, day.toordinal()])
    # SQLite serialises writers itself: with transaction_mode IMMEDIATE the transaction above
    # already holds the write lock.


def _people(target: Target, alias: str) -> models.QuerySet:
    people = target.people(alias).order_by()
    if len(people.query.alias_map) > 1:
        # A lookup across a multi-valued relation can repeat a person; keep each one once.
        people = target.person_model._default_manager.using(alias).filter(pk__in=people.values("pk")).order_by()
    return people


def _records(target: Target, day: datetime.date, alias: str) -> models.QuerySet:
    return target.model._default_manager.using(alias).filter(**{target.date_field: day}).order_by()


def _missing_people(target: Target, day: datetime.date, alias: str) -> models.QuerySet:
    person_key = target.model._meta.get_field(target.person_field).target_field.name
    has_record = _records(target, day, alias).filter(**{target.person_field: OuterRef(person_key)})
    return _people(target, alias).filter(~Exists(has_record))


def _open_records(target: Target, day: datetime.date, alias: str) -> models.QuerySet | None:
    """Return the day's records of targeted people with a check-in and no check-out."""
    if not (target.check_in_field and target.check_out_field):
        return None
    person_key = target.model._meta.get_field(target.person_field).target_field.name
    # Correlated EXISTS, not person IN (all targeted people): the day's few open records are
    # found by the date, and each is matched to its person by key.
    targeted = _people(target, alias).filter(**{person_key: OuterRef(target.person_field)})
    return _records(target, day, alias).filter(
        Exists(targeted),
        **{f"{target.check_in_field}__isnull": False, f"{target.check_out_field}__isnull": True},
    )


def _preview_target(target: Target, day: datetime.date) -> TargetResult:
    alias = router.db_for_read(target.model)
    open_records = _open_records(target, day, alias)
    filled = skipped = 0
    if open_records is not None:
        filled = open_records.filter(**{f"{target.check_in_field}__lte": conf.CHECK_OUT}).count()
        skipped = open_records.filter(**{f"{target.check_in_field}__gt": conf.CHECK_OUT}).count()
    return TargetResult(target.label, _missing_people(target, day, alias).count(), filled, skipped)


def _push_target(target: Target, day: datetime.date, actor: models.Model | None) -> TargetResult:
    alias = router.db_for_write(target.model)
    filled = skipped = 0
    open_records = _open_records(target, day, alias)
    write = _write_by_save if target.write == "save" else _write_by_sql
    if open_records is not None:
        # A check-in after the default check-out would give a negative day: leave it for a human.
        to_fill = open_records.filter(**{f"{target.check_in_field}__lte": conf.CHECK_OUT})
        skipped = open_records.filter(**{f"{target.check_in_field}__gt": conf.CHECK_OUT}).count()
    else:
        to_fill = None
    created, filled = write(target, day, actor, alias, to_fill)
    target_pushed.send(sender=target.model, day=day, created=created, filled=filled, skipped=skipped, using=alias)
    return TargetResult(target.label, created, filled, skipped)


def _write_by_sql(target, day, actor, alias, to_fill) -> tuple[int, int]:
    """Fill the check-outs with one UPDATE and insert the missing records with one INSERT … SELECT."""
    filled = 0
    if to_fill is not None:
        filled = to_fill.update(**{target.check_out_field: conf.CHECK_OUT}, **_auto_now_values(target.model))
    return _insert_missing(target, day, actor, alias), filled


def _write_by_save(target, day, actor, alias, to_fill) -> tuple[int, int]:
    """Save every filled and every new record through the model, so its save() and signals run."""
    model = target.model
    filled = 0
    if to_fill is not None:
        # Read before writing: SQLite would otherwise see the rows it is changing.
        # Locked: a person editing the record meanwhile is not overwritten by the full-row save.
        for record in list(to_fill.select_for_update()):
            setattr(record, target.check_out_field, conf.CHECK_OUT)
            record.save(using=alias)
            filled += 1
    person_fk = model._meta.get_field(target.person_field)
    missing = list(_missing_people(target, day, alias).values_list(person_fk.target_field.name, flat=True))
    values = {field.attname: value for field, value in _chosen_values(target, day, actor).items()}
    for person in missing:
        model(**values, **{person_fk.attname: person}).save(using=alias, force_insert=True)
    return len(missing), filled


def _insert_missing(target: Target, day: datetime.date, actor: models.Model | None, alias: str) -> int:
    """Insert a default record for every targeted person without one, in one INSERT … SELECT."""
    try:
        # A savepoint: when the INSERT fails, the push's transaction can go on.
        with transaction.atomic(using=alias):
            return _insert_select(target, day, actor, alias, ignore_conflicts=False)
    except IntegrityError:
        # Someone else (a device, a person in the admin) wrote a record of this day since the
        # SELECT began; keep theirs and insert the rest. Only then pay for the conflict check.
        created = _insert_select(target, day, actor, alias, ignore_conflicts=True)
        if _missing_people(target, day, alias).exists():
            # A conflict that is not "this person already has a record": refuse, do not half-push.
            raise PushError(
                f"{target.label}: some records conflict with a unique constraint other than (person, day); "
                "nothing was written. Check the model's unique fields and constraints."
            ) from None
        return created


def _insert_select(
    target: Target, day: datetime.date, actor: models.Model | None, alias: str, *, ignore_conflicts: bool
) -> int:
    model = target.model
    connection = connections[alias]
    values = _new_record_values(target, day, actor)
    person_fk = model._meta.get_field(target.person_field)
    select = _missing_people(target, day, alias).values_list(person_fk.target_field.name)
    select_sql, select_params = select.query.get_compiler(alias).as_sql()
    fields = [person_fk, *values]
    params = [field.get_db_prep_save(value, connection) for field, value in values.items()]
    quote = connection.ops.quote_name
    insert, suffix = "INSERT INTO", ""
    if ignore_conflicts:
        if connection.vendor == "sqlite":
            # Unlike INSERT OR IGNORE, ON CONFLICT skips unique conflicts only (not NOT NULL
            # violations); SQLite needs a WHERE before it in an INSERT … SELECT.
            suffix = "WHERE true ON CONFLICT DO NOTHING"
        else:
            insert = connection.ops.insert_statement(on_conflict=OnConflict.IGNORE)
            suffix = connection.ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None)
    # The person comes from the SELECT; every other column is the same constant for all rows.
    # Identifiers come quoted from the backend and values travel as parameters.
    sql = "{insert} {table} ({columns}) SELECT {person}, {constants} FROM ({select}) missing {suffix}".format(  # noqa: S608
        insert=insert,
        table=quote(model._meta.db_table),
        columns=", ".join(quote(field.column) for field in fields),
        person="missing." + quote(person_fk.target_field.column),
        constants=", ".join(["%s"] * len(values)),
        select=select_sql,
        suffix=suffix,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *select_params])
        return max(cursor.rowcount, 0)


def _chosen_values(target: Target, day: datetime.date, actor: models.Model | None) -> dict[models.Field, Any]:
    """Return the values the settings choose for a pushed record: day, status, times, creator, extras."""
    wanted: dict[str, Any] = {target.date_field: day, **target.extra_values}
    if target.status_field:
        try:
            wanted[target.status_field] = target.status_value()
        except ValueError as exc:
            raise PushError(f"{target.label}: {exc}") from None
    if target.check_in_field:
        wanted[target.check_in_field] = conf.CHECK_IN
    if target.check_out_field:
        wanted[target.check_out_field] = conf.CHECK_OUT
    if target.created_by_field:
        wanted[target.created_by_field] = actor.pk
    return {target.model._meta.get_field(name): value for name, value in wanted.items()}


def _new_record_values(target: Target, day: datetime.date, actor: models.Model | None) -> dict[models.Field, Any]:
    """Return the constant value of every column of a pushed record but the person."""
    model = target.model
    meta = model._meta
    values = _chosen_values(target, day, actor)
    # The rest of the columns get what Model.save() would give them: defaults and auto_now(_add).
    blank = model()
    for field in meta.concrete_fields:
        if field in values or field.name == target.person_field:
            continue
        if isinstance(field, AutoFieldMixin) or field.generated or field.has_db_default():
            continue
        values[field] = field.pre_save(blank, add=True)
    return values


def _auto_now_values(model: type[models.Model]) -> dict[str, Any]:
    """Return the `auto_now` fields of `model` set to now, as `QuerySet.update()` leaves them alone."""
    blank = model()
    return {
        field.name: field.pre_save(blank, add=False)
        for field in model._meta.concrete_fields
        if getattr(field, "auto_now", False)
    }
