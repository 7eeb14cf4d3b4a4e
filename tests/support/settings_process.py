"""The project's settings (config.settings) as a fresh Python process loads them from its environment.

Settings are read once per process, so each read starts `python -c` with a minimal environment (no DATABASE_URL or
SECRET_KEY inherited from the test run) and reads the values back as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from tests.support.processes import ROOT

READ_SETTINGS = """
import json, sys
import django
django.setup()
from django.conf import settings
print(json.dumps({name: getattr(settings, name) for name in sys.argv[1:]}, default=str))
"""


def start(env: dict[str, str], *names: str) -> subprocess.CompletedProcess[str]:
    """Load the project's settings in a fresh process with only `env` and print the named ones as JSON."""
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONDONTWRITEBYTECODE": "1",
        # A developer's .env must not change what these tests see.
        "ENV_FILE": os.devnull,
    }
    return subprocess.run(
        [sys.executable, "-c", READ_SETTINGS, *names],
        env={**base, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def read(env: dict[str, str], *names: str) -> dict[str, Any]:
    """Return the named settings as loaded in a fresh process with `env` (plus a SECRET_KEY unless given)."""
    completed = start({"SECRET_KEY": "settings-test-key", **env}, *names)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])
