"""Bind parameters for drivers that take positional ones only (libSQL's Python client).

memvault's statements use named parameters (`:user_id`) and sqlite3's `?`. The libSQL client
takes a tuple only, and sends Python ints outside the 32-bit range as REAL (it loses
precision above 2**53 and changes their type). `positional()` rewrites a statement once
(cached per statement text) so each named parameter becomes a numbered `?N` (a name used
twice binds once), and wraps a big integer's placeholder in `CAST(?N AS INTEGER)` with
the value sent as text, which SQLite turns back into the exact integer.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from memvault.errors import ConfigError

INT32 = range(-(2**31), 2**31)
_NAME_START = frozenset(":@$")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")

_QUOTES = frozenset("'\"`[")


def _quoted_end(sql: str, i: int) -> int:
    """Where the string literal or quoted identifier opening at `i` ends (past its close)."""
    close = "]" if sql[i] == "[" else sql[i]
    j = sql.find(close, i + 1)
    while j != -1 and close != "]" and sql[j + 1 : j + 2] == close:
        j = sql.find(close, j + 2)  # a doubled quote inside the literal
    return len(sql) if j == -1 else j + 1


def _comment_end(sql: str, i: int) -> int:
    """Where the `--` or `/* */` comment opening at `i` ends (past its newline or `*/`)."""
    if sql.startswith("--", i):
        j = sql.find("\n", i)
        return len(sql) if j == -1 else j + 1
    j = sql.find("*/", i + 2)
    return len(sql) if j == -1 else j + 2


@functools.lru_cache(maxsize=1024)
def _scan(sql: str) -> tuple[tuple[str, ...], tuple[tuple[int, int, str], ...]]:
    """The distinct parameter names of `sql` (in order) and every placeholder's span.

    A span is (start, end, name) for named parameters and (start, end, "") for `?`/`?N`.
    String literals, quoted identifiers and comments are skipped: `':x'` is not a parameter.
    """
    names: list[str] = []
    spans: list[tuple[int, int, str]] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in _QUOTES:
            i = _quoted_end(sql, i)
        elif sql.startswith(("--", "/*"), i):
            i = _comment_end(sql, i)
        elif ch in _NAME_START and i + 1 < n and sql[i + 1] in _NAME_CHARS:
            j = i + 1
            while j < n and sql[j] in _NAME_CHARS:
                j += 1
            name = sql[i + 1 : j]
            if name not in names:
                names.append(name)
            spans.append((i, j, name))
            i = j
        elif ch == "?":
            j = i + 1
            while j < n and sql[j].isdigit():
                j += 1
            spans.append((i, j, ""))
            i = j
        else:
            i += 1
    return tuple(names), tuple(spans)


def without_comments(sql: str) -> str:
    """`sql` with its `--` and `/* */` comments removed (string literals kept as they are)."""
    parts: list[str] = []
    i, n, start = 0, len(sql), 0
    while i < n:
        ch = sql[i]
        if ch in _QUOTES:
            i = _quoted_end(sql, i)
        elif sql.startswith(("--", "/*"), i):
            parts.append(sql[start:i])
            i = start = _comment_end(sql, i)
        else:
            i += 1
    parts.append(sql[start:])
    return " ".join(parts)


def positional(
    sql: str, params: Sequence[Any] | Mapping[str, Any], *, offset: int = 0
) -> tuple[str, tuple[Any, ...]]:
    """`sql` and `params` as a statement with numbered `?N` placeholders and a tuple.

    With `offset`, every placeholder number is shifted by it (`?1` -> `?{1+offset}`), for
    one row of a multi-row statement.
    """
    names, spans = _scan(sql)
    if isinstance(params, Mapping):
        missing = [name for name in names if name not in params]
        if missing:
            raise ConfigError(f"statement needs parameter :{missing[0]}, which was not given")
        values = tuple(params[name] for name in names)
        if not spans:
            return sql, values
        return _rewrite(sql, spans, names, values, offset), _sent(values)
    values = tuple(params)
    if offset or any(not _plain(v) for v in values):
        return _rewrite(sql, spans, (), values, offset), _sent(values)
    return sql, values


def _plain(value: Any) -> bool:
    """True when the client sends `value` faithfully as it is."""
    return not isinstance(value, int) or isinstance(value, bool) or value in INT32


def _sent(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(v if _plain(v) else str(v) for v in values)


@functools.lru_cache(maxsize=1024)
def _rewrite_cached(
    sql: str,
    spans: tuple[tuple[int, int, str], ...],
    names: tuple[str, ...],
    big: frozenset[int],
    offset: int,
) -> str:
    parts: list[str] = []
    last = 0
    counter = 0
    for start, end, name in spans:
        if name:
            number = names.index(name) + 1
        elif end - start > 1:
            number = int(sql[start + 1 : end])
        else:
            counter += 1
            number = counter
        counter = max(counter, number)
        slot = f"?{number + offset}"
        parts.append(sql[last:start])
        parts.append(f"CAST({slot} AS INTEGER)" if number in big else slot)
        last = end
    parts.append(sql[last:])
    return "".join(parts)


def _rewrite(
    sql: str,
    spans: tuple[tuple[int, int, str], ...],
    names: tuple[str, ...],
    values: tuple[Any, ...],
    offset: int = 0,
) -> str:
    big = frozenset(i + 1 for i, v in enumerate(values) if not _plain(v))
    return _rewrite_cached(sql, spans, names, big, offset)
