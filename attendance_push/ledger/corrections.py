"""Corrections of earlier pushes of a day: records nobody changed since that are now false or decided otherwise.

A later push of the day withdraws the records that are now false (the day closed since, the person
no longer expected) and gives the records whose person another rule now decides that rule's values.
A constant number of statements per earlier run and pair of rules, whatever the number of people.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models, router
from django.db.models import Count, Exists, F, OuterRef, Value
from django.db.models.functions import Cast

from ..conf import Target
from ..models import PushedRecord, PushRun
from ..results import Entry, PushedSpec, read_pushed
from ..sql import Differs, raw_delete
from .held import (
    auto_now,
    delete,
    delete_each,
    forced_closed,
    run_records,
    standing_pushes,
    standing_runs,
    typed,
    unedited,
    unedited_condition,
)
from .write import person_key, record_fingerprints


@dataclass(frozen=True)
class Decision:
    """What a rule of the current settings gives its people: no record (skip), or its constant values
    (attname: value, as the ledger keeps them) and its values computed per row (attname: expression
    for an UPDATE of the record, person paths read by correlated subqueries)."""

    rule: int
    values: dict[str, Any] | None
    skip: bool = False
    rows: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)


def earlier_runs(label: str, day: datetime.date, exclude: int | None) -> list[tuple[PushRun, PushedSpec]]:
    """Return the succeeded, not undone runs of `day` whose ledger (not pruned) holds records they created
    for `label`, with what they wrote (one query)."""
    created = PushedRecord.objects.filter(run=OuterRef("pk"), target=label, action=PushedRecord.Action.CREATED)
    runs = standing_pushes().filter(Exists(created), date=day).exclude(pk=exclude)
    return [(run, spec) for run in runs if (spec := read_pushed(run.pushed).get(label))]


def withdraw_earlier(
    target: Target,
    runs: list[tuple[PushRun, PushedSpec]],
    alias: str,
    *,
    closed: bool,
    outside: Exists | None,
    dry_run: bool = False,
) -> int:
    """Delete the records earlier pushes of the day created, that nobody changed since, and that are now
    false: all of them where the day is now `closed` for the target, else those of people the
    target's `people_on_day` now excludes (`outside`, the condition on a record). Return how many.

    Runs that created records on a day closed then, on purpose (include_closed), keep them. Filled
    check-outs are left alone. The ledger rows of withdrawn records go with them.
    """
    if not closed and outside is None:
        return 0
    label = target.label
    model = target.model
    person = model._meta.get_field(target.person_field)
    withdrawn = 0
    for run, spec in runs:
        if closed and forced_closed(run, label):
            continue
        records = run_records(model, spec, run.date, alias)
        day_records = records
        if not closed:
            records = records.filter(outside)
        for rule, values in enumerate(spec.rules):
            if values is None:
                continue
            gone = unedited(records, run, label, spec, rule)
            if dry_run:
                withdrawn += gone.count()
                continue
            deleted = delete(gone, spec, label, alias)
            if deleted:
                withdrawn += deleted
                ledger_rows = PushedRecord.objects.using(alias).filter(
                    ~Exists(
                        day_records.filter(
                            **{person.attname: Cast(OuterRef("person"), output_field=person.target_field)}
                        )
                    ),
                    run=run,
                    target=label,
                    action=PushedRecord.Action.CREATED,
                    rule=rule,
                )
                raw_delete(ledger_rows, alias)
    return withdrawn


def correct_earlier(
    target: Target,
    entry: Entry,
    decisions: list[tuple[Decision, models.QuerySet]],
    alias: str,
    runs: list[tuple[PushRun, PushedSpec]],
    *,
    dry_run: bool = False,
) -> int:
    """Correct the records earlier pushes of the day (`runs`) created, that nobody changed since, and that
    the rules now decide otherwise; return how many changed (or, in a dry run, would change).

    A record whose person another rule now decides gets that rule's values, constant or computed per
    row (leave approved after the evening push: Present becomes Leave), and its ledger row moves to
    this run; a record of a person a skip rule now matches is deleted. People no longer expected
    at all are left to `withdraw_earlier`: `people_filter` says who is active now, not then. A
    constant number of statements per earlier run and pair of rules, whatever the number of people.
    With a dry run, `entry.run_id` may be None.
    """
    model = target.model
    label = entry.label
    person = model._meta.get_field(target.person_field)
    key = person.target_field.name
    records = model._default_manager.using(alias).filter(**{target.date_field: entry.day}).order_by()
    corrected = 0
    moved_to: dict[int, Decision] = {}
    for run, spec in runs:
        for old_rule, old in enumerate(spec.rules):
            if old is None:
                continue
            held = unedited(records, run, label, spec, old_rule)
            for decision, people in decisions:
                if (
                    decision.values is not None
                    and not decision.rows
                    and not spec.rows_of(old_rule)
                    and typed(model, decision.values) == typed(model, old)
                ):
                    continue  # the same record either way
                mine = held.filter(Exists(people.filter(**{key: OuterRef(person.attname)})))
                if decision.skip:
                    if dry_run:
                        corrected += mine.count()
                    elif spec.write == "save":
                        corrected += delete_each(mine, alias)
                    else:
                        corrected += mine.delete()[1].get(label, 0)
                    continue
                changing = _differing(mine, model, decision)
                if dry_run:
                    corrected += changing.count()
                    continue
                # The ledger row first (while the record still holds the old values), then the record.
                moved = PushedRecord.objects.filter(
                    Exists(
                        changing.filter(**{person.attname: Cast(OuterRef("person"), output_field=person.target_field)})
                    ),
                    run=run,
                    target=label,
                    action=PushedRecord.Action.CREATED,
                    rule=old_rule,
                ).update(run_id=entry.run_id, rule=decision.rule, fingerprint=None)
                if moved:
                    moved_to[decision.rule] = decision
    for rule, decision in sorted(moved_to.items()):
        # This run's records of the rule that differ from what it gives: the ones just moved (those it
        # created itself hold its values already).
        now_mine = _differing(
            records.filter(_ledger_of_run(entry.run_id, entry.day, label, target, rule)), model, decision
        )
        corrected += now_mine.update(**typed(model, decision.values), **decision.rows, **auto_now(model))
        record_fingerprints(target, entry.of_rule(rule), PushedRecord.Action.CREATED, list(decision.rows), alias)
    return corrected


def _differing(records: models.QuerySet, model: type[models.Model], decision: Decision) -> models.QuerySet:
    """Return the `records` that differ in a column from what `decision` gives (NULL-safe)."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    differs = [
        Differs(F(attname), Value(value, output_field=by_attname[attname]))
        for attname, value in typed(model, decision.values or {}).items()
    ]
    differs += [Differs(F(attname), expression) for attname, expression in decision.rows.items()]
    if not differs:
        return records.none()
    condition = models.Q(differs[0])
    for other in differs[1:]:
        condition |= models.Q(other)
    return records.filter(condition)


def _ledger_of_run(run_id: int, day: datetime.date, label: str, target: Target, rule: int) -> Exists:
    return Exists(
        PushedRecord.objects.filter(
            run_id=run_id,
            day=day,
            target=label,
            action=PushedRecord.Action.CREATED,
            rule=rule,
            person=person_key(target.model._meta.get_field(target.person_field).attname),
        )
    )


def standing_on_closed_days(
    closed: dict[str, Iterable[datetime.date]], runs: list[PushRun] | None = None
) -> dict[datetime.date, dict[str, int]]:
    """Return, per day and target label, how many records pushes created on days now `closed` for the target
    (label: days) still stand: the records a push of the day withdraws as false.

    As `withdraw_earlier` sees them: records of succeeded, not undone runs, still holding what the run
    wrote (a record a person changed since is theirs), except those of a run that pushed the day while
    it was closed on purpose (include_closed). `runs` are `standing_runs` of the days when the caller
    has them. One query for the runs, then one per target that has any: never per person or per day.
    """
    closed = {label: set(days) for label, days in closed.items() if days}
    if not closed:
        return {}
    if runs is None:
        runs = standing_runs(set().union(*closed.values()))
    standing: dict[datetime.date, dict[str, int]] = {}
    for label, days in closed.items():
        candidates = [
            (run, spec)
            for run in runs
            if run.date in days and (spec := read_pushed(run.pushed).get(label)) and not forced_closed(run, label)
        ]
        if not candidates:
            continue
        try:
            model = apps.get_model(label)
        except LookupError:
            continue  # a target removed from the settings since the run
        date_field = candidates[0][1].date_field
        held: models.Q | None = None
        aliases: dict[str, Any] = {}
        for run, spec in candidates:
            for rule, values in enumerate(spec.rules):
                if values is None:
                    continue
                condition, needed = unedited_condition(
                    model, run, label, spec, rule, f"attendance_push_fingerprint_{run.pk}_{rule}"
                )
                aliases.update(needed)
                mine = condition & models.Q(**{spec.date_field: run.date})
                held = mine if held is None else held | mine
        if held is None:
            continue  # only skip rules: they created nothing
        counted = (
            model._default_manager.using(router.db_for_read(model))
            .filter(**{f"{date_field}__in": sorted({run.date for run, _spec in candidates})})
            .alias(**aliases)
            .filter(held)
            .order_by()
            .values(date_field)
            .annotate(attendance_push_standing=Count("pk"))
            .values_list(date_field, "attendance_push_standing")
        )
        for day, count in counted:
            standing.setdefault(day, {})[label] = count
    return standing
