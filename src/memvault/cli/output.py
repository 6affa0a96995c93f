"""Turning library results into text for people and JSON for machines."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from memvault.migrations import Event

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


def console() -> Console:
    """A Rich console on the current stdout (so Click's test runner captures it).

    Strings print as they are: no markup, no emoji codes, so data holding "[b]" or ":x:"
    shows as typed (and Rich's emoji table never loads); style with rich.text.Text.
    """
    probe = Console()
    # Piped or captured output gets room for full names, timestamps and checksums.
    width = None if probe.is_terminal else 160
    return Console(highlight=False, soft_wrap=False, markup=False, emoji=False, width=width)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def info(message: str) -> None:
    """A progress note for people: stderr, so stdout stays clean for SQL or JSON."""
    click.echo(message, err=True)


class MigrationReporter:
    """Listens to executor events and shows them: SQL for dry runs, progress, results."""

    def __init__(self, *, dry_run: bool, quiet: bool) -> None:
        self.dry_run = dry_run
        self.quiet = quiet
        self.statements: dict[tuple[int, str], list[str]] = {}
        self.notes: list[str] = []
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, event: Event) -> None:
        m = event.migration
        if event.kind == "statement" and m is not None and event.sql is not None:
            self.statements.setdefault((m.version, event.direction or ""), []).append(event.sql)
            if self.dry_run and not self.quiet:
                click.echo(event.sql.strip() + ";")
        elif event.kind == "step_start" and m is not None:
            if self.dry_run and not self.quiet:
                click.echo(f"-- {m.label} ({event.direction})")
            elif not self.quiet:
                info(f"{'Applying' if event.direction == 'up' else 'Rolling back'} {m.label} ...")
        elif event.kind == "progress":
            self._show_progress(event)
        elif event.kind == "step_done" and m is not None:
            self._stop_progress()
            if not self.dry_run and not self.quiet:
                verb = "applied" if event.direction == "up" else "rolled back"
                info(f"  {verb} {m.label} in {event.duration_ms} ms")
        elif event.kind == "step_skipped" and m is not None:
            self.notes.append(f"{m.label} was already done by another runner; skipped")
            if not self.quiet:
                info(f"  {m.label}: already done by another runner, skipped")
        elif event.kind == "warning" and event.detail is not None:
            self.notes.append(event.detail)
            if not self.quiet:
                info(("-- " if self.dry_run else "") + event.detail)
        elif event.kind in ("adopted", "lock_wait", "lock_broken", "repaired"):
            note = {
                "adopted": "legacy database: {}",
                "lock_wait": "waiting for the migration lock held by {}",
                "lock_broken": "broke a stale migration lock left by {} (that process is gone)",
                "repaired": "re-recorded checksum: {}",
            }[event.kind].format(event.detail)
            self.notes.append(note)
            if not self.quiet:
                info(("-- " if self.dry_run else "") + note)

    def _show_progress(self, event: Event) -> None:
        if self.quiet or event.total <= 0:
            return
        if self._progress is None:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("  {task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,}"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            label = event.migration.label if event.migration else "migration"
            self._task = self._progress.add_task(label, total=event.total)
        assert self._task is not None
        self._progress.update(self._task, completed=event.done, total=event.total)

    def _stop_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None
