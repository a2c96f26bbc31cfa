"""Page evidence the title rule reads: the <title> text and the page's <h1> elements."""

from __future__ import annotations

from ingest.pagemeta import MAX_HEADINGS, Heading, read_page_meta


def test_title_and_headings_are_read_as_a_reader_sees_them() -> None:
    meta = read_page_meta(
        "<html><head><title>\n  Tariffs rise |\n Harbour Ledger </title></head><body>"
        "<h1>Harbour   Ledger</h1><h1></h1>"
        '<h1 class="entry-title">Tariffs <em>rise</em> again</h1>'
        '<h1 itemprop="headline">Steel duties</h1><h1 class="subtitle-box">x</h1><h1 id="post_title">y</h1>'
        '<h1 class="titlebar">not a headline mark</h1></body></html>'
    )
    assert meta.html_title == "Tariffs rise | Harbour Ledger"
    assert meta.headings == (
        Heading("Harbour Ledger"),
        Heading("Tariffs rise again", "class"),
        Heading("Steel duties", "itemprop"),
        Heading("x"),  # a subtitle is not the headline
        Heading("y", "class"),
        Heading("not a headline mark"),  # "titlebar" is one word, not the token "title"
    )


def test_headings_are_capped_and_long_blocks_skipped() -> None:
    many = "".join(f"<h1>Heading {i}</h1>" for i in range(MAX_HEADINGS + 5))
    meta = read_page_meta(f"<html><body><h1>{'word ' * 200}</h1>{many}</body></html>")
    assert len(meta.headings) == MAX_HEADINGS
    assert meta.headings[0].text == "Heading 0"
    assert read_page_meta("<html><body><p>x</p></body></html>").html_title is None
