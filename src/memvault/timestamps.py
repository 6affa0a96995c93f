"""The one timestamp format memvault writes: the legacy service's `2025-10-06T12:00:00.000Z`."""

from __future__ import annotations

from datetime import UTC, datetime


def format_iso(moment: datetime) -> str:
    """A datetime as the legacy ISO text: UTC, milliseconds, a trailing Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now_iso() -> str:
    """The current time as the legacy ISO text."""
    return format_iso(datetime.now(UTC))
