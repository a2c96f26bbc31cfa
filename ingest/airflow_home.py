"""Set-up of the repository as AIRFLOW_HOME: per-machine secrets that all components share.

Airflow components that each invent their own JWT secret reject each other's tokens
("Failed to validate JWT"), so the secrets are generated once here, kept out of git, and read
by every component through the *_cmd options in airflow.cfg.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

SECRET_FILES = ("jwt_secret", "api_secret_key", "fernet_key")


def ensure_secrets(home: Path) -> list[Path]:
    """Create the missing secret files under <home>/.airflow; never overwrite existing ones."""
    from cryptography.fernet import Fernet

    folder = home / ".airflow"
    folder.mkdir(parents=True, exist_ok=True)
    created = []
    for name in SECRET_FILES:
        path = folder / name
        if path.exists() and path.read_text().strip():
            continue
        value = (
            Fernet.generate_key().decode() if name == "fernet_key" else secrets.token_urlsafe(48)
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
        created.append(path)
    return created


if __name__ == "__main__":
    home = Path(os.environ.get("AIRFLOW_HOME") or Path.cwd())
    for created_path in ensure_secrets(home):
        print(f"created {created_path}", file=sys.stderr)
