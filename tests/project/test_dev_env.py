"""`make run`'s development .env, and the `python manage.py …` commands of the README and docs/ run as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ROOT, patience

pytestmark = pytest.mark.process

VENV = Path(sys.executable).parent.parent
# The variables a developer's shell may hold that would change what the commands see.
CLEARED = ("DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ENV_FILE", "DJANGO_SETTINGS_MODULE", "TIME_ZONE")


def make_env_file(folder: Path) -> subprocess.CompletedProcess:
    """Run the Makefile's `.env` target in `folder` (a copy of the Makefile and its script), on our virtualenv."""
    shutil.copy(ROOT / "Makefile", folder / "Makefile")
    (folder / "scripts").mkdir(exist_ok=True)
    shutil.copy(ROOT / "scripts" / "dev_env.py", folder / "scripts" / "dev_env.py")
    command = ["make", f"VENV={VENV}", ".env"]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=patience(starts=1), check=False)


def test_make_run_writes_a_development_env_once_and_never_overwrites_one(tmp_path):
    first = make_env_file(tmp_path)
    assert first.returncode == 0, first.stderr
    text = (tmp_path / ".env").read_text()
    assert "DEBUG=1" in text.splitlines()
    (key,) = re.findall(r"^SECRET_KEY=(\S+)$", text, re.MULTILINE)
    assert len(key) >= 50
    assert (tmp_path / ".env").stat().st_mode & 0o077 == 0, "the key is readable by its owner only"

    again = make_env_file(tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / ".env").read_text() == text

    # A developer's own .env, even one make did not write, stays as it is.
    (tmp_path / ".env").write_text("DEBUG=0\nSECRET_KEY=mine\n")
    assert make_env_file(tmp_path).returncode == 0
    assert (tmp_path / ".env").read_text() == "DEBUG=0\nSECRET_KEY=mine\n"
    script = ROOT / "scripts" / "dev_env.py"
    forced = subprocess.run([sys.executable, script, tmp_path / ".env"], capture_output=True, text=True, check=False)
    assert (forced.returncode, (tmp_path / ".env").read_text()) == (0, "DEBUG=0\nSECRET_KEY=mine\n")
    assert "Kept the existing" in forced.stdout

    other = tmp_path / "other"
    other.mkdir()
    assert make_env_file(other).returncode == 0
    assert re.findall(r"^SECRET_KEY=(\S+)$", (other / ".env").read_text(), re.MULTILINE) != [key]


def readme_commands() -> set[str]:
    """Return the arguments of every `python manage.py …` the README and its docs/ pages show."""
    # The reference moved from the README to docs/: the commands it shows are in one or the other.
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    readme = "\n".join(page.read_text() for page in pages)
    found = {match.strip() for match in re.findall(r"(?<![\w/.])python manage\.py ([^`#&\n]+)", readme)}
    return found - {"", "…"}  # "python manage.py …" is the README speaking of its commands


# Commands the README and docs/ show that this test does not run, and where they are tested instead.
NOT_RUN_HERE = {
    "qcluster": "runs until stopped (tests/processes/test_processes.py starts it)",
    "attendance_scheduler": "runs until stopped (tests/processes/test_processes.py starts it)",
    "createsuperuser": "asks for a password; run here with --noinput",
    "check --deploy --fail-level WARNING": "production settings (tests/project/test_settings.py runs it)",
    "check --deploy": "production settings (tests/project/test_settings.py runs it)",
    "undo_push RUN_ID [--dry-run]": "a placeholder run id (tests/ledger/test_ledger.py runs it)",
    "prune_push_history [--dry-run]": "the usage line (tests/ledger/test_prune.py runs it)",
}
# In the order a developer types them; the exit status each must end with.
RUN_HERE = [
    ("check --fail-level WARNING", 0),
    ("migrate", 0),
    ("migrate --noinput", 0),
    ("createcachetable", 0),
    ("migrate -v 2", 0),
    ("createsuperuser --noinput --username admin --email admin@example.org", 0),
    ("push_attendance --dry-run", 0),
    ("push_attendance", 0),
    ("attendance_calendar --from 2026-10-20 --to 2026-10-24", 0),
    ("attendance_calendar --from 2026-01-01 --to 2026-12-31 --closed-only", 0),
    ("push_attendance --date 2026-11-28 --include-closed", 0),
    ("attendance_push_status", 1),  # healthy only once yesterday was pushed
]


def test_the_readme_lists_no_command_this_test_does_not_know():
    known = set(NOT_RUN_HERE) | {command for command, _status in RUN_HERE}
    assert readme_commands() - known == set()


def test_the_readmes_manage_py_commands_work_as_written_with_the_development_env(tmp_path):
    assert make_env_file(tmp_path).returncode == 0
    env = {name: value for name, value in os.environ.items() if name not in CLEARED}
    env.update(
        # The project folder's .env is the developer's own: the test reads the one make wrote
        # in its folder, and keeps its database out of the project folder.
        ENV_FILE=str(tmp_path / ".env"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SUPERUSER_PASSWORD="pw",
    )
    shown = readme_commands()
    for command, status in RUN_HERE:
        assert command in shown or command.startswith("createsuperuser"), f"README, docs/ no longer show {command}"
        done = subprocess.run(
            [sys.executable, "manage.py", *command.split()],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=patience(starts=4),  # only a guard against a hang
            check=False,
        )
        assert done.returncode == status, f"python manage.py {command}:\n{done.stdout}\n{done.stderr}"
        if command == "migrate -v 2":
            assert "next push" in done.stdout
        if command == "attendance_push_status":
            assert "Next push" in done.stdout or "next push" in done.stdout, done.stdout
