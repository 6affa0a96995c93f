"""The README stays true: its quick start and its example migrations run as written."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def commands(block: str) -> list[list[str]]:
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line.startswith("memvault ")]


def run_memvault(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memvault", *argv[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_quick_start_runs_as_written(tmp_path: Path) -> None:
    quick = re.search(r"```bash\n(.*?)```", section("Quick start"), flags=re.S)
    assert quick is not None
    cmds = commands(quick.group(1))
    assert len(cmds) >= 6
    for argv in cmds:
        proc = run_memvault(argv, tmp_path)
        assert proc.returncode == 0, (argv, proc.stderr)
    assert (tmp_path / "memvault.db").exists()


@pytest.mark.parametrize("lang, ext", [("python", "py"), ("sql", "sql")])
def test_example_migrations_apply_verify_and_roll_back(tmp_path: Path, lang: str, ext: str) -> None:
    example = next(b for b in blocks(lang) if "source" in b)
    folder = tmp_path / "migrations"
    folder.mkdir()
    from memvault.config import BUILTIN_MIGRATIONS

    for name in ("001_initial_schema.py", "002_add_missing_indices.py"):
        (folder / name).write_bytes((BUILTIN_MIGRATIONS / name).read_bytes())
    (folder / f"003_add_source_column.{ext}").write_text(example)
    base = ["memvault", "-d", str(tmp_path / "x.db"), "--migrations", str(folder), "migrate"]
    for action in (["up"], ["verify"], ["down"], ["up"]):
        proc = run_memvault(base + action, tmp_path)
        assert proc.returncode == 0, (action, proc.stderr)
