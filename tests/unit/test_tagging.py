"""Unit tests for the topic and US–China tagger."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from transforms.records import TagResult
from transforms.tagging import load_tagger, split_sentences, tag_json_lines

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "tests" / "fixtures" / "seeds" / "000_5cae3edb08e907fb.txt"
FIXTURES = REPO / "tests" / "fixtures" / "tagging"


def tag(title: str | None, text: str) -> TagResult:
    """Tag with the default tagger: the shipped model over the taxonomy's features."""
    return load_tagger().tag(title, text)


def rule_tag(title: str | None, text: str) -> TagResult:
    """Tag by the taxonomy's rules alone: their decisions are features the model reads."""
    return load_tagger().with_model(None).tag(title, text)


def topics(result: TagResult) -> set[str]:
    """Topic ids of a result."""
    return {t.topic for t in result.topics}


def assert_offsets(result: TagResult, title: str | None, text: str) -> None:
    """Every evidence span must point at its own text."""
    fields = {"title": title or "", "text": text}
    spans = [e for t in result.topics for e in t.evidence] + list(result.us_china_evidence)
    assert spans
    for e in spans:
        assert fields[e.field][e.start : e.end] == e.text


POSITIVE = {
    "rare_earths": (
        "China curbs exports of gallium and germanium",
        "Beijing said exporters of gallium and germanium will need permits. "
        "The two metals are critical minerals used in chips and solar cells.",
    ),
    "export_controls": (
        "Commerce adds chip firms to the entity list",
        "The Commerce Department added 30 companies to the entity list on Tuesday. "
        "Suppliers will need an export license to ship them U.S. technology.",
    ),
    "tariffs": (
        "Canada imposes anti-dumping duties on steel",
        "Canada will impose anti-dumping duties on steel imports from three countries. "
        "The tariffs take effect next month.",
    ),
    "trade_talks": (
        "EU and Japan resume trade talks",
        "Negotiators from the European Union and Japan resumed trade talks in Brussels. "
        "Both sides hope to sign a free trade agreement this year.",
    ),
    "semiconductors": (
        "Chipmaker expands foundry capacity",
        "The chipmaker will build a new semiconductor plant. "
        "Demand for memory chips has surged this year.",
    ),
    "sanctions": (
        "Treasury sanctions shipping firms over Iran oil",
        "The Treasury imposed sanctions on six shipping firms. "
        "Their assets in the United States are frozen and the firms were blacklisted.",
    ),
    "agriculture": (
        "Brazil ships record soybeans",
        "Brazil shipped a record volume of soybeans this month. "
        "Farmers also sold more corn and pork abroad.",
    ),
    "investment_screening": (
        "CFIUS blocks takeover of chip tester",
        "The Committee on Foreign Investment in the United States blocked the deal. "
        "CFIUS said the acquisition posed a national security risk.",
    ),
    "currency": (
        "Yuan falls to a 16-year low",
        "The yuan fell against the dollar as the central bank set a weaker exchange rate. "
        "Traders expect further depreciation of the currency.",
    ),
}


@pytest.mark.parametrize("topic", sorted(POSITIVE))
def test_topic_positive(topic: str) -> None:
    title, text = POSITIVE[topic]
    result = tag(title, text)
    assert topic in topics(result)
    tagged = next(t for t in result.topics if t.topic == topic)
    assert 0.5 <= tagged.score <= 1.0
    assert tagged.evidence
    assert_offsets(result, title, text)


def test_feed_in_tariff_is_not_tariffs() -> None:
    title = "Germany trims solar feed-in tariff"
    text = (
        "Germany will cut the feed-in tariff paid to rooftop solar owners. "
        "Feed-in tariffs were meant to speed up the energy transition."
    )
    assert "tariffs" not in topics(tag(title, text))


def test_food_safety_export_controls_are_not_export_controls() -> None:
    title = "Beijing tightens export controls on dairy after melamine scandal"
    text = (
        "China tightened export controls on milk powder and other dairy products. "
        "Food safety inspectors will check export controls at every port."
    )
    assert "export_controls" not in topics(tag(title, text))


def test_crypto_is_not_currency() -> None:
    title = "Bitcoin rally lifts cryptocurrency shares"
    text = (
        "The cryptocurrency market rose as bitcoin gained 8 percent. "
        "Crypto exchanges said trading in the digital token doubled."
    )
    assert "currency" not in topics(tag(title, text))


def test_bargaining_chip_is_not_semiconductors() -> None:
    text = "The minister said the port deal was a bargaining chip. Talks on the port resume Monday."
    assert "semiconductors" not in topics(tag("Port talks stall", text))


def test_passing_mention_in_list_is_not_tagged() -> None:
    title = "Shipping rates climb on Red Sea disruption"
    text = (
        "Freight rates rose again this week as ships avoided the Red Sea. "
        "Analysts listed risks from tariffs, sanctions, export controls and currency swings. "
        "Container lines added surcharges on Asia-Europe routes."
    )
    found = topics(rule_tag(title, text))
    assert not found & {"tariffs", "sanctions", "export_controls", "currency"}


def test_single_body_mention_is_not_tagged_but_two_are() -> None:
    lede = "The port handled more containers than ever this year, its operator said on Friday."
    once = lede + " Soybeans made up a small share. Cranes were upgraded."
    twice = lede + " Soybeans made up a small share. Soybean exports doubled in May."
    assert "agriculture" not in topics(rule_tag("Port posts record year", once))
    assert "agriculture" in topics(rule_tag("Port posts record year", twice))


def test_chinese_simplified() -> None:
    title = "美国对华为实施新的出口管制"
    text = (
        "美国商务部周二宣布，将对华为实施更严格的出口管制，限制其获取先进芯片。中方表示坚决反对！"
    )
    result = tag(title, text)
    assert {"export_controls", "semiconductors"} <= topics(result)
    assert result.us_china
    assert {"us.commerce", "cn.huawei"} <= {e.entity_id for e in result.entities}
    assert_offsets(result, title, text)


def test_chinese_traditional() -> None:
    lines = (FIXTURES / "seed_like_zh_traditional.txt").read_text(encoding="utf-8").splitlines()
    title, text = lines[0], "\n".join(lines[1:])
    result = tag(title, text)
    assert {"trade_talks", "tariffs", "rare_earths"} <= topics(result)
    assert result.us_china
    ids = {e.entity_id for e in result.entities}
    assert {"us.bessent", "cn.he_lifeng", "place.geneva"} <= ids
    assert_offsets(result, title, text)


def test_chinese_sentence_split() -> None:
    text = "第一句话。第二句话！第三句话？最后"
    parts = [text[s.start : s.end] for s in split_sentences(text)]
    assert parts == ["第一句话。", "第二句话！", "第三句话？", "最后"]


def test_english_sentence_split_keeps_abbreviations() -> None:
    text = "The U.S. Treasury said so. Mr. Li agreed on Monday. Talks end."
    parts = [text[s.start : s.end] for s in split_sentences(text)]
    assert parts == ["The U.S. Treasury said so.", "Mr. Li agreed on Monday.", "Talks end."]


def test_us_china_needs_both_sides_in_economic_relation() -> None:
    us_only = tag(
        "Fed holds rates steady",
        "The Federal Reserve held interest rates steady on Wednesday. "
        "U.S. Treasury yields fell after the decision.",
    )
    eu_china = tag(
        "EU opens anti-subsidy probe into Chinese electric cars",
        "The European Commission opened an investigation into subsidies for Chinese electric "
        "cars. Brussels may impose duties on imports from China.",
    )
    non_economic = tag(
        "US and Chinese astronauts share a panel",
        "An American astronaut and a Chinese astronaut spoke about space science at a "
        "conference. The panel discussed lunar geology.",
    )
    assert not us_only.us_china
    assert not eu_china.us_china
    assert not non_economic.us_china
    assert "tariffs" in topics(eu_china)  # topics do not depend on the country pair


def test_seed_article_gets_required_tags() -> None:
    lines = SEED.read_text(encoding="utf-8").splitlines()
    title, text = lines[0], "\n".join(lines[1:])
    assert {"trade_talks", "rare_earths", "export_controls"} <= topics(rule_tag(title, text))
    result = tag(title, text)
    assert result.us_china and result.model_version == load_tagger().model.version
    assert {"trade_talks", "rare_earths"} <= topics(result)
    ids = {e.entity_id for e in result.entities}
    assert {"us.bessent", "cn.he_lifeng", "cn.wang_wentao", "cn.li_chenggang"} <= ids
    assert {"place.lancaster_house", "place.geneva"} <= ids
    assert_offsets(result, title, text)


def test_version_combines_taxonomy_and_gazetteer(tmp_path: Path) -> None:
    base = load_tagger()
    gazetteer = tmp_path / "gazetteer.toml"
    source = (REPO / "transforms" / "gazetteer.toml").read_text(encoding="utf-8")
    gazetteer.write_text(source + "\n# local change\n", encoding="utf-8")
    changed = load_tagger(gazetteer_path=gazetteer)
    assert base.version.startswith(base.taxonomy.version + "+g")
    assert changed.version != base.version
    assert load_tagger() is base  # the default tagger is cached


def test_tag_json_lines_keeps_order_and_reports_bad_lines() -> None:
    lines = [
        json.dumps({"id": "a", "title": "Soybean exports", "text": "Soybeans sold well."}),
        "{not json",
        "",
        json.dumps({"id": "b", "title": None}),
        json.dumps({"id": "c", "title": 5, "text": "x"}),
        json.dumps({"id": "d", "title": "Tariffs rise", "text": "Tariffs rose again."}),
    ]
    out, err = io.StringIO(), io.StringIO()
    errors = tag_json_lines(lines, out, err, load_tagger())
    assert errors == 3
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in rows] == ["a", "d"]
    assert {"us_china", "topics", "taxonomy_version"} <= set(rows[0])
    assert rows[1]["topics"][0]["topic"] == "tariffs"
    messages = err.getvalue().splitlines()
    assert [m.split(":")[0] for m in messages] == ["line 2", "line 4", "line 5"]
    assert "text" in messages[1]


def test_zero_tariff_in_a_trade_agreement_is_not_tariffs() -> None:
    title = "China and Georgia free trade agreement takes effect"
    text = (
        "The free trade agreement between China and Georgia took effect on Monday, officials said. "
        "Under the agreement China will apply zero tariffs to most goods from Georgia. "
        "Georgia will offer zero-tariff treatment to most Chinese products in return."
    )
    found = topics(tag(title, text))
    assert "trade_talks" in found
    assert "tariffs" not in found


def test_background_mention_counts_less_than_the_story() -> None:
    lede = "Shipments of solar panels from Vietnam rose by a third in May, customs data showed on Monday."
    background = (
        lede + " Exporters expanded output amid the trade war between the two largest economies. "
        "Factories hired more workers despite the tariffs imposed last year."
    )
    story = (
        lede + " Washington raised tariffs on the panels in April. "
        "The tariffs cover modules and cells alike."
    )
    assert "tariffs" not in topics(rule_tag("Vietnam solar exports climb", background))
    assert "tariffs" in topics(rule_tag("Vietnam solar exports climb", story))


def test_range_enumeration_is_a_passing_mention() -> None:
    lede = "Officials signed deals from aviation to agriculture worth $45 billion, the White House said."
    plain = (
        "Officials signed agriculture deals worth $45 billion on Wednesday, the White House said."
    )
    rest = " Boeing won the largest order. Airlines will take delivery next year."
    assert "agriculture" not in topics(rule_tag("Deals signed at state visit", lede + rest))
    assert "agriculture" in topics(rule_tag("Deals signed at state visit", plain + rest))


def test_long_article_needs_more_than_two_passing_sentences() -> None:
    filler = [
        f"Paragraph {i} describes the port's new cranes and the dredging of berth number {i}."
        for i in range(40)
    ]
    body = filler[:10] + ["Soybean cargoes were delayed by fog."] + filler[10:30]
    body += ["Soybean traders waited a day."] + filler[30:]
    short = filler[:3] + ["Soybean cargoes were delayed by fog.", "Soybean traders waited a day."]
    title = "Port finishes dredging works"
    assert "agriculture" not in topics(rule_tag(title, "\n".join(body)))
    assert "agriculture" in topics(rule_tag(title, "\n".join(short)))


def test_summit_alone_is_not_trade_talks() -> None:
    text = (
        "Leaders gathered for the G20 summit in Pittsburgh on Thursday, officials said. "
        "Trade friction could spill into the summit, analysts said. "
        "The summit ends on Friday with a statement on trade."
    )
    assert "trade_talks" not in topics(tag("Leaders meet in Pittsburgh", text))


def test_chinese_tariff_article() -> None:
    title = "美国宣布对中国钢铁加征关税"
    text = "美国商务部周二宣布，将对从中国进口的钢铁加征25%的关税。中方表示将采取反制措施。"
    result = tag(title, text)
    assert "tariffs" in topics(result)
    assert result.us_china
    assert_offsets(result, title, text)
