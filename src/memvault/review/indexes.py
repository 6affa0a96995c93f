"""Indexes that cost writes and space for nothing: redundant ones and unused ones."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from memvault.review.schema import Index, Schema


@dataclass(frozen=True)
class RedundantIndex:
    """`index` can go: `covered_by` serves every lookup it serves."""

    index: str
    table: str
    columns: str
    covered_by: str
    reason: str


@dataclass(frozen=True)
class UnusedIndex:
    """No catalog query's plan uses `index`; `note` says what it may still be for."""

    index: str
    table: str
    columns: str
    note: str | None = None


def _keys(index: Index) -> list[tuple[str, bool, str]]:
    return [(k.term.lower(), k.desc, k.collation.upper()) for k in index.keys]


def _same_order(short: Index, long: Index) -> bool:
    """`short`'s keys lead `long`'s: same terms and collations; directions equal, or all
    reversed (SQLite walks an index backwards as easily as forwards)."""
    a, b = _keys(short), _keys(long)[: len(short.keys)]
    if len(b) < len(a) or [(t, c) for t, _, c in a] != [(t, c) for t, _, c in b]:
        return False
    same = [d for _, d, _ in a] == [d for _, d, _ in b]
    flipped = [d for _, d, _ in a] == [not d for _, d, _ in b]
    return same or flipped


def find_redundant(schema: Schema) -> list[RedundantIndex]:
    """Indexes whose key is a leading part of another index's key (or of the table's
    INTEGER PRIMARY KEY), when they are not UNIQUE and the other is not narrower (partial)."""
    found: list[RedundantIndex] = []
    for index in schema.indexes.values():
        if index.is_auto or index.unique:
            continue
        table = schema.tables.get(index.table)
        rowid = table.rowid_alias if table else None
        if rowid and index.keys and index.keys[0].term.lower() == rowid.lower():
            found.append(
                RedundantIndex(
                    index.name,
                    index.table,
                    index.describe(),
                    f"{index.table}.{rowid}",
                    f"leads with {rowid}, the table's INTEGER PRIMARY KEY (the rowid itself)",
                )
            )
            continue
        cover = _covering(index, schema.indexes_on(index.table))
        if cover is not None:
            found.append(
                RedundantIndex(
                    index.name, index.table, index.describe(), cover.name, _why(index, cover)
                )
            )
    return found


def _covering(index: Index, others: Iterable[Index]) -> Index | None:
    best: Index | None = None
    for other in others:
        if other.name == index.name or not _same_order(index, other):
            continue
        if other.where is not None and other.where != index.where:
            continue  # a partial index holds fewer rows: it cannot stand in
        if (
            len(other.keys) == len(index.keys)
            and not other.is_auto
            and not other.unique
            and other.name > index.name
        ):
            continue  # exact twins: report only one of the pair
        if best is None or (other.is_auto, other.unique) > (best.is_auto, best.unique):
            best = other
    return best


def _why(index: Index, cover: Index) -> str:
    what = {"pk": "the PRIMARY KEY's", "u": "a UNIQUE constraint's"}.get(cover.origin, "")
    if len(cover.keys) == len(index.keys):
        target = f"{what} automatic index {cover.name}" if what else f"index {cover.name}"
        return f"duplicates {target} ({cover.describe()})"
    target = f"{what} automatic index" if what else "index"
    return f"its columns are a leading prefix of {target} {cover.name} ({cover.describe()})"


def find_unused(
    schema: Schema, used: set[str], redundant: Iterable[RedundantIndex]
) -> list[UnusedIndex]:
    """Indexes made with CREATE INDEX that no catalog query's plan uses."""
    redundant_names = {r.index for r in redundant}
    fk_leads = {
        (t.name, fk.columns[0].lower()) for t in schema.tables.values() for fk in t.foreign_keys
    }
    found = []
    for index in schema.indexes.values():
        if index.is_auto or index.name in used:
            continue
        note = None
        first = index.keys[0].term.lower() if index.keys else ""
        if (index.table, first) in fk_leads and not _other_fk_index(
            schema, index, first, redundant_names
        ):
            note = (
                f"the only index leading with foreign key {index.table}.{first}: deleting a parent "
                "row looks children up through it"
            )
        found.append(UnusedIndex(index.name, index.table, index.describe(), note))
    return found


def _other_fk_index(schema: Schema, index: Index, column: str, redundant: set[str]) -> bool:
    return any(
        other.name != index.name
        and other.name not in redundant
        and other.where is None
        and other.keys
        and other.keys[0].term.lower() == column
        for other in schema.indexes_on(index.table)
    )
