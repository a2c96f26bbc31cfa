"""Landing tables are built on the system allocator, whichever module imported Arrow first."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "first_import",
    ["transforms.load", "ingest.reextraction", "ingest.pipeline", "ingest.cli.query_commands"],
)
def test_arrow_uses_the_system_allocator(first_import: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    probe = f"import {first_import}, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "system"
