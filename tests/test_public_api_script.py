"""The quick start example runs as a separate process using only the public API."""

from __future__ import annotations

import ast
import sqlite3
import subprocess
import sys
from pathlib import Path

import memvault

EXAMPLE = Path(__file__).parent.parent / "examples" / "quickstart.py"


def test_quickstart_uses_only_the_public_api() -> None:
    tree = ast.parse(EXAMPLE.read_text())
    imported = [
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("memvault")
        for alias in node.names
    ]
    assert imported and all(module == "memvault" for module, _ in imported)
    assert all(name in memvault.__all__ for _, name in imported)


def test_quickstart_runs_and_every_check_holds(tmp_path: Path) -> None:
    db = tmp_path / "quickstart.db"
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), str(db)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "quick start: all checks passed" in lines
    assert not [line for line in lines if line.startswith("FAIL")]
    for claim in (
        "entities are listed newest first",
        "search returns only the caller's non-archived matches",
        "similar() ranks the nearest vector first",
        "Ada cannot delete it",
        "JSON uses camelCase keys",
    ):
        assert f"ok   {claim}" in lines
    conn = sqlite3.connect(db)
    try:
        kinds = conn.execute("SELECT DISTINCT typeof(embedding) FROM memories").fetchall()
        users = conn.execute("SELECT count(*) FROM users").fetchone()
    finally:
        conn.close()
    assert set(kinds) <= {("blob",), ("null",)} and users == (2,)
