"""The folder source hashes at discovery only what could be unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

from ingest.extraction import hash_bytes
from ingest.folder import scan_folder
from ingest.pipeline import Discovery


def _folder(fixtures_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("gallium_curbs.html", "soybean_truce.txt"):
        shutil.copy(fixtures_dir / "articles" / name, folder / name)
    return folder


def test_only_known_locations_are_hashed(fixtures_dir: Path, tmp_path: Path) -> None:
    folder = _folder(fixtures_dir, tmp_path)
    everything = {i.location: i.raw_hash for i in scan_folder(folder)}
    assert all(everything.values())  # without `known`, every document is hashed
    landed = sorted(everything)[0]
    items = {i.location: i.raw_hash for i in scan_folder(folder, {landed: "old"})}
    assert items[landed] == hash_bytes(Path(landed).read_bytes())
    assert all(h == "" for loc, h in items.items() if loc != landed)


def test_discovery_skips_unchanged_and_yields_new_and_changed(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    folder = _folder(fixtures_dir, tmp_path)
    hashes = {i.location: i.raw_hash for i in scan_folder(folder)}
    unchanged, changed = sorted(hashes)
    discovery = Discovery([str(folder)], {unchanged: hashes[unchanged], changed: "stale"})
    fresh = [i.location for i in discovery]
    assert fresh == [changed]
    assert (discovery.seen, discovery.unchanged) == (2, 1)
    assert [i.location for i in Discovery([str(folder)], {})] == sorted(hashes)
