"""Start-up: how long the installed `memvault` entry point takes for quick commands, beside
Python itself and the libraries every such command loads (the floor).

Each command runs in a fresh subprocess with bytecode writing allowed (as for a pip-installed
package), all of them interleaved over N rounds so a slow spell on a shared machine falls on
every command alike. Wall time by the clock, CPU time from the child's resource usage (user +
system). Reports p50/p95/min and each command's ratio to the floor. Nothing is asserted.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memvault.errors import ConfigError, MemvaultError
from memvault.ops.measure import Timing, ratio

# What every table-printing command cannot start without: the CLI, the table, the driver.
FLOOR_IMPORTS = "import click, rich.table, sqlite3"
FLOOR = "floor"


@dataclass(frozen=True)
class Case:
    """One command line to time, and the name it is reported under."""

    name: str
    argv: tuple[str, ...]


def entry_point() -> Path:
    """The `memvault` script installed beside this Python (else the first on PATH)."""
    beside = Path(sys.executable).parent / "memvault"
    found = beside if beside.is_file() else shutil.which("memvault")
    if found is None:
        raise ConfigError(
            "no installed `memvault` entry point beside this Python or on PATH: "
            "`pip install` memvault (or `-e .`) first"
        )
    return Path(found)


def cases(memvault: Path, database: Path, others: Sequence[Path] = ()) -> list[Case]:
    """Python alone, the floor, then the memvault commands (once per entry point)."""
    python = sys.executable
    timed = [
        Case("python -c pass", (python, "-c", "pass")),
        Case(FLOOR, (python, "-c", FLOOR_IMPORTS)),
    ]
    for n, exe in enumerate([memvault, *others]):
        tag = "" if n == 0 else f" [{exe}]"
        db = ("-d", str(database))
        timed += [
            Case(f"memvault migrate status{tag}", (str(exe), *db, "migrate", "status")),
            Case(f"memvault --version{tag}", (str(exe), "--version")),
            Case(f"memvault user list{tag}", (str(exe), *db, "user", "list")),
        ]
    return timed


def child_env() -> dict[str, str]:
    """This environment with bytecode writing allowed and no database chosen by env."""
    drop = {"PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME", "MEMVAULT_DATABASE"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def run_once(case: Case, env: dict[str, str]) -> tuple[int, int]:
    """Run one command to its end: (wall ns, CPU ns of the child); raise if it failed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter_ns()
    done = subprocess.run(case.argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter_ns() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise MemvaultError(f"`{case.name}` exited {done.returncode}: {last}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, round(cpu * 1e9)


def prepare(memvault: Path, folder: Path, env: dict[str, str]) -> Path:
    """A migrated database holding two users, made by the entry point itself (which also
    writes its bytecode, as a first run after installing would)."""
    database = folder / "startup.db"
    db = ("-d", str(database))
    for argv in (
        ("migrate", "up"),
        ("user", "add", "ada@example.com", "--name", "Ada"),
        ("user", "add", "bob@example.com", "--name", "[bold]Bob[/bold]"),  # data, not markup
    ):
        run_once(Case(f"memvault {argv[0]} {argv[1]}", (str(memvault), *db, *argv)), env)
    return database


def measure(
    timed: Sequence[Case], *, runs: int, env: dict[str, str], progress: Callable[[str], None]
) -> dict[str, tuple[Timing, Timing]]:
    """One untimed round, then `runs` rounds of every case in turn: (wall, CPU) per case."""
    for case in timed:
        run_once(case, env)
    samples: dict[str, list[tuple[int, int]]] = {c.name: [] for c in timed}
    for n in range(runs):
        for case in timed:
            samples[case.name].append(run_once(case, env))
        if (n + 1) % 10 == 0:
            progress(f"  {n + 1}/{runs} rounds")
    return {
        name: (Timing.from_ns([w for w, _ in s]), Timing.from_ns([c for _, c in s]))
        for name, s in samples.items()
    }


def run(
    *, runs: int = 30, others: Sequence[Path] = (), progress: Callable[[str], None] = print
) -> dict[str, Any]:
    """Time start-up of the installed entry point (and of `others`) against the floor."""
    if runs < 1:
        raise ConfigError(f"runs must be at least 1, got {runs}")
    memvault, env = entry_point(), child_env()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="memvault-startup-") as tmp:
        database = prepare(memvault, Path(tmp), env)
        timed = cases(memvault, database, others)
        progress(f"Timing {len(timed)} commands, {runs} interleaved rounds ...")
        results = measure(timed, runs=runs, env=env, progress=progress)
    return report(timed, results, runs=runs, entry=memvault, load=(load_before, os.getloadavg()))


def report(
    timed: Sequence[Case],
    results: dict[str, tuple[Timing, Timing]],
    *,
    runs: int,
    entry: Path,
    load: tuple[tuple[float, ...], tuple[float, ...]],
) -> dict[str, Any]:
    """The figures as plain data: ms per case, and every case's ratio to the floor."""
    floor_wall, floor_cpu = results[FLOOR]
    rows = []
    for case in timed:
        wall, cpu = results[case.name]
        rows.append(
            {
                "name": case.name,
                "argv": list(case.argv),
                "wall_ms": _summary(wall),
                "cpu_ms": _summary(cpu),
                "wall_over_floor_p50": _rounded(ratio(wall.p50_ms, floor_wall.p50_ms)),
                "cpu_over_floor_p50": _rounded(ratio(cpu.p50_ms, floor_cpu.p50_ms)),
            }
        )
    return {
        "runs": runs,
        "entry_point": str(entry),
        "python": sys.version.split()[0],
        "floor": f"python -c {FLOOR_IMPORTS!r}",
        "cpus": os.cpu_count(),
        "load_average": {"before": list(load[0]), "after": list(load[1])},
        "cases": rows,
    }


def _summary(t: Timing) -> dict[str, float]:
    # min beside p50/p95: on a shared machine the fastest run is the least disturbed one.
    return {"p50": round(t.p50_ms, 1), "p95": round(t.p95_ms, 1), "min": round(t.min_ms, 1)}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
