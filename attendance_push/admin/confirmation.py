"""From dry runs to the confirmation pages: what pushing some days, or undoing a run, will do, as page context.

Pure: values in (the days, the previews, what the view found), a context dict out. No request, no writes;
the views gather the values and add the page's frame.
"""

from __future__ import annotations

import datetime
from typing import Any

from ..models import PushRun
from ..results import PushResult, UndoResult
from ..text import describe_rules, save_may_decline
from . import words
from .words import target_name

# "Run it now in this request" must fit in one request: gunicorn's worker timeout and Heroku's
# router cut it at 30 s, and a request killed midway would leave days silently unpushed. Rows
# written per target (records created + check-outs filled) that stay well inside that at the speeds
# measured in the README (set-based: a million rows in seconds; "save": 20,000 people in 10-31 s).
RUN_NOW_MAX_ROWS = {"sql": 100_000, "save": 1_000}


def run_now_refusal(days: list[datetime.date], previews: list[PushResult], modes: dict[str, str]) -> str | None:
    """Return why pushing `days` in the web request is not offered (their previews and write modes given), or None."""
    if len(days) != 1:
        return words.single_day_only_text()
    for preview in previews:
        for result in preview.targets:
            limit = RUN_NOW_MAX_ROWS.get(modes.get(result.label, "sql"), RUN_NOW_MAX_ROWS["save"])
            # Withdrawals and corrections of an earlier push are rows written too.
            rows = result.created + result.filled + result.corrected
            if rows > limit:
                return words.too_big_text(rows, result.label, limit)
    return None


def undo_run_now_refusal(preview: UndoResult, modes: dict[str, str]) -> str | None:
    """Return why the undo that `preview` (its dry run) describes is not offered in the web request, or None."""
    for result in preview.targets:
        limit = RUN_NOW_MAX_ROWS.get(modes.get(result.label, "sql"), RUN_NOW_MAX_ROWS["save"])
        rows = result.deleted + result.cleared
        if rows > limit:
            return words.undo_too_big_text(rows, result.label, limit)
    return None


def push_confirmation(
    days: list[datetime.date],
    previews: list[PushResult],
    *,
    modes: dict[str, str],
    refusal: str | None = None,
    no_actor: bool = False,
    written: list[tuple[str, str]] | None = None,
    forcing_refusal: str | None = None,
) -> dict[str, Any]:
    """Return the context of the page that asks to confirm pushing `days`, from their dry runs `previews`.

    `refusal` says why the push cannot go ahead (then `previews` is empty), `no_actor` whether that is for
    want of a user to record; `written` is what each target's records hold (see words.written_values);
    `forcing_refusal` why "Push closed days too" is not offered; `modes` each target's write mode.
    """
    totals: dict[str, dict[str, Any]] = {}
    for preview in previews:
        for result in preview.targets:
            row = totals.setdefault(result.label, {"created": 0, "filled": 0, "skipped": 0, "rules": []})
            row["created"] += result.created
            row["filled"] += result.filled
            row["skipped"] += result.skipped
            if result.corrected:
                # As in a run's counts: there only when an earlier push left something to correct.
                row["corrected"] = row.get("corrected", 0) + result.corrected
            row["rules"].extend(rule.as_dict() for rule in result.rules)
    records = {label: describe_rules(counts["rules"]) for label, counts in totals.items()}
    cannot_run_now = run_now_refusal(days, previews, modes) if refusal is None else None
    # Listed before anything is written: per day, the attendance it is closed for (no records unless
    # forced) and the attendance that still gets records.
    closed_rows = [
        (
            preview.day,
            [(target_name(label), reason) for label, reason in preview.closed.items()],
            [target_name(result.label) for result in preview.targets if result.label not in preview.closed],
        )
        for preview in previews
        if preview.closed
    ]
    # Attendance closed on every day pushed gets no records unless forced: not among what records hold.
    closed_throughout = set.intersection(*(set(preview.closed) for preview in previews)) if previews else set()
    written = written or []
    return {
        "can_run_now": refusal is None and cannot_run_now is None,
        "run_now_refusal": cannot_run_now,
        "days": days,
        "totals": totals,
        "target_rows": [(target_name(label), counts, records[label]) for label, counts in totals.items()],
        "previews": previews if len(days) > 1 else [],
        "closed_rows": closed_rows,
        # Shown only when an earlier push of these days left records to correct or withdraw.
        "any_corrected": any(row.get("corrected") for row in totals.values()),
        # A target written through the host's save() may get fewer records than counted: save() may decline.
        "save_notes": [f"{target_name(label)}: {save_may_decline()}" for label in totals if modes.get(label) == "save"],
        "forcing_refusal": forcing_refusal,
        "refusal": refusal,
        "no_actor": no_actor,
        "day_groups": words.day_groups(days),
        "written": [line for label, line in written if label not in closed_throughout],
        "written_if_forced": [line for label, line in written if label in closed_throughout],
        "partly_closed": len(days) == 1 and bool(closed_rows) and bool(closed_rows[0][2]),
    }


def undo_confirmation(
    run: PushRun, preview: UndoResult | None, refusal: str | None = None, *, modes: dict[str, str] | None = None
) -> dict[str, Any]:
    """Return the context of the page that asks to confirm undoing `run`, from its dry run `preview`.

    `modes` is each target's write mode, which sets how many rows an undo in the web request may change.
    """
    cannot_run_now = undo_run_now_refusal(preview, modes or {}) if preview is not None else None
    return {
        "can_run_now": refusal is None and cannot_run_now is None,
        "run_now_refusal": cannot_run_now,
        "run": run,
        "preview": preview,
        "rows": [(target_name(t.label), t) for t in preview.targets] if preview else [],
        "refusal": refusal,
    }
