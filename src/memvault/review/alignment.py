"""Alignment: every model field against its column, and every column against a field.

Checked both ways by name (field name or alias): a column no field reads, a field no
column stores; then type (the Python type's storage against the column's SQLite
affinity), nullability (a field that cannot be None over a column that allows NULL, and
the reverse), and JSON-ness (JSON fields over TEXT columns; rows whose text is not valid
JSON; vectors stored as float32 BLOBs rather than JSON text).
"""

from __future__ import annotations

import collections.abc
import enum
import importlib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from memvault.db import SQLITE, Database
from memvault.review.schema import Column, Schema

# Which model describes which table: records (what reads return) and fields (what writes accept).
RECORD_MODELS = {
    "users": "User",
    "entities": "Entity",
    "memories": "Memory",
    "interactions": "Interaction",
    "api_usage_tracking": "ApiUsage",
}
WRITE_MODELS = {
    "users": "UserFields",
    "entities": "EntityFields",
    "memories": "MemoryFields",
    "interactions": "InteractionFields",
    "api_usage_tracking": "UsageFields",
}

# Storage kind of a field -> the column affinities that hold it faithfully.
ACCEPTED_AFFINITY = {
    "text": {"TEXT"},
    "integer": {"INTEGER"},
    "boolean": {"NUMERIC", "INTEGER"},
    # INTEGER affinity keeps a non-integral REAL as it is (0.5 stays 0.5): memory importance.
    "real": {"REAL", "NUMERIC", "INTEGER"},
    "json": {"TEXT"},
    "vector": {"BLOB", "TEXT"},
    "blob": {"BLOB"},
}


@dataclass(frozen=True)
class Mismatch:
    """One way a model and its table disagree."""

    table: str
    column: str
    model: str
    kind: str  # missing_column, missing_field, type, nullability, storage, invalid_json
    detail: str
    rows: int | None = None  # rows the mismatch shows up in, when it is about data


@dataclass
class AlignmentReport:
    checked: list[str] = field(default_factory=list)  # "Memory -> memories"
    fields_checked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def aligned(self) -> bool:
        return not self.mismatches


@dataclass(frozen=True)
class FieldKind:
    kind: str
    nullable: bool


def affinity(declared: str) -> str:
    """SQLite's column affinity for a declared type (datatype3.html, section 3.1)."""
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if any(s in t for s in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not t or "BLOB" in t:
        return "BLOB"
    if any(s in t for s in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def field_kind(annotation: Any) -> FieldKind:
    """How a field's Python type is stored: text, integer, boolean, real, json, vector, blob."""
    nullable = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(annotation))
        if len(args) != 1:
            return FieldKind("json", nullable)
        annotation = args[0]
        origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner = field_kind(typing.get_args(annotation)[0])
        return FieldKind(inner.kind, nullable or inner.nullable)
    if annotation is Any:
        return FieldKind("json", True)
    if (
        origin in (list, tuple)
        and typing.get_args(annotation)
        and all(a is float for a in typing.get_args(annotation)[:1])
    ):
        return FieldKind("vector", nullable)
    if _is_float_sequence_type(annotation):  # e.g. the store's Embedding
        return FieldKind("vector", nullable)
    if origin in (list, dict, tuple, set) or annotation in (list, dict):
        return FieldKind("json", nullable)
    return FieldKind(_scalar_kind(annotation), nullable)


def _is_float_sequence_type(annotation: Any) -> bool:
    """A class declared as a Sequence[float] (its generic bases say so)."""
    return isinstance(annotation, type) and any(
        typing.get_origin(base) is collections.abc.Sequence and typing.get_args(base) == (float,)
        for base in getattr(annotation, "__orig_bases__", ())
    )


def _scalar_kind(annotation: Any) -> str:
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return "boolean"
        if issubclass(annotation, int):  # IntEnum included
            return "integer"
        if issubclass(annotation, float):
            return "real"
        if issubclass(annotation, bytes):
            return "blob"
        if issubclass(annotation, str | enum.Enum):
            return "text"
        if issubclass(annotation, BaseModel):
            return "json"
    return "json"


def store_models() -> (
    tuple[dict[str, type[BaseModel]], dict[str, type[BaseModel]], set[str]] | None
):
    """The store's record and write models by table, and fields that are not columns
    (those every record inherits from its base, such as `problems`); None when absent."""
    try:
        module = importlib.import_module("memvault.store.models")
    except ImportError:
        return None
    records = {t: getattr(module, n) for t, n in RECORD_MODELS.items() if hasattr(module, n)}
    writes = {t: getattr(module, n) for t, n in WRITE_MODELS.items() if hasattr(module, n)}
    base = getattr(module, "Record", None)
    ignored = (
        set(base.model_fields) if isinstance(base, type) and issubclass(base, BaseModel) else set()
    )
    return records, writes, ignored


def check_alignment(
    db: Database,
    schema: Schema,
    records: Mapping[str, type[BaseModel]],
    writes: Mapping[str, type[BaseModel]] | None = None,
    ignored: set[str] | None = None,
) -> AlignmentReport:
    """Compare each model with its table; data checks count the rows a mismatch affects."""
    report = AlignmentReport()
    for table, model in records.items():
        _check_model(db, schema, table, model, ignored or set(), report, both_ways=True)
    for table, model in (writes or {}).items():
        _check_model(db, schema, table, model, ignored or set(), report, both_ways=False)
    return report


def _check_model(
    db: Database,
    schema: Schema,
    table_name: str,
    model: type[BaseModel],
    ignored: set[str],
    report: AlignmentReport,
    *,
    both_ways: bool,
) -> None:
    report.checked.append(f"{model.__name__} -> {table_name}")
    table = schema.tables.get(table_name)
    if table is None:
        report.mismatches.append(
            Mismatch(
                table_name,
                "",
                model.__name__,
                "missing_table",
                f"table {table_name} does not exist",
            )
        )
        return
    seen: set[str] = set()
    for name, info in model.model_fields.items():
        if name in ignored:
            continue
        report.fields_checked += 1
        column = table.column(name) or (table.column(info.alias) if info.alias else None)
        if column is None:
            report.mismatches.append(
                Mismatch(
                    table_name,
                    name,
                    model.__name__,
                    "missing_column",
                    f"field {model.__name__}.{name} has no column in {table_name}",
                )
            )
            continue
        seen.add(column.name.lower())
        kind = field_kind(info.annotation)
        for mismatch in _compare(db, table_name, column, model.__name__, name, kind, both_ways):
            report.mismatches.append(mismatch)
        if both_ways and kind.kind == "vector" and affinity(column.type) == "TEXT":
            _note_blobs_in_text_column(db, table_name, column, report)
    if both_ways:
        for column in table.columns:
            if column.name.lower() not in seen:
                report.mismatches.append(
                    Mismatch(
                        table_name,
                        column.name,
                        model.__name__,
                        "missing_field",
                        f"column {table_name}.{column.name} has no field in {model.__name__}",
                    )
                )


def _compare(
    db: Database, table: str, column: Column, model: str, name: str, kind: FieldKind, reads: bool
) -> list[Mismatch]:
    found = []
    aff = affinity(column.type)
    if aff not in ACCEPTED_AFFINITY[kind.kind]:
        found.append(
            Mismatch(
                table,
                column.name,
                model,
                "type",
                f"{model}.{name} is {kind.kind}, "
                f"column is {column.type or '(no type)'} ({aff} affinity)",
            )
        )
    if column.notnull and kind.nullable and not column.pk:
        found.append(
            Mismatch(
                table,
                column.name,
                model,
                "nullability",
                f"{model}.{name} may be None, column is NOT NULL",
            )
        )
    if reads and not column.notnull and not kind.nullable and not column.pk:
        nulls = _count(db, table, f"{SQLITE.quote(column.name)} IS NULL")
        found.append(
            Mismatch(
                table,
                column.name,
                model,
                "nullability",
                f"{model}.{name} cannot be None, column allows NULL ({nulls} NULL rows)",
                nulls,
            )
        )
    if reads and kind.kind == "json" and aff == "TEXT":
        col = SQLITE.quote(column.name)
        bad = _count(db, table, f"{col} IS NOT NULL AND json_valid({col}) = 0")
        if bad:
            found.append(
                Mismatch(
                    table,
                    column.name,
                    model,
                    "invalid_json",
                    f"{table}.{column.name} holds {bad} value(s) that are not valid JSON",
                    bad,
                )
            )
    if reads and kind.kind == "vector":
        text_rows = _count(db, table, f"typeof({SQLITE.quote(column.name)}) = 'text'")
        if text_rows:
            found.append(
                Mismatch(
                    table,
                    column.name,
                    model,
                    "storage",
                    f"{table}.{column.name} holds {text_rows} vector(s) as JSON text; memvault "
                    "stores float32 BLOBs",
                    text_rows,
                )
            )
    return found


def _note_blobs_in_text_column(
    db: Database, table: str, column: Column, report: AlignmentReport
) -> None:
    blobs = _count(db, table, f"typeof({SQLITE.quote(column.name)}) = 'blob'")
    if blobs:
        report.notes.append(
            f"{table}.{column.name} is declared {column.type} but holds {blobs} float32 BLOB(s): "
            "SQLite stores BLOBs as they are under TEXT affinity, so this is safe, but the "
            "declared type no longer describes the data"
        )


def _count(db: Database, table: str, condition: str) -> int:
    return int(db.scalar(f"SELECT count(*) FROM {SQLITE.quote(table)} WHERE {condition}"))
