"""Every setting is documented in .env.example, the one list users copy from."""

from __future__ import annotations

import re
from pathlib import Path

from transforms.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def test_every_setting_is_in_env_example() -> None:
    documented = set(
        re.findall(r"TRADEWIRE_([A-Z0-9_]+)=", ENV_EXAMPLE.read_text(encoding="utf-8"))
    )
    declared = {name.upper() for name in Settings.model_fields}
    assert declared == documented
