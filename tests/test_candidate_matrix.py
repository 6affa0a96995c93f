"""similar()'s candidate matrix, read chunk by chunk: the same ids and vectors as row by row."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from memvault.store import embedding as codec
from memvault.store.vectors import candidate_matrix

DIM = 4


def blob(values: list[float]) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


# One stored embedding of each kind a field file holds: what similar() keeps, what it skips.
KINDS: dict[str, Any] = {
    "blob": lambda v: blob(v),
    "json text": lambda v: json.dumps(v),
    "other size": lambda v: blob([*v, 1.0]),
    "empty blob": lambda _v: b"",
    "ragged blob": lambda _v: b"\x00" * (DIM * 4 - 1),
    "garbage text": lambda _v: "{not json",
}
KEPT = {"blob", "json text"}

rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(sorted(KINDS)),
        st.lists(st.floats(-1e3, 1e3, width=32), min_size=DIM, max_size=DIM),
    ),
    max_size=40,
)


def reference(rows: list[tuple[int, Any]]) -> tuple[list[int], list[list[float]]]:
    """Row by row, as the store decodes one memory's embedding."""
    ids, vectors = [], []
    for memory_id, raw in rows:
        try:
            vector = codec.decode(raw)
        except ValueError:
            continue
        if vector is not None and vector.size == DIM:
            ids.append(memory_id)
            vectors.append(vector.tolist())
    return ids, vectors


def chunked(rows: list[tuple[int, Any]], size: int) -> list[list[tuple[int, Any]]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


@settings(max_examples=60, deadline=None)
@given(rows_strategy, st.integers(1, 9), st.integers(0, 50))
def test_chunks_give_what_row_by_row_decoding_gives(
    spec: list[tuple[str, list[float]]], chunk: int, capacity: int
) -> None:
    rows = [(10 + n, KINDS[kind](values)) for n, (kind, values) in enumerate(spec)]
    ids, matrix = candidate_matrix(chunked(rows, chunk), DIM, capacity)
    want_ids, want_vectors = reference(rows)
    assert ids.dtype == np.int64 and matrix.dtype == codec.DTYPE
    assert ids.tolist() == want_ids
    assert matrix.shape == (len(want_ids), DIM)
    assert matrix.tolist() == want_vectors
    assert len(want_ids) == sum(kind in KEPT for kind, _ in spec)


def test_more_rows_than_counted_grow_the_matrix() -> None:
    rows = [(i, blob([float(i)] * DIM)) for i in range(1, 101)]
    ids, matrix = candidate_matrix(chunked(rows, 7), DIM, capacity=3)
    assert ids.tolist() == list(range(1, 101))
    assert matrix[:, 0].tolist() == [float(i) for i in range(1, 101)]


def test_few_vectors_among_many_rows_do_not_keep_the_unused_space() -> None:
    rows = [(1, blob([1.0] * DIM)), (2, "{not json")]
    ids, matrix = candidate_matrix([rows], DIM, capacity=1000)
    assert ids.tolist() == [1] and matrix.shape == (1, DIM)
    assert ids.base is None and matrix.base is None  # copies, not views of 1,000 rows


def test_no_rows_give_empty_arrays_of_the_right_shape() -> None:
    ids, matrix = candidate_matrix([], DIM, capacity=0)
    assert ids.shape == (0,) and matrix.shape == (0, DIM)
