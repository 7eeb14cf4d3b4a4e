"""The plugin's settings: `settings.ATTENDANCE_PUSH`, shadowed with defaults and a little parsing.

Nothing is read at import time, so `override_settings` works and a bad value surfaces in the
system checks (`checks.py`) rather than as an import error.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

DEFAULTS: dict[str, Any] = {
    "TIME": "21:00",
    "TIME_ZONE": "Asia/Kathmandu",
    "STATUS": "Present",
    "CHECK_IN": "09:00",
    "CHECK_OUT": "17:00",
    "ACTOR": None,
    "TARGETS": [],
    "CATCH_UP_DAYS": 3,
    "SITE_URL": None,
}

TARGET_DEFAULTS: dict[str, Any] = {
    "people_filter": {},
    "date_field": "date",
    "status_field": "status",
    "check_in_field": "time_in",
    "check_out_field": "time_out",
    "created_by_field": "created_by",
    "status": None,
    "extra_values": {},
    "write": "sql",
}
TARGET_REQUIRED = ("attendance", "person_field")
TARGET_KEYS = frozenset(TARGET_REQUIRED) | frozenset(TARGET_DEFAULTS)
WRITE_MODES = ("sql", "save")

SCHEDULE_NAME = "attendance_push.daily"
CATCH_UP_SCHEDULE_NAME = "attendance_push.catch_up"
TEST_SCHEDULE_NAME = "attendance_push.hourly_test"


def parse_time(value: Any) -> datetime.time:
    """Return `value` ("HH:MM" or a `datetime.time`) as a time; raise ValueError otherwise."""
    if isinstance(value, datetime.time):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a time")
    return datetime.datetime.strptime(value.strip(), "%H:%M").time()


@dataclass(frozen=True)
class Target:
    """One attendance model to push, with the names of its fields."""

    attendance: str
    person_field: str
    people_filter: dict[str, Any] | models.Q
    date_field: str
    status_field: str | None
    check_in_field: str | None
    check_out_field: str | None
    created_by_field: str | None
    status: Any
    extra_values: dict[str, Any]
    write: str

    @classmethod
    def from_setting(cls, raw: dict[str, Any]) -> Target:
        return cls(**{**TARGET_DEFAULTS, **raw})

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.attendance)

    @property
    def person_model(self) -> type[models.Model]:
        return self.model._meta.get_field(self.person_field).related_model

    @property
    def label(self) -> str:
        return self.model._meta.label

    def people(self, using: str) -> models.QuerySet:
        """Return the people this target pushes (people_filter is a dict of lookups or a Q)."""
        people = self.person_model._default_manager.using(using)
        if isinstance(self.people_filter, models.Q):
            return people.filter(self.people_filter)
        return people.filter(**self.people_filter)

    def status_value(self) -> Any:
        """Return the status of a created record, by the kind of the status field; raise ValueError saying why not.

        A CharField or an integer field with choices takes `status` (default: ATTENDANCE_PUSH['STATUS'],
        a choice's value or label); a BooleanField takes True unless told; a ForeignKey takes the
        row that the `status` lookup names, e.g. {"name": "Present"}.
        """
        field = self.model._meta.get_field(self.status_field)
        where = f"{self.label}.{field.name}"
        if isinstance(field, models.ForeignKey):
            lookup_model = field.related_model
            if not isinstance(self.status, dict) or not self.status:
                raise ValueError(
                    f"{where} is a ForeignKey to {lookup_model._meta.label}: name the status row with a lookup, "
                    "e.g. 'status': {'name': 'Present'}."
                )
            rows = list(lookup_model._default_manager.filter(**self.status).values_list("pk", flat=True)[:2])
            if len(rows) != 1:
                found = "no" if not rows else "more than one"
                raise ValueError(
                    f"{found} {lookup_model._meta.label} matches {self.status!r}: create it or correct 'status'."
                )
            return rows[0]
        if isinstance(field, models.BooleanField):
            value = True if self.status is None else self.status
            if not isinstance(value, bool):
                raise ValueError(f"{where} is a BooleanField: 'status' must be True or False, not {value!r}.")
            return value
        value = conf.STATUS if self.status is None else self.status
        if isinstance(value, dict | list | set | tuple):
            raise ValueError(f"{where} is not a ForeignKey: 'status' must be a plain value, not {value!r}.")
        choices = list(field.flatchoices)
        if choices:
            by_value = {choice: choice for choice, _label in choices}
            by_label = {str(label).casefold(): choice for choice, label in choices}
            if value in by_value:
                return value
            if str(value).casefold() in by_label:
                return by_label[str(value).casefold()]
            raise ValueError(
                f"{value!r} is not a choice of {where}; choices: "
                + ", ".join(f"{choice!r} ({label})" for choice, label in choices)
                + "."
            )
        try:
            return field.to_python(value)
        except ValidationError as exc:
            raise ValueError(f"{value!r} is not a valid value of {where}: {' '.join(exc.messages)}") from None


class Settings:
    """Read `settings.ATTENDANCE_PUSH` on every access, falling back to `DEFAULTS`."""

    @property
    def raw(self) -> dict[str, Any]:
        return getattr(settings, "ATTENDANCE_PUSH", {})

    def _get(self, key: str) -> Any:
        return self.raw.get(key, DEFAULTS[key])

    @property
    def TIME(self) -> datetime.time:
        return parse_time(self._get("TIME"))

    @property
    def TIME_ZONE(self) -> ZoneInfo:
        return ZoneInfo(self._get("TIME_ZONE"))

    @property
    def STATUS(self) -> str:
        return self._get("STATUS")

    @property
    def CHECK_IN(self) -> datetime.time:
        return parse_time(self._get("CHECK_IN"))

    @property
    def CHECK_OUT(self) -> datetime.time:
        return parse_time(self._get("CHECK_OUT"))

    @property
    def ACTOR(self) -> str | None:
        return self._get("ACTOR")

    @property
    def CATCH_UP_DAYS(self) -> int:
        return self._get("CATCH_UP_DAYS")

    @property
    def SITE_URL(self) -> str:
        return (self._get("SITE_URL") or "").rstrip("/")

    @property
    def TARGETS(self) -> list[Target]:
        return [Target.from_setting(raw) for raw in self._get("TARGETS")]


conf = Settings()
