"""Test settings: the project's settings with fast hashing, captured mail and a file test database."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
# The developer's .env (make run writes one with DEBUG=1) must not change what the tests see; the
# processes the tests start inherit this too.
os.environ.setdefault("ENV_FILE", os.devnull)

from config.settings import *  # noqa: E402, F403
from config.settings import DATABASES, INSTALLED_APPS, STORAGES  # noqa: E402

# Host models shaped unlike the demo's (tests/variants), for the tests of the target options.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.variants"]
# A process the fault tests start with ATTENDANCE_PUSH_TEST_HOLD holds its pushes inside their
# transaction until the test releases or kills it (tests/holding.py).
if os.environ.get("ATTENDANCE_PUSH_TEST_HOLD"):
    INSTALLED_APPS = [*INSTALLED_APPS, "tests.holding.HoldingConfig"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if "EMAIL_BACKEND" not in os.environ:  # processes the tests start may write mail to files instead
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so the qcluster and manage.py processes the tests start share it; named by the
    # process, so each pytest-xdist worker of a parallel run has its own.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"attendance_push_test_{os.getpid()}.sqlite3"),
    }

# The cluster runs its scheduler every 30 s of guard cycles; a cycle of 30 s in the processes the
# tests start makes the first scheduler pass happen at start-up instead of half a minute later.
if os.environ.get("ATTENDANCE_PUSH_TEST_GUARD_CYCLE"):
    Q_CLUSTER = {**Q_CLUSTER, "guard_cycle": float(os.environ["ATTENDANCE_PUSH_TEST_GUARD_CYCLE"])}  # noqa: F405

# Serve static files from the apps, as `runserver` does: no collectstatic before the tests.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# The test client and the live server speak plain HTTP.
SECURE_SSL_REDIRECT = False

# The demo closes Saturdays and Nepal's public holidays. Tests that push "today" or a fixed day must
# not depend on which weekday it is, so the suite runs with no working calendar; the demo's own
# calendar (DEMO_ATTENDANCE_PUSH) is tested as shipped in tests/engine/test_closed_days.py.
DEMO_ATTENDANCE_PUSH = ATTENDANCE_PUSH  # noqa: F405
ATTENDANCE_PUSH = {**DEMO_ATTENDANCE_PUSH, "WEEKLY_OFF": [], "HOLIDAYS": None}
