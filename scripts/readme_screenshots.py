"""Take the README's screenshots (docs/img/) of the demo school, seeded, in Debian's Chromium.

    .venv/bin/python scripts/readme_screenshots.py [--out docs/img]

A fresh demo in a temporary folder: `migrate`, `seed_demo --superuser` (no records on closed days), a
closure ("Bandh (general strike)") on a past Thursday, then `push_attendance` of the last ten days, so
the history's calendar shows pushed days, closed Saturdays, the public holidays of Nepal in its last 90
days and the closure. Then `runserver` and a `qcluster` worker, and Playwright drives
/usr/bin/chromium through the history at 1280 px, the confirmation of today at 390 px and the history
in Nepali at 390 px. Every process it starts is stopped at the end. Needs requirements-dev.txt and
`apt-get install chromium fonts-lohit-deva`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PUSH_ZONE = ZoneInfo("Asia/Kathmandu")  # the demo's ATTENDANCE_PUSH["TIME_ZONE"]
HISTORY = "/admin/attendance_push/pushrun/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> None:
    # The project's own manage.py with fixed arguments.
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603


def start(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(  # noqa: S603 - the project's own manage.py
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen) -> None:
    """Stop `process` and its children (qcluster's workers) by its own process group."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - our own server on 127.0.0.1
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def seed(env: dict[str, str]) -> None:
    """Migrate and seed the demo, close a past Thursday, and push the last ten days."""
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "createcachetable")
    # The demo login first, to record as the closure's creator; the closure before the seed, which leaves
    # its day without records as a school's devices would.
    manage(env, "seed_demo", "--superuser", "--students", "0", "--employees", "0", "--days", "0", "-v", "0")
    today = datetime.datetime.now(PUSH_ZONE).date()
    thursday = today - datetime.timedelta(days=(today.weekday() - 3) % 7 + 7)
    code = (
        "from attendance_push.models import Closure; from django.contrib.auth import get_user_model; "
        f"Closure.objects.get_or_create(name='Bandh (general strike)', first_day='{thursday}', last_day='{thursday}', "
        "defaults={'note': 'Called the evening before', 'created_by': get_user_model().objects.get(username='admin')})"
    )
    manage(env, "shell", "-c", code)
    manage(env, "seed_demo", "--days", "14")
    first, last = today - datetime.timedelta(days=10), today - datetime.timedelta(days=1)
    manage(env, "push_attendance", "--from", f"{first}", "--to", f"{last}", "-v", "0")


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/login/?next={HISTORY}")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    page.click("input[type=submit]")
    page.wait_for_url(f"**{HISTORY}")


def worker_shown(page: Page, base: str, words: str) -> None:
    """Reload the history until it says a worker is running (its stats reach the cache within seconds)."""
    deadline = time.monotonic() + 60
    while True:
        page.goto(f"{base}{HISTORY}")
        if page.locator(".attendance-push-worker--up").count():
            expect(page.locator(".attendance-push-worker--up")).to_contain_text(words)
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the history never said a worker is running")
        time.sleep(2)


def fits(page: Page) -> Page:
    """Fail when the page scrolls sideways: a screenshot must not hide a layout bug."""
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    if widths[0] > widths[1]:
        raise AssertionError(f"{page.url} is {widths[0]} px wide on a {widths[1]} px screen")
    return page


def screenshots(base: str, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            laptop = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-GB")
            page = laptop.new_page()
            log_in(page, base)
            worker_shown(page, base, "A worker is running")
            expect(page.locator('.attendance-push-calendar [data-outcome="closed"]').first).to_be_visible()
            fits(page).screenshot(path=out / "history-1280.png")

            phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
            page = phone.new_page()
            log_in(page, base)
            today = datetime.datetime.now(PUSH_ZONE).date()
            page.goto(f"{base}/admin/attendance_push/pushrun/push/?start={today}")
            expect(page.locator(".attendance-push-preview")).to_be_visible()
            fits(page).screenshot(path=out / "confirmation-390.png", full_page=True)

            nepali = browser.new_context(viewport={"width": 390, "height": 844}, locale="ne-NP")
            page = nepali.new_page()
            log_in(page, base)
            worker_shown(page, base, "वर्कर")
            expect(page.locator("html")).to_have_attribute("lang", "ne")
            # The top of the page: the next push, the worker, the calendar and the latest runs.
            fits(page).screenshot(
                path=out / "history-ne-390.png", full_page=True, clip={"x": 0, "y": 0, "width": 390, "height": 1450}
            )
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="Folder for the PNGs (docs/img).")
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="attendance-push-screenshots-") as folder:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
        }
        env.update(
            {
                # Nothing of a developer's .env or db.sqlite3: a demo of its own, with the ORM broker.
                "ENV_FILE": os.devnull,
                "DEBUG": "1",
                "SECRET_KEY": "screenshots-only",  # noqa: S105 - a throwaway local demo
                "DATABASE_URL": f"sqlite:///{folder}/demo.sqlite3",
                "Q_WORKERS": "1",
            }
        )
        seed(env)
        port = free_port()
        web = start(env, "runserver", f"127.0.0.1:{port}", "--noreload", log=Path(folder) / "web.log")
        worker = start(env, "qcluster", log=Path(folder) / "worker.log")
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base}/admin/login/")
            screenshots(base, options.out)
        finally:
            stop(worker)
            stop(web)
    names = ("history-1280.png", "confirmation-390.png", "history-ne-390.png")
    sys.stdout.write("".join(f"{options.out / name}\n" for name in names))


if __name__ == "__main__":
    main()
