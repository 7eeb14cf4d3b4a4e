"""What a push, an undo and a prune did: typed values passed up between the layers, and their JSON.

A run keeps a push's counts (`PushRun.counts`) and what it wrote (`PushRun.pushed`) as JSON; the
readers here (`read_counts`, `read_pushed`) are the one place that knows the shapes older runs stored.
Nothing here words anything: `text.py` does, in the reader's language.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from enum import StrEnum
from typing import Any

# Why a day is closed, in no language, as a run's counts keep it ("closed_reason") so that each page
# words it in its reader's language (text.reason_text):
#   {"kind": "closure", "name": "Snow"}                    the Closure's name, as its author typed it
#   {"kind": "holiday", "day": "2026-10-20", "calendar": {"country": "NP"}}   named by `holidays`
#   {"kind": "weekly_off", "weekday": 5}                   Monday is 0, as datetime.date.weekday()
Reason = dict[str, Any]


@dataclass(frozen=True)
class RuleResult:
    """What one rule (or the default record, `rule` "") did, or would do, to one target."""

    rule: str
    status: str
    created: int = 0
    skipped: int = 0
    skip: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "status": self.status, "created": self.created, "skipped": self.skipped}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RuleResult:
        return cls(
            rule=raw.get("rule", ""),
            status=raw.get("status", ""),
            created=raw.get("created", 0),
            skipped=raw.get("skipped", 0),
            # Only a skip rule counts people skipped.
            skip=bool(raw.get("skipped")),
        )


@dataclass(frozen=True)
class PushedSpec:
    """What a push wrote to one target, as an undo and the corrections of later pushes need it.

    `rules` holds, per rule index (the ledger's `rule`), the constant columns of its records (None for a
    skip rule); `rows` the columns it computed per row (fingerprinted in the ledger); `filled` the
    constant check-out it filled, and `filled_rows` the check-out column when it was computed per row.
    """

    person_field: str
    date_field: str
    check_out_field: str | None
    write: str
    rules: tuple[dict[str, Any] | None, ...]
    rows: tuple[list[str] | None, ...]
    filled: dict[str, Any]
    filled_rows: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "person_field": self.person_field,
            "date_field": self.date_field,
            "check_out_field": self.check_out_field,
            "write": self.write,
            "rules": list(self.rules),
            "rows": list(self.rows),
            "filled": self.filled,
            "filled_rows": list(self.filled_rows),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PushedSpec:
        rules = tuple(raw.get("rules") or ())
        # Runs from before per-row columns were fingerprinted kept no "rows": none were compared.
        rows = raw.get("rows")
        if rows is None:
            rows = [None if rule is None else [] for rule in rules]
        return cls(
            person_field=raw["person_field"],
            date_field=raw["date_field"],
            check_out_field=raw.get("check_out_field"),
            write=raw.get("write", "sql"),
            rules=rules,
            rows=tuple(rows),
            filled=dict(raw.get("filled") or {}),
            filled_rows=tuple(raw.get("filled_rows") or ()),
        )

    def rows_of(self, rule: int) -> list[str]:
        """Return the columns `rule` computed per row (fingerprinted), [] when none or not known."""
        return (self.rows[rule] or []) if rule < len(self.rows) else []


@dataclass(frozen=True)
class TargetResult:
    """What a push did (or, in a dry run, would do) to one attendance model."""

    label: str
    created: int
    filled: int
    skipped: int
    rules: tuple[RuleResult, ...] = ()
    # What the push wrote, for the ledger's undo; None in a dry run.
    pushed: PushedSpec | None = dataclass_field(default=None, compare=False)
    # Records earlier pushes of the day created and nobody changed since, that the rules now decide
    # otherwise (changed, or deleted by a skip rule) or that are now false (withdrawn: the day closed
    # since, or the person no longer expected that day by people_on_day).
    corrected: int = 0
    # Why the day is closed for this target, in no language (Reason), or None when open; `closed` is
    # the same in the pusher's words, kept for pages that can no longer word the reason.
    closed_reason: Reason | None = None
    closed: str | None = None

    def counts(self) -> dict[str, Any]:
        counts = {
            "created": self.created,
            "filled": self.filled,
            "skipped": self.skipped,
            "rules": [rule.as_dict() for rule in self.rules],
        }
        if self.corrected:
            counts["corrected"] = self.corrected
        if self.closed:
            counts["closed"] = self.closed
        if self.closed_reason:
            counts["closed_reason"] = self.closed_reason
        return counts


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

    @property
    def corrected(self) -> int:
        return sum(target.corrected for target in self.targets)

    @property
    def closed(self) -> dict[str, str]:
        """Return the reason of each target the day is closed for."""
        return {target.label: target.closed for target in self.targets if target.closed}

    def counts(self) -> dict[str, dict[str, Any]]:
        return {target.label: target.counts() for target in self.targets}

    @property
    def pushed(self) -> dict[str, dict[str, Any]]:
        return {target.label: target.pushed.as_dict() for target in self.targets if target.pushed}


@dataclass(frozen=True)
class TargetUndo:
    """What undoing a run did (or, in a dry run, would do) to one attendance model."""

    label: str
    deleted: int
    cleared: int
    kept: int


@dataclass(frozen=True)
class UndoResult:
    """What undoing one run did to every target it pushed."""

    run_id: int
    day: datetime.date
    targets: tuple[TargetUndo, ...] = ()
    dry_run: bool = False

    @property
    def deleted(self) -> int:
        return sum(t.deleted for t in self.targets)

    @property
    def cleared(self) -> int:
        return sum(t.cleared for t in self.targets)

    @property
    def kept(self) -> int:
        return sum(t.kept for t in self.targets)

    def counts(self) -> dict[str, dict[str, int]]:
        return {t.label: {"deleted": t.deleted, "cleared": t.cleared, "kept": t.kept} for t in self.targets}


@dataclass(frozen=True)
class PruneResult:
    """What pruning removed (or, in a dry run, would remove)."""

    ledger_rows: int
    ledgers: int
    runs: int
    dry_run: bool = False


@dataclass(frozen=True)
class TargetCounts:
    """What a run's counts say of one target, whatever version stored them.

    A push keeps created, filled, skipped and, since rules exist, `rules`; an undo keeps deleted,
    cleared and kept. `rules` is None for a run from before rules were counted.
    """

    created: int = 0
    filled: int = 0
    skipped: int = 0
    rules: tuple[RuleResult, ...] | None = None
    corrected: int = 0
    closed: str = ""
    closed_reason: Reason | None = None
    deleted: int = 0
    cleared: int = 0
    kept: int = 0

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TargetCounts:
        rules = raw.get("rules")
        return cls(
            created=raw.get("created", 0),
            filled=raw.get("filled", 0),
            skipped=raw.get("skipped", 0),
            rules=None if rules is None else tuple(RuleResult.from_dict(rule) for rule in rules),
            corrected=raw.get("corrected", 0),
            closed=raw.get("closed") or "",
            closed_reason=raw.get("closed_reason") or None,
            deleted=raw.get("deleted", 0),
            cleared=raw.get("cleared", 0),
            kept=raw.get("kept", 0),
        )

    @property
    def was_closed(self) -> bool:
        return bool(self.closed or self.closed_reason)


def read_counts(counts: dict[str, Any] | None) -> dict[str, TargetCounts]:
    """Return a run's counts per target label, read from the JSON any version stored."""
    return {label: TargetCounts.from_dict(raw) for label, raw in (counts or {}).items() if isinstance(raw, dict)}


def read_pushed(pushed: dict[str, Any] | None) -> dict[str, PushedSpec]:
    """Return what a run wrote per target label, read from the JSON any version stored (empty ones left out)."""
    return {label: PushedSpec.from_dict(raw) for label, raw in (pushed or {}).items() if raw}


@dataclass(frozen=True)
class Entry:
    """Who the ledger rows of one write belong to: a run, a target, its day and the rule that decided."""

    run_id: int | None  # None: a dry run
    label: str
    day: datetime.date
    rule: int = 0

    def of_rule(self, index: int) -> Entry:
        return replace(self, rule=index)


class HealthProblem(StrEnum):
    """Why the next push will not happen or will fail, or a push is missing: the health report's codes.

    The codes are what an uptime monitor reads (the health URL gives them to anyone); the words, the
    names and the counts behind them are for a staff login (`health.problem_texts`).
    """

    # The database did not answer: nothing else could be checked.
    DATABASE = "database"
    # No push has ever succeeded.
    NEVER_PUSHED = "never_pushed"
    # The last successful push finished more than 26 hours ago.
    STALE = "stale"
    # Yesterday, open for some target, has not been pushed since its push time.
    YESTERDAY_MISSED = "yesterday_missed"
    # The daily push is past its time by more than 5 minutes and has not started.
    OVERDUE = "overdue"
    # The daily push (or the catch-up check) is not registered with django-q2: `migrate` registers it.
    NO_SCHEDULE = "no_schedule"
    # No worker is running, and none has fired the plugin's schedules for longer than they allow.
    NO_WORKER = "no_worker"
    # The next push creates records and there is no user to record as their creator.
    NO_ACTOR = "no_actor"
    # A queued or running run will never finish and could not be marked interrupted: its day is blocked.
    STUCK = "stuck"
    # A day closed after its push still holds records the push created (false until pushed again).
    STANDING = "standing"
