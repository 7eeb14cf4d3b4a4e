"""Which records of a run still hold exactly what it wrote: what corrections and undo may touch.

A record a person changed since the push is theirs: nothing here selects it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.db import models
from django.db.models import Exists, OuterRef

from ..models import PushedRecord, PushRun
from ..results import PushedSpec, read_counts
from .write import fingerprint, person_key


def typed(model: type[models.Model], values: dict[str, Any]) -> dict[str, Any]:
    """Return `values` (from JSON) as Python values of the model's fields, keyed by attname."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    return {name: None if value is None else by_attname[name].to_python(value) for name, value in values.items()}


def run_records(model: type[models.Model], spec: PushedSpec, day: datetime.date, alias: str) -> models.QuerySet:
    """Return the records of `day` in the attendance model a run pushed."""
    return model._default_manager.using(alias).filter(**{spec.date_field: day}).order_by()


def created_by(run: PushRun, label: str, spec: PushedSpec, rule: int) -> models.QuerySet:
    """Return the ledger rows of the records `run` created for `label` under `rule`, for the outer query's person."""
    return PushedRecord.objects.filter(
        day=run.date,
        target=label,
        run=run,
        action=PushedRecord.Action.CREATED,
        rule=rule,
        person=person_key(spec.person_field),
    )


def ledger_of(run: PushRun, label: str, action: str, spec: PushedSpec, rule: int | None = None) -> Exists:
    """Return the condition that the outer record is in `run`'s ledger for `action` (and `rule`)."""
    rows = PushedRecord.objects.filter(
        day=run.date, target=label, run=run, action=action, person=person_key(spec.person_field)
    )
    return Exists(rows if rule is None else rows.filter(rule=rule))


def unedited(records: models.QuerySet, run: PushRun, label: str, spec: PushedSpec, rule: int) -> models.QuerySet:
    """Return the `records` that `rule` of `run` created and that still hold exactly what it wrote.

    The constant columns are compared with the values the run kept; the columns computed per row
    by their fingerprint with the one the ledger row kept after the write.
    """
    condition, aliases = unedited_condition(records.model, run, label, spec, rule)
    return records.alias(**aliases).filter(condition)


def unedited_condition(
    model: type[models.Model],
    run: PushRun,
    label: str,
    spec: PushedSpec,
    rule: int,
    name: str = "attendance_push_fingerprint",
) -> tuple[models.Q, dict[str, Any]]:
    """Return the condition that a record still holds what `run` created under `rule` (see unedited), and
    the aliases it reads: the fingerprint of the rule's per-row columns, under `name`."""
    ledger = created_by(run, label, spec, rule)
    aliases = {}
    rows = spec.rows_of(rule)
    if rows:
        aliases[name] = fingerprint(rows)
        ledger = ledger.filter(fingerprint=OuterRef(name))
    return models.Q(Exists(ledger), **typed(model, spec.rules[rule])), aliases


def delete(records: models.QuerySet, spec: PushedSpec, label: str, alias: str) -> int:
    """Delete `records` as the run wrote them (through the model in the `save` mode); return how many."""
    if spec.write == "save":
        # Through the model, so that its delete() and signals run, as its save() did.
        return delete_each(records, alias)
    return records.delete()[1].get(label, 0)


def delete_each(records: models.QuerySet, alias: str) -> int:
    """Delete `records` one by one through the model, locked first; return how many."""
    deleted = 0
    for record in list(records.select_for_update()):
        record.delete(using=alias)
        deleted += 1
    return deleted


def auto_now(model: type[models.Model]) -> dict[str, Any]:
    """Return the `auto_now` fields of `model` set to now, as `QuerySet.update()` leaves them alone."""
    blank = model()
    return {
        field.name: field.pre_save(blank, add=False)
        for field in model._meta.concrete_fields
        if getattr(field, "auto_now", False)
    }


def standing_pushes() -> models.QuerySet:
    """Return the succeeded, not undone runs whose ledger is kept, with what they wrote: those whose
    records may still stand as they pushed them."""
    undone = PushRun.objects.filter(undoes=OuterRef("pk"), status=PushRun.Status.SUCCEEDED)
    return (
        PushRun.objects.filter(~Exists(undone), status=PushRun.Status.SUCCEEDED, ledger_pruned_at__isnull=True)
        .only("pk", "date", "pushed", "counts", "include_closed")
        .order_by("pk")
    )


def standing_runs(days: Iterable[datetime.date]) -> list[PushRun]:
    """Return the succeeded, not undone pushes of `days` whose ledger is kept, with what they wrote (one query)."""
    return list(standing_pushes().filter(date__in=list(days)).exclude(trigger=PushRun.Trigger.UNDO))


def forced_closed(run: PushRun, label: str) -> bool:
    """Return whether `run` created `label`'s records on a day closed for it, asked to (include_closed)."""
    counts = read_counts(run.counts).get(label)
    return bool(run.include_closed and counts and counts.closed)


def undone_by(run: PushRun) -> PushRun | None:
    """Return the succeeded undo of `run`, or None."""
    return run.undone_by.filter(status=PushRun.Status.SUCCEEDED).order_by("pk").first()
