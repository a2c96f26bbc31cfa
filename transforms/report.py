"""A one-page, self-contained HTML report: weekly topic chart, top entities, latest articles."""

from __future__ import annotations

import html
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

LATEST_ARTICLES = 20
TOP_ENTITIES = 12
EVIDENCE_CONTEXT = 90  # characters of article text shown on each side of an evidence span
# Countries are in nearly every story ("United States", "China"), so they would fill the list.
ENTITY_KINDS_SKIPPED = ("country",)
_NO_TOPIC = '<span class="kind">no topic tagged</span>'
_PUBLISHED_DAY = "CAST(published_at AT TIME ZONE 'UTC' AS DATE)"


class ReportDependencyError(RuntimeError):
    """A package the report needs is not installed."""


@dataclass(frozen=True)
class ReportArticle:
    """A US–China article as the report shows it."""

    article_id: str
    title: str
    published_at: datetime | None
    author: str | None
    source: str
    url: str | None
    topics: list[tuple[str, float, str]]  # topic, score, evidence snippet as safe HTML


def topic_label(topic: str) -> str:
    """`export_controls` -> `Export controls`: the taxonomy's keys are not headline text."""
    return topic.replace("_", " ").capitalize()


def source_label(source: str) -> str:
    """A folder source is stored as its absolute path; its last part is the readable name."""
    return source.rstrip("/").rsplit("/", 1)[-1] if source.startswith("/") else source


def _since_clause(column: str) -> str:
    # `?` twice: the same optional date tested for NULL and compared.
    return f"(CAST(? AS DATE) IS NULL OR {column} >= CAST(? AS DATE))"


def fetch_weekly_topics(
    con: duckdb.DuckDBPyConnection, since: date | None
) -> list[tuple[date, str, int]]:
    """(week starting Monday, topic, US–China articles) from topic_daily; undated rows left out."""
    rows = con.execute(
        "SELECT CAST(date_trunc('week', day) AS DATE) AS week, topic, "
        "CAST(sum(us_china_articles) AS BIGINT) AS n FROM topic_daily "
        f"WHERE day IS NOT NULL AND {_since_clause('day')} "
        "GROUP BY ALL HAVING sum(us_china_articles) > 0 ORDER BY week, topic",
        [since, since],
    ).fetchall()
    return [(r[0], str(r[1]), int(r[2])) for r in rows]


def fetch_topic_totals(
    con: duckdb.DuckDBPyConnection, since: date | None
) -> list[tuple[str, int, int]]:
    """(topic, US–China articles, all articles) over the period, busiest first."""
    rows = con.execute(
        "SELECT topic, CAST(sum(us_china_articles) AS BIGINT) AS us_china, "
        "CAST(sum(articles) AS BIGINT) AS all_articles FROM topic_daily "
        f"WHERE {_since_clause('day')} GROUP BY topic ORDER BY us_china DESC, all_articles DESC, topic",
        [since, since],
    ).fetchall()
    return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]


def fetch_top_entities(
    con: duckdb.DuckDBPyConnection, since: date | None, limit: int = TOP_ENTITIES
) -> list[tuple[str, str, int, int]]:
    """(name, kind, US–China articles, mentions) of the most present non-country entities."""
    skipped = ", ".join("?" for _ in ENTITY_KINDS_SKIPPED)
    rows = con.execute(
        "SELECT name, kind, CAST(sum(us_china_articles) AS BIGINT) AS articles, "
        "CAST(sum(mentions) AS BIGINT) AS mentions FROM entity_mentions "
        f"WHERE kind NOT IN ({skipped}) AND {_since_clause('day')} "
        "GROUP BY name, kind HAVING sum(us_china_articles) > 0 "
        "ORDER BY articles DESC, mentions DESC, name LIMIT ?",
        [*ENTITY_KINDS_SKIPPED, since, since, limit],
    ).fetchall()
    return [(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]


def fetch_latest_articles(
    con: duckdb.DuckDBPyConnection, since: date | None, limit: int = LATEST_ARTICLES
) -> list[ReportArticle]:
    """Newest US–China articles, each topic with the evidence span that justified it."""
    rows = con.execute(
        "SELECT article_id, title, published_at, author, source, url, text FROM us_china_articles "
        f"WHERE {_since_clause(_PUBLISHED_DAY)} "
        "ORDER BY published_at DESC NULLS LAST, first_ingested_at DESC LIMIT ?",
        [since, since, limit],
    ).fetchall()
    ids = [r[0] for r in rows]
    tags: dict[str, list[tuple[str, float, str]]] = defaultdict(list)
    texts = {r[0]: (r[1] or "", r[6] or "") for r in rows}
    for article_id, topic, score, evidence in con.execute(
        "SELECT article_id, topic, score, evidence FROM article_topics "
        "WHERE list_contains(CAST(? AS VARCHAR[]), article_id) ORDER BY score DESC, topic",
        [ids],
    ).fetchall():
        title, text = texts[article_id]
        tags[article_id].append((topic, float(score), evidence_html(evidence, title, text)))
    return [
        ReportArticle(
            article_id=r[0],
            title=r[1] or "(untitled)",
            published_at=r[2],
            author=r[3],
            source=r[4],
            url=r[5],
            topics=tags.get(r[0], []),
        )
        for r in rows
    ]


def evidence_html(evidence: Any, title: str, text: str) -> str:
    """One evidence span in a little context, highlighted; escaped, so safe to embed."""
    spans = json.loads(evidence) if isinstance(evidence, str) else evidence
    if not spans:
        return ""
    # The headline is already on the page; a span from the body shows new context.
    span = next((s for s in spans if s.get("field") == "text"), spans[0])
    body = title if span.get("field") == "title" else text
    start, end = int(span.get("start", -1)), int(span.get("end", -1))
    if not (0 <= start < end <= len(body)) or body[start:end] != span.get("text"):
        return f"<mark>{html.escape(str(span.get('text', '')))}</mark>"
    left = body[max(0, start - EVIDENCE_CONTEXT) : start]
    right = body[end : end + EVIDENCE_CONTEXT]
    # Cut the context at word boundaries so snippets do not start or end mid-word.
    if start > EVIDENCE_CONTEXT and " " in left:
        left = "…" + left[left.index(" ") + 1 :]
    if end + EVIDENCE_CONTEXT < len(body) and " " in right:
        right = right[: right.rindex(" ")] + "…"
    return (
        html.escape(left.replace("\n", " "))
        + f"<mark>{html.escape(body[start:end])}</mark>"
        + html.escape(right.replace("\n", " "))
    )


def render_chart_svg(weekly: list[tuple[date, str, int]]) -> str:
    """Stacked weekly bars per topic as inline SVG (text stays text: crisp and small)."""
    try:
        from matplotlib import rcParams
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError as exc:
        raise ReportDependencyError(
            "the report's chart needs matplotlib, which is not installed: "
            "add it with `uv add matplotlib` (or `pip install matplotlib`)"
        ) from exc
    rcParams["svg.fonttype"] = "none"
    rcParams["font.family"] = ["DejaVu Sans", "sans-serif"]
    fig = Figure(figsize=(10, 3.4), layout="constrained")
    ax = fig.add_subplot()
    if not weekly:
        ax.text(0.5, 0.5, "No dated US–China articles in this period", ha="center", va="center")
        ax.set_axis_off()
    else:
        first, last = weekly[0][0], weekly[-1][0]
        weeks = [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]
        topics = sorted({t for _, t, _ in weekly})
        counts = {(w, t): n for w, t, n in weekly}
        palette = rcParams["axes.prop_cycle"].by_key()["color"]
        bottom = [0] * len(weeks)
        for i, topic in enumerate(topics):
            values = [counts.get((w, topic), 0) for w in weeks]
            ax.bar(
                range(len(weeks)),
                values,
                bottom=bottom,
                width=0.7,
                label=topic_label(topic),
                color=palette[i % len(palette)],
            )
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_xticks(range(len(weeks)), [w.strftime("%d %b") for w in weeks])
        ax.set_xlabel("Week starting (UTC)")
        ax.set_ylabel("US–China articles")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # article counts: no 0.5 ticks
        ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.tick_params(axis="y", length=0)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=9)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    # Inline SVG needs no XML prolog or DOCTYPE (which also names an external DTD).
    return svg[svg.index("<svg") :]


_CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --accent:#b91c1c; --bg:#f8fafc; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 32px 40px 48px; }
header h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
header p { margin: 0; color: var(--muted); }
.stats { display: flex; gap: 12px; margin: 20px 0 8px; }
.stat { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; }
.stat b { display: block; font-size: 22px; }
.stat span { color: var(--muted); font-size: 13px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px;
  padding: 20px 24px; margin-top: 20px; }
h2 { font-size: 17px; margin: 0 0 12px; }
.note { color: var(--muted); font-size: 13px; margin: 8px 0 0; }
.chart svg { width: 100%; height: auto; display: block; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase;
  letter-spacing: 0.04em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fafafa; }
.kind { color: var(--muted); font-size: 12px; }
article { padding: 14px 0; border-bottom: 1px solid var(--line); }
article:last-child { border-bottom: 0; }
article h3 { font-size: 16px; margin: 0 0 2px; }
article h3 a { color: inherit; text-decoration: none; }
.meta { color: var(--muted); font-size: 13px; margin-bottom: 6px; }
.tag { display: inline-block; background: #fef2f2; color: var(--accent); border-radius: 999px;
  padding: 1px 10px; font-size: 12px; font-weight: 600; margin-right: 6px; }
.evidence { margin: 4px 0 0; padding: 0; list-style: none; font-size: 13.5px; }
.evidence li { margin: 3px 0; }
mark { background: #fde68a; padding: 0 2px; border-radius: 2px; }
.grid { display: grid; grid-template-columns: 1.5fr 1fr; gap: 20px; align-items: start; }
.grid section { margin-top: 20px; }
td, th { padding: 5px 10px; }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
"""


def render_report(
    weekly: list[tuple[date, str, int]],
    topic_totals: list[tuple[str, int, int]],
    entities: list[tuple[str, str, int, int]],
    articles: list[ReportArticle],
    totals: tuple[int, int, int],
    since: date | None,
    generated_at: datetime,
) -> str:
    """The page itself: inline CSS and SVG only, so it opens offline and mails as one file."""
    esc = html.escape
    scope = f"since {since.isoformat()}" if since else "all dated articles"
    total, us_china, undated = totals
    stats = "".join(
        f'<div class="stat"><b>{value}</b><span>{esc(label)}</span></div>'
        for value, label in (
            (total, "articles"),
            (us_china, "US–China articles"),
            (sum(n for _, _, n in weekly), "topic tags charted"),
        )
    )
    entity_rows = (
        "".join(
            f'<tr><td>{esc(name)}</td><td class="kind">{esc(kind)}</td>'
            f'<td class="num">{n}</td><td class="num">{m}</td></tr>'
            for name, kind, n, m in entities
        )
        or '<tr><td colspan="4">No entities in this period.</td></tr>'
    )
    topic_rows = (
        "".join(
            f'<tr><td>{esc(topic_label(t))}</td><td class="num">{n}</td><td class="num">{m}</td></tr>'
            for t, n, m in topic_totals
        )
        or '<tr><td colspan="3">No topics in this period.</td></tr>'
    )
    blocks = []
    for a in articles:
        when = a.published_at.strftime("%d %b %Y") if a.published_at else "date unknown"
        title = esc(a.title)
        if a.url:
            title = f'<a href="{esc(a.url, quote=True)}">{title}</a>'
        meta = " · ".join(esc(x) for x in (when, a.author or "", source_label(a.source)) if x)
        tags = "".join(
            f'<span class="tag">{esc(topic_label(t))} {s:.2f}</span>' for t, s, _ in a.topics
        )
        evidence = "".join(
            f"<li><b>{esc(topic_label(t))}:</b> {snippet}</li>"
            for t, _, snippet in a.topics
            if snippet
        )
        blocks.append(
            f'<article><h3>{title}</h3><div class="meta">{meta}</div>'
            f"<div>{tags or _NO_TOPIC}</div>"
            f'<ul class="evidence">{evidence}</ul></article>'
        )
    undated_note = (
        f" {undated} US–China article(s) without a publication date are not charted."
        if undated
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tradewire report — US–China trade coverage</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header>
<h1>US–China trade coverage</h1>
<p>tradewire report · {esc(scope)} · generated {generated_at.strftime("%Y-%m-%d %H:%M")} UTC</p>
</header>
<div class="stats">{stats}</div>
<section class="chart">
<h2>Topics week by week</h2>
{render_chart_svg(weekly)}
<p class="note">US–China articles per topic and week of publication; an article with two
topics counts in both.{esc(undated_note)}</p>
</section>
<div class="grid">
<section>
<h2>Top entities</h2>
<table>
<thead><tr><th>Entity</th><th>Kind</th><th class="num">US–China articles</th>
<th class="num">Mentions</th></tr></thead>
<tbody>{entity_rows}</tbody>
</table>
<p class="note">Countries are left out: the US and China are named in nearly every story.
Mentions count all articles.</p>
</section>
<section>
<h2>Topics</h2>
<table>
<thead><tr><th>Topic</th><th class="num">US–China</th><th class="num">All</th></tr></thead>
<tbody>{topic_rows}</tbody>
</table>
<p class="note">Articles per topic, undated ones included.</p>
</section>
</div>
<section>
<h2>Latest US–China articles</h2>
{"".join(blocks) or "<p>No US–China articles in this period.</p>"}
</section>
<footer>Generated by <code>tradewire report</code>. Topic scores are in [0, 1]; highlighted
text is the evidence the tagger found for each topic.</footer>
</main>
</body>
</html>
"""


def build_report(con: duckdb.DuckDBPyConnection, since: date | None = None) -> str:
    """Query the analyst views and render the page; a read-only connection is enough."""
    weekly = fetch_weekly_topics(con, since)
    topic_totals = fetch_topic_totals(con, since)
    entities = fetch_top_entities(con, since)
    articles = fetch_latest_articles(con, since)
    row = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE us_china), "
        "count(*) FILTER (WHERE us_china AND published_at IS NULL) FROM articles "
        f"WHERE {_since_clause(_PUBLISHED_DAY)}",
        [since, since],
    ).fetchone()
    totals = (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)
    return render_report(weekly, topic_totals, entities, articles, totals, since, datetime.now(UTC))
