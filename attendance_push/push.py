"""The push: fill one day's missing attendance, set-based, all targets in one transaction.

Everything that pushes (the schedule, the command, the admin) ends up in `push`; `runs.py` records
each attempt as a PushRun. It takes the day's lock, asks the plan who gets which record, writes
through `sql.py`, keeps the ledger and corrects earlier pushes of the day, and returns typed counts.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import models, router

from . import text
from .conf import Target, conf
from .days import validate_day
from .ledger import Decision, correct_earlier, earlier_runs, withdraw_earlier
from .ledger.write import filled_rows, pushed_values, record_fingerprints, rule_rows, rule_values
from .locks import day_lock
from .models import PushedRecord
from .plan.actor import resolve_actor
from .plan.people import expected, outside, rule_buckets
from .plan.values import fill_plan, fill_values, insert_values, person_ref_in_update, rebase, rule_status
from .results import Entry, PushResult, Reason, RuleResult, TargetResult
from .signals import target_pushed
from .sql import explain, fill_by_save, fill_by_update, insert_by_save, insert_missing, push_statements
from .workdays import closed_day_reasons


def push(
    day: datetime.date, *, dry_run: bool = False, run_id: int | None = None, include_closed: bool = False
) -> PushResult:
    """Push `day` for every target in one transaction and return the counts.

    With `run_id` (the PushRun of this attempt), every record written is entered in the ledger.
    Where the day is closed for a target, create nothing (unless `include_closed`) but still fill
    its open check-outs. With `dry_run`, count what would change and write nothing.
    """
    validate_day(day)
    targets = conf.TARGETS
    closed = {label: by_day[day] for label, by_day in closed_day_reasons(targets, day, day).items() if day in by_day}
    # Per target: (whether to insert the missing records, why the day is closed or None).
    plan = {t.label: (include_closed or t.label not in closed, closed.get(t.label)) for t in targets}
    needs_actor = any(target.created_by_field and plan[target.label][0] for target in targets)
    actor = resolve_actor() if needs_actor else None
    if dry_run:
        return PushResult(
            day, tuple(_preview_target(t, day, *plan[t.label], actor=actor) for t in targets), dry_run=True
        )
    with day_lock({router.db_for_write(target.model) for target in targets}, day):
        results = tuple(_push_target(target, day, actor, run_id, *plan[target.label]) for target in targets)
    return PushResult(day, results)


def _preview_target(
    target: Target, day: datetime.date, insert: bool = True, closed_reason: Reason | None = None, *, actor: Any = None
) -> TargetResult:
    alias = router.db_for_read(target.model)
    plan = fill_plan(target, day, alias)
    filled = skipped = 0
    fill: dict[str, Any] = {}
    if plan is not None:
        filled, skipped = plan.to_fill.count(), plan.to_skip.count()
        fill = fill_values(target, day, plan)
    rules = []
    decisions: list[Decision] = []
    inserts: list[tuple[models.QuerySet, dict[models.Field, Any]]] = []
    # A closed day: no rule creates anything (the check-outs above are still filled).
    for index, (rule, people) in enumerate(rule_buckets(target, day, alias) if insert else ()):
        count = people.count()
        if rule.skip:
            rules.append(RuleResult(rule.name, "", skipped=count, skip=True))
            decisions.append(Decision(index, None, skip=True))
        else:
            status, label = rule_status(target, rule)
            rules.append(RuleResult(rule.name, label, created=count))
            values = insert_values(target, day, actor, rule, status)
            decisions.append(_decision(target, index, values))
            inserts.append((people, values))
    # The push's own statements, compiled and planned by the database but not run: a preview that
    # succeeds means the push's SQL is valid. One EXPLAIN per statement, however many people.
    explain(target, push_statements(target, plan.to_fill if plan else None, fill, inserts, alias), alias)
    corrected = _correct_earlier(target, Entry(None, target.label, day), alias, insert, decisions, dry_run=True)
    return TargetResult(
        target.label,
        sum(rule.created for rule in rules),
        filled,
        skipped,
        tuple(rules),
        corrected=corrected,
        closed_reason=closed_reason,
        closed=text.reason_text(closed_reason) if closed_reason else None,
    )


def _decision(target: Target, index: int, values: dict[models.Field, Any]) -> Decision:
    """Return what rule `index` gives its people: its constant values and, for an UPDATE, its values per row."""
    person_ref = person_ref_in_update(target)
    rows = {attname: rebase(expression, person_ref) for attname, expression in rule_rows(target, values).items()}
    return Decision(index, rule_values(target, values), rows=rows)


def _correct_earlier(
    target: Target, entry: Entry, alias: str, insert: bool, decisions: list[Decision], *, dry_run: bool = False
) -> int:
    """Withdraw and correct the unchanged records of earlier pushes of the day; return how many (see ledger)."""
    runs = earlier_runs(target.label, entry.day, entry.run_id)
    if not runs:
        return 0
    # A closed day withdraws them all; an open one those of people no longer expected that day.
    corrected = withdraw_earlier(
        target, runs, alias, closed=not insert, outside=outside(target, entry.day, alias), dry_run=dry_run
    )
    if insert:
        people = expected(target, entry.day, alias)
        buckets = [bucket for _rule, bucket in rule_buckets(target, entry.day, alias, base=people)]
        corrected += correct_earlier(
            target, entry, list(zip(decisions, buckets, strict=True)), alias, runs, dry_run=dry_run
        )
    return corrected


def _push_target(
    target: Target,
    day: datetime.date,
    actor: models.Model | None,
    run_id: int | None,
    insert: bool = True,
    closed_reason: Reason | None = None,
) -> TargetResult:
    alias = router.db_for_write(target.model)
    entry = Entry(run_id, target.label, day) if run_id is not None else None
    by_save = target.write == "save"
    filled = skipped = 0
    plan = fill_plan(target, day, alias)
    fill_check_out = None
    if plan is not None:
        skipped = plan.to_skip.count()
        values = fill_values(target, day, plan)
        fill_check_out = values[target.check_out_field]
        fill = fill_by_save if by_save else fill_by_update
        filled = fill(target, plan.to_fill, values, alias, entry)
        if filled:
            record_fingerprints(target, entry, PushedRecord.Action.FILLED, filled_rows(target, fill_check_out), alias)
    rules = []
    written: list[dict[str, Any] | None] = []
    rows: list[list[str] | None] = []
    decisions: list[Decision] = []
    # A closed day: no rule creates anything (the check-outs above are still filled).
    for index, (rule, people) in enumerate(rule_buckets(target, day, alias) if insert else ()):
        if rule.skip:
            rules.append(RuleResult(rule.name, "", skipped=people.count(), skip=True))
            written.append(None)
            rows.append(None)
            decisions.append(Decision(index, None, skip=True))
            continue
        status, label = rule_status(target, rule)
        values = insert_values(target, day, actor, rule, status)
        decision = _decision(target, index, values)
        written.append(decision.values)
        rows.append(list(decision.rows))
        decisions.append(decision)
        rule_entry = entry.of_rule(index) if entry is not None else None
        insert_rule = insert_by_save if by_save else insert_missing
        created = insert_rule(target, people, values, alias, rule_entry)
        if created:
            # Only for values computed per row: a rule of constants needs no fingerprint.
            record_fingerprints(target, rule_entry, PushedRecord.Action.CREATED, rows[-1], alias)
        rules.append(RuleResult(rule.name, label, created=created))
    created = sum(rule.created for rule in rules)
    corrected = 0
    if entry is not None:
        corrected = _correct_earlier(target, entry, alias, insert, decisions)
    closed = text.reason_text(closed_reason) if closed_reason else None
    target_pushed.send(
        sender=target.model,
        day=day,
        created=created,
        filled=filled,
        skipped=skipped,
        rules=tuple(rules),
        using=alias,
        closed=closed,
    )
    pushed = pushed_values(target, written, fill_check_out, rows) if entry is not None else None
    return TargetResult(
        target.label,
        created,
        filled,
        skipped,
        tuple(rules),
        pushed,
        corrected,
        closed_reason=closed_reason,
        closed=closed,
    )
