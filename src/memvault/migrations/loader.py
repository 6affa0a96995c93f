"""Find migration files in a folder and load them, without touching any database."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from memvault.errors import ConfigError, MigrationLoadError
from memvault.migrations.checksum import checksum
from memvault.migrations.migration import Migration, MigrationContext, MigrationFunc

FILENAME = re.compile(r"^(?P<version>\d+)_(?P<name>[A-Za-z0-9_]+)\.(?P<ext>py|sql)$")


def load_migrations(folder: Path) -> list[Migration]:
    """Load every `NNN_slug.py` / `NNN_slug.sql` in `folder`, sorted by version.

    Raises ConfigError when the folder does not exist, MigrationLoadError naming the
    file(s) on a bad name, a duplicate version, a syntax or import error, or a missing
    up or down.
    """
    if not folder.exists():
        raise ConfigError(f"migrations folder {folder} does not exist")
    if not folder.is_dir():
        raise ConfigError(f"migrations folder {folder} is not a folder")
    by_version: dict[int, Migration] = {}
    for path in sorted(folder.iterdir()):
        if not _is_candidate(path):
            continue
        migration = load_file(path)
        other = by_version.get(migration.version)
        if other is not None:
            raise MigrationLoadError(
                f"duplicate migration version {migration.version}: "
                f"{other.path.name} and {path.name} in {folder}"
            )
        by_version[migration.version] = migration
    return [by_version[v] for v in sorted(by_version)]


# SQLite's INTEGER is 64-bit signed: a larger version could not be recorded in the ledger.
MAX_VERSION = 2**63 - 1


def _is_candidate(path: Path) -> bool:
    if not path.is_file() or path.name.startswith((".", "_")):
        return False
    return path.suffix in (".py", ".sql")


def parse_filename(path: Path) -> tuple[int, str, str]:
    """(version, name, extension) of a migration file name, or MigrationLoadError."""
    match = FILENAME.match(path.name)
    if match is None:
        raise MigrationLoadError(
            f"bad migration file name {path}: expected NNN_slug.py or NNN_slug.sql "
            "(a number, an underscore, letters, digits or underscores)"
        )
    version = int(match.group("version"))
    if version < 1:
        raise MigrationLoadError(f"bad migration file name {path}: versions start at 1")
    if version > MAX_VERSION:
        raise MigrationLoadError(
            f"bad migration file name {path}: version {version} is larger than {MAX_VERSION}"
        )
    return version, match.group("name"), match.group("ext")


def load_file(path: Path) -> Migration:
    """Load one migration file."""
    version, name, ext = parse_filename(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise MigrationLoadError(f"cannot read migration {path}: {exc.strerror}") from exc
    digest = checksum(content)
    if ext == "sql":
        return _load_sql(path, version, name, content, digest)
    return _load_python(path, version, name, digest)


def _load_python(path: Path, version: int, name: str, digest: str) -> Migration:
    module = _import(path, version)
    funcs: dict[str, MigrationFunc] = {}
    for attr in ("up", "down"):
        func = getattr(module, attr, None)
        if not callable(func):
            raise MigrationLoadError(f"migration {path} has no {attr}(ctx) function")
        funcs[attr] = func
    verify = getattr(module, "verify", None)
    if verify is not None and not callable(verify):
        raise MigrationLoadError(f"migration {path}: verify must be a function")
    description = getattr(module, "description", None) or _first_line(module.__doc__)
    foreign_keys = getattr(module, "foreign_keys", True)
    if not isinstance(foreign_keys, bool):
        raise MigrationLoadError(f"migration {path}: foreign_keys must be True or False")
    supersedes = _supersedes(getattr(module, "supersedes", ()), path, version)
    return Migration(
        version=version,
        name=name,
        path=path,
        checksum=digest,
        description=str(description or name.replace("_", " ")),
        up_func=funcs["up"],
        down_func=funcs["down"],
        verify_func=verify,
        kind="python",
        foreign_keys=foreign_keys,
        supersedes=supersedes,
    )


def _import(path: Path, version: int) -> ModuleType:
    module_name = f"memvault_migration_{version}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise MigrationLoadError(f"cannot load migration {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise MigrationLoadError(
            f"syntax error in migration {path}, line {exc.lineno}: {exc.msg}"
        ) from exc
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        raise MigrationLoadError(
            f"migration {path} failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        sys.modules.pop(module_name, None)
    return module


def _first_line(doc: str | None) -> str | None:
    if not doc:
        return None
    lines = [line.strip() for line in doc.strip().splitlines()]
    return lines[0] if lines else None


def _load_sql(path: Path, version: int, name: str, content: bytes, digest: str) -> Migration:
    from memvault.migrations.sqlfile import split_sections, split_statements  # .sql files only

    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MigrationLoadError(f"migration {path} is not UTF-8 text") from exc
    try:
        sections = split_sections(text, str(path))
    except ValueError as exc:
        raise MigrationLoadError(str(exc)) from exc
    for required in ("up", "down"):
        if required not in sections:
            raise MigrationLoadError(f"migration {path} has no '-- migrate:{required}' section")
    statements = {key: split_statements(sql) for key, sql in sections.items()}
    if not statements["up"]:
        raise MigrationLoadError(f"migration {path}: the '-- migrate:up' section is empty")
    headers = _sql_headers(text)
    description = headers.get("description") or name.replace("_", " ")
    foreign_keys = headers.get("foreign_keys", "on").lower()
    if foreign_keys not in ("on", "off"):
        raise MigrationLoadError(f"migration {path}: '-- foreign_keys:' must be on or off")
    try:
        earlier = [int(v) for v in headers.get("supersedes", "").replace(",", " ").split()]
    except ValueError:
        earlier = [0]
    supersedes = _supersedes(earlier, path, version)

    def run(section: str) -> MigrationFunc:
        def apply(ctx: MigrationContext) -> None:
            for stmt in statements[section]:
                ctx.execute(stmt)

        return apply

    verify = _sql_verify(statements["verify"]) if statements.get("verify") else None
    return Migration(
        version=version,
        name=name,
        path=path,
        checksum=digest,
        description=description,
        up_func=run("up"),
        down_func=run("down"),
        verify_func=verify,
        kind="sql",
        statements=statements,
        foreign_keys=foreign_keys == "on",
        supersedes=supersedes,
    )


SQL_HEADERS = ("description", "foreign_keys", "supersedes")


def _sql_headers(text: str) -> dict[str, str]:
    """`-- description: …`, `-- foreign_keys: off`, `-- supersedes: 1, 2` comment lines."""
    headers: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.lower().startswith("-- migrate:"):
            break  # headers come before the first section
        key, sep, value = stripped.removeprefix("--").partition(":")
        if stripped.startswith("--") and sep and key.strip().lower() in SQL_HEADERS:
            headers.setdefault(key.strip().lower(), value.strip())
    return headers


def _supersedes(value: object, path: Path, version: int) -> tuple[int, ...]:
    """Earlier versions this migration supersedes, validated (see Migration.supersedes)."""
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, int) and 0 < v < version for v in value
    ):
        raise MigrationLoadError(
            f"migration {path}: supersedes must list earlier versions, e.g. [1, 2]"
        )
    return tuple(value)


def _sql_verify(checks: list[str]) -> MigrationFunc:
    def verify(ctx: MigrationContext) -> Any:
        for stmt in checks:
            rows = ctx.query(stmt)
            if len(rows) != 1 or len(rows[0]) < 1 or not rows[0][0]:
                value = rows[0][0] if rows and len(rows[0]) else None
                return f"verify check returned {value!r}: {stmt}"
        return True

    return verify
