"""The query catalog: every SQL statement the memory store runs, registered by name.

Repositories never hold SQL of their own: they ask the catalog for it by name
(`catalog.sql("memories.list")`), so a query the catalog does not know cannot run, and the
schema review can EXPLAIN every query the store will ever issue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CatalogQuery:
    """One named statement, with representative parameters for EXPLAIN QUERY PLAN."""

    name: str
    sql: str
    params: Mapping[str, Any] | tuple[Any, ...] = field(default_factory=tuple)
    description: str = ""


_CATALOG: dict[str, CatalogQuery] = {}


def register(
    name: str,
    sql: str,
    params: Mapping[str, Any] | tuple[Any, ...] = (),
    description: str = "",
) -> CatalogQuery:
    """Add a query to the catalog; a name may be registered once."""
    if name in _CATALOG:
        raise ValueError(f"catalog query {name!r} is registered twice")
    query = CatalogQuery(name, " ".join(sql.split()), params, description)
    _CATALOG[name] = query
    return query


def sql(name: str) -> str:
    """The SQL of a registered query; KeyError naming it when unknown."""
    try:
        return _CATALOG[name].sql
    except KeyError:
        raise KeyError(f"query {name!r} is not in the catalog") from None


def catalog() -> Mapping[str, CatalogQuery]:
    """Every registered query, by name (read-only view)."""
    return dict(_CATALOG)
