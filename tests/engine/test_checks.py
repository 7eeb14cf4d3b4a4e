"""System checks of `settings.ATTENDANCE_PUSH` (attendance_push/checks/).

Every bad configuration is a deep copy of the project's valid one with exactly one thing changed,
so each test shows which change triggers which check ID (and that nothing else is reported).
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import override_settings

from attendance_push.checks import check_databases, check_settings, check_task_queue
from attendance_push.checks.targets import _check_unfilled
from school.models import StudentAttendance
from tests.support.config import push_settings

Config = dict[str, Any]
OPTIONAL_FIELDS = ("status_field", "check_in_field", "check_out_field", "created_by_field")


def valid() -> Config:
    """A fresh deep copy of the project's (valid) ATTENDANCE_PUSH."""
    return copy.deepcopy(settings.ATTENDANCE_PUSH)


def run(config: Any) -> list[checks.CheckMessage]:
    with override_settings(ATTENDANCE_PUSH=config):
        return check_settings()


def changed(mutate: Callable[[Config], Any]) -> list[checks.CheckMessage]:
    """Run the checks on the valid config after `mutate` changed one thing in it."""
    config = valid()
    mutate(config)
    return run(config)


def ids(errors: list[checks.CheckMessage]) -> list[str]:
    return [error.id for error in errors]


def assert_reports(
    errors: list[checks.CheckMessage], check_id: str, *fragments: str, also: frozenset[str] = frozenset()
) -> None:
    """`check_id` is reported, one of its messages names every fragment, each has a hint, and
    nothing but `check_id` (and the IDs in `also`) is reported."""
    matching = [error for error in errors if error.id == check_id]
    assert matching, f"{check_id} not reported; got {[(e.id, e.msg) for e in errors]}"
    assert any(all(fragment in error.msg for fragment in fragments) for error in matching), (
        f"no {check_id} message names {fragments}: {[e.msg for e in matching]}"
    )
    assert all(error.hint for error in matching)
    assert set(ids(errors)) <= {check_id, *also}, f"unexpected IDs: {ids(errors)}"


def target(config: Config, index: int = 0) -> Config:
    return config["TARGETS"][index]


# --- the valid configuration ---------------------------------------------------------------------


def test_project_configuration_passes():
    assert check_settings() == []


def test_check_is_registered():
    assert check_settings in checks.registry.registry.get_checks()


def test_missing_setting_falls_back_to_defaults_and_warns_about_no_targets():
    # The defaults have TARGETS = [], so the only message is W001.
    with override_settings():
        del settings.ATTENDANCE_PUSH
        errors = check_settings()
    assert ids(errors) == ["attendance_push.W001"]


@pytest.mark.parametrize("key", OPTIONAL_FIELDS)
def test_optional_field_set_to_none_is_accepted(key):
    assert changed(lambda c: [t.update({key: None}) for t in c["TARGETS"]]) == []


def test_all_optional_fields_none_at_once_are_accepted():
    def mutate(config):
        for t in config["TARGETS"]:
            t.update(dict.fromkeys(OPTIONAL_FIELDS))

    assert changed(mutate) == []


def test_target_with_every_key_spelled_out_is_accepted():
    # The demo models only have one field of each kind (one DateField, one status CharField, one
    # FK to the user), so a target whose *every* field name differs from the defaults cannot be
    # built from real fields. Instead: every key given explicitly, with the check-in/check-out
    # TimeFields deliberately swapped so those two names differ from the defaults.
    def mutate(config):
        config["TARGETS"][1] = {
            "attendance": "school.EmployeeAttendance",
            "person_field": "employee",
            "people_filter": {"is_active": True, "name__startswith": "E"},
            "date_field": "date",
            "status_field": "status",
            "check_in_field": "time_out",
            "check_out_field": "time_in",
            "created_by_field": "created_by",
        }

    assert changed(mutate) == []


def test_times_as_datetime_time_and_targets_as_tuple_are_accepted():
    def mutate(config):
        config["TIME"] = datetime.time(21, 30)
        config["CHECK_IN"] = datetime.time(8, 0)
        config["CHECK_OUT"] = "16:45"
        config["TARGETS"] = tuple(config["TARGETS"])

    assert changed(mutate) == []


def test_actor_username_is_accepted():
    assert changed(lambda c: c.update(ACTOR="root")) == []


# --- E001: the setting itself ---------------------------------------------------------------------


@pytest.mark.parametrize("bad", [["TIME", "21:00"], "21:00", None, 5], ids=["list", "str", "None", "int"])
def test_e001_setting_not_a_dict(bad):
    errors = run(bad)
    assert ids(errors) == ["attendance_push.E001"]
    assert "must be a dict" in errors[0].msg
    assert type(bad).__name__ in errors[0].msg
    assert errors[0].hint


def test_e001_unknown_top_level_key():
    errors = changed(lambda c: c.update(TARGET=[], TIMEZONE="UTC"))
    assert_reports(errors, "attendance_push.E001", "TARGET", "TIMEZONE")
    assert "TARGETS" in errors[0].hint and "TIME_ZONE" in errors[0].hint


def test_e001_non_string_top_level_key_is_reported_not_crashing():
    assert_reports(changed(lambda c: c.update({1: "x"})), "attendance_push.E001", "1")


# --- E002: times ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["TIME", "CHECK_IN", "CHECK_OUT"])
@pytest.mark.parametrize("bad", ["25:00", "9am", 9, "", None, "21:00:00"])
def test_e002_bad_time(key, bad):
    errors = changed(lambda c: c.update({key: bad}))
    assert_reports(errors, "attendance_push.E002", f"['{key}']", repr(bad))


def test_e002_reports_each_bad_time():
    errors = changed(lambda c: c.update(TIME="x", CHECK_IN="y", CHECK_OUT="z"))
    assert ids(errors) == ["attendance_push.E002"] * 3


# --- E003: time zone ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["Mars/Olympus", "", 5, None])
def test_e003_unknown_time_zone(bad):
    errors = changed(lambda c: c.update(TIME_ZONE=bad))
    assert_reports(errors, "attendance_push.E003", "TIME_ZONE", repr(bad))


def test_time_zone_other_than_default_is_accepted():
    assert changed(lambda c: c.update(TIME_ZONE="Europe/London")) == []


# --- E004: target shape ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [{"attendance": "school.StudentAttendance"}, "school.StudentAttendance", None])
def test_e004_targets_not_a_list(bad):
    errors = changed(lambda c: c.update(TARGETS=bad))
    assert_reports(errors, "attendance_push.E004", "must be a list")


@pytest.mark.parametrize("bad", ["school.StudentAttendance", ["school.StudentAttendance", "student"], None])
def test_e004_target_not_a_dict(bad):
    errors = changed(lambda c: c["TARGETS"].__setitem__(0, bad))
    assert_reports(errors, "attendance_push.E004", "['TARGETS'][0] must be a dict")


def test_e004_target_missing_person_field():
    errors = changed(lambda c: target(c).pop("person_field"))
    assert_reports(errors, "attendance_push.E004", "['TARGETS'][0]", "missing person_field")
    assert "person_field" in errors[0].hint


def test_e004_target_missing_attendance():
    errors = changed(lambda c: target(c, 1).pop("attendance"))
    assert_reports(errors, "attendance_push.E004", "['TARGETS'][1]", "missing attendance")


def test_e004_target_unknown_key():
    def mutate(config):
        target(config)["persn_field"] = target(config)["person_field"]

    errors = changed(mutate)
    assert_reports(errors, "attendance_push.E004", "['TARGETS'][0]", "unknown persn_field")
    assert "person_field" in errors[0].hint


def test_e004_typo_instead_of_key_reports_both_missing_and_unknown():
    def mutate(config):
        target(config)["persn_field"] = target(config).pop("person_field")

    errors = changed(mutate)
    assert_reports(errors, "attendance_push.E004", "missing person_field", "unknown persn_field")


def test_e004_target_non_string_key_is_reported_not_crashing():
    assert_reports(changed(lambda c: target(c).update({1: "x"})), "attendance_push.E004", "unknown 1")


# --- E005: attendance model -----------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["school.Nope", "nodot", "nope.StudentAttendance", "school.Student.Attendance"])
def test_e005_attendance_not_an_installed_model(bad):
    errors = changed(lambda c: target(c).update(attendance=bad))
    assert_reports(errors, "attendance_push.E005", "['TARGETS'][0]['attendance']", repr(bad))


@pytest.mark.parametrize("bad", [5, None])
def test_e005_non_string_attendance_is_reported_not_crashing(bad):
    errors = changed(lambda c: target(c).update(attendance=bad))
    assert_reports(errors, "attendance_push.E005", repr(bad))


# --- E006: field does not exist -------------------------------------------------------------------


def test_e006_unknown_date_field_lists_the_models_fields():
    errors = changed(lambda c: target(c).update(date_field="day"))
    assert_reports(
        errors,
        "attendance_push.E006",
        "['TARGETS'][0]['date_field']",
        "'day'",
        "school.StudentAttendance",
    )
    (error,) = (e for e in errors if e.id == "attendance_push.E006")
    for name in ("date", "status", "time_in", "time_out", "created_by", "student"):
        assert name in error.hint
    assert "None" not in error.hint  # date_field is required: no "set it to None" advice


@pytest.mark.parametrize("key", OPTIONAL_FIELDS)
def test_e006_unknown_optional_field_suggests_none(key):
    errors = changed(lambda c: target(c, 1).update({key: "nope"}))
    assert_reports(errors, "attendance_push.E006", f"['TARGETS'][1]['{key}']", "'nope'", "school.EmployeeAttendance")
    assert f"'{key}': None" in errors[0].hint


def test_e006_unknown_person_field():
    errors = changed(lambda c: target(c).update(person_field="pupil"))
    assert_reports(errors, "attendance_push.E006", "['person_field'] 'pupil'")


@pytest.mark.parametrize("key", ["person_field", "date_field"])
def test_e006_required_field_set_to_none(key):
    errors = changed(lambda c: target(c).update({key: None}))
    assert_reports(errors, "attendance_push.E006", f"['{key}'] None")


# --- E007: wrong field type -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "name", "problem"),
    [
        ("date_field", "created_at", "is not a DateField"),
        ("check_in_field", "status", "is not a TimeField"),
        ("check_out_field", "date", "is not a TimeField"),
        ("person_field", "date", "is not a ForeignKey"),
        ("created_by_field", "student", "is not a ForeignKey to auth.User"),
        ("status_field", "time_in", "is not a CharField"),
    ],
)
def test_e007_wrong_field_type(key, name, problem):
    errors = changed(lambda c: target(c).update({key: name}))
    # Only the misnamed field is reported, not the required field it left unmapped (E013).
    assert_reports(
        errors,
        "attendance_push.E007",
        f"['TARGETS'][0]['{key}']",
        f"school.StudentAttendance.{name} {problem}",
    )


# --- E008: people_filter --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [{"is_gone": True}, {"is_active__nope": True}, {"name__nope": "a"}])
def test_e008_people_filter_invalid_lookup(bad):
    errors = changed(lambda c: target(c).update(people_filter=bad))
    assert_reports(errors, "attendance_push.E008", "['TARGETS'][0]['people_filter']", repr(bad))
    assert "school.Student" in errors[0].hint


def test_e008_people_filter_invalid_value():
    errors = changed(lambda c: target(c, 1).update(people_filter={"is_active": "maybe"}))
    assert_reports(errors, "attendance_push.E008", "['TARGETS'][1]['people_filter']")
    assert "school.Employee" in errors[0].hint


@pytest.mark.parametrize("bad", [["is_active"], "is_active=True", None])
def test_e008_people_filter_not_a_dict(bad):
    errors = changed(lambda c: target(c).update(people_filter=bad))
    assert_reports(errors, "attendance_push.E008", "['TARGETS'][0]['people_filter'] must be a dict")


def test_people_filter_empty_or_spanning_relations_is_accepted():
    def mutate(config):
        target(config)["people_filter"] = {}
        target(config, 1)["people_filter"] = {"attendance__isnull": True, "name__icontains": "x"}

    assert changed(mutate) == []


# --- E009: status not a choice --------------------------------------------------------------------


def test_e009_status_not_a_choice():
    errors = changed(lambda c: c.update(STATUS="Here"))
    assert_reports(errors, "attendance_push.E009", "'Here'", "school.StudentAttendance.status")
    assert any("school.EmployeeAttendance.status" in e.msg for e in errors)
    assert all("Present" in e.hint and "Absent" in e.hint for e in errors)


@pytest.mark.parametrize("status", ["Absent", "Late", "Leave"])
def test_other_status_choices_are_accepted(status):
    assert changed(lambda c: c.update(STATUS=status)) == []


def test_status_is_not_checked_without_a_status_field():
    def mutate(config):
        config["STATUS"] = "Here"
        for t in config["TARGETS"]:
            t["status_field"] = None

    assert changed(mutate) == []


# --- E010: django-q2 not installed ----------------------------------------------------------------


def test_e010_django_q_not_installed():
    apps_without_q = [app for app in settings.INSTALLED_APPS if app != "django_q"]
    assert len(apps_without_q) == len(settings.INSTALLED_APPS) - 1
    with override_settings(INSTALLED_APPS=apps_without_q):
        errors = check_settings()
    assert_reports(errors, "attendance_push.E010", "django-q2")
    assert "django_q" in errors[0].hint


# --- E011: actor ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [5, "", ["root"], True])
def test_e011_bad_actor(bad):
    errors = changed(lambda c: c.update(ACTOR=bad))
    assert_reports(errors, "attendance_push.E011", "['ACTOR']")


# --- E012: check-in after check-out ---------------------------------------------------------------


def test_e012_check_in_later_than_check_out():
    errors = changed(lambda c: c.update(CHECK_IN="18:00", CHECK_OUT="17:00"))
    assert_reports(errors, "attendance_push.E012", "18:00", "17:00")


def test_check_in_equal_to_check_out_is_accepted():
    assert changed(lambda c: c.update(CHECK_IN="12:00", CHECK_OUT="12:00")) == []


def test_e012_not_reported_when_a_time_is_unparseable():
    errors = changed(lambda c: c.update(CHECK_IN="18:00", CHECK_OUT="5pm"))
    assert ids(errors) == ["attendance_push.E002"]


# --- E013: required field the push cannot fill ----------------------------------------------------


def test_e013_required_field_left_unfilled():
    # A real installed model and mapping that reaches _check_unfilled with every other field valid:
    # the person is taken to be the `created_by` user, which leaves the required `student` FK
    # (no null, no default) without a value.
    def mutate(config):
        # The demo's people_on_day reads students' dates, which users do not have (E040).
        target(config).update(person_field="created_by", created_by_field=None, people_on_day=None)

    errors = changed(mutate)
    assert_reports(errors, "attendance_push.E013", "['TARGETS'][0]", "school.StudentAttendance.student")
    assert len(errors) == 1


def test_unfilled_exempts_pk_nullable_default_and_auto_fields():
    # With nothing mapped, only the required fields are reported: not the pk, not `status`
    # (default), `time_in`/`time_out`/`created_by` (nullable) or `created_at`/`updated_at` (auto).
    errors = list(_check_unfilled("where", StudentAttendance, []))
    assert ids(errors) == ["attendance_push.E013"] * 2
    assert [e.msg for e in errors] == [
        "where: school.StudentAttendance.date is required and the push has no value for it.",
        "where: school.StudentAttendance.student is required and the push has no value for it.",
    ]


# --- W001: no targets -----------------------------------------------------------------------------


def test_w001_empty_targets():
    errors = changed(lambda c: c.update(TARGETS=[]))
    assert ids(errors) == ["attendance_push.W001"]
    assert errors[0].level == checks.WARNING
    assert errors[0].hint


# --- manage.py check ------------------------------------------------------------------------------


def test_manage_py_check_passes_on_the_project_configuration():
    out = StringIO()
    call_command("check", stdout=out, stderr=StringIO())
    assert "attendance_push" not in out.getvalue()


def test_manage_py_check_fails_on_a_bad_configuration():
    config = valid()
    config["TIME_ZONE"] = "Mars/Olympus"
    with override_settings(ATTENDANCE_PUSH=config), pytest.raises(SystemCheckError) as excinfo:
        call_command("check", stdout=StringIO(), stderr=StringIO())
    assert "attendance_push.E003" in str(excinfo.value)
    assert "Mars/Olympus" in str(excinfo.value)


# --- W002 / W003: django-q2 settings that could push twice or forever ------------------------------


def test_the_projects_task_queue_settings_pass():
    assert check_task_queue() == []


@pytest.mark.parametrize("cluster", [{"timeout": 60, "retry": 90}, {"timeout": 60, "retry": 90, "max_attempts": 0}])
def test_w002_infinite_retries(settings, cluster):
    settings.Q_CLUSTER = cluster
    assert ids(check_task_queue()) == ["attendance_push.W002"]


@pytest.mark.parametrize(
    "cluster",
    [
        {"max_attempts": 1, "timeout": 900, "retry": 720},
        {"max_attempts": 1, "timeout": 60},  # retry defaults to 60
        {"max_attempts": 1, "retry": 720},  # no timeout: a push may run past retry
    ],
)
def test_w003_timeout_not_below_retry(settings, cluster):
    settings.Q_CLUSTER = cluster
    (warning,) = check_task_queue()
    assert warning.id == "attendance_push.W003" and warning.hint


# --- E014 / E015: catch-up look-back and site address ----------------------------------------------


@pytest.mark.parametrize("value", [-1, "3", 1.5, True, None])
def test_e014_catch_up_days_must_be_a_whole_number(value):
    errors = changed(lambda c: c.update(CATCH_UP_DAYS=value))
    assert_reports(errors, "attendance_push.E014", "CATCH_UP_DAYS", repr(value))


@pytest.mark.parametrize("value", [0, 3, 30])
def test_catch_up_days_accepts_whole_numbers(value):
    assert changed(lambda c: c.update(CATCH_UP_DAYS=value)) == []


@pytest.mark.parametrize("value", ["school.example", "ftp://school.example", 5])
def test_e015_site_url_must_be_an_http_address(value):
    errors = changed(lambda c: c.update(SITE_URL=value))
    assert_reports(errors, "attendance_push.E015", "SITE_URL")


def test_site_url_accepts_an_https_address_or_none():
    assert changed(lambda c: c.update(SITE_URL="https://school.example")) == []
    assert changed(lambda c: c.update(SITE_URL=None)) == []


# --- W004 / W005: databases on which pushes of one day are not serialised ---------------------------


def test_the_projects_databases_pass():
    assert check_databases() == []


def test_w004_sqlite_without_immediate_transactions(settings):
    if connection.vendor != "sqlite":
        pytest.skip("an SQLite setting; this run uses another database")
    options = connection.settings_dict["OPTIONS"]
    original = dict(options)
    try:
        options.pop("transaction_mode")
        (warning,) = check_databases()
    finally:
        options.clear()
        options.update(original)
    assert warning.id == "attendance_push.W004" and "IMMEDIATE" in warning.hint


def test_w005_postgresql_above_read_committed(settings):
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL setting; this run uses another database")
    options = connection.settings_dict.setdefault("OPTIONS", {})
    try:
        from django.db.backends.postgresql.psycopg_any import IsolationLevel

        options["isolation_level"] = IsolationLevel.REPEATABLE_READ
        (warning,) = check_databases()
    finally:
        options.pop("isolation_level")
    assert warning.id == "attendance_push.W005"


def test_database_checks_skip_targets_that_name_no_model(settings):
    settings.ATTENDANCE_PUSH = push_settings(TARGETS=[{"attendance": "school.Nope"}, "x"])
    assert check_databases() == []


def test_w005_is_quiet_at_read_committed():
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL setting; this run uses another database")
    from django.db.backends.postgresql.psycopg_any import IsolationLevel

    options = connection.settings_dict.setdefault("OPTIONS", {})
    try:
        options["isolation_level"] = IsolationLevel.READ_COMMITTED
        assert check_databases() == []
    finally:
        options.pop("isolation_level")


@pytest.mark.parametrize(
    "cluster", [{"max_attempts": 1, "timeout": 60, "retry": None}, {"max_attempts": 1, "timeout": "x"}]
)
def test_w003_reports_values_that_are_not_numbers(settings, cluster):
    settings.Q_CLUSTER = cluster
    assert ids(check_task_queue()) == ["attendance_push.W003"]


class ElsewhereRouter:
    """Sends the employees' attendance to another database."""

    def db_for_write(self, model, **hints):
        return "elsewhere" if model._meta.label == "school.EmployeeAttendance" else None


def test_e020_targets_on_different_databases(settings):
    settings.DATABASE_ROUTERS = ["tests.engine.test_checks.ElsewhereRouter"]
    errors = check_databases()
    assert ids(errors) == ["attendance_push.E020"]
    assert "default, elsewhere" in errors[0].msg


def test_e021_use_tz_off(settings):
    settings.USE_TZ = False
    assert "attendance_push.E021" in ids(check_settings())


# --- E024: the admin site of the e-mails' links ----------------------------------------------------


@pytest.mark.parametrize("value", ["", None, 5])
def test_e024_admin_site_must_be_a_site_name(value):
    errors = changed(lambda c: c.update(ADMIN_SITE=value))
    assert_reports(errors, "attendance_push.E024", "['ADMIN_SITE']", repr(value))
    assert "PushRunAdmin" in errors[0].hint


def test_admin_site_accepts_a_custom_sites_name():
    assert changed(lambda c: c.update(ADMIN_SITE="office")) == []
