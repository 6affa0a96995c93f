"""Start-up: quick commands load only what they need, checked by the modules a fresh
interpreter holds after running one (never by timing); and text from data or paths is
never read as Rich markup or emoji codes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from memvault.cli import cli
from memvault.cli.app import COMMAND_HELP, LAZY_COMMANDS, MemvaultGroup

# Runs one command in this interpreter, then writes its exit code and every loaded module.
PROBE = """
import json, sys
out, argv = sys.argv[1], sys.argv[2:]
from memvault.cli import cli
code = cli.main(argv, prog_name="memvault", standalone_mode=False)
with open(out, "w") as fh:
    json.dump({"code": code, "modules": sorted(sys.modules)}, fh)
"""

# Never needed by a command that reads: the store's and the review's libraries, the MCP SDK
# and the libSQL client, progress bars, package metadata.
HEAVY = {
    "numpy", "pydantic", "pydantic_core", "sqlglot", "mcp", "starlette", "uvicorn",
    "wordllama", "libsql", "rich.progress", "importlib.metadata", "memvault.store",
    "memvault.review", "memvault.mcp", "memvault.embed", "memvault.ops.bench",
}  # fmt: skip
# A status only reads the ledger: no lock (and its socket), no generator, no rebuild, no
# write guard, no embeddings advice, no temporary files, no traceback, no emoji table.
# (orjson does load: migration 003 imports it, and status loads every migration file.)
NOT_FOR_STATUS = HEAVY | {
    "socket", "traceback", "shutil", "tempfile", "rich._emoji_codes",
    "memvault.migrations.lock", "memvault.migrations.generator",
    "memvault.migrations.rebuild", "memvault.migrations.stairway", "memvault.db.guard",
    "memvault.ops.embeddings", "memvault.cli.db_backup_remote", "memvault.ops.backup",
}  # fmt: skip
# --help and --version open no database and print no table.
NOT_FOR_HELP = HEAVY | {"sqlite3", "rich", "memvault.db.database", "memvault.migrations"}


def loaded_by(*argv: str, tmp_path: Path) -> set[str]:
    """The modules a fresh interpreter holds after running `memvault ARGV` (exit 0)."""
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["code"] in (0, None), done.stdout + done.stderr
    return set(report["modules"])


@pytest.fixture
def migrated(db_path: Path, run: Callable[..., Result]) -> Path:
    assert run("migrate", "up").exit_code == 0
    return db_path


def test_migrate_status_loads_nothing_it_does_not_need(migrated: Path, tmp_path: Path) -> None:
    modules = loaded_by("-d", str(migrated), "migrate", "status", tmp_path=tmp_path)
    assert "memvault.migrations.executor" in modules  # it did run the status
    assert sorted(modules & NOT_FOR_STATUS) == []


def test_migrate_verify_loads_no_heavy_library(migrated: Path, tmp_path: Path) -> None:
    modules = loaded_by("-d", str(migrated), "migrate", "verify", tmp_path=tmp_path)
    assert sorted(modules & (HEAVY | {"memvault.migrations.lock", "socket"})) == []


@pytest.mark.parametrize("argv", [("--help",), ("--version",)])
def test_help_and_version_open_nothing(argv: tuple[str, ...], tmp_path: Path) -> None:
    modules = loaded_by(*argv, tmp_path=tmp_path)
    assert sorted(modules & NOT_FOR_HELP) == []


def test_a_group_help_loads_only_that_group(tmp_path: Path) -> None:
    modules = loaded_by("migrate", "--help", tmp_path=tmp_path)
    assert "memvault.cli.migrate" in modules
    assert sorted(modules & HEAVY) == []
    assert not {"memvault.cli.user", "memvault.cli.bench", "memvault.cli.db_ops"} & modules


@pytest.mark.parametrize("argv", [("user", "list"), ("memory", "list", "--user", "nobody")])
def test_listings_load_the_store_but_not_review_mcp_or_progress(
    argv: tuple[str, ...], migrated: Path, tmp_path: Path
) -> None:
    modules = loaded_by("-d", str(migrated), *argv, tmp_path=tmp_path)
    assert "memvault.store" in modules
    unneeded = {"sqlglot", "mcp", "rich.progress", "memvault.review", "memvault.mcp.server"}
    assert sorted(modules & unneeded) == []


def test_help_lists_every_command_with_its_own_summary() -> None:
    assert set(COMMAND_HELP) == set(LAZY_COMMANDS)
    ctx = click.Context(cli)
    for name, text in COMMAND_HELP.items():
        real = cli.get_command(ctx, name)
        assert real is not None
        for limit in (40, 60, 200):
            shown = click.Command(name, help=text).get_short_help_str(limit)
            assert shown == real.get_short_help_str(limit), name
    listing = CliRunner().invoke(cli, ["--help"]).output
    assert all(f"  {name} " in listing for name in LAZY_COMMANDS)


def test_a_path_with_brackets_is_shown_as_typed(tmp_path: Path) -> None:
    # Before: Rich read "[/x]" as a closing tag and `migrate status` died with MarkupError.
    folder = tmp_path / "odd[/x] [bold]"  # two folders: "odd[" holding "x] [bold]"
    folder.mkdir(parents=True)
    db = folder / "a.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["-d", str(db), "migrate", "up"]).exit_code == 0
    status = runner.invoke(cli, ["-d", str(db), "migrate", "status"])
    assert status.exit_code == 0, status.output
    assert f"Database: {db}" in status.output


def test_user_names_print_verbatim_not_as_markup_or_emoji(
    migrated: Path, run: Callable[..., Result]
) -> None:
    name = "[bold]Bob[/bold] :smile: [red]"
    assert run("user", "add", "bob@example.com", "--name", name).exit_code == 0
    listing = run("user", "list")
    assert listing.exit_code == 0
    assert name in listing.output


def test_drift_is_still_flagged_in_the_status_table(
    migrations_dir: Path, db_path: Path, run: Callable[..., Result]
) -> None:
    assert run("migrate", "up", migrations=migrations_dir).exit_code == 0
    first = sorted(migrations_dir.glob("001_*.py"))[0]
    first.write_text(first.read_text() + "\n# edited\n")
    status = run("migrate", "status", migrations=migrations_dir)
    assert status.exit_code == 1
    assert "Drift: " in status.output and "│ 001 " in status.output


def test_bench_startup_reports_every_command_beside_the_floor() -> None:
    result = CliRunner().invoke(cli, ["bench", "startup", "--runs", "1", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    names = [c["name"] for c in report["cases"]]
    assert names == [
        "python -c pass", "floor", "memvault migrate status", "memvault --version",
        "memvault user list",
    ]  # fmt: skip
    by_name = {c["name"]: c for c in report["cases"]}
    assert by_name["floor"]["wall_over_floor_p50"] == 1.0
    assert by_name["memvault migrate status"]["argv"][0] == report["entry_point"]
    for case in report["cases"]:
        assert case["wall_ms"]["p50"] > 0 and case["cpu_ms"]["p50"] > 0
        assert case["wall_ms"]["p95"] >= case["wall_ms"]["p50"]
    assert len(report["load_average"]["before"]) == 3


def test_bench_startup_names_a_failing_command(tmp_path: Path) -> None:
    broken = tmp_path / "memvault"
    broken.write_text("#!/bin/sh\necho 'no such thing' >&2\nexit 3\n")
    broken.chmod(0o755)
    result = CliRunner().invoke(cli, ["bench", "startup", "--runs", "1", "--also", str(broken)])
    assert result.exit_code == 1
    assert f"`memvault migrate status [{broken}]` exited 3: no such thing" in result.output


def test_a_driver_error_is_one_line_and_a_bug_still_raises() -> None:
    # The root group no longer imports the driver to catch its errors: check both paths.
    group = MemvaultGroup(name="memvault")

    @group.command()
    def busy() -> None:
        raise sqlite3.OperationalError("disk I/O error")

    @group.command()
    def bug() -> None:
        raise ZeroDivisionError("a bug")

    result = CliRunner().invoke(group, ["busy"])
    assert (result.exit_code, result.output) == (
        1,
        "memvault: error: database error: disk I/O error\n",
    )
    with pytest.raises(ZeroDivisionError):
        CliRunner().invoke(group, ["bug"], catch_exceptions=False)
