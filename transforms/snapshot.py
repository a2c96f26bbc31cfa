"""A read-only copy of the database for analysts' own tools, replaced atomically after loads.

DuckDB lets one process write a file and forbids readers in other processes meanwhile, so an
analyst holding the live file open in the DuckDB CLI would stall ingestion. The snapshot is a
separate file they can keep open for as long as they like.

Loads write it when TRADEWIRE_SNAPSHOT=file; the default, the lake (transforms/lake.py), writes
only what changed and serves readers on other machines too. `tradewire snapshot` writes this
copy on demand whatever the setting, for tools that want one .duckdb file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from transforms.database import connect


def snapshot_path_for(db_path: Path) -> Path:
    """data/tradewire.duckdb -> data/tradewire.snapshot.duckdb."""
    return db_path.with_name(f"{db_path.stem}.snapshot{db_path.suffix or '.duckdb'}")


def publish_snapshot(db_path: Path, target: Path | None = None) -> Path:
    """Checkpoint, copy under the write lock, then rename into place so readers never see half."""
    target = target or snapshot_path_for(db_path)
    tmp = target.with_name(f".{target.name}.tmp")
    # The writer connection excludes other writers while the bytes are copied.
    with connect(db_path, read_only=False) as con:
        con.execute("CHECKPOINT")
        shutil.copyfile(db_path, tmp)
    os.replace(tmp, target)
    return target
