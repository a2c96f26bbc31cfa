"""JSON Lines in and out for `tradewire tag`: one record per line, bad lines reported, not fatal."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from transforms.records import Evidence, TagResult
from transforms.tagging.tagger import Tagger


def evidence_to_dict(evidence: Evidence) -> dict[str, Any]:
    """Serialise one evidence span for JSON output and the stored evidence column."""
    return {
        "text": evidence.text,
        "start": evidence.start,
        "end": evidence.end,
        "field": evidence.field,
    }


def tag_result_to_dict(result: TagResult) -> dict[str, Any]:
    """Serialise a TagResult in the shape `tradewire tag` prints."""
    return {
        "us_china": result.us_china,
        "us_china_score": result.us_china_score,
        "us_china_evidence": [evidence_to_dict(e) for e in result.us_china_evidence],
        "topics": [
            {
                "topic": t.topic,
                "score": t.score,
                "evidence": [evidence_to_dict(e) for e in t.evidence],
            }
            for t in result.topics
        ],
        "entities": [
            {"entity_id": e.entity_id, "name": e.name, "kind": e.kind, "mentions": e.mentions}
            for e in result.entities
        ],
        "taxonomy_version": result.taxonomy_version,
    }


def parse_record(line: str) -> tuple[Any, str | None, str]:
    """Validate one input record, raising ValueError with a message fit for the user."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object with id, title and text")
    if "text" not in record:
        raise ValueError('missing "text"')
    text, title = record["text"], record.get("title")
    if not isinstance(text, str):
        raise ValueError(f'"text" must be a string, not {type(text).__name__}')
    if title is not None and not isinstance(title, str):
        raise ValueError(f'"title" must be a string or null, not {type(title).__name__}')
    record_id = record.get("id")
    if record_id is not None and not isinstance(record_id, (str, int)):
        raise ValueError(f'"id" must be a string or number, not {type(record_id).__name__}')
    return record_id, title, text


def tag_json_lines(lines: Iterable[str], out: TextIO, err: TextIO, tagger: Tagger) -> int:
    """Tag JSON Lines records in order; report bad lines on `err` and keep going. Returns errors."""
    errors = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record_id, title, text = parse_record(line)
        except ValueError as exc:
            errors += 1
            err.write(f"line {number}: {exc}\n")
            continue
        payload = {"id": record_id, **tag_result_to_dict(tagger.tag(title, text))}
        out.write(json.dumps(payload, ensure_ascii=False) + "\n")
    return errors
