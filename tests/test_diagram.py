"""`memvault schema diagram`: a Mermaid erDiagram read from the live schema."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from memvault.cli import cli
from memvault.testing import LegacyShape, build_legacy_database

Run = Callable[..., Result]
DOCS_SCHEMA = Path(__file__).parent.parent / "docs" / "schema.md"

RELATIONSHIP = re.compile(r'^    (\w+) (\|\||\|o)--(o\{|o\|) (\w+) : "[\w, ]+"$')
ENTITY_OPEN = re.compile(r"^    (\w+) \{$")
ATTRIBUTE = re.compile(r'^        \w+ \w+( (PK|FK|UK)(, (PK|FK|UK))*)?( "[^"]*")?$')


def parse(diagram: str) -> tuple[dict[str, list[str]], list[tuple[str, str, str, str]]]:
    """Check every line against the erDiagram grammar we emit; return entities and links."""
    lines = diagram.rstrip("\n").split("\n")
    assert lines[0] == "erDiagram"
    entities: dict[str, list[str]] = {}
    links: list[tuple[str, str, str, str]] = []
    current: str | None = None
    for line in lines[1:]:
        if current is not None:
            if line == "    }":
                current = None
            else:
                assert ATTRIBUTE.match(line), line
                entities[current].append(line.split()[1])
        elif m := RELATIONSHIP.match(line):
            links.append((m[1], m[2], m[3], m[4]))
        else:
            m = ENTITY_OPEN.match(line)
            assert m, line
            current = m[1]
            entities[current] = []
    assert current is None
    return entities, links


def test_migrated_schema_diagram(run: Run) -> None:
    result = run("schema", "diagram", "--migrated")
    assert result.exit_code == 0, result.output
    entities, links = parse(result.output)
    assert {"users", "entities", "memories", "interactions", "api_usage_tracking"} <= set(entities)
    assert not any(e.endswith(("_fts", "_data", "_idx", "_docsize", "_config")) for e in entities)
    assert not any(e.startswith(("schema_migrations", "memvault_")) for e in entities)
    assert entities["memories"][:3] == ["id", "user_id", "title"]
    # legacy user_id columns are nullable: zero-or-one parent; api usage requires its user
    assert ("users", "|o", "o{", "memories") in links
    assert ("users", "||", "o{", "api_usage_tracking") in links
    assert '        TEXT email UK "not null"' in result.output
    assert "        TEXT user_id FK" in result.output


def test_diagram_of_a_legacy_file_matches_its_tables(tmp_path: Path, run: Run) -> None:
    path = build_legacy_database(tmp_path / "legacy.db", LegacyShape.V2)
    before = path.read_bytes()
    result = run("schema", "diagram", database=path)
    assert result.exit_code == 0, result.output
    entities, _ = parse(result.output)
    assert "contact_info" in entities["entities"]
    assert "schema_version" in entities
    assert path.read_bytes() == before


def test_composite_keys_and_unique_foreign_keys(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "custom.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE projects (org TEXT NOT NULL, code TEXT NOT NULL, PRIMARY KEY (org, code));
        CREATE TABLE tasks (id INTEGER PRIMARY KEY, org TEXT NOT NULL, code TEXT NOT NULL,
            "due date" TEXT, FOREIGN KEY (org, code) REFERENCES projects(org, code));
        CREATE TABLE charters (id INTEGER PRIMARY KEY, org TEXT NOT NULL UNIQUE,
            body, FOREIGN KEY (org) REFERENCES orgs(name));
        CREATE TABLE orgs (name TEXT PRIMARY KEY NOT NULL);
        """
    )
    conn.close()
    result = run("schema", "diagram", database=path)
    assert result.exit_code == 0, result.output
    entities, links = parse(result.output)
    assert ("projects", "||", "o{", "tasks") in links
    assert ("orgs", "||", "o|", "charters") in links  # a unique FK: at most one charter
    assert 'projects ||--o{ tasks : "org, code"' in result.output
    assert "        TEXT org PK" in result.output  # both columns of a composite key
    assert "due_date" in entities["tasks"]  # a name with a space is made Mermaid-safe
    assert "        ANY body" in result.output  # a column without a declared type


def test_include_internal_adds_ledger_and_fts_storage(run: Run) -> None:
    result = run("schema", "diagram", "--migrated", "--include-internal")
    entities, _ = parse(result.output)
    assert "schema_migrations" in entities and "memory_search_data" in entities


def test_markdown_to_file(tmp_path: Path, run: Run) -> None:
    target = tmp_path / "schema.md"
    result = run("schema", "diagram", "--migrated", "--markdown", "-o", str(target))
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert text.startswith("# Schema\n") and "```mermaid\nerDiagram\n" in text
    assert text.rstrip().endswith("```")


def test_committed_docs_schema_is_current() -> None:
    """docs/schema.md is the diagram of the newest schema; regenerate it with
    `memvault schema diagram --migrated --markdown -o docs/schema.md` after a migration."""
    result = CliRunner().invoke(cli, ["schema", "diagram", "--migrated", "--markdown"])
    assert result.exit_code == 0, result.output
    assert DOCS_SCHEMA.read_text(encoding="utf-8") == result.output, (
        "docs/schema.md is stale: run memvault schema diagram --migrated --markdown "
        "-o docs/schema.md"
    )


def test_errors_are_one_line(tmp_path: Path, run: Run) -> None:
    missing = tmp_path / "absent.db"
    result = run("schema", "diagram", database=missing)
    assert result.exit_code == 1 and "does not exist" in result.output
    assert not missing.exists()
    result = run("schema", "diagram", "--migrated", "-o", str(tmp_path / "no" / "x.md"))
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "does not exist" in result.output
