"""Parse `.sql` migrations: sections and statements.

Statements are split where SQLite says a statement is complete
(`sqlite3.complete_statement`), and SQLite decides which pieces are only comments
(`memvault.db.guard.is_empty_statement`): memvault never reads SQL text itself.
"""

from __future__ import annotations

import re
import sqlite3

from memvault.db.guard import is_empty_statement

# The file format's own markers (comment lines memvault defines), not SQL.
SECTION = re.compile(r"^\s*--\s*migrate:(\w+)\s*$", re.IGNORECASE | re.MULTILINE)
SECTIONS = ("up", "down", "verify")


def split_sections(text: str, filename: str) -> dict[str, str]:
    """Split a file into its `-- migrate:up|down|verify` sections.

    Raises ValueError naming the file on an unknown or repeated section.
    """
    sections: dict[str, str] = {}
    matches = list(SECTION.finditer(text))
    if matches and split_statements(text[: matches[0].start()]):
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


def split_statements(sql: str) -> list[str]:
    """Split SQL text into complete statements, without a trailing semicolon.

    A semicolon ends a statement only where SQLite agrees the statement is complete, so
    semicolons inside strings, comments and trigger bodies (BEGIN ... END) stay put.
    Pieces SQLite compiles to nothing (comments, blank lines) are left out.
    """
    statements: list[str] = []
    start = 0
    pos = sql.find(";")
    while pos != -1:
        candidate = sql[start : pos + 1]
        if sqlite3.complete_statement(candidate):
            if not is_empty_statement(candidate):
                statements.append(candidate.strip()[:-1].rstrip())
            start = pos + 1
        pos = sql.find(";", pos + 1)
    rest = sql[start:]
    if rest.strip() and not is_empty_statement(rest):
        statements.append(rest.strip())
    return statements
