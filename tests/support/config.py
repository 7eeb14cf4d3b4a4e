"""ATTENDANCE_PUSH for one test: the suite's settings with a few keys changed, and the targets tests push.

A test assigns what these return: `settings.ATTENDANCE_PUSH = push_settings(ACTOR="ghost")`, or, to push one
host model of tests/variants, `push_settings(target=member_target("variants.Roll", status_field="state"))`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings

# What a host model with only a person and a day (no status, no times) says about its missing columns.
NO_COLUMNS = {"status_field": None, "check_in_field": None, "check_out_field": None}


def push_settings(*, demo: bool = False, target: dict[str, Any] | None = None, **keys: Any) -> dict[str, Any]:
    """Return ATTENDANCE_PUSH as it is now, with `keys` changed and, if given, `target` as its only target.

    `demo` starts from the demo project's settings as they ship (its calendar: Saturdays off and Nepal's public
    holidays) instead of the suite's (no closed days).
    """
    base = django_settings.DEMO_ATTENDANCE_PUSH if demo else django_settings.ATTENDANCE_PUSH
    if target is not None:
        keys = {**keys, "TARGETS": [target]}
    return {**base, **keys}


def member_target(attendance: str, *, bare: bool = False, **fields: Any) -> dict[str, Any]:
    """Return a target on `attendance`, a model of tests/variants whose person is `member` and whose day is `day`,
    with no creator column, and `fields` added or changed.

    `bare`: the model has no status, check-in or check-out column either (NO_COLUMNS), unless `fields` name one.
    """
    target = {"attendance": attendance, "person_field": "member", "date_field": "day", "created_by_field": None}
    return {**target, **(NO_COLUMNS if bare else {}), **fields}


def demo_target(label: str, **fields: Any) -> dict[str, Any]:
    """Return the present settings' target of `label` (STUDENTS or EMPLOYEES) with `fields` added or changed."""
    (target,) = [t for t in django_settings.ATTENDANCE_PUSH["TARGETS"] if t["attendance"] == label]
    return {**target, **fields}
