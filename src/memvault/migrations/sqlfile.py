"""Parse `.sql` migrations: sections and statements."""

from __future__ import annotations

import re
import sqlite3

SECTION = re.compile(r"^\s*--\s*migrate:(\w+)\s*$", re.IGNORECASE | re.MULTILINE)
SECTIONS = ("up", "down", "verify")


def split_sections(text: str, filename: str) -> dict[str, str]:
    """Split a file into its `-- migrate:up|down|verify` sections.

    Raises ValueError naming the file on an unknown or repeated section.
    """
    sections: dict[str, str] = {}
    matches = list(SECTION.finditer(text))
    if matches and text[: matches[0].start()].strip():
        preamble = _strip_comments(text[: matches[0].start()])
        if preamble.strip():
            raise ValueError(f"{filename}: SQL before the first '-- migrate:' section")
    for i, match in enumerate(matches):
        name = match.group(1).lower()
        if name not in SECTIONS:
            raise ValueError(f"{filename}: unknown section '-- migrate:{name}'")
        if name in sections:
            raise ValueError(f"{filename}: section '-- migrate:{name}' appears twice")
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        sections[name] = text[match.end() : end]
    return sections


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))


def split_statements(sql: str) -> list[str]:
    """Split SQL text into complete statements, without a trailing semicolon.

    A semicolon ends a statement only where SQLite agrees the statement is complete, so
    semicolons inside strings, comments and trigger bodies (BEGIN ... END) stay put.
    """
    statements: list[str] = []
    start = 0
    pos = sql.find(";")
    while pos != -1:
        candidate = sql[start : pos + 1]
        if sqlite3.complete_statement(candidate):
            stmt = candidate.strip()
            if _strip_comments(stmt).strip().strip(";").strip():
                statements.append(stmt[:-1].rstrip())
            start = pos + 1
        pos = sql.find(";", pos + 1)
    rest = sql[start:]
    if _strip_comments(rest).strip():
        statements.append(rest.strip())
    return statements
