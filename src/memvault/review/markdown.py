"""The review as a Markdown document (what `schema review --format md` prints)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memvault.review.report import Review


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return [*lines, ""]


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _yes(flag: bool) -> str:
    return "**yes**" if flag else "no"


def render_markdown(review: Review) -> str:
    """The whole review, section by section."""
    parts = [f"# Schema review: `{review.database}`", ""]
    for section in (
        _summary,
        _recommendations,
        _alignment,
        _drift,
        _coverage,
        _missing,
        _redundant,
        _unused,
        _foreign_keys,
        _fts,
        _tables,
    ):
        parts += section(review)
    return "\n".join(parts).rstrip() + "\n"


def _summary(r: Review) -> list[str]:
    a = r.alignment
    rows = [
        ("catalog queries explained", len(r.queries)),
        ("queries that cannot run here", sum(1 for q in r.queries if q.error)),
        ("queries with a full scan", sum(1 for q in r.queries if q.full_scan)),
        ("queries sorting in a temporary B-tree", sum(1 for q in r.queries if q.temp_btree)),
        ("missing indexes (verified)", len(r.missing_indexes)),
        ("redundant indexes", len(r.redundant_indexes)),
        ("unused indexes", len(r.unused_indexes)),
        ("model/table mismatches", "models not available" if a is None else len(a.mismatches)),
        (
            "schema drift",
            "none"
            if r.drift.clean
            else f"{len(r.drift.missing)} missing, {len(r.drift.extra)} extra, "
            f"{len(r.drift.changed)} changed",
        ),
        ("foreign key violations", r.foreign_keys.violations),
        ("FTS tables failing integrity-check", sum(1 for f in r.fts if not f.ok)),
    ]
    return ["## Summary", "", *_table(("check", "result"), rows)]


def _recommendations(r: Review) -> list[str]:
    lines = ["## Recommendations", ""]
    lines += [f"{i}. {text}" for i, text in enumerate(r.recommendations, 1)] or ["Nothing to do."]
    return [*lines, ""]


def _alignment(r: Review) -> list[str]:
    lines = ["## Alignment: models against columns", ""]
    a = r.alignment
    if a is None:
        return [*lines, "The store's models are not available; alignment was not checked.", ""]
    lines += [f"Checked {a.fields_checked} fields: {', '.join(a.checked)}.", ""]
    lines += [*(f"- note: {n}" for n in a.notes), ""] if a.notes else []
    if a.aligned:
        return [*lines, "Every field has its column, with a fitting type and nullability.", ""]
    return lines + _table(
        ("table", "column", "model", "kind", "detail"),
        ((m.table, m.column, m.model, m.kind, m.detail) for m in a.mismatches),
    )


def _drift(r: Review) -> list[str]:
    d = r.drift
    lines = [
        "## Schema drift",
        "",
        f"Expected schema: {d.basis} (built by applying them to an empty database).",
        "",
    ]
    if d.clean:
        lines.append(
            "The live schema matches it exactly (tables, columns, indexes, triggers, views)."
        )
    for label, items in (("Missing", d.missing), ("Extra", d.extra), ("Different", d.changed)):
        if items:
            lines += [f"{label}:", ""] + [f"- {i}" for i in items] + [""]
    lines += [f"- note: {n}" for n in d.notes]
    return [*lines, ""]


def _coverage(r: Review) -> list[str]:
    lines = ["## Index coverage (EXPLAIN QUERY PLAN of every catalog query)", ""]
    lines += _table(
        ("query", "index used", "full scan", "temp B-tree", "notes"),
        (
            (
                q.name,
                ", ".join(q.indexes_used) or "-",
                _yes(q.full_scan),
                _yes(q.temp_btree) + (f" ({', '.join(q.temp_btrees)})" if q.temp_btree else ""),
                q.error or "; ".join(q.notes),
            )
            for q in r.queries
        ),
    )
    flagged = [q for q in r.queries if q.full_scan or q.temp_btree]
    if flagged:
        lines += ["Plans of the queries above that scan or sort:", ""]
        for q in flagged:
            lines += [f"- `{q.name}`: " + " → ".join(f"`{s.detail}`" for s in q.plan)]
        lines.append("")
    return lines


def _missing(r: Review) -> list[str]:
    lines = ["## Missing indexes", ""]
    if not r.missing_indexes:
        lines.append("None: no index would remove a scan or a sort from a catalog query.")
    for p in r.missing_indexes:
        lines += [f"- `{p.sql}`", f"  - for {', '.join(p.queries)}; removes: {'; '.join(p.fixes)}"]
    if r.still_unsolved:
        lines.append(
            f"- with all of them in place these still scan or sort: {', '.join(r.still_unsolved)}"
        )
    for name, why in sorted(r.unfixable.items()):
        lines.append(f"- `{name}`: no index proposed: {why}")
    return [*lines, ""]


def _redundant(r: Review) -> list[str]:
    lines = ["## Redundant indexes", ""]
    if not r.redundant_indexes:
        return [*lines, "None.", ""]
    return lines + _table(
        ("index", "columns", "covered by", "why"),
        ((x.index, x.columns, x.covered_by, x.reason) for x in r.redundant_indexes),
    )


def _unused(r: Review) -> list[str]:
    lines = ["## Indexes no catalog query uses", ""]
    if not r.unused_indexes:
        return [*lines, "None.", ""]
    return lines + _table(
        ("index", "columns", "note"), ((u.index, u.columns, u.note or "") for u in r.unused_indexes)
    )


def _foreign_keys(r: Review) -> list[str]:
    fk = r.foreign_keys
    lines = [
        "## Foreign keys and orphans",
        "",
        f"Declared: {'; '.join(fk.declared) or 'none'}.",
        "",
        f"Enforced on memvault's connections (PRAGMA foreign_keys): {_yes(fk.enforced)}. "
        f"Rows violating a foreign key (PRAGMA foreign_key_check): {fk.violations}"
        + (f" ({', '.join(f'{t}: {n}' for t, n in fk.by_table.items())})" if fk.by_table else "")
        + ".",
        "",
    ]
    return lines + _table(
        ("table", "column", "parent", "parent missing", "NULL owner"),
        ((o.table, o.column, o.parent, o.missing_parent, o.null_owner) for o in r.orphans),
    )


def _fts(r: Review) -> list[str]:
    lines = ["## Full-text search (FTS5 integrity-check)", ""]
    if not r.fts:
        return [*lines, "No FTS5 tables.", ""]
    return lines + _table(
        ("table", "content table", "ok", "rows indexed", "content rows", "detail"),
        (
            (f.table, f.content, _yes(f.ok), f.rows_indexed, f.content_rows, f.detail or "")
            for f in r.fts
        ),
    )


def _tables(r: Review) -> list[str]:
    lines = ["## Tables", ""]
    return (
        lines
        + _table(
            ("table", "rows", "table bytes", "index bytes"),
            ((t.name, t.rows, _num(t.bytes), _num(t.index_bytes)) for t in r.tables),
        )
        + ["Bytes are page sizes from SQLite's dbstat (blank when it is not compiled in).", ""]
    )


def _num(value: int | None) -> str:
    return "" if value is None else f"{value:,}"
