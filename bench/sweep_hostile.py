"""Sweep hostile and broken inputs through `tradewire run`, one fresh process and database each.

Serves generated hostile feeds and pages on a loopback HTTP server (lone surrogates in JSON and
XML, entity expansion, trickled headers and body, a gzip bomb, a redirect to a forbidden
address, entries without link or GUID), writes hostile folders (a gzip bomb on disk, an
oversized .txt, a file name that is not UTF-8, a fake .html.gz, a folder of feed files, an
unreadable subfolder), and for each case runs `tradewire run` and prints: whether it survived
(no traceback, the exit status the case calls for), rows landed, error rows written with their
reason, the run's peak RSS (its whole process tree) and its wall time.

    .venv/bin/python bench/sweep_hostile.py [--only NAME ...] [--total-timeout SECONDS]

Limits checked (issue 14): no run over 600 MB peak RSS, no URL holding a run longer than the
total timeout plus politeness, every input a landed row or an error row naming its reason,
and a non-zero exit only when a source asked for failed.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402

from bench import hostile_inputs as h  # noqa: E402
from bench.procs import PeakSampler  # noqa: E402

Route = Callable[[BaseHTTPRequestHandler], None]
RSS_LIMIT_MB = 600
FEED = {"Content-Type": "application/rss+xml"}


def send(handler: BaseHTTPRequestHandler, body: bytes, headers: dict[str, str]) -> None:
    handler.send_response(200)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def static(body: bytes, headers: dict[str, str] | None = None) -> Route:
    return lambda handler: send(handler, body, headers or h.HTML)


@dataclass
class Site:
    """The loopback server's routes."""

    port: int = 0
    routes: dict[str, Route] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextlib.contextmanager
def serve(site: Site) -> Iterator[None]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = site.routes.get(self.path.split("?")[0])
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    route(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    site.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass(frozen=True)
class Case:
    """One hostile input: how to set it up (returns the --source values) and what exit means."""

    name: str
    what: str
    setup: Callable[[Site, Path], list[str]]
    expect_rc: int = 0  # 1 when the source itself is hostile (a source the user asked failed)
    unprivileged: bool = False  # needs file permissions to apply (root: setpriv)


def feed_with_page(site: Site, key: str, page: Route, title: str = "Hostile page") -> str:
    """A feed of one entry whose page is `page`; returns the feed's URL."""
    site.routes[f"/{key}/page.html"] = page
    body = h.rss([h.item(title, site.url(f"/{key}/page.html"), f"{key}-1", "Feed summary text.")])
    site.routes[f"/{key}/feed.xml"] = static(body, FEED)
    return site.url(f"/{key}/feed.xml")


def folder(tmp: Path, name: str) -> Path:
    path = tmp / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def case_json_surrogate(site: Site, tmp: Path) -> list[str]:
    site.routes["/js/page.html"] = static(h.PAGE)
    body = h.json_feed_with_surrogate(site.url("/js/page.html"))
    site.routes["/js/feed.json"] = static(body, {"Content-Type": "application/feed+json"})
    return [site.url("/js/feed.json")]


def case_xml_surrogate(site: Site, tmp: Path) -> list[str]:
    site.routes["/xs/a.html"] = static(h.PAGE)
    site.routes["/xs/b.html"] = static(h.PAGE.replace(b"gallium", b"germanium"))
    body = h.xml_feed_with_surrogate_reference(site.url("/xs/a.html"), site.url("/xs/b.html"))
    site.routes["/xs/feed.xml"] = static(body, FEED)
    return [site.url("/xs/feed.xml")]


def case_entity_quadratic(site: Site, tmp: Path) -> list[str]:
    site.routes["/eq/feed.xml"] = static(h.quadratic_entity_feed(), FEED)
    return [site.url("/eq/feed.xml")]


def case_entity_nested(site: Site, tmp: Path) -> list[str]:
    site.routes["/en/page.html"] = static(h.PAGE)
    site.routes["/en/feed.xml"] = static(h.nested_entity_feed(site.url("/en/page.html")), FEED)
    return [site.url("/en/feed.xml")]


def case_trickle_headers(site: Site, tmp: Path) -> list[str]:
    return [feed_with_page(site, "th", lambda handler: h.trickle_headers(handler, 0.5))]


def case_trickle_body(site: Site, tmp: Path) -> list[str]:
    return [feed_with_page(site, "tb", lambda handler: h.trickle_body(handler, 0.5))]


def case_gzip_bomb_http(site: Site, tmp: Path) -> list[str]:
    return [feed_with_page(site, "gb", h.gzip_bomb_route(h.gzip_bomb(1024 * 1024 * 1024)))]


def case_redirect_forbidden(site: Site, tmp: Path) -> list[str]:
    target = "http://169.254.169.254/latest/meta-data/"
    return [feed_with_page(site, "rd", h.redirect_route(target))]


def case_linkless_entries(site: Site, tmp: Path) -> list[str]:
    body = h.rss(
        [
            h.item("Soybean purchases resume", None, None, "China booked US soybean cargoes."),
            h.item("", None, None, ""),
        ]
    )
    site.routes["/nl/feed.xml"] = static(body, FEED)
    return [site.url("/nl/feed.xml")]


def case_gzip_bomb_disk(site: Site, tmp: Path) -> list[str]:
    where = folder(tmp, "bomb")
    (where / "bomb.html.gz").write_bytes(h.gzip_bomb(1024 * 1024 * 1024))  # 1 MB -> 1 GB
    return [str(where)]


def case_oversized_txt(site: Site, tmp: Path) -> list[str]:
    where = folder(tmp, "big")
    (where / "huge.txt").write_bytes(h.big_text(50 * 1024 * 1024))
    return [str(where)]


def case_bad_file_name(site: Site, tmp: Path) -> list[str]:
    where = folder(tmp, "names")
    (where / "ok.html").write_bytes(h.PAGE)
    h.write_bad_name(where)
    return [str(where)]


def case_fake_gzip(site: Site, tmp: Path) -> list[str]:
    where = folder(tmp, "fake")
    (where / "fake.html.gz").write_bytes(b"<html>not gzip</html>")
    (where / "cut.html.gz").write_bytes(gzip.compress(h.PAGE)[:200])
    return [str(where)]


def case_folder_of_feeds(site: Site, tmp: Path) -> list[str]:
    where = folder(tmp, "feeds")
    for i in range(134):
        (where / f"feed{i:03d}.xml").write_bytes(h.rss([h.item("x", "http://x.invalid/", f"{i}")]))
    return [str(where)]


def case_unreadable_subfolder(site: Site, tmp: Path) -> list[str]:
    where = folder(tmp, "closed")
    (where / "ok.html").write_bytes(h.PAGE)
    (folder(where, "sub") / "hidden.html").write_bytes(h.PAGE)
    (where / "sub").chmod(0)
    return [str(where)]


CASES = (
    Case("json-surrogate", "JSON Feed title with \\udcff", case_json_surrogate),
    Case("xml-surrogate", "RSS title with &#xD800;", case_xml_surrogate),
    Case("entity-quadratic", "48 kB feed, 20M chars of entities", case_entity_quadratic, 1),
    Case("entity-nested", "billion laughs", case_entity_nested),
    Case("trickle-headers", "page headers 1 byte / 0.5 s", case_trickle_headers),
    Case("trickle-body", "page body 1 byte / 0.5 s", case_trickle_body),
    Case("gzip-bomb-http", "page: 1 MB gzip -> 1 GB", case_gzip_bomb_http),
    Case("redirect-forbidden", "page redirects to 169.254.169.254", case_redirect_forbidden),
    Case("linkless-entries", "items without GUID or link", case_linkless_entries),
    Case("gzip-bomb-disk", "1 MB .html.gz -> 1 GB", case_gzip_bomb_disk),
    Case("oversized-txt", "50 MB .txt", case_oversized_txt),
    Case("bad-file-name", "bad-\\xff.html beside ok.html", case_bad_file_name),
    Case("fake-gzip", "not-gzip and cut .html.gz", case_fake_gzip),
    Case("folder-of-feeds", "134 .xml files", case_folder_of_feeds, 1),
    Case("unreadable-subfolder", "chmod 000 subfolder", case_unreadable_subfolder, 0, True),
)


@dataclass
class Outcome:
    """What one case's run did."""

    case: Case
    rc: int | None = None
    traceback: bool = False
    landed: int = 0
    error_rows: int = 0
    reasons: list[str] = field(default_factory=list)
    unexplained: int = 0
    peak_mb: float = 0.0
    seconds: float = 0.0
    skipped: str | None = None
    stderr_tail: str = ""

    @property
    def survived(self) -> bool:
        return not self.traceback and self.rc == self.case.expect_rc and self.unexplained == 0


def collect(db: Path, outcome: Outcome) -> None:
    """Rows landed, error rows and their reasons, and inputs with neither."""
    if not db.exists():
        return
    con = duckdb.connect(str(db), read_only=True)
    try:
        outcome.landed = con.execute("SELECT count(*) FROM articles").fetchone()[0]  # type: ignore[index]
        errors = [str(r[0]) for r in con.execute("SELECT error FROM ingest_errors").fetchall()]
        skipped = [
            str(r[0])
            for r in con.execute(
                "SELECT coalesce(reason, state) FROM discovered_urls WHERE state <> 'landed'"
            ).fetchall()
        ]
        sources = [
            f"source: {r[0]}"
            for r in con.execute(
                "SELECT last_error FROM sources WHERE last_status = 'failed'"
            ).fetchall()
        ]
        outcome.error_rows = len(errors) + len(sources)
        outcome.reasons = [*sources, *errors, *skipped]
        outcome.unexplained = con.execute(
            "SELECT count(*) FROM discovered_urls WHERE state <> 'landed' AND reason IS NULL"
        ).fetchone()[0]  # type: ignore[index]
    finally:
        con.close()


def run_case(case: Case, site: Site, root: Path, total_timeout: float) -> Outcome:
    outcome = Outcome(case)
    prefix = h.drop_privileges_prefix() if case.unprivileged else []
    if prefix is None:
        outcome.skipped = "root without setpriv"
        return outcome
    tmp = root / case.name
    tmp.mkdir()
    sources = case.setup(site, tmp)
    db = tmp / "db" / "tradewire.duckdb"
    env = {
        **os.environ,
        "TRADEWIRE_STATE_DIR": str(tmp / "state"),
        "TRADEWIRE_RAW_DIR": str(tmp / "raw"),
        "TRADEWIRE_STAGING_ROOT": str(tmp / "staging"),
        "TRADEWIRE_FETCH_MIN_INTERVAL": "0.2",
        "TRADEWIRE_FETCH_TOTAL_TIMEOUT": str(total_timeout),
        "TRADEWIRE_SNAPSHOT": "false",
    }
    argv = [*prefix, sys.executable, "-m", "ingest.cli", "run", "--db", str(db)]
    argv += ["--allow-host", "127.0.0.1"]
    for source in sources:
        argv += ["--source", source]
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    with PeakSampler(proc.pid, interval=0.1) as sampler:
        _out, err = proc.communicate(timeout=1800)
    outcome.seconds = time.monotonic() - started
    outcome.rc = proc.returncode
    outcome.traceback = "Traceback" in err
    outcome.stderr_tail = "\n".join(err.strip().splitlines()[-3:])
    outcome.peak_mb = sampler.peak / 1e6
    collect(db, outcome)
    if case.unprivileged:
        with contextlib.suppress(OSError):
            (tmp / "closed" / "sub").chmod(0o755)
    return outcome


def table(outcomes: list[Outcome], total_timeout: float) -> str:
    head = (
        f"{'case':<21} {'input':<36} {'survived':<8} {'rc':>2} {'landed':>6} "
        f"{'errors':>6} {'peak RSS':>9} {'seconds':>7}  reason"
    )
    lines = [head, "-" * len(head)]
    for o in outcomes:
        if o.skipped:
            lines.append(f"{o.case.name:<21} {o.case.what:<36} skipped: {o.skipped}")
            continue
        reason = (o.reasons[0] if o.reasons else "-")[:90]
        lines.append(
            f"{o.case.name:<21} {o.case.what:<36} {'yes' if o.survived else 'NO':<8} "
            f"{o.rc:>2} {o.landed:>6} {o.error_rows:>6} {o.peak_mb:>6.0f} MB {o.seconds:>7.1f}  "
            f"{reason}"
        )
    ran = [o for o in outcomes if not o.skipped]
    for o in ran:
        if not o.survived:
            lines.append(f"  {o.case.name} (expected exit {o.case.expect_rc}): {o.stderr_tail}")
    worst = max((o.peak_mb for o in ran), default=0.0)
    lines += [
        "",
        f"all survived: {all(o.survived for o in ran)}; highest peak RSS {worst:.0f} MB "
        f"(limit {RSS_LIMIT_MB} MB: {'ok' if worst <= RSS_LIMIT_MB else 'EXCEEDED'}); "
        f"total timeout per URL {total_timeout:g} s",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", nargs="*", default=None, help="case names to run")
    parser.add_argument(
        "--total-timeout", type=float, default=60.0, help="TRADEWIRE_FETCH_TOTAL_TIMEOUT"
    )
    args = parser.parse_args(argv)
    cases = [c for c in CASES if not args.only or c.name in args.only]
    site = Site()
    outcomes = []
    with serve(site), tempfile.TemporaryDirectory(prefix="tradewire-hostile-") as tmp:
        for case in cases:
            outcome = run_case(case, site, Path(tmp), args.total_timeout)
            outcomes.append(outcome)
            print(
                f"{case.name}: {'skipped' if outcome.skipped else f'{outcome.seconds:.1f}s'}",
                file=sys.stderr,
            )
    print(table(outcomes, args.total_timeout))
    ok = all(o.survived and o.peak_mb <= RSS_LIMIT_MB for o in outcomes if not o.skipped)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
