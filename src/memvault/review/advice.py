"""Recommendations in plain words, from what the review measured."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memvault.review.report import Review


def recommendations(review: Review) -> list[str]:
    """What to do about each finding, most important first."""
    advice: list[str] = []
    advice += _broken_queries(review)
    advice += _drift(review)
    advice += _missing(review)
    advice += _redundant(review)
    advice += _search(review)
    advice += _alignment(review)
    advice += _data(review)
    advice += _unused(review)
    return advice


def _broken_queries(review: Review) -> list[str]:
    if not review.queries:
        return [
            "The query catalog is empty (the store's queries could not be loaded): "
            "index coverage was not checked."
        ]
    broken = [q for q in review.queries if q.error]
    if not broken:
        return []
    names = ", ".join(q.name for q in broken)
    return [
        f"{len(broken)} catalog quer{'y' if len(broken) == 1 else 'ies'} cannot run on this schema "
        f"({names}); first error: {broken[0].error}. Run `memvault migrate up`."
    ]


def _drift(review: Review) -> list[str]:
    d = review.drift
    if d.clean:
        return []
    parts = []
    if d.missing:
        parts.append("missing " + ", ".join(d.missing))
    if d.extra:
        parts.append("not made by any migration: " + ", ".join(d.extra))
    if d.changed:
        parts.append("different: " + "; ".join(d.changed))
    return [
        f"The schema is not what its migrations produce ({d.basis}): "
        + "; ".join(parts)
        + ". Write a migration for any change you want to keep; never edit the schema by hand."
    ]


def _missing(review: Review) -> list[str]:
    advice = []
    for p in review.missing_indexes:
        removed = ", ".join(sorted({f.split(": ", 1)[1] for f in p.fixes}))
        advice.append(
            f"Add `{p.sql}`: it removes {removed} "
            f"from {', '.join(p.queries)} (checked by re-planning with the index in place)."
        )
    for name, why in sorted(review.unfixable.items()):
        advice.append(f"Query {name} still scans or sorts and no index fixes it: {why}.")
    return advice


def _redundant(review: Review) -> list[str]:
    return [
        f"Drop index {r.index} on {r.columns}: it {r.reason}, so every write pays for two "
        "indexes that serve the same lookups."
        for r in review.redundant_indexes
    ]


def _search(review: Review) -> list[str]:
    notes = sorted({n for q in review.queries for n in q.notes if "LIKE" in n})
    return [f"{n}." for n in notes]


def _alignment(review: Review) -> list[str]:
    a = review.alignment
    if a is None or a.aligned:
        return []
    kinds: dict[str, int] = {}
    for m in a.mismatches:
        kinds[m.kind] = kinds.get(m.kind, 0) + 1
    summary = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(kinds.items()))
    advice = [
        f"Models and tables disagree in {len(a.mismatches)} place(s) ({summary}); see `alignment`."
    ]
    storage = [m for m in a.mismatches if m.kind == "storage"]
    if storage and any(t.name == "memory_embedding_quarantine" for t in review.tables):
        advice.append(
            "Embeddings written as JSON text after migration 003 (by another program, such as "
            "the TypeScript service): `memvault db convert-embeddings` converts them."
        )
    elif storage:
        advice.append(
            "Embeddings are still JSON text; `memvault migrate up` converts them to float32 BLOBs."
        )
    bad_json = sum(m.rows or 0 for m in a.mismatches if m.kind == "invalid_json")
    if bad_json:
        advice.append(
            f"{bad_json} value(s) in JSON columns are not valid JSON; the store keeps and flags "
            "them, but fix them at the source."
        )
    return advice


def _data(review: Review) -> list[str]:
    advice = []
    fk = review.foreign_keys
    if fk.violations:
        where = ", ".join(f"{t} {n}" for t, n in fk.by_table.items())
        advice.append(
            f"{fk.violations} row(s) break a foreign key ({where}): orphans written while "
            "enforcement was off. memvault keeps them; delete them deliberately if they are junk."
        )
    nobody = [o for o in review.orphans if o.null_owner]
    if nobody:
        where = ", ".join(f"{o.table} {o.null_owner}" for o in nobody)
        advice.append(
            f"Rows with a NULL owner ({where}) belong to no tenant: no user can read them."
        )
    for check in review.fts:
        if not check.ok:
            advice.append(
                f"Full-text index {check.table} is out of step with {check.content}: "
                "rebuild it with "
                f"INSERT INTO {check.table}({check.table}) VALUES('rebuild')."
            )
    return advice


def _unused(review: Review) -> list[str]:
    plain = [u for u in review.unused_indexes if u.note is None]
    if not plain:
        return []
    names = ", ".join(u.index for u in plain)
    return [
        f"No catalog query uses {names}; before dropping, make sure no query outside the "
        "store needs it."
    ]
