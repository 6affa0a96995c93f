"""The README stays true: its quick start and its example migrations run as written."""

from __future__ import annotations

import os
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


# -- every block, in order, in an empty folder ------------------------------------------------
# Left out, and why: `pip install` lines (the test runs inside the installed package) and the
# Development section (it runs this very test suite). `memvault bench` lines run only in the
# slow suite (1-2 minutes).
FENCE = re.compile(r"```(bash|python|sql)\n(.*?)```", re.S)
TARGET = re.compile(r"`(migrations/\d+_\w+\.(?:py|sql))`:\s*$")


def readme_steps() -> list[tuple[str, str, str | None]]:
    """(language, code, file it is written to) for each block before the Development section."""
    text = README.read_text()
    text = text[: text.index("## Development")]
    steps = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n")
        target = TARGET.search(before.splitlines()[-1] if before else "")
        steps.append((match.group(1), match.group(2), target.group(1) if target else None))
    return steps


def run_steps(folder: Path, *, with_bench: bool, libsql: str | None = None) -> None:
    """Run the README's blocks; the Turso block against `libsql` (a local sqld) as both
    staging and production, or not at all without one."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    if libsql is not None:
        env["STAGING"] = env["PROD"] = libsql
    env.pop("MEMVAULT_DATABASE", None)
    env.pop("MEMVAULT_MIGRATIONS", None)
    for lang, code, target in readme_steps():
        if target is not None:  # "for example `migrations/001_x.py`:" — the user writes it
            (folder / target).write_text(code)
        if lang == "sql" or ("libsql://" in code and libsql is None):
            continue
        if lang == "python":
            argv = [sys.executable, "-c", code]
        else:
            lines = [ln for ln in code.splitlines() if not ln.startswith("pip install")]
            if not with_bench:
                lines = [ln for ln in lines if not ln.startswith("memvault bench")]
            argv = ["bash", "-e", "-o", "pipefail", "-c", "\n".join(lines)]
        proc = subprocess.run(
            argv, cwd=folder, env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, (code, proc.stdout[-2000:], proc.stderr[-2000:])


def _libsql_or_none(request: pytest.FixtureRequest) -> str | None:
    try:
        return str(request.getfixturevalue("libsql_url"))
    except pytest.skip.Exception:
        return None  # no sqld here: the Turso block is left out


def test_every_readme_block_runs_in_order_in_an_empty_folder(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    run_steps(tmp_path, with_bench=False, libsql=_libsql_or_none(request))
    assert sorted(p.name for p in (tmp_path / "backups").iterdir())[0].startswith("memvault.db.")
    assert (
        (tmp_path / "migrations" / "002_add_notes_source.sql")
        .read_text()
        .startswith("-- description: Add a source column to notes")
    )


@pytest.mark.slow
def test_every_readme_block_runs_in_order_bench_included(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    run_steps(tmp_path, with_bench=True, libsql=_libsql_or_none(request))


@pytest.mark.parametrize("lang, ext", [("python", "py"), ("sql", "sql")])
def test_example_migrations_apply_verify_and_roll_back(tmp_path: Path, lang: str, ext: str) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for _lang, code, target in readme_steps():
        if target is not None:
            (tmp_path / target).write_text(code)
    if ext == "py":  # the Python example alone
        (folder / "002_add_notes_source.sql").unlink()
    base = ["memvault", "-d", str(tmp_path / "x.db"), "--migrations", str(folder), "migrate"]
    for action in (["up"], ["verify"], ["down"], ["up"], ["test"]):
        proc = run_memvault(base + action, tmp_path)
        assert proc.returncode == 0, (action, proc.stderr)
