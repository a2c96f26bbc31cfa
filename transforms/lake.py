"""The lake: what loads publish for analysts on any machine, incrementally, as a DuckLake.

DuckDB lets one process hold the database file, so analysts cannot read the live file while
ingestion runs. After each load the publisher writes only what changed since its last
publish (articles landed or retagged, articles removed, the days their counts cover) into a
DuckLake: Parquet data files plus a catalog. Each publish is one DuckLake transaction, so a
reader sees every table as of one publish, and older publishes stay readable (time travel)
until housekeeping expires them.

The catalog is a SQLite file beside the database by default (DuckLake's DuckDB-file catalog
admits one process at a time; SQLite in WAL mode lets any number of local readers attach
while the publisher commits) or a PostgreSQL database for readers on other machines. Data
files go to a local folder or an S3 bucket.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from transforms.database import connect
from transforms.derived import CHANGED_AT, DERIVED, LAKE, latest_change, set_watermark
from transforms.extensions import ExtensionUnavailableError, load_extension
from transforms.settings import Settings

logger = logging.getLogger(__name__)

ALIAS = "lake"
# Tables keyed by article: a changed or removed article replaces its rows in each.
ARTICLE_TABLES = ("articles", "article_topics", "article_entities")
# One row per publish, in the lake itself: its watermark commits with the rows it covers.
PUBLISHES = "lake_publishes"
PUBLISHES_COLUMNS = (
    ("publish_id", "BIGINT"),
    ("published_at", "TIMESTAMP WITH TIME ZONE"),
    ("watermark", "TIMESTAMP WITH TIME ZONE"),
    ("articles", "BIGINT"),
    ("removed", "BIGINT"),
    ("days", "BIGINT"),
    ("whole_tables", "VARCHAR[]"),
)
# Files a merge or an expiry made unused are deleted only after this long: a reader's query
# that started before may still be scanning them.
DELETE_GRACE = timedelta(hours=1)
_DAY = "CAST(published_at AT TIME ZONE 'UTC' AS DATE)"
_SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


class LakeError(RuntimeError):
    """The lake cannot be reached, attached or kept in step with the database."""


class LakeMissingError(LakeError):
    """A reader asked for a lake nothing has published yet."""


@dataclass(frozen=True)
class LakeLocation:
    """Where a lake lives: its catalog ("sqlite:<file>", "postgres:<dsn>") and data path."""

    catalog: str
    data_path: str

    @property
    def uri(self) -> str:
        """What ATTACH takes, and what `duckdb` users type."""
        return f"ducklake:{self.catalog}"

    @property
    def shown(self) -> str:
        """The URI for messages and logs: a password in the DSN is masked."""
        return masked(self.uri)

    @property
    def kind(self) -> str:
        """sqlite or postgres: the extension the catalog needs."""
        return self.catalog.split(":", 1)[0]

    @property
    def sqlite_file(self) -> Path | None:
        """The catalog file, for a SQLite catalog."""
        return Path(self.catalog.split(":", 1)[1]) if self.kind == "sqlite" else None

    @property
    def on_s3(self) -> bool:
        """Data files in a bucket need httpfs and an S3 secret."""
        return self.data_path.startswith("s3://")


_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def masked(text: str) -> str:
    """Text with any libpq `password=…` replaced: errors and logs quote the DSN."""
    return _PASSWORD.sub(r"\1***", text)


def lake_location(db_path: Path, settings: Settings | None = None) -> LakeLocation:
    """TRADEWIRE_LAKE_CATALOG / TRADEWIRE_LAKE_DATA_PATH, else both beside the database."""
    settings = settings or Settings()
    return LakeLocation(
        catalog=parse_catalog(settings.lake_catalog, db_path),
        data_path=parse_data_path(settings.lake_data_path, db_path),
    )


def parse_catalog(text: str | None, db_path: Path) -> str:
    """Normalise a catalog setting: sqlite:<absolute file> or postgres:<dsn>."""
    if not text:
        return f"sqlite:{db_path.resolve().with_name(f'{db_path.stem}.lake.sqlite')}"
    text = text.strip().removeprefix("ducklake:")
    kind, _, rest = text.partition(":")
    if kind in {"postgres", "postgresql"} and rest:
        return f"postgres:{rest}"
    if kind == "sqlite" and rest:
        return f"sqlite:{Path(rest).expanduser().resolve()}"
    if text.endswith((".duckdb", ".ducklake")) or kind == "duckdb":
        raise LakeError(
            f"lake catalog {text!r}: a DuckDB-file catalog admits one process at a time, so "
            "a reader would stop the publisher; use sqlite:<file> or postgres:<dsn>"
        )
    if text.endswith(_SQLITE_SUFFIXES):
        return f"sqlite:{Path(text).expanduser().resolve()}"
    raise LakeError(
        f"lake catalog {text!r} not understood: use sqlite:<file> (e.g. sqlite:data/lake.sqlite) "
        "or postgres:<libpq dsn> (e.g. postgres:dbname=lake host=127.0.0.1)"
    )


def parse_data_path(text: str | None, db_path: Path) -> str:
    """Normalise a data path setting: s3://bucket/prefix/ or an absolute folder, with '/'."""
    if not text:
        return f"{db_path.resolve().parent / 'lake'}/"
    text = text.strip()
    if "://" in text:
        if not text.startswith("s3://"):
            raise LakeError(f"lake data path {text!r}: only local folders and s3:// are supported")
        return text.rstrip("/") + "/"
    return f"{Path(text).expanduser().resolve()}/"


def sql_literal(value: str) -> str:
    """A SQL string literal, for the statements that take no parameters (ATTACH, SECRET)."""
    return "'" + value.replace("'", "''") + "'"


def quoted(name: str) -> str:
    """A SQL identifier, quoted: table and column names come from the catalog, as they are."""
    return '"' + name.replace('"', '""') + '"'


def load_lake_extensions(con: duckdb.DuckDBPyConnection, location: LakeLocation) -> None:
    """ducklake, the catalog's scanner and, for a bucket, httpfs; offline from their packages."""
    names = ["ducklake", location.kind] + (["httpfs"] if location.on_s3 else [])
    try:
        for name in names:
            load_extension(con, name)
    except ExtensionUnavailableError as exc:
        raise LakeError(str(exc)) from exc


def create_s3_secret(con: duckdb.DuckDBPyConnection, data_path: str, settings: Settings) -> None:
    """An S3 secret for the bucket, from TRADEWIRE_S3_* and the standard AWS_* credentials.

    httpfs already reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN into
    its s3_* settings; the secret adds the endpoint and URL style an S3-compatible server needs.
    """
    row = con.execute(
        "SELECT current_setting('s3_access_key_id'), current_setting('s3_secret_access_key'), "
        "current_setting('s3_session_token')"
    ).fetchone()
    key_id, secret, token = row if row else (None, None, None)
    options = ["TYPE S3", f"REGION {sql_literal(settings.s3_region)}"]
    if key_id:
        options.append(f"KEY_ID {sql_literal(str(key_id))}")
    if secret:
        options.append(f"SECRET {sql_literal(str(secret))}")
    if token:
        options.append(f"SESSION_TOKEN {sql_literal(str(token))}")
    if settings.s3_endpoint_url:
        endpoint = urlsplit(settings.s3_endpoint_url)
        options += [
            f"ENDPOINT {sql_literal(endpoint.netloc + endpoint.path.rstrip('/'))}",
            "URL_STYLE 'path'",
            f"USE_SSL {'true' if endpoint.scheme == 'https' else 'false'}",
        ]
    bucket = "s3://" + data_path.removeprefix("s3://").split("/", 1)[0]
    options.append(f"SCOPE {sql_literal(bucket)}")
    con.execute(f"CREATE OR REPLACE TEMPORARY SECRET tradewire_lake ({', '.join(options)})")


def prepare_sqlite_catalog(path: Path) -> None:
    """Put the SQLite catalog in WAL mode, once: then readers never hold up a commit.

    In SQLite's default rollback-journal mode a reader's open transaction blocks the writer's
    commit (measured: a 5 s stall behind two readers); in WAL mode it does not.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30)
    try:
        (mode,) = db.execute("PRAGMA journal_mode").fetchone()
        if str(mode).lower() != "wal":
            db.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()


def attach_lake(
    con: duckdb.DuckDBPyConnection,
    location: LakeLocation,
    *,
    read_only: bool,
    snapshot_version: int | None = None,
    snapshot_time: datetime | None = None,
    settings: Settings | None = None,
) -> None:
    """ATTACH the lake as `lake`; readers may pin a snapshot by id or by time."""
    settings = settings or Settings()
    load_lake_extensions(con, location)
    if location.on_s3:
        create_s3_secret(con, location.data_path, settings)
    sqlite_file = location.sqlite_file
    if read_only and sqlite_file is not None and not sqlite_file.exists():
        raise LakeMissingError(
            f"no lake at {sqlite_file}: loads publish it (TRADEWIRE_SNAPSHOT=lake), or run "
            "`tradewire snapshot --lake`"
        )
    if not read_only and sqlite_file is not None:
        prepare_sqlite_catalog(sqlite_file)
    options = []
    if read_only:
        options.append("READ_ONLY")
    else:
        if not location.on_s3:
            Path(location.data_path).mkdir(parents=True, exist_ok=True)
        options.append(f"DATA_PATH {sql_literal(location.data_path)}")
    if snapshot_version is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot_version)}")
    if snapshot_time is not None:
        options.append(f"SNAPSHOT_TIME {sql_literal(snapshot_time.isoformat())}")
    try:
        con.execute(f"ATTACH {sql_literal(location.uri)} AS {ALIAS} ({', '.join(options)})")
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        if "does not match existing data path" in str(exc):
            first += " (TRADEWIRE_LAKE_DATA_PATH differs from where this lake keeps its files)"
        raise LakeError(f"cannot attach the lake {location.shown}: {masked(first)}") from exc


@contextmanager
def open_lake(
    location: LakeLocation,
    *,
    snapshot_version: int | None = None,
    snapshot_time: datetime | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A reader's connection: in memory, the lake attached read-only and made the default.

    Readers never touch the database file, so they neither wait for nor hold up ingestion.
    """
    con = duckdb.connect()
    try:
        attach_lake(
            con,
            location,
            read_only=True,
            snapshot_version=snapshot_version,
            snapshot_time=snapshot_time,
        )
        con.execute(f"USE {ALIAS}")
        yield con
    finally:
        con.close()


@dataclass(frozen=True)
class LakeSnapshot:
    """One DuckLake snapshot, with what the publisher noted on it."""

    snapshot_id: int
    snapshot_time: datetime
    changes: dict[str, list[str]]
    message: str | None


def list_snapshots(con: duckdb.DuckDBPyConnection) -> list[LakeSnapshot]:
    """The lake's snapshots, oldest first: what time travel can reach."""
    rows = con.execute(
        f"SELECT snapshot_id, snapshot_time, changes, commit_message FROM {ALIAS}.snapshots() "
        "ORDER BY snapshot_id"
    ).fetchall()
    return [LakeSnapshot(int(i), t, dict(c or {}), m) for i, t, c, m in rows]


def current_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    """The snapshot the attached lake shows."""
    row = con.execute(f"FROM {ALIAS}.current_snapshot()").fetchone()
    assert row is not None
    return int(row[0])


@dataclass(frozen=True)
class PublishCounts:
    """What one publish wrote; snapshot None when the lake already held everything."""

    snapshot: int | None
    articles: int = 0
    removed: int = 0
    days: int = 0
    whole_tables: tuple[str, ...] = ()
    maintained: bool = False
    location: str = ""

    def describe(self) -> str:
        """One line for the CLI."""
        if self.snapshot is None:
            return f"lake up to date ({self.location})"
        whole = f", whole: {', '.join(self.whole_tables)}" if self.whole_tables else ""
        tidy = ", housekeeping done" if self.maintained else ""
        return (
            f"lake snapshot {self.snapshot}: {self.articles} articles, {self.removed} removed, "
            f"{self.days} days of counts{whole}{tidy} ({self.location})"
        )


@dataclass
class TablePlan:
    """How one lake table follows its database table in this publish."""

    name: str
    columns: list[tuple[str, str]]  # the database's (name, type), in order
    create: bool = False
    added: list[tuple[str, str]] = field(default_factory=list)
    whole: bool = False


def table_columns(
    con: duckdb.DuckDBPyConnection, database: str, tables: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    """(column, type) of each named table that exists, in order; one catalog query for all."""
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = ? AND schema_name = 'main' AND list_contains(?, table_name) "
        "ORDER BY table_name, column_index",
        [database, list(tables)],
    ).fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, name, kind in rows:
        out.setdefault(str(table), []).append((str(name), str(kind)))
    return out


def plan_table(
    table: str,
    columns: list[tuple[str, str]] | None,
    lake_columns: list[tuple[str, str]] | None,
    *,
    rebuild: bool,
) -> TablePlan:
    """Compare the lake's table with the database's: create it, add columns, or carry on.

    A table created or given a new column is published whole: its old lake rows lack the
    values the database now has. A column whose type changed cannot follow in place.
    """
    if not columns:
        raise LakeError(f"the database has no table {table}: is it older than the lake?")
    lake = dict(lake_columns or [])
    plan = TablePlan(table, columns)
    if rebuild or not lake:
        plan.create = plan.whole = True
        return plan
    for name, kind in columns:
        if name not in lake:
            plan.added.append((name, kind))
        elif lake[name] != kind:
            raise LakeError(
                f"{table}.{name} is {kind} in the database but {lake[name]} in the lake: "
                "republish it whole with `tradewire snapshot --lake --rebuild`"
            )
    gone = sorted(set(lake) - {n for n, _ in columns})
    if gone:
        logger.warning(
            "lake %s keeps columns the database dropped (NULL from now on): %s", table, gone
        )
    plan.whole = bool(plan.added)
    return plan


def apply_schema(con: duckdb.DuckDBPyConnection, plan: TablePlan) -> None:
    """CREATE or ALTER the lake table so it holds every column the database has."""
    target = f"{ALIAS}.{quoted(plan.name)}"
    if plan.create:
        con.execute(f"DROP TABLE IF EXISTS {target}")
        body = ", ".join(f"{quoted(n)} {t}" for n, t in plan.columns)
        con.execute(f"CREATE TABLE {target} ({body})")
    for name, kind in plan.added:
        con.execute(f"ALTER TABLE {target} ADD COLUMN {quoted(name)} {kind}")
        logger.info("lake %s gains column %s %s", plan.name, name, kind)


def read_watermark(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, int]:
    """The latest article change the lake holds, and how many publishes it has had."""
    if not table_columns(con, ALIAS, [PUBLISHES]):
        return None, 0
    row = con.execute(
        f"SELECT max(watermark), coalesce(max(publish_id), 0) FROM {ALIAS}.{PUBLISHES}"
    ).fetchone()
    return (row[0], int(row[1])) if row else (None, 0)


def stage_changes(
    con: duckdb.DuckDBPyConnection, since: datetime | None, lake_has_articles: bool
) -> None:
    """Temp tables of what this publish covers: changed ids, removed ids, touched days.

    Removals are found by an anti-join of the lake's article ids against the database's
    (any path that deletes articles is covered, with no log to keep); the days come from both
    sides, so a removed article's day and an article's old day are recounted too.
    """
    # rowid: the publish then fetches just these rows instead of scanning whole texts.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE lake_changed AS "
        f"SELECT rowid AS row_id, article_id, {_DAY} AS day "
        f"FROM articles WHERE ?::TIMESTAMPTZ IS NULL OR {CHANGED_AT} > ?",
        [since, since],
    )
    if lake_has_articles:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE lake_held AS SELECT article_id FROM {ALIAS}.articles"
        )
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE lake_held (article_id VARCHAR)")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE lake_removed AS "
        "SELECT article_id FROM lake_held ANTI JOIN articles USING (article_id)"
    )
    # Ids whose lake rows go: removed ones, and changed ones the lake already holds.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE lake_replaced AS SELECT article_id FROM lake_removed "
        "UNION ALL SELECT article_id FROM lake_held SEMI JOIN lake_changed USING (article_id)"
    )
    # The days those rows had in the lake, read only for them (the day is not cheap to compute).
    old_days = (
        f"SELECT {_DAY} FROM {ALIAS}.articles SEMI JOIN lake_replaced USING (article_id)"
        if count_of(con, "lake_replaced")
        else "SELECT NULL::DATE WHERE false"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE lake_days AS SELECT day FROM lake_changed UNION {old_days}"
    )


def count_of(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Rows in one of the temp tables above."""
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def write_article_table(con: duckdb.DuckDBPyConnection, plan: TablePlan) -> None:
    """Replace the rows of changed and removed articles with the database's current rows."""
    target = f"{ALIAS}.{quoted(plan.name)}"
    names = ", ".join(quoted(n) for n, _ in plan.columns)
    if plan.whole:
        if not plan.create:
            con.execute(f"DELETE FROM {target}")
        con.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM {quoted(plan.name)}")
        return
    if count_of(con, "lake_replaced"):
        con.execute(
            f"DELETE FROM {target} WHERE article_id IN (SELECT article_id FROM lake_replaced)"
        )
    if plan.name != "articles":
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE lake_rows AS SELECT t.rowid AS row_id "
            f"FROM {quoted(plan.name)} t SEMI JOIN lake_changed USING (article_id)"
        )
    rows = "lake_changed" if plan.name == "articles" else "lake_rows"
    con.execute(
        f"INSERT INTO {target} ({names}) SELECT {names} FROM {quoted(plan.name)} "
        f"WHERE rowid IN (SELECT row_id FROM {rows})"
    )


def touched_days(con: duckdb.DuckDBPyConnection, column: str = "day") -> str:
    """A condition on `column` matching the touched days, as constants.

    Constants rather than a join or parameters: DuckDB pushes only constants through the
    view's GROUP BY into its join (3x faster at 50k articles). The values are DATEs read back
    from DuckDB, never text from outside.
    """
    days = [r[0] for r in con.execute("SELECT day FROM lake_days").fetchall()]
    dated = [f"DATE '{d.isoformat()}'" for d in days if d is not None]
    parts = [f"{column} IN ({', '.join(dated)})"] if dated else []
    # Undated articles count under day NULL and must be recounted too.
    if len(dated) < len(days):
        parts.append(f"{column} IS NULL")
    return f"({' OR '.join(parts)})" if parts else "false"


def write_day_table(con: duckdb.DuckDBPyConnection, plan: TablePlan, view: str) -> None:
    """Recount the touched days from the view the derived table materialises.

    By day rather than whole: the table grows with the days and entities seen, so replacing
    it whole would make every publish (and the history the lake keeps) cost its full size.
    From the view rather than the database's copy: the lake is then right even when that
    copy's own refresh is behind.
    """
    target = f"{ALIAS}.{quoted(plan.name)}"
    names = ", ".join(quoted(n) for n, _ in plan.columns)
    if plan.whole:
        if not plan.create:
            con.execute(f"DELETE FROM {target}")
        con.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM {quoted(view)}")
        return
    where = touched_days(con)
    con.execute(f"DELETE FROM {target} WHERE {where}")
    con.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM {quoted(view)} WHERE {where}")


def publish_changes(
    con: duckdb.DuckDBPyConnection, *, rebuild: bool = False
) -> tuple[PublishCounts, int]:
    """Write what changed since the lake's watermark in one DuckLake transaction.

    Returns the counts and the publish's number (0 when nothing was published).
    """
    db_name = str(con.execute("SELECT current_database()").fetchone()[0])  # type: ignore[index]
    since, publishes = read_watermark(con)
    if rebuild:
        since = None
    names = [*ARTICLE_TABLES, *(t for t, _ in DERIVED)]
    ours, theirs = table_columns(con, db_name, names), table_columns(con, ALIAS, names)
    plans = [plan_table(t, ours.get(t), theirs.get(t), rebuild=rebuild) for t in ARTICLE_TABLES]
    day_plans = [
        (plan_table(t, ours.get(t), theirs.get(t), rebuild=rebuild), v) for t, v in DERIVED
    ]
    stage_changes(con, since, lake_has_articles=not plans[0].create)
    changed, removed = count_of(con, "lake_changed"), count_of(con, "lake_removed")
    whole = tuple(p.name for p in [*plans, *(p for p, _ in day_plans)] if p.whole)
    if not changed and not removed and not whole and publishes and not rebuild:
        return PublishCounts(snapshot=None), 0
    high = latest_change(con)
    watermark = max((t for t in (since, high) if t is not None), default=None)
    days = count_of(con, "lake_days")
    number = publishes + 1
    con.execute("BEGIN TRANSACTION")
    try:
        for plan in plans:
            apply_schema(con, plan)
            write_article_table(con, plan)
        for plan, view in day_plans:
            apply_schema(con, plan)
            write_day_table(con, plan, view)
        columns = ", ".join(f"{n} {t}" for n, t in PUBLISHES_COLUMNS)
        con.execute(f"CREATE TABLE IF NOT EXISTS {ALIAS}.{PUBLISHES} ({columns})")
        con.execute(
            f"INSERT INTO {ALIAS}.{PUBLISHES} VALUES (?, now(), ?, ?, ?, ?, ?)",
            [number, watermark, changed, removed, days, list(whole)],
        )
        info = {"publish": number, "watermark": watermark.isoformat() if watermark else None}
        con.execute(
            f"CALL {ALIAS}.set_commit_message('tradewire', ?, extra_info => ?)",
            [f"publish {number}: {changed} articles, {removed} removed", json.dumps(info)],
        )
        con.execute("COMMIT")
    except Exception:
        # A failed COMMIT has already ended the transaction; the first error is the one to see.
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    counts = PublishCounts(
        snapshot=current_snapshot(con),
        articles=changed,
        removed=removed,
        days=days,
        whole_tables=whole,
    )
    return counts, number


def maintain_lake(
    con: duckdb.DuckDBPyConnection,
    retention: timedelta,
    grace: timedelta = DELETE_GRACE,
) -> None:
    """Keep small files from piling up and old ones from staying forever.

    In the order DuckLake's own CHECKPOINT runs them: inlined rows to Parquet, expire
    snapshots older than the retention (time travel stops there), merge small adjacent files
    (snapshots still see their part), rewrite files that are mostly deletions, then delete
    files nothing refers to once the grace has passed.
    """
    now = datetime.now(UTC)
    con.execute(f"CALL ducklake_flush_inlined_data('{ALIAS}')")
    con.execute(f"CALL ducklake_expire_snapshots('{ALIAS}', older_than => ?)", [now - retention])
    con.execute(f"CALL ducklake_merge_adjacent_files('{ALIAS}')")
    con.execute(f"CALL ducklake_rewrite_data_files('{ALIAS}')")
    con.execute(f"CALL ducklake_cleanup_old_files('{ALIAS}', older_than => ?)", [now - grace])
    con.execute(f"CALL ducklake_delete_orphaned_files('{ALIAS}', older_than => ?)", [now - grace])


def publish_lake(
    db_path: Path,
    location: LakeLocation | None = None,
    *,
    rebuild: bool = False,
    settings: Settings | None = None,
) -> PublishCounts:
    """Publish the database's changes to the lake; housekeeping every N publishes.

    Holds the database's write lock while it reads, like every other refresh (the transforms
    DAG runs it in the writer pool). The watermark lives in the lake, committed with the rows
    it covers; derived_state's 'lake' row mirrors it for `tradewire refresh` and is_behind.
    """
    settings = settings or Settings()
    location = location or lake_location(db_path, settings)
    with connect(db_path, read_only=False) as con:
        attach_lake(con, location, read_only=False, settings=settings)
        try:
            try:
                counts, number = publish_changes(con, rebuild=rebuild)
            except duckdb.Error as exc:
                first = str(exc).splitlines()[0]
                raise LakeError(
                    f"publishing to the lake {location.shown} failed: {masked(first)}"
                ) from exc
            maintained = False
            every = settings.lake_maintenance_every
            if number and every > 0 and number % every == 0:
                maintained = run_housekeeping(con, timedelta(days=settings.lake_retention_days))
            watermark, _ = read_watermark(con)
        finally:
            con.execute(f"DETACH {ALIAS}")
        if watermark is not None:
            set_watermark(con, LAKE, watermark)
    return PublishCounts(
        snapshot=counts.snapshot,
        articles=counts.articles,
        removed=counts.removed,
        days=counts.days,
        whole_tables=counts.whole_tables,
        maintained=maintained,
        location=location.shown,
    )


def run_housekeeping(con: duckdb.DuckDBPyConnection, retention: timedelta) -> bool:
    """maintain_lake, whose failure must not undo or fail the publish that already committed."""
    try:
        maintain_lake(con, retention)
    except duckdb.Error as exc:
        logger.warning(
            "lake housekeeping failed, the next one retries: %s", str(exc).splitlines()[0]
        )
        return False
    return True


def lake_tables(con: duckdb.DuckDBPyConnection) -> Sequence[str]:
    """The tables a reader finds in the lake."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY table_name",
        [ALIAS],
    ).fetchall()
    return [str(r[0]) for r in rows]
