"""Every hand-off through object storage: staging batches and raw pages on a loopback S3 server.

The server is moto's standalone server in its own process (tests/integration/s3server.py), so
these tests speak real S3 over HTTP; what they assert is also read back with boto3, apart
from our own code, so nothing passes by landing on the local disk instead.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ingest.extraction import hash_bytes, read_source_bytes
from ingest.localfiles import DocumentUnreadable, check_document, read_document_bytes
from ingest.orchestration import extract_for_run, load_for_run, plan_for_run, poll_for_run
from ingest.rawstore import configured_raw_root, put_raw, raw_key, raw_url, read_raw
from ingest.staging import (
    batch_url,
    keep_pending,
    pending_batches,
    read_jsonl,
    read_pending,
    remove_pending,
    remove_run,
    run_files,
    write_jsonl,
)
from tests.integration.feedsite import page_entries, serve_feed, serve_pages
from tests.integration.loopback import LocalServer
from tests.integration.s3server import TEST_CREDENTIALS
from transforms.database import connect
from transforms.load import RunInfo
from transforms.objectstore import is_remote, open_root, storage_options
from transforms.settings import Settings

pytestmark = pytest.mark.integration


def bucket_keys(s3_env: str, prefix: str = "") -> list[str]:
    """Every key in the test bucket under prefix, listed by boto3 (not by the code under test)."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=Settings().s3_endpoint_url,
        region_name=TEST_CREDENTIALS["AWS_DEFAULT_REGION"],
    )
    bucket = s3_env.removeprefix("s3://")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def bucket_object(s3_env: str, key: str) -> bytes:
    """One object's bytes, fetched by boto3."""
    import boto3

    client = boto3.client("s3", endpoint_url=Settings().s3_endpoint_url)
    body: bytes = client.get_object(Bucket=s3_env.removeprefix("s3://"), Key=key)["Body"].read()
    return body


def test_s3_roots_take_the_endpoint_from_settings(s3_env: str) -> None:
    options = storage_options(f"{s3_env}/x", Settings())
    assert options["endpoint_url"] == Settings().s3_endpoint_url
    assert options["client_kwargs"] == {"region_name": "us-east-1"}
    assert storage_options("/tmp/local/root") == {}
    assert is_remote(f"{s3_env}/raw") and not is_remote("/data/raw") and not is_remote("data/raw")
    fs, path = open_root(f"{s3_env}/raw")
    assert path == f"{s3_env.removeprefix('s3://')}/raw"
    assert fs.protocol[0] == "s3"


def test_staging_batches_round_trip_on_s3(s3_env: str) -> None:
    root = f"{s3_env}/staging"
    rows = [{"n": i, "text": f"línea {i} — 中文"} for i in range(3)]
    url = write_jsonl(batch_url(root, "manual__2026-11-01T12:00", "discovered-g0000", 0), rows)
    assert url.startswith(f"{s3_env}/staging/")
    assert list(read_jsonl(url)) == rows
    # On the server, not on a local disk: boto3 sees the object and its JSON Lines.
    keys = bucket_keys(s3_env, "staging/")
    assert keys == ["staging/manual__2026-11-01T12_00/discovered-g0000-00000.jsonl"]
    assert bucket_object(s3_env, keys[0]).decode("utf-8").count("\n") == 3
    assert run_files(root, "manual__2026-11-01T12:00", "discovered") == [url]
    remove_run(root, "manual__2026-11-01T12:00")
    assert bucket_keys(s3_env, "staging/") == []
    assert run_files(root, "manual__2026-11-01T12:00", "discovered") == []


@dataclass(frozen=True)
class _Row:
    article_id: str


def test_pending_landings_are_kept_and_removed_on_s3(s3_env: str) -> None:
    root = f"{s3_env}/staging"
    run = RunInfo("run-1", datetime(2026, 11, 1, tzinfo=UTC), "scheduled")
    kept = keep_pending(root, "/data/tradewire.duckdb", run, [_Row("a"), _Row("b")])
    assert pending_batches(root, "/data/tradewire.duckdb") == [kept]
    assert pending_batches(root, "/data/other.duckdb") == []
    assert not any(k.endswith(".part") for k in bucket_keys(s3_env))
    read = read_pending(kept)
    assert read is not None
    header, rows = read
    assert header["run_id"] == "run-1" and rows == [{"article_id": "a"}, {"article_id": "b"}]
    remove_pending(kept)
    assert pending_batches(root, "/data/tradewire.duckdb") == []


def test_raw_pages_are_stored_once_by_hash_on_s3(s3_env: str) -> None:
    root = f"{s3_env}/raw"
    page = b"<html><body><p>Export controls on gallium.</p></body></html>"
    sha = put_raw(root, page)
    assert sha == hashlib.sha256(page).hexdigest()
    assert put_raw(root, page) == sha  # a second worker writes nothing new
    assert bucket_keys(s3_env, "raw/") == [f"raw/{raw_key(sha)}"]
    assert gzip.decompress(bucket_object(s3_env, f"raw/{raw_key(sha)}")) == page
    location = raw_url(root, sha)
    assert location == f"{root}/{sha[:2]}/{sha}.html.gz"
    assert read_raw(location) == page
    assert read_source_bytes(location) == page  # what re-extraction reads
    assert read_document_bytes(location) == page  # what an extraction worker reads
    assert check_document(location) is None


def test_raw_pages_on_s3_obey_the_document_limits(s3_env: str) -> None:
    root = f"{s3_env}/raw"
    big = b"<p>" + b"tariff " * 20_000 + b"</p>"  # 140 KB inflated, a few hundred bytes stored
    location = raw_url(root, put_raw(root, big))
    with pytest.raises(DocumentUnreadable) as bomb:
        read_document_bytes(location, max_bytes=100_000)
    assert bomb.value.error_class == "decompression_bomb"
    missing = raw_url(root, "0" * 64)
    with pytest.raises(DocumentUnreadable) as gone:
        read_document_bytes(missing)
    assert gone.value.error_class == "unreadable"
    assert (check_document(missing) or "").startswith("unreadable: ")


def test_raw_root_defaults_to_the_raw_dir_folder(tmp_path: Path) -> None:
    assert configured_raw_root(Settings(raw_dir=tmp_path / "raw")) == str(tmp_path / "raw")
    assert configured_raw_root(Settings(raw_root="s3://b/raw")) == "s3://b/raw"
    sha = put_raw(tmp_path / "raw", b"<html>local</html>")
    assert raw_url(tmp_path / "raw", sha) == str(tmp_path / "raw" / sha[:2] / f"{sha}.html.gz")


@pytest.fixture
def s3_run_env(
    s3_env: str,
    server: LocalServer,
    tmp_path: Path,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    """A feed of five pages on the loopback server and every setting the DAG's tasks read,
    with the raw store and staging both in the bucket and a local raw folder that must stay
    unused."""
    entries = page_entries(5)
    serve_pages(server, entries)
    serve_feed(server, entries)
    registry = tmp_path / "conf" / "sources.toml"
    registry.parent.mkdir()
    registry.write_text(
        f'[[source]]\nname = "loopback-wire"\nkind = "feed"\nurl = "{server.url("/feed.xml")}"\n',
        encoding="utf-8",
    )
    settings = {
        "TRADEWIRE_SOURCES_FILE": str(registry),
        "TRADEWIRE_ALLOWED_HOSTS": "127.0.0.1",
        "TRADEWIRE_FETCH_MIN_INTERVAL": "0.01",
        "TRADEWIRE_STATE_DIR": str(tmp_path / "state"),
        "TRADEWIRE_RAW_DIR": str(tmp_path / "raw"),
        "TRADEWIRE_RAW_ROOT": f"{s3_env}/raw",
        "TRADEWIRE_STAGING_ROOT": f"{s3_env}/staging",
        "TRADEWIRE_DB": str(db_path),
        "TRADEWIRE_WORKERS": "2",  # five items: forked workers read the pages from S3 too
        "TRADEWIRE_SNAPSHOT": "false",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return {"bucket": s3_env, "local_raw": tmp_path / "raw", "db": db_path}


def test_poll_extract_load_hand_off_through_s3_only(s3_run_env: dict[str, Any]) -> None:
    bucket, local_raw, db = s3_run_env["bucket"], s3_run_env["local_raw"], s3_run_env["db"]
    run_id = "scheduled__2026-11-01T12:00:00+00:00"
    # The DAG's task bodies, in order; each could run on another machine.
    groups = plan_for_run(run_id)
    assert all(u.startswith(f"{bucket}/staging/") for u in groups)
    discovered = [url for group in groups for url in poll_for_run(group, run_id)]
    assert len(discovered) == 1 and discovered[0].startswith(f"{bucket}/staging/")
    assert len(bucket_keys(bucket, "raw/")) == 5
    tagged = [extract_for_run(url) for url in discovered]
    assert all(u.startswith(f"{bucket}/staging/") and "/tagged-" in u for u in tagged)
    summary = load_for_run(tagged, run_id, None, "scheduled")
    assert summary["new"] == 5

    with connect(db) as con:
        rows = con.execute(
            "SELECT raw_location, raw_hash, is_summary_only FROM articles "
            "WHERE source = 'loopback-wire' ORDER BY raw_location"
        ).fetchall()
    assert len(rows) == 5
    for raw_location, raw_hash, summary_only in rows:
        assert not summary_only, "the page itself was extracted, not the feed summary"
        assert str(raw_location).startswith(f"{bucket}/raw/")
        assert hash_bytes(read_source_bytes(str(raw_location))) == raw_hash  # re-extractable
    assert not local_raw.exists(), "nothing was written to the local raw folder"
    assert bucket_keys(bucket, "staging/") == [], "the run's staging objects are cleaned up"
