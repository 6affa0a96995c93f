"""The root `memvault` command group: global options, and errors as one line + exit code."""

from __future__ import annotations

import importlib
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from memvault import __version__
from memvault.config import (
    BUILTIN_MIGRATIONS,
    DEFAULT_DATABASE,
    ENV_APPLIED_BY,
    ENV_DATABASE,
    ENV_MIGRATIONS,
    Settings,
    default_applied_by,
)
from memvault.db.remote_url import ENV_AUTH_TOKEN, ENV_TURSO_TOKEN, ENV_TURSO_URL
from memvault.errors import ConfigError, MemvaultError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
# Whole numbers a user types are bounded to SQLite's signed 64-bit INTEGER.
MAX_INTEGER = 2**63 - 1


def count_type(minimum: int) -> click.IntRange:
    """A whole-number option from `minimum` to SQLite's largest integer."""
    return click.IntRange(minimum, MAX_INTEGER)


def _finite(_ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number of seconds", param=param)
    return value


def lock_timeout_option(func: Any) -> Any:
    """`--lock-timeout SECONDS` for every command that takes the migration lock."""
    return click.option(
        "--lock-timeout",
        type=click.FloatRange(min=0),
        callback=_finite,
        default=60.0,
        show_default=True,
        help="Seconds to wait for another runner holding the migration lock.",
    )(func)


@dataclass
class AppContext:
    """What every command receives through click's context object."""

    settings: Settings
    debug: bool = False


def refuse_in_memory(database: str) -> None:
    """Commands work on files: an in-memory database would be gone when the command ends."""
    from memvault.db.url import parse_url

    if parse_url(database).in_memory:
        raise ConfigError(
            f"--database {database!r} is an in-memory database: nothing a command does there "
            "would be saved; give a file path (the Python API accepts in-memory databases)"
        )


def _error(message: str) -> None:
    click.echo(f"memvault: error: {message}", err=True)


# Each top-level command and the modules that define it and its subcommands, imported on
# first use: `memvault migrate status` then starts without the store, pydantic or NumPy.
LAZY_COMMANDS: dict[str, tuple[str, ...]] = {
    "bench": ("bench",),
    "db": ("db", "db_backup", "db_check", "db_ops", "db_embeddings", "db_search"),
    "mcp": ("mcp",),
    "memory": ("memory", "memory_embed"),
    "migrate": ("migrate", "migrate_test"),
    "schema": ("schema", "schema_diagram"),
    "user": ("user",),
}


# Their one-line help for `memvault --help`, so listing them imports none of the modules
# (tests/test_startup.py checks each against the command's own docstring).
COMMAND_HELP: dict[str, str] = {
    "bench": "Time the store against raw sqlite3; `bench migrations` and `bench review` time "
    "the migrations and the schema review's findings.",
    "db": "Back up, restore, check, maintain and measure the database.",
    "mcp": "Serve the memory store over the Model Context Protocol (see docs/mcp.md).",
    "memory": "Add, list, show and search a user's memories.",
    "migrate": "Apply, roll back, verify and inspect schema migrations.",
    "schema": "Review the database schema against the models, the migrations and the queries.",
    "user": "Create and list the accounts that own memories.",
}


class MemvaultGroup(click.Group):
    """A click group whose commands load lazily and whose errors become one line on stderr
    and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        for module in LAZY_COMMANDS.get(cmd_name, ()):
            importlib.import_module(f"memvault.cli.{module}")  # registers it on `cli`
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of `--help`: a command not loaded yet shows its COMMAND_HELP."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            if name not in self.commands and name in COMMAND_HELP:
                cmd: click.Command | None = click.Command(name, help=COMMAND_HELP[name])
            else:
                cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = sys.argv[1:] if args is None else list(args)
        debug = "--debug" in argv
        try:
            _refuse_undecodable(argv)
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else EXIT_OK
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            _error(exc.format_message() + hint)
            code = EXIT_USAGE
        except click.ClickException as exc:
            _error(exc.format_message())
            code = exc.exit_code
        except click.Abort:
            _error("aborted, nothing was changed")
            code = EXIT_FAILURE
        except MemvaultError as exc:
            _traceback(debug)
            _error(str(exc))
            code = EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILURE
        except Exception as exc:
            if not _is_driver_error(exc):
                raise
            _traceback(debug)
            _error(f"database error: {exc}")
            code = EXIT_FAILURE
        except KeyboardInterrupt:
            _error("interrupted")
            code = 130
        if standalone_mode:
            sys.exit(code)
        return code


def _is_driver_error(exc: Exception) -> bool:
    """A database driver's error (sqlite3's DB-API family, which every backend raises)."""
    from memvault.db import driver  # loaded already by whatever reached a database

    return isinstance(exc, driver.Error)


def _traceback(debug: bool) -> None:
    if debug:
        import traceback  # only for --debug: a plain error is one line

        traceback.print_exc()


def _refuse_undecodable(argv: list[str]) -> None:
    """Arguments that were not valid UTF-8 reach Python as lone surrogates: name them."""
    for n, arg in enumerate(argv):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            after = f" (the value of {argv[n - 1]})" if n and argv[n - 1].startswith("-") else ""
            shown = repr(arg.encode("utf-8", "surrogateescape"))[2:-1]  # the bytes as typed
            raise click.UsageError(
                f"argument {n + 1}{after} is not valid UTF-8 text: '{shown}'"
            ) from None


@click.group(cls=MemvaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-d",
    "--database",
    envvar=[ENV_DATABASE, ENV_TURSO_URL],
    default=DEFAULT_DATABASE,
    show_default=True,
    help=f"SQLite file path, sqlite:///path, or a libSQL server: libsql://HOST, https://…, "
    f"http://… (env {ENV_DATABASE}, else {ENV_TURSO_URL}).",
)
@click.option(
    "--auth-token",
    envvar=ENV_AUTH_TOKEN,
    default=None,
    show_default=False,
    help=f"Auth token for a libSQL server (env {ENV_AUTH_TOKEN}, else {ENV_TURSO_TOKEN}).",
)
@click.option(
    "--migrations",
    "migrations_dir",
    envvar=ENV_MIGRATIONS,
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help=f"Folder of migrations to use instead of the built-in ones (env {ENV_MIGRATIONS}).",
)
@click.option(
    "--applied-by",
    envvar=ENV_APPLIED_BY,
    default=None,
    help=f"Who is recorded as applying migrations (default user@host; env {ENV_APPLIED_BY}).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, package_name="memvault")
@click.pass_context
def cli(
    ctx: click.Context,
    database: str,
    auth_token: str | None,
    migrations_dir: Path | None,
    applied_by: str | None,
    debug: bool,
) -> None:
    """memvault: an AI assistant's memory in a database, evolved without losing a row."""
    if auth_token:
        # Where memvault.db looks for it (and child processes such as `migrate test` too).
        os.environ[ENV_AUTH_TOKEN] = auth_token
    ctx.obj = AppContext(
        Settings(
            database=database,
            migrations_dir=migrations_dir or BUILTIN_MIGRATIONS,
            applied_by=applied_by or default_applied_by(),
        ),
        debug=debug,
    )
