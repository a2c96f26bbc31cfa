from pathlib import Path

from ingest.textfile import parse_text_fixture, render_fixture_html

REPO = Path(__file__).resolve().parents[2]


def test_seed_title_is_first_line_and_not_repeated_in_body() -> None:
    raw = (REPO / "tests" / "fixtures" / "seeds" / "000_5cae3edb08e907fb.txt").read_text(
        encoding="utf-8"
    )
    fixture = parse_text_fixture(raw)
    assert (
        fixture.title == "U.S.-China Trade Talks Progress at Lancaster House Amid Ongoing Tensions"
    )
    assert fixture.title not in fixture.paragraphs
    assert fixture.paragraphs[0].startswith("Trade discussions between the United States")


def test_trailing_chrome_is_dropped_but_short_sentences_are_kept() -> None:
    fixture = parse_text_fixture("Title\n\nBody one.\n\nIt ended.\n\nTags\n\nShare this\n")
    assert fixture.paragraphs == ("Body one.", "It ended.")


def test_chrome_only_at_the_end() -> None:
    fixture = parse_text_fixture("Title\n\nSection\n\nA real paragraph ends here.\n")
    assert fixture.paragraphs == ("Section", "A real paragraph ends here.")


def test_empty_file_gives_empty_fixture() -> None:
    assert parse_text_fixture("\n\n  \n").title == ""


def test_html_escapes_markup_in_text() -> None:
    html = render_fixture_html(parse_text_fixture("A <b> title\n\nx < y & z.\n"))
    assert "<b>" not in html and "&lt;b&gt;" in html and "x &lt; y &amp; z." in html
