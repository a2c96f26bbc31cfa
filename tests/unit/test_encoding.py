"""Charset decisions for HTML bytes, including mislabelled Chinese pages."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from ingest.encoding import decode_html, normalize_encoding

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"


def test_gb18030_page_with_wrong_utf8_header_and_meta() -> None:
    body = (PAGES / "gb18030-declared-utf8.html").read_bytes()
    text, encoding, rule = decode_html(body, "text/html; charset=utf-8")
    assert encoding == "gb18030" and rule == "detected"
    assert "中美经贸磋商取得进展" in text


def test_gbk_page_labelled_latin1_is_not_mojibake() -> None:
    body = (PAGES / "gb18030-declared-utf8.html").read_bytes()
    text, encoding, rule = decode_html(body, "text/html; charset=ISO-8859-1")
    assert (encoding, rule) == ("gb18030", "detected") and "商务部" in text


def test_gb2312_label_is_widened_to_gb18030() -> None:
    # 镕 is outside GB2312: strict gb2312 decoding would fail on a page that says gb2312.
    body = "朱镕基谈中美贸易".encode("gb18030")
    text, encoding, rule = decode_html(body, "text/html; charset=gb2312")
    assert (text, encoding, rule) == ("朱镕基谈中美贸易", "gb18030", "http-header")


def test_big5_page_by_meta_and_without_any_label() -> None:
    body = (PAGES / "big5.html").read_bytes()
    text, encoding, rule = decode_html(body, "text/html")
    assert (encoding, rule) == ("big5hkscs", "meta-charset") and "美中貿易談判" in text
    stripped = body.replace(b"; charset=big5", b"")
    text2, encoding2, rule2 = decode_html(stripped, None)
    assert rule2 == "detected" and encoding2 in {"big5hkscs", "cp950"} and "美國商務部" in text2


def test_page_without_charset() -> None:
    body = (PAGES / "no-charset.html").read_bytes()
    text, encoding, rule = decode_html(body, None)
    assert (encoding, rule) == ("utf-8", "detected") and "ministère" in text
    latin = body.decode("utf-8").encode("cp1252")
    text_l, encoding_l, rule_l = decode_html(latin, None)
    assert rule_l == "detected" and "ministère" in text_l and encoding_l != "utf-8"


def test_bom_wins_over_header() -> None:
    body = codecs.BOM_UTF16_LE + "<p>关税</p>".encode("utf-16-le")
    assert decode_html(body, "text/html; charset=iso-8859-1") == ("<p>关税</p>", "utf-16-le", "bom")
    assert decode_html(codecs.BOM_UTF8 + b"<p>x</p>", "text/html; charset=gbk")[1:] == (
        "utf-8",
        "bom",
    )


def test_header_beats_meta_when_both_decode() -> None:
    body = '<meta charset="windows-1252"><p>naïve café</p>'.encode()
    assert decode_html(body, "text/html; charset=UTF-8")[1:] == ("utf-8", "http-header")


def test_honest_latin_header_is_kept() -> None:
    body = "<p>Zölle auf Stahl: Brüssel prüft Gegenmaßnahmen.</p>".encode("cp1252")
    text, encoding, rule = decode_html(body, "text/html; charset=iso-8859-1")
    assert (encoding, rule) == ("cp1252", "http-header") and "Gegenmaßnahmen" in text


def test_utf8_bytes_labelled_latin1_fall_through() -> None:
    body = "<p>Les tarifs douaniers sur l’acier chinois augmentent — décision à Pékin.</p>".encode()
    text, encoding, rule = decode_html(body, "text/html; charset=iso-8859-1")
    assert (encoding, rule) == ("utf-8", "detected") and "Pékin" in text


def test_meta_utf16_on_ascii_page_means_utf8() -> None:
    body = '<meta charset="utf-16"><p>tariff – truce</p>'.encode()
    assert decode_html(body, None)[1:] == ("utf-8", "meta-charset")


def test_unknown_label_and_empty_body() -> None:
    assert decode_html(b"<p>ok</p>", "text/html; charset=x-no-such")[1:] == ("utf-8", "detected")
    assert decode_html(b"", None)[0] == ""


@pytest.mark.parametrize(
    "label,expected",
    [
        ("GB2312", "gb18030"),
        ("gbk", "gb18030"),
        ("Big5", "big5hkscs"),
        ("latin1", "cp1252"),
        ("nope", None),
    ],
)
def test_normalize_encoding(label: str, expected: str | None) -> None:
    assert normalize_encoding(label) == expected
