"""The sources registry file and the CLI --source argument."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.sources_registry import RegistryError, SourceSpec, load_sources, source_spec_for

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir(exist_ok=True)
    path = folder / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_registry_is_offline() -> None:
    specs = load_sources(REPO / "seeds" / "sources.toml")
    assert specs == (SourceSpec(name="seeds", kind="folder", location=str(REPO / "seeds")),)
    assert all(s.kind == "folder" for s in specs)


def test_feed_with_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[source]]
        name = "wire"
        kind = "feed"
        url = "https://news.example.com/rss"
        poll_interval_minutes = 15
        language = "zh"
        allowed_hosts = ["Mirror.Intranet"]

        [[source]]
        kind = "folder"
        path = "archive"
        """,
    )
    feed, folder = load_sources(path)
    assert feed == SourceSpec(
        "wire", "feed", "https://news.example.com/rss", 15, "zh", ("mirror.intranet",)
    )
    assert folder.name == "archive" and folder.location == str(tmp_path / "archive")
    assert folder.poll_interval_minutes == 60 and folder.language is None


def test_relative_folders_use_base_dir(tmp_path: Path) -> None:
    path = write(tmp_path, '[[source]]\nkind = "folder"\npath = "x"\n')
    assert load_sources(path, base_dir=Path("/srv/data"))[0].location == "/srv/data/x"


@pytest.mark.parametrize(
    "text,message",
    [
        ('[[source]]\nkind = "ftp"\npath = "x"\n', "kind"),
        ('[[source]]\nkind = "feed"\nurl = "file:///etc/passwd"\n', "http"),
        ('[[source]]\nkind = "folder"\n', "path"),
        ('[[source]]\nkind = "folder"\npath = "x"\npoll_interval_minutes = 0\n', "poll_interval"),
        ('[[source]]\nkind = "folder"\npath = "x"\nallowed_hosts = "a"\n', "allowed_hosts"),
        ('[[source]]\nkind = "folder"\npath = "x"\ncolour = "red"\n', "unknown"),
        (
            '[[source]]\nkind = "folder"\npath = "x"\n[[source]]\nkind = "folder"\npath = "x"\n',
            "duplicate",
        ),
        ("[[source]\n", "cannot read"),
    ],
)
def test_bad_registries_fail_loudly(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        load_sources(write(tmp_path, text))


def test_source_spec_for_cli_arguments(tmp_path: Path) -> None:
    url = source_spec_for("https://feeds.example.com/trade.xml")
    assert (url.kind, url.location, url.name) == (
        "feed",
        "https://feeds.example.com/trade.xml",
        url.location,
    )
    folder = source_spec_for(str(tmp_path))
    assert (folder.kind, folder.location) == ("folder", str(tmp_path.resolve()))
    with pytest.raises(RegistryError):
        source_spec_for("ftp://example.com/feed")
    with pytest.raises(RegistryError):
        source_spec_for("  ")


def test_source_spec_for_prefers_registry_settings(tmp_path: Path) -> None:
    registered = SourceSpec("wire", "feed", "https://news.example.com/rss", 15, "en")
    local = SourceSpec("arch", "folder", str(tmp_path), 120)
    assert source_spec_for("wire", [registered, local]) is registered
    assert source_spec_for("https://news.example.com/rss", [registered]) is registered
    assert source_spec_for(str(tmp_path), (s for s in [registered, local])) is local
