"""Full-text search over articles: ranked hits from the BM25 index (transforms/searchindex.py),
with the sentence that best matches; the fts extension supplies stemming."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path

import duckdb

from transforms.searchindex import refresh_postings, search_index_ready
from transforms.settings import Settings

FTS_ENV = "TRADEWIRE_FTS_EXTENSION"
SNIPPET_CHARS = 240

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")
_WORD = re.compile(r"\w+")


class SearchUnavailableError(RuntimeError):
    """The fts extension cannot be loaded, or the database has no search index yet."""


@dataclass(frozen=True)
class SearchHit:
    """One ranked article, with the sentence that best matches the query."""

    article_id: str
    score: float
    title: str | None
    published_at: datetime | None
    source: str
    url: str | None
    topics: tuple[str, ...]
    snippet: str
    # (start, end) offsets into `snippet` of the words that matched the query.
    highlights: tuple[tuple[int, int], ...]

    def marked_snippet(self, left: str = "[", right: str = "]") -> str:
        """Snippet with matched words wrapped, for plain-text output."""
        out, last = [], 0
        for start, end in self.highlights:
            out += [self.snippet[last:start], left, self.snippet[start:end], right]
            last = end
        out.append(self.snippet[last:])
        return "".join(out)


def fts_extension_path() -> Path:
    """The fts binary to install: TRADEWIRE_FTS_EXTENSION, else the duckdb-extension-fts copy."""
    override = Settings().fts_extension
    if override is not None:
        return override
    try:
        package = resources.files("duckdb_extension_fts")
    except ModuleNotFoundError:
        return Path("duckdb_extension_fts (package not installed)")
    return Path(str(package / "extensions" / f"v{duckdb.__version__}" / "fts.duckdb_extension"))


def load_fts(con: duckdb.DuckDBPyConnection, path: Path | None = None) -> None:
    """Load fts by name from DuckDB's extension directory, installing it there from a local file.

    This machine has no route to DuckDB's extension server, so the binary comes from the
    duckdb-extension-fts package (or TRADEWIRE_FTS_EXTENSION) through DuckDB's own INSTALL.
    """
    # Never let a query silently try to download an extension and hang on the network.
    con.execute("SET autoinstall_known_extensions = false")
    explicit = path or Settings().fts_extension
    if explicit is None:
        with contextlib.suppress(duckdb.Error):
            con.load_extension("fts")  # installed by an earlier call
            return
    extension = explicit or fts_extension_path()
    if not extension.is_file():
        raise SearchUnavailableError(
            f"full-text search extension not found at {extension}: install "
            f"duckdb-extension-fts=={duckdb.__version__} (it is in pyproject.toml; run `make setup`)"
            f" or point {FTS_ENV} at fts.duckdb_extension"
        )
    try:
        con.install_extension(str(extension), force_install=explicit is not None)
        con.load_extension("fts")
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise SearchUnavailableError(f"cannot load {extension}: {first}") from exc


def has_search_index(con: duckdb.DuckDBPyConnection) -> bool:
    """Say whether a refresh has built the search index on this database."""
    return search_index_ready(con)


def known_topics(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Topics present in the database, to turn a typo in --topic into a helpful error."""
    rows = con.execute("SELECT DISTINCT topic FROM article_topics ORDER BY topic").fetchall()
    return [str(r[0]) for r in rows]


def refresh_search_index(
    con: duckdb.DuckDBPyConnection, extension: Path | None = None, *, full: bool = True
) -> int:
    """Rebuild the index (full), or update it for articles landed since; needs a writer."""
    load_fts(con, extension)
    return refresh_postings(con, full=full).documents


def search_articles(
    con: duckdb.DuckDBPyConnection,
    query: str,
    *,
    topic: str | None = None,
    since: date | None = None,
    limit: int = 10,
    extension: Path | None = None,
) -> list[SearchHit]:
    """Ranked hits with snippets; works on a read-only connection once the index exists."""
    load_fts(con, extension)
    if not has_search_index(con):
        raise SearchUnavailableError(
            "this database has no search index yet: build it with `tradewire search --reindex`"
        )
    rows = con.execute(
        # Texts only for the hits shown, not for every article that matched.
        "SELECT s.article_id, s.score, s.title, s.published_at, s.source, s.url, s.topics, a.text "
        "FROM (SELECT * FROM search_articles(?, topic := ?, since := ?) "
        "ORDER BY score DESC, article_id LIMIT ?) AS s JOIN articles AS a USING (article_id) "
        "ORDER BY s.score DESC, s.article_id",
        [query, topic, since, limit],
    ).fetchall()
    stems = stem_words(con, _WORD.findall(query) + [w for r in rows for w in _WORD.findall(r[7])])
    wanted = {stems[w.lower()] for w in _WORD.findall(query)} - stopwords(con)
    hits = []
    for article_id, score, title, published_at, source, url, topics, text in rows:
        snippet, spans = best_snippet(text, wanted, stems)
        hits.append(
            SearchHit(
                article_id=article_id,
                score=float(score),
                title=title,
                published_at=published_at,
                source=source,
                url=url,
                topics=tuple(topics or ()),
                snippet=snippet,
                highlights=spans,
            )
        )
    return hits


def stem_words(con: duckdb.DuckDBPyConnection, words: Sequence[str]) -> dict[str, str]:
    """Lower-cased word -> Porter stem, with the stemmer the index used, in one query."""
    unique = sorted({w.lower() for w in words})
    # One string, split in SQL: the client converts a list parameter element by element, at
    # ~0.3 ms each (an import lookup per value). \w+ words hold no spaces.
    rows = con.execute(
        "SELECT w, stem(w, 'porter') FROM unnest(string_split(?, ' ')) AS u(w) WHERE w <> ''",
        [" ".join(unique)],
    ).fetchall()
    return {str(w): str(s) for w, s in rows}


def stopwords(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The index's stopwords: they never rank, so they should not light up a snippet either."""
    rows = con.execute("SELECT sw FROM search_stopwords").fetchall()
    return {str(r[0]) for r in rows}


def best_snippet(
    text: str, wanted: set[str], stems: dict[str, str]
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The sentence matching the most distinct query terms, trimmed, with the matches' offsets."""
    best: tuple[int, int, str] | None = None
    for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
        if not sentence:
            continue
        found = [stems.get(m.group().lower()) for m in _WORD.finditer(sentence)]
        distinct = len({s for s in found if s in wanted})
        total = sum(1 for s in found if s in wanted)
        if best is None or (distinct, total) > (best[0], best[1]):
            best = (distinct, total, sentence)
    sentence = best[2] if best else ""
    sentence = _trim_around_first_match(sentence, wanted, stems)
    spans: list[tuple[int, int]] = []
    for m in _WORD.finditer(sentence):
        if stems.get(m.group().lower()) not in wanted:
            continue
        # "[rare earth export]" reads better than "[rare] [earth] [export]".
        if spans and not sentence[spans[-1][1] : m.start()].strip():
            spans[-1] = (spans[-1][0], m.end())
        else:
            spans.append((m.start(), m.end()))
    return sentence, tuple(spans)


def _trim_around_first_match(sentence: str, wanted: set[str], stems: dict[str, str]) -> str:
    """Why: a 90-word sentence drowns a result table; keep a window that starts near a match."""
    if len(sentence) <= SNIPPET_CHARS:
        return sentence
    first = next(
        (m.start() for m in _WORD.finditer(sentence) if stems.get(m.group().lower()) in wanted), 0
    )
    start = max(0, first - SNIPPET_CHARS // 4)
    start = sentence.rfind(" ", 0, start) + 1 if start else 0
    window = sentence[start : start + SNIPPET_CHARS]
    cut = window.rfind(" ")
    window = window[:cut] if cut > SNIPPET_CHARS // 2 else window
    return ("…" if start else "") + window + "…"
