"""`memvault user ...` and `memvault memory ...` through Click's runner on a real file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

Run = Callable[..., Result]


@pytest.fixture
def user_id(run: Run) -> str:
    result = run("user", "add", "ada@example.com", "--name", "Ada", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["apiKey"] and data["email"] == "ada@example.com" and "apiKeyHash" not in data
    return str(data["id"])


def add_memory(run: Run, user_id: str, title: str, *extra: str) -> dict[str, object]:
    result = run(
        "memory",
        "add",
        "-u",
        user_id,
        "--title",
        title,
        "--content",
        f"{title} text",
        "--type",
        "preference",
        "--json",
        *extra,
    )
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_user_add_and_list(run: Run, db_path: Path) -> None:
    added = run("user", "add", "ada@example.com", "--name", "Ada")
    assert added.exit_code == 0
    assert "API key (shown once" in added.stdout
    assert "applied migration 001_initial_schema" in added.stderr  # a new file is migrated
    listed = run("user", "list", "--json")
    [user] = json.loads(listed.stdout)
    assert user["email"] == "ada@example.com" and user["isActive"] is True
    assert "ada@example.com" in run("user", "list").stdout
    duplicate = run("user", "add", "ada@example.com")
    assert duplicate.exit_code == 1
    assert duplicate.stderr.strip() == (
        "memvault: error: invalid user: email 'ada@example.com' is already in use"
    )


def test_memory_add_list_show(run: Run, user_id: str) -> None:
    first = add_memory(run, user_id, "Tea", "--tag", "drinks", "--embedding", "[1, 0]")
    assert first["userId"] == user_id and first["tags"] == ["drinks"]
    assert first["memoryType"] == "preference" and first["embedding"] == [1.0, 0.0]
    add_memory(run, user_id, "Coffee", "--embedding", "[0, 1]")
    listed = json.loads(run("memory", "list", "-u", user_id, "--json").stdout)
    assert [m["title"] for m in listed] == ["Coffee", "Tea"]
    table = run("memory", "list", "-u", user_id).stdout
    assert table.index("Coffee") < table.index("Tea")
    shown = run("memory", "show", "-u", user_id, str(first["id"]))
    assert "title: Tea" in shown.stdout and "embedding: 2 dimensions" in shown.stdout
    assert json.loads(run("memory", "show", "-u", user_id, str(first["id"]), "--json").stdout) == (
        first
    )


def test_memory_search_and_similar(run: Run, user_id: str) -> None:
    add_memory(run, user_id, "Green tea", "--embedding", "[1, 0, 0]")
    add_memory(run, user_id, "Coffee beans", "--embedding", "[0, 1, 0]")
    hits = json.loads(run("memory", "search", "-u", user_id, "green", "--json").stdout)
    assert [h["memory"]["title"] for h in hits] == ["Green tea"] and hits[0]["score"] > 0
    hostile = run("memory", "search", "-u", user_id, 'tea" OR 1=1 -- NEAR(')
    assert hostile.exit_code == 0 and hostile.stdout.strip() == "No matches."
    near = json.loads(run("memory", "similar", "-u", user_id, "[0.1, 0.9, 0]", "--json").stdout)
    assert [h["memory"]["title"] for h in near] == ["Coffee beans", "Green tea"]
    assert "Coffee beans" in run("memory", "similar", "-u", user_id, "[0, 1, 0]").stdout


def test_memory_errors_are_one_line(run: Run, user_id: str) -> None:
    cases = [
        (("memory", "show", "-u", "someone-else", "1"), 1, "has no memory 1"),
        (("memory", "similar", "-u", user_id, "[1,"), 2, "not valid JSON"),
        (("memory", "similar", "-u", user_id, '{"a": 1}'), 2, "expected a JSON list"),
        (("memory", "similar", "-u", user_id, "[]"), 1, "invalid query vector"),
        (
            ("memory", "add", "-u", "ghost", "--title", "t", "--content", "c", "--type", "MEMORY"),
            1,
            "user 'ghost' does not exist",
        ),
        (
            ("memory", "add", "-u", user_id, "--title", "t", "--content", "c", "--type", "dream"),
            2,
            "'dream' is not one of",
        ),
        (
            (
                "memory",
                "add",
                "-u",
                user_id,
                "--title",
                "t",
                "--content",
                "c",
                "--type",
                "MEMORY",
                "--embedding",
                "[1, 2]",
                "--metadata",
                "[1]",
            ),
            2,
            "expected a JSON dict",
        ),
    ]
    for args, code, message in cases:
        result = run(*args)
        assert result.exit_code == code, (args, result.output)
        [line] = result.stderr.strip().splitlines()[-1:]
        assert line.startswith("memvault: error: ") and message in line, line
        assert "Traceback" not in result.output
