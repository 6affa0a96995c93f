"""`memvault bench ann`: exact search against IVF-flat on real text vectors, at a tiny size."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from memvault.cli import cli
from memvault.ops import bench_ann
from memvault.ops.bench_ann import Shape, load_corpus, numpy_floor, recall, tolerance
from memvault.ops.ivf import IvfFlat, default_nlist
from memvault.ops.textcorpus import (
    comment_blocks,
    docstring_paragraphs,
    sentences,
    stdlib_root,
    stdlib_sentences,
)
from memvault.store.search import UnitVectors

pytest.importorskip("wordllama")

TINY = Shape(queries=40, fractions=(0.5, 1.0), nprobes=(1, 2, 4), iterations=5, warmup=1)


@pytest.fixture(scope="module")
def email_sentences() -> list[str]:
    """The email package's docstring and comment sentences: real text, read in < 1 s."""
    return stdlib_sentences(stdlib_root() / "email")


@pytest.fixture(scope="module")
def tiny(email_sentences: list[str]) -> tuple[bench_ann.Corpus, dict[str, Any]]:
    corpus = load_corpus(TINY, lambda _: None, texts=email_sentences)
    return corpus, bench_ann.run(TINY, lambda _: None, corpus=corpus)


def test_the_corpus_is_sentences_of_real_text(email_sentences: list[str]) -> None:
    assert len(email_sentences) > 1000
    assert len(set(email_sentences)) == len(email_sentences)
    assert all(len(s.split()) >= 5 for s in email_sentences)
    assert list(
        sentences("Too short. This sentence is long enough to keep. X = f(a[1], b, c, d)")
    ) == ["This sentence is long enough to keep."]
    source = b'"""Module doc here.\n\n>>> 1 + 1\n2\n"""\ndef f():\n    """Say hi."""\n'
    assert list(docstring_paragraphs(source)) == ["Module doc here.", "Say hi."]
    assert list(docstring_paragraphs(b"def (:")) == []
    assert list(comment_blocks("#!/bin/sh\n# one\n# two\nx = 1\n  # three\n")) == [
        "one two",
        "three",
    ]


def test_queries_are_held_out_and_sizes_are_stated(tiny: tuple[Any, dict[str, Any]]) -> None:
    corpus, report = tiny
    assert not {row.tobytes() for row in corpus.queries} & {row.tobytes() for row in corpus.matrix}
    facts = report["corpus"]
    assert facts["dim"] == corpus.matrix.shape[1] == 256
    assert facts["queries"] == 40 and facts["indexed"] == len(corpus.matrix)
    assert [s["vectors"] for s in report["sizes"]] == [
        round(len(corpus.matrix) / 2),
        len(corpus.matrix),
    ]
    for size in report["sizes"]:
        assert size["nlist"] == default_nlist(size["vectors"])
        assert size["index_overhead_bytes"] > 0 and size["build_seconds"] > 0


def test_recall_is_a_share_and_exact_with_every_list_probed(
    tiny: tuple[Any, dict[str, Any]],
) -> None:
    _, report = tiny
    for size in report["sizes"]:
        assert size["exact"]["recall"] == 1.0
        rows = size["ivf"]
        assert [r["nprobe"] for r in rows] == [1, 2, 4, size["nlist"]]
        assert all(0.0 <= r["recall"] <= 1.0 for r in rows)
        assert all(0.0 <= r["recall_id_overlap"] <= 1.0 for r in rows)
        assert rows[-1]["recall"] == 1.0 and rows[-1]["vectors_scored_share"] == 1.0
        assert rows[0]["recall"] < 1.0  # one list of ~30 misses neighbours on real text
        assert [r["recall"] for r in rows] == sorted(r["recall"] for r in rows)
        assert all(r["timing"]["n"] == 40 for r in rows)
    json.dumps(report)  # the --json output


def test_exact_top_10_is_a_brute_force_argsort(tiny: tuple[Any, dict[str, Any]]) -> None:
    corpus, _ = tiny
    matrix, ids = corpus.matrix, np.arange(len(corpus.matrix))
    exact = UnitVectors.build(ids, matrix)
    for q in corpus.queries:
        scores = (matrix.astype(np.float64) @ q) / np.linalg.norm(matrix, axis=1)
        brute = np.argsort(-scores, kind="stable")[:10].tolist()
        assert [i for i, _ in exact.top_k(q, 10)] == brute
        assert numpy_floor(matrix, q, 10).tolist() == brute


def test_ivf_probing_every_list_finds_what_exact_finds() -> None:
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((8, 16))
    matrix = (centres[rng.integers(0, 8, 400)] + 0.3 * rng.standard_normal((400, 16))).astype(
        np.float32
    )
    index = IvfFlat.build(np.arange(400) + 1000, matrix, 20, seed=1)
    assert sorted(index.ids.tolist()) == list(range(1000, 1400))
    assert int(index.offsets[-1]) == 400
    for q in rng.standard_normal((30, 16)).astype(np.float32):
        truth = (matrix.astype(np.float64) @ q) / np.linalg.norm(matrix, axis=1)
        full = [i - 1000 for i, _ in index.search(q, 10, nprobe=20)]
        assert recall(truth, full, 10, tolerance(16)) == 1.0
        assert len(index.search(q, 10, nprobe=1)) <= 10
    with pytest.raises(ValueError, match="nlist"):
        IvfFlat.build(np.arange(3), matrix[:3], 4)
    with pytest.raises(ValueError, match="zero vector"):
        IvfFlat.build(np.arange(3), np.zeros((3, 16), np.float32), 2)


def test_the_command_prints_tables_and_json(
    monkeypatch: pytest.MonkeyPatch, email_sentences: list[str]
) -> None:
    monkeypatch.setattr(bench_ann, "stdlib_sentences", lambda: email_sentences[:400])
    runner = CliRunner()
    text = runner.invoke(cli, ["bench", "ann", "--queries", "20"])
    assert text.exit_code == 0, text.output
    assert "IVF nprobe 1" in text.output and "Cheapest setting" in text.output
    as_json = runner.invoke(cli, ["bench", "ann", "--queries", "20", "--vectors", "200", "--json"])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert report["corpus"]["indexed"] == 200 and report["corpus"]["queries"] == 20
    assert report["sizes"][-1]["ivf"][-1]["recall"] == 1.0
    too_many = runner.invoke(cli, ["bench", "ann", "--queries", "395"])
    assert too_many.exit_code == 2 and "Traceback" not in too_many.output
    assert "--queries" in too_many.output and "the corpus has 400" in too_many.output


def test_without_the_embedder_the_command_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "wordllama", None)  # import wordllama now fails
    result = CliRunner().invoke(cli, ["bench", "ann"])
    assert result.exit_code == 1
    assert "wordllama" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_faiss_rows_when_faiss_is_installed(tiny: tuple[Any, dict[str, Any]]) -> None:
    corpus, report = tiny
    if bench_ann.bench_ann_faiss.load() is None:
        assert all(size["faiss"] is None for size in report["sizes"])
        return
    for size in report["sizes"]:
        rows = size["faiss"]
        ivf = [r for r in rows if r["index"] == "faiss IVF-flat"]
        assert [r["nprobe"] for r in ivf] == [1, 2, 4, size["nlist"]]
        assert ivf[-1]["recall"] == 1.0
        hnsw = [r for r in rows if r["index"] == "faiss HNSW"]
        assert [r["efSearch"] for r in hnsw] == [16, 32, 64, 128, 256]
        assert all(0.0 <= r["recall"] <= 1.0 and r["overhead_bytes"] > 0 for r in rows)
    no_faiss = bench_ann.run(
        Shape(queries=5, fractions=(1.0,), nprobes=(1,), iterations=2, faiss=False),
        lambda _: None,
        corpus=corpus,
    )
    assert no_faiss["sizes"][0]["faiss"] is None
    assert {r["index"] for r in no_faiss["crossover"]} == {"NumPy IVF-flat"}
