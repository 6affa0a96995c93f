"""Loading migration files: names, versions, Python and SQL, errors that name the culprit."""

from __future__ import annotations

from pathlib import Path

import pytest

from memvault.config import BUILTIN_MIGRATIONS
from memvault.errors import ConfigError, MigrationLoadError
from memvault.migrations import load_migrations
from memvault.migrations.checksum import checksum
from memvault.migrations.sqlfile import split_sections, split_statements

PY_OK = (
    "def up(ctx):\n    ctx.execute('CREATE TABLE t (x)')\n\n"
    "def down(ctx):\n    ctx.execute('DROP TABLE t')\n"
)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_builtin_migrations_load_in_order() -> None:
    migrations = load_migrations(BUILTIN_MIGRATIONS)
    versions = [m.version for m in migrations]
    assert versions[:2] == [1, 2]
    assert versions == sorted(versions)
    assert migrations[0].name == "initial_schema"
    assert all(m.verify_func is not None for m in migrations)
    assert all(len(m.checksum) == 64 for m in migrations)


def test_python_migration_description_from_module_or_docstring(tmp_path: Path) -> None:
    write(tmp_path, "001_a.py", '"""First line of the docstring.\n\nMore."""\n' + PY_OK)
    write(tmp_path, "002_b.py", 'description = "explicit"\n' + PY_OK)
    a, b = load_migrations(tmp_path)
    assert a.description == "First line of the docstring."
    assert b.description == "explicit"


def test_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does-not-exist"):
        load_migrations(tmp_path / "does-not-exist")


def test_bad_file_name_names_the_file(tmp_path: Path) -> None:
    write(tmp_path, "add_thing.py", PY_OK)
    with pytest.raises(MigrationLoadError, match="add_thing.py"):
        load_migrations(tmp_path)


def test_version_zero_is_rejected(tmp_path: Path) -> None:
    write(tmp_path, "000_zero.sql", "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\n")
    with pytest.raises(MigrationLoadError, match="000_zero.sql"):
        load_migrations(tmp_path)


def test_duplicate_versions_name_both_files(tmp_path: Path) -> None:
    write(tmp_path, "003_one.py", PY_OK)
    write(tmp_path, "3_two.sql", "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\n")
    with pytest.raises(MigrationLoadError) as err:
        load_migrations(tmp_path)
    assert "003_one.py" in str(err.value) and "3_two.sql" in str(err.value)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "001_broken.py", "def up(ctx):\n    pass\n\ndef down(ctx)\n    pass\n")
    with pytest.raises(MigrationLoadError, match=r"001_broken.py, line 4"):
        load_migrations(tmp_path)


def test_import_error_names_file(tmp_path: Path) -> None:
    write(tmp_path, "001_imports.py", "import no_such_module_anywhere\n" + PY_OK)
    with pytest.raises(MigrationLoadError, match="001_imports.py.*no_such_module_anywhere"):
        load_migrations(tmp_path)


@pytest.mark.parametrize("missing", ["up", "down"])
def test_missing_up_or_down(tmp_path: Path, missing: str) -> None:
    text = PY_OK.replace(f"def {missing}(", "def other_" + missing + "(")
    write(tmp_path, "001_half.py", text)
    with pytest.raises(MigrationLoadError, match=f"001_half.py has no {missing}"):
        load_migrations(tmp_path)


def test_sql_missing_down_section(tmp_path: Path) -> None:
    write(tmp_path, "001_x.sql", "-- migrate:up\nCREATE TABLE t (x);\n")
    with pytest.raises(MigrationLoadError, match="001_x.sql has no '-- migrate:down'"):
        load_migrations(tmp_path)


def test_sql_unknown_section(tmp_path: Path) -> None:
    write(tmp_path, "001_x.sql", "-- migrate:up\nSELECT 1;\n-- migrate:sideways\nSELECT 1;\n")
    with pytest.raises(MigrationLoadError, match="unknown section"):
        load_migrations(tmp_path)


def test_split_statements_keeps_trigger_bodies_and_strings_whole() -> None:
    sql = """
    CREATE TABLE t (x TEXT); -- a comment; with a semicolon
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN
        INSERT INTO log VALUES ('a;b');
        UPDATE t SET x = 'c;' WHERE x = new.x;
    END;
    INSERT INTO t VALUES ('it''s; fine')
    """
    statements = split_statements(sql)
    assert len(statements) == 3
    assert statements[0] == "CREATE TABLE t (x TEXT)"
    assert statements[1].startswith("-- a comment; with a semicolon\n")
    assert "UPDATE t SET x = 'c;'" in statements[1] and statements[1].endswith("END")
    assert statements[2] == "INSERT INTO t VALUES ('it''s; fine')"


def test_split_sections() -> None:
    text = "-- description: hi\n-- migrate:up\nA;\n-- migrate:down\nB;\n-- migrate:verify\nC;\n"
    assert split_sections(text, "f.sql") == {"up": "\nA;\n", "down": "\nB;\n", "verify": "\nC;\n"}


def test_checksum_ignores_line_endings_only() -> None:
    assert checksum(b"a\r\nb\r\n") == checksum(b"a\nb\n") == checksum(b"a\rb\r")
    assert checksum(b"a\nb\n") != checksum(b"a\nb \n")


def test_sql_headers_declare_foreign_keys_and_supersedes(tmp_path: Path) -> None:
    write(tmp_path, "001_a.sql", "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\n")
    write(
        tmp_path,
        "002_b.sql",
        "-- description: Rebuild things\n-- foreign_keys: off\n-- supersedes: 1\n"
        "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\n",
    )
    a, b = load_migrations(tmp_path)
    assert a.foreign_keys and a.supersedes == ()
    assert b.description == "Rebuild things" and not b.foreign_keys and b.supersedes == (1,)


@pytest.mark.parametrize(
    "header, message",
    [("-- foreign_keys: maybe", "must be on or off"), ("-- supersedes: 7", "earlier versions")],
)
def test_bad_sql_headers_name_the_file(tmp_path: Path, header: str, message: str) -> None:
    write(
        tmp_path, "002_b.sql", f"{header}\n-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\n"
    )
    with pytest.raises(MigrationLoadError, match=f"002_b.sql.*{message}"):
        load_migrations(tmp_path)
