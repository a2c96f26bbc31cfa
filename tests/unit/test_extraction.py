import gzip
import shutil
from pathlib import Path

import pytest

from ingest.extraction import count_words, extract_item, hash_bytes, hash_content
from ingest.folder import document_kind
from ingest.records import SourceItem

REPO = Path(__file__).resolve().parents[2]


def _item(path: Path, url: str | None = None) -> SourceItem:
    data = path.read_bytes()
    return SourceItem(
        source=str(path.parent),
        location=str(path),
        kind=document_kind(path) or "",
        raw_hash=hash_bytes(data),
        url=url,
    )


def test_seed_text_fixture_extracts_without_title_repeat_or_chrome() -> None:
    article = extract_item(
        _item(REPO / "tests" / "fixtures" / "seeds" / "000_5cae3edb08e907fb.txt")
    )
    assert article.error is None
    assert (
        article.title == "U.S.-China Trade Talks Progress at Lancaster House Amid Ongoing Tensions"
    )
    assert not article.text.startswith(article.title)
    assert article.title not in article.text
    assert not article.text.rstrip().endswith("Tags")
    assert "rare earths" in article.text
    assert article.language == "en"
    assert article.published_at is None and article.provenance["published_at"] == "none"
    assert article.word_count > 300


def test_html_page_metadata_with_provenance(fixtures_dir: Path) -> None:
    article = extract_item(_item(fixtures_dir / "articles" / "gallium_curbs.html"))
    assert article.error is None
    assert article.title and "gallium" in article.title
    assert article.author == "Jane Fixture"
    assert article.published_at and article.published_at.startswith("2025-07-03")
    assert "Home" not in article.text.split("\n")[0]
    assert article.provenance["author"] == "trafilatura"


def test_gzipped_page_extracts_like_the_plain_one(fixtures_dir: Path, tmp_path: Path) -> None:
    plain = fixtures_dir / "articles" / "gallium_curbs.html"
    packed = tmp_path / "gallium_curbs.html.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    a, b = extract_item(_item(plain)), extract_item(_item(packed))
    assert a.text == b.text and a.content_hash == b.content_hash


def test_page_without_text_is_an_error_row_not_an_exception(fixtures_dir: Path) -> None:
    article = extract_item(_item(fixtures_dir / "articles" / "empty_page.html"))
    assert article.error == "no text extracted"
    assert article.article_id


def test_unreadable_file_is_an_error_row(tmp_path: Path, fixtures_dir: Path) -> None:
    path = tmp_path / "gone.html"
    shutil.copy(fixtures_dir / "articles" / "gallium_curbs.html", path)
    item = _item(path)
    path.unlink()
    article = extract_item(item)
    assert article.error and "FileNotFoundError" in article.error


def test_article_id_is_stable_per_location_and_url(fixtures_dir: Path) -> None:
    path = fixtures_dir / "articles" / "gallium_curbs.html"
    assert extract_item(_item(path)).article_id == extract_item(_item(path)).article_id
    by_url = extract_item(_item(path, url="https://example.com/a?utm_source=x"))
    same = extract_item(_item(path, url="https://example.com/a"))
    assert by_url.article_id == same.article_id != extract_item(_item(path)).article_id


def test_word_count_counts_chinese_characters() -> None:
    assert count_words("稀土出口管制") == 6
    assert count_words("Rare earths, 2025 exports.") == 4


def test_content_hash_ignores_whitespace_and_case() -> None:
    assert hash_content("Title", "Some  text\n") == hash_content("title", "some text")
    assert hash_content("Title", "Some text") != hash_content("Title", "Other text")


def test_deferred_language_is_the_same_once_added(fixtures_dir: Path) -> None:
    # A run's pool workers extract with language=False and the landing process adds it.
    from ingest.extraction import LANGUAGE_DEFERRED, add_language

    item = _item(fixtures_dir / "articles" / "gallium_curbs.html")
    deferred = extract_item(item, language=False)
    assert deferred.language is None and deferred.provenance["language"] == LANGUAGE_DEFERRED
    whole = extract_item(item)
    added = add_language(deferred)
    assert added.language == whole.language == "en"
    assert added.provenance == whole.provenance
    assert list(added.provenance) == list(whole.provenance)  # same key order in the MAP
    assert add_language(added) is added  # nothing deferred: passes through unchanged


def test_new_document_is_hashed_by_the_reader(fixtures_dir: Path) -> None:
    # Discovery leaves a new location's hash empty; extraction hashes the bytes it read.
    path = fixtures_dir / "articles" / "gallium_curbs.html"
    item = _item(path)
    blank = SourceItem(source=item.source, location=item.location, kind=item.kind, raw_hash="")
    assert extract_item(blank).raw_hash == item.raw_hash == hash_bytes(path.read_bytes())


def test_provenance_names_the_title_candidate_and_the_body_pass(fixtures_dir: Path) -> None:
    article = extract_item(_item(fixtures_dir / "articles" / "gallium_curbs.html"))
    # <title> is the h1 plus the site's name: the visible h1 wins, confirmed by <title>.
    assert article.title == "China tightens gallium and germanium export licensing"
    assert article.provenance["title"] == "h1"
    assert article.provenance["text"] == "trafilatura:precision-fast"
    assert article.title_candidates["html:title"].endswith("| Tradewire Test Wire")
    assert article.title_candidates["h1"] == article.title
    assert not article.text.startswith(article.title)


def test_text_fixture_title_keeps_its_rule() -> None:
    article = extract_item(_item(REPO / "seeds" / "000_5cae3edb08e907fb.txt"))
    assert article.provenance["title"] == "text-fixture:trafilatura"
    assert article.title_candidates == {"trafilatura": article.title}


def test_extractor_version_follows_the_body_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest import extraction

    before = extraction.extractor_version()
    monkeypatch.setitem(extraction.EXTRACTION_SETTINGS, "short_words", 1)
    assert extraction.extractor_version() != before
