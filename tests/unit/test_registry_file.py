"""Editing the registry as text: comments survive, bad edits are refused, the starter parses."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.cli import main
from ingest.registry_file import adopt_sources, append_source, remove_source, set_enabled
from ingest.sources_registry import RegistryError, enabled_sources, load_sources

REPO = Path(__file__).resolve().parents[2]
REGISTRY = """# header comment
[[source]]
name = "seeds"
kind = "folder"
path = "seeds"

# a feed I like
[[source]]
name = "wire"
kind = "feed"
url = "https://news.example.com/rss.xml"
enabled = true  # keep me
"""


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    path = tmp_path / "seeds" / "sources.toml"
    path.parent.mkdir()
    path.write_text(REGISTRY, encoding="utf-8")
    return path


def test_disable_enable_rewrite_one_line(registry: Path) -> None:
    set_enabled(registry, "wire", False)
    assert "enabled = false  # keep me" in registry.read_text(encoding="utf-8")
    assert [s.name for s in enabled_sources(load_sources(registry))] == ["seeds"]
    set_enabled(registry, "seeds", False)
    set_enabled(registry, "seeds", True)
    set_enabled(registry, "wire", True)
    text = registry.read_text(encoding="utf-8")
    assert text.count("enabled = true") == 2
    assert "# header comment" in text and "# a feed I like" in text


def test_append_and_remove_round_trip(registry: Path) -> None:
    append_source(
        registry,
        {
            "name": "maps",
            "kind": "news-sitemap",
            "url": "https://x.example/n.xml",
            "language": "zh",
        },
        "added by hand",
    )
    spec = load_sources(registry)[-1]
    assert (spec.kind, spec.language, spec.max_new_per_poll) == ("news-sitemap", "zh", 100)
    remove_source(registry, "maps")
    assert registry.read_text(encoding="utf-8") == REGISTRY
    remove_source(registry, "wire")
    assert registry.read_text(encoding="utf-8").startswith("# header comment\n[[source]]")
    with pytest.raises(RegistryError):
        remove_source(registry, "wire")


def test_a_bad_edit_is_refused(registry: Path) -> None:
    with pytest.raises(RegistryError):
        append_source(registry, {"name": "wire", "kind": "feed", "url": "https://a.example/"})
    assert registry.read_text(encoding="utf-8") == REGISTRY


def test_starter_registry_parses_and_is_disabled() -> None:
    specs = load_sources(REPO / "seeds" / "starter-sources.toml")
    assert len(specs) >= 5 and not enabled_sources(specs)
    assert all(s.why and s.language for s in specs)
    text = (REPO / "seeds" / "starter-sources.toml").read_text(encoding="utf-8")
    assert "NOT VERIFIED FROM THIS MACHINE" in text


def test_enable_starter_copies_blocks_enabled(registry: Path) -> None:
    starter = REPO / "seeds" / "starter-sources.toml"
    copied = adopt_sources(registry, starter, ["fr-bis"])
    assert copied == ["fr-bis"]
    spec = next(s for s in load_sources(registry) if s.name == "fr-bis")
    assert spec.enabled and spec.kind == "feed"
    assert "# Federal Register, BIS" in registry.read_text(encoding="utf-8")
    assert adopt_sources(registry, starter, ["fr-bis"]) == []


def test_sources_list_shows_the_starter_disabled_on_a_fresh_clone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("TRADEWIRE_SOURCES_FILE", "TRADEWIRE_STARTER_SOURCES_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert main(["sources", "list", "--db", str(tmp_path / "fresh.duckdb")]) == 0
    lines = capsys.readouterr().out.splitlines()
    seeds = next(line for line in lines if line.startswith("seeds "))
    assert "enabled" in seeds
    starter = [line for line in lines if "(starter)" in line]
    assert len(starter) >= 5 and all("disabled" in line for line in starter)
    assert not (tmp_path / "fresh.duckdb").exists()
