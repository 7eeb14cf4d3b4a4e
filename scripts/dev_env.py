"""Write a development `.env` (DEBUG on, a generated SECRET_KEY) where there is none.

    python scripts/dev_env.py [PATH]    # default: .env next to manage.py

`make run` calls it. An existing file is never changed: it may hold a developer's own settings.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TEMPLATE = """\
# Written by `make run` for development (scripts/dev_env.py); .env.example lists every variable.
# config/settings.py reads this file; variables set in the environment win over it.
DEBUG=1
SECRET_KEY={secret_key}
"""


def write_dev_env(path: Path) -> bool:
    """Write a development .env at `path`; return False, changing nothing, when a file is there."""
    try:
        # "x" creates the file or fails: no window in which an existing .env could be overwritten.
        with path.open("x", encoding="utf-8") as out:
            out.write(TEMPLATE.format(secret_key=secrets.token_urlsafe(50)))
    except FileExistsError:
        return False
    path.chmod(0o600)  # the key signs sessions: readable by its owner only
    return True


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else ROOT / ".env"
    if write_dev_env(path):
        print(f"Wrote {path} for development: DEBUG=1 and a new SECRET_KEY.")  # noqa: T201 (a command's output)
    else:
        print(f"Kept the existing {path}.")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
