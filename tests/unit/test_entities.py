"""Unit tests for gazetteer loading and entity matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from transforms.entities import TermMatcher, load_gazetteer


def ids(text: str) -> list[str]:
    """Entity ids found in text, in order."""
    return [h.entity.entity_id for h in load_gazetteer().find(text, "text")]


def test_seed_officials_and_places_are_known() -> None:
    found = ids(
        "Scott Bessent met He Lifeng, Wang Wentao and Li Chenggang at Lancaster House "
        "after the Geneva round."
    )
    assert found == [
        "us.bessent",
        "cn.he_lifeng",
        "cn.wang_wentao",
        "cn.li_chenggang",
        "place.lancaster_house",
        "place.geneva",
    ]


def test_ambiguous_short_names_need_the_full_name() -> None:
    assert "cn.he_lifeng" not in ids("He said the talks went well. Vice Premier Liu spoke too.")
    assert ids("us should go") == []  # "us" is not the US: aliases are case-sensitive


def test_chinese_aliases_simplified_and_traditional() -> None:
    assert ids("何立峰会见贝森特") == ["cn.he_lifeng", "us.bessent"]
    assert ids("何立峰會見貝森特") == ["cn.he_lifeng", "us.bessent"]
    assert ids("稀土、镓和鍺") == ["mineral.rare_earths", "mineral.gallium", "mineral.germanium"]


def test_cjk_longest_match_avoids_false_friends() -> None:
    # 中美洲 is Central America, not "China–US"; 对华为 is "towards Huawei".
    assert "us_cn" not in ids("中美洲国家")
    assert "cn.huawei" in ids("美国对华为实施制裁")


def test_minerals_ignore_case_and_entities_carry_country() -> None:
    gazetteer = load_gazetteer()
    hits = gazetteer.find("GALLIUM and Gallium prices rose; Huawei and Nvidia reacted.", "text")
    assert [h.entity.entity_id for h in hits][:2] == ["mineral.gallium", "mineral.gallium"]
    countries = {h.entity.entity_id: h.entity.country for h in hits}
    assert countries["cn.huawei"] == "CN" and countries["us.nvidia"] == "US"


def test_offsets_point_at_the_mention() -> None:
    text = "Officials from the U.S.-China Business Council met MOFCOM."
    for hit in load_gazetteer().find(text, "text"):
        assert text[hit.start : hit.end] in {"U.S.-China Business Council", "MOFCOM"}


def test_matcher_prefers_longest_and_respects_word_boundaries() -> None:
    matcher = TermMatcher([("trade", True, "t"), ("trade war", True, "w"), ("U.S.", False, "u")])
    text = "A trade  war, not trading. U.S. firms"
    found = [(text[m.start : m.end], m.refs) for m in matcher.find(text)]
    assert found == [("trade  war", ("w",)), ("U.S.", ("u",))]


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text(
        'entity = [{id = "x", name = "X", kind = "place"}, {id = "x", name = "Y", kind = "place"}]\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="duplicate"):
        load_gazetteer(path)


def test_wrong_case_long_term_falls_back_to_a_shorter_one() -> None:
    matcher = TermMatcher([("Trade Representative", False, "ustr"), ("trade", True, "t")])
    text = "the trade representative spoke"
    assert [(text[m.start : m.end], m.refs) for m in matcher.find(text)] == [("trade", ("t",))]


def test_nested_terms_are_reported_inside_a_longer_match() -> None:
    matcher = TermMatcher(
        [("U.S. Trade Representative", False, "ustr"), ("trade", True, "t")], nested=True
    )
    text = "The U.S. Trade Representative said"
    (m,) = list(matcher.find(text))
    assert m.refs == ("ustr",)
    assert [(text[i.start : i.end], i.refs) for i in m.inner] == [("Trade", ("t",))]
