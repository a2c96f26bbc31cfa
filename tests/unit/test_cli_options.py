"""The command line's global flags and shared options: --db precedence, -v, --version."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from ingest.cli import main, pipeline_commands
from ingest.cli.options import DB_HELP, db_path
from ingest.cli.parser import build_parser
from ingest.cli.verbosity import LOGGERS, level_for, verbose_logging
from transforms.settings import REPO_ROOT

DB_COMMANDS = {
    "run": ["run", "--source", "seeds"],
    "sql": ["sql", "select 1"],
    "search": ["search", "tariffs"],
    "export": ["export", "out"],
    "report": ["report", "--out", "r.html"],
    "freshness": ["freshness"],
    "snapshot": ["snapshot"],
    "refresh": ["refresh"],
    "retag": ["retag"],
    "reextract": ["reextract"],
    "label": ["label", "some-article", "--us-china", "yes"],
}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.fixture
def no_env_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither TRADEWIRE_DB nor a .env file (Settings reads ./.env) names a database."""
    monkeypatch.delenv("TRADEWIRE_DB", raising=False)
    monkeypatch.chdir(tmp_path)


def test_every_command_that_opens_the_database_has_the_one_db_option() -> None:
    with_db = {
        name
        for name, parser in subcommands().items()
        if any("--db" in action.option_strings for action in parser._actions)
    }
    assert with_db == set(DB_COMMANDS)
    for name in with_db:
        (db,) = (a for a in subcommands()[name]._actions if "--db" in a.option_strings)
        assert (db.dest, db.default, db.help) == ("db", None, DB_HELP)


@pytest.mark.parametrize("command", sorted(DB_COMMANDS))
def test_db_flag_wins_over_the_environment(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEWIRE_DB", str(tmp_path / "env.duckdb"))
    args = build_parser().parse_args([*DB_COMMANDS[command], "--db", str(tmp_path / "flag.duckdb")])
    assert db_path(args) == tmp_path / "flag.duckdb"


@pytest.mark.parametrize("command", sorted(DB_COMMANDS))
def test_environment_wins_over_the_default(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEWIRE_DB", str(tmp_path / "env.duckdb"))
    args = build_parser().parse_args(DB_COMMANDS[command])
    assert db_path(args) == tmp_path / "env.duckdb"


@pytest.mark.usefixtures("no_env_db")
def test_default_db_is_in_the_repository_data_folder() -> None:
    args = build_parser().parse_args(["sql", "select 1"])
    assert db_path(args) == REPO_ROOT / "data" / "tradewire.duckdb"


@pytest.mark.usefixtures("no_env_db")
def test_an_empty_db_flag_falls_back_like_no_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEWIRE_DB", "/elsewhere/env.duckdb")
    args = build_parser().parse_args(["freshness", "--db", ""])
    assert db_path(args) == Path("/elsewhere/env.duckdb")


def test_commands_with_a_missing_db_say_how_to_create_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.duckdb"
    for command in (["snapshot"], ["retag"], ["reextract"]):
        assert main([*command, "--db", str(missing)]) == 2
        assert capsys.readouterr().err == (
            f"tradewire {command[0]}: error: no database at {missing}: "
            "create it with `tradewire run --source seeds`\n"
        )
    assert not missing.exists()


@pytest.mark.parametrize(
    ("argv", "count", "level"),
    [
        ([], 0, None),
        (["-v"], 1, logging.INFO),
        (["-vv"], 2, logging.DEBUG),
        (["-v", "--verbose", "-v"], 3, logging.DEBUG),
        (["--verbose"], 1, logging.INFO),
    ],
)
def test_verbose_counts(argv: list[str], count: int, level: int | None) -> None:
    args = build_parser().parse_args([*argv, "tag"])
    assert args.verbose == count
    assert level_for(args.verbose) == level


def test_verbose_is_a_global_flag_before_the_command() -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["tag", "-v"])
    assert exc.value.code == 2


def test_verbose_logging_shows_ingest_and_transforms_then_restores(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = {name: logging.getLogger(name).level for name in LOGGERS}
    handlers = {name: list(logging.getLogger(name).handlers) for name in LOGGERS}
    with verbose_logging(1):
        logging.getLogger("ingest.pipeline").info("landed %d", 3)
        logging.getLogger("transforms.load").debug("not at -v")
        logging.getLogger("httpx").info("other libraries stay quiet")
    err = capsys.readouterr().err
    assert "INFO ingest.pipeline: landed 3" in err
    assert "not at -v" not in err and "other libraries" not in err
    with verbose_logging(2):
        logging.getLogger("transforms.load").debug("at -vv")
    assert "DEBUG transforms.load: at -vv" in capsys.readouterr().err
    assert {name: logging.getLogger(name).level for name in LOGGERS} == before
    assert {name: list(logging.getLogger(name).handlers) for name in LOGGERS} == handlers
    logging.getLogger("ingest.pipeline").info("after the command")
    assert "after the command" not in capsys.readouterr().err


def test_main_passes_verbose_to_the_command_and_keeps_stdout_clean(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_tag(args: argparse.Namespace) -> int:
        logging.getLogger("ingest.pipeline").info("tagging %s", "now")
        print("result")
        return 0

    monkeypatch.setattr(pipeline_commands, "cmd_tag", fake_tag)
    assert main(["-v", "tag"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "result\n"
    assert "INFO ingest.pipeline: tagging now" in captured.err
    assert main(["tag"]) == 0
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("result\n", "")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"tradewire {version('tradewire')}\n"


def test_help_imports_nothing_heavy() -> None:
    """`tradewire --help` and every command's --help stay fast: no DuckDB, Arrow, rich,
    settings or pipeline until a command runs."""
    heavy = ("duckdb", "pyarrow", "rich", "pydantic_settings", "transforms", "ingest.pipeline")
    script = (
        "import sys\n"
        "from ingest.cli import main\n"
        f"for argv in ([], {sorted(subcommands())!r}):\n"
        "    for command in argv or [None]:\n"
        "        try:\n"
        "            main(['--help'] if command is None else [command, '--help'])\n"
        "        except SystemExit:\n"
        "            pass\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r} or m in {heavy!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.splitlines()[-1] == "[]"


def test_python_dash_m_runs_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ingest.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, f"tradewire {version('tradewire')}\n")
