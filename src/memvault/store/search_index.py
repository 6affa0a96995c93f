"""The tenant-scoped full-text index: every word is indexed under its tenant's key.

A memory of tenant 12 holding "green tea" is indexed as the tokens `12xgreen 12xtea` in
`memory_search` (FTS5, ascii tokenizer); a search by that tenant asks for `"12xgreen"`, so
the posting list FTS5 reads holds that tenant's rows only and the cost of a search follows
the tenant's own matching rows. Only searchable rows are indexed (memories that are not
archived, every entity, both with a user id).

Python's sqlite3 cannot register an FTS5 tokenizer, so tokens are made here, at write
time. Writers memvault does not control (the TypeScript service, a plain `sqlite3` client)
cannot make them; SQL triggers (migration 009) queue the id of every changed row in
`search_queue` instead, whoever the writer is. `drain` turns the queue into index rows:
memvault runs it in the same transaction as each of its own writes, and before a search
when the queue holds anything. See docs/search.md.

The word rules must stay those of migration 009 (`tests/test_search_index.py` checks they
agree): a change to them needs a migration that rebuilds the index.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from memvault.store.runner import QueryRunner

# Words are runs of letters and digits, like FTS5's unicode61 tokenizer sees them.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_QUERY_WORDS = 32
DRAIN_BATCH = 500

MEMORY_COLUMNS = ("title", "content", "tags")
ENTITY_COLUMNS = ("name", "description", "notes", "tags")


def words(text: str | None) -> list[str]:
    """The words of `text`, case-folded and without diacritics ("Café" -> "cafe")."""
    if not text:
        return []
    if text.isascii():
        return _WORD.findall(text.lower())
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WORD.findall(bare.casefold())


def indexed_text(tenant: int, text: str | None) -> str:
    """A column's value as the index stores it: each word prefixed by the tenant's key."""
    found = words(text)
    if not found:
        return ""
    prefix = f"{tenant}x"
    return prefix + (" " + prefix).join(found)  # one C-level join, no per-word Python


def match_expression(tenant: int, text: str) -> str | None:
    """An FTS5 MATCH requiring every word of `text` under `tenant`; None without words.

    Every word becomes a double-quoted string, so no typed text is ever FTS5 syntax.
    """
    found = words(text)[:MAX_QUERY_WORDS]
    if not found:
        return None
    return " ".join('"' + f"{tenant}x{word}".replace('"', '""') + '"' for word in found)


@dataclass(frozen=True)
class _Kind:
    """One indexed table: its queue kind, index columns and catalog query prefix."""

    name: str
    columns: tuple[str, ...]
    queries: str


MEMORIES = _Kind("memory", MEMORY_COLUMNS, "search.memory")
ENTITIES = _Kind("entity", ENTITY_COLUMNS, "search.entity")


class SearchIndex:
    """Keeps the tenant index in step with the rows, through the change queue."""

    def __init__(self, run: QueryRunner, *, drain_before_search: bool = True) -> None:
        self._run = run
        self._drain_before_search = drain_before_search
        # Set by tenant(): whether the last search ran while changes were still queued
        # (only on a read-only store, which cannot index them; the CLI says so).
        self.searched_with_pending = False

    def tenant(self, user_id: str) -> int | None:
        """The user's index key, draining the queue first so the index is current.

        None when the user has nothing indexed (so nothing can match). A read-only store
        cannot drain: it searches the index as it is and sets `searched_with_pending`, since
        rows changed by another writer since the last drain may then be missed or stale.
        """
        pending = self._run.one("search.pending")
        self.searched_with_pending = False
        if pending is not None and pending["pending"]:
            if self._drain_before_search:
                with self._run.atomic():
                    self.drain()
            else:
                self.searched_with_pending = True
        row = self._run.one("search.tenant", user_id=user_id)
        return None if row is None or row["tenant"] is None else int(row["tenant"])

    def drain(self) -> int:
        """Index every queued row as it is now; the number of queue entries handled.

        Call inside a write transaction (the store's writes do, right after changing rows).
        """
        handled = 0
        while True:
            batch = self._run.one("search.queue_batch", batch=DRAIN_BATCH)
            if batch is None or batch["upto"] is None:
                return handled
            for kind, ids in ((MEMORIES, batch["memories"]), (ENTITIES, batch["entities"])):
                if ids and ids != "[]":
                    self._reindex(kind, ids)
            self._run.execute("search.queue_done", upto=batch["upto"])
            handled += int(batch["size"])
            if int(batch["size"]) < DRAIN_BATCH:
                return handled

    def rebuild(self) -> int:
        """Index every row afresh (one transaction, queue-sized batches); rows indexed.

        Repairs an index made stale by hand (an edited or dropped index row, a trigger that
        was missing for a while).
        """
        with self._run.atomic():
            for kind in (MEMORIES, ENTITIES):
                self._run.execute(f"{kind.queries}_clear")
            self._run.execute("search.requeue_all")
            return self.drain()

    def _reindex(self, kind: _Kind, ids: str) -> None:
        """Replace the index rows of `ids` (a JSON array) by what the rows hold now."""
        self._run.execute(f"{kind.queries}_tenants", ids=ids)
        self._run.execute(f"{kind.queries}_forget", ids=ids)
        rows = self._run.rows(f"{kind.queries}_rows", ids=ids)
        self._run.executemany(f"{kind.queries}_put", _index_rows(kind.columns, rows))


def _index_rows(columns: Sequence[str], rows: Iterable[object]) -> list[dict[str, object]]:
    out = []
    for row in rows:
        tenant = int(row["tenant"])  # type: ignore[index]
        values: dict[str, object] = {"id": row["id"]}  # type: ignore[index]
        for column in columns:
            values[column] = indexed_text(tenant, row[column])  # type: ignore[index]
        out.append(values)
    return out
