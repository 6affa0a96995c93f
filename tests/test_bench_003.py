"""`memvault bench migrations --speed-only`: 003 as shipped against the json.loads floor on
identical copies, each in its own process. Checks the figures' shape and that every variant
really converted every embedding; no timing is asserted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import connect
from memvault.migrations import Migrator, load_migrations
from memvault.ops import bench_003
from memvault.testing import build_legacy_database


def _v2(path: Path) -> Path:
    build_legacy_database(
        path, users=1, entities_per_user=2, memories_per_user=30, embedding_dim=8,
        oddities=False, service_edits=False,
    )  # fmt: skip
    db = connect(str(path))
    try:
        Migrator(db, load_migrations(BUILTIN_MIGRATIONS), applied_by="test").to(2)
    finally:
        db.close()
    return path


def test_every_variant_converts_every_embedding(tmp_path: Path) -> None:
    v2 = _v2(tmp_path / "v2.db")
    for variant in bench_003.VARIANTS:
        copy = bench_003.fresh_copy(v2, tmp_path / "run.db")
        result = bench_003.run_child(variant, copy)
        assert result["rows"] == 30 and result["seconds"] > 0, variant
        conn = sqlite3.connect(copy)
        kinds = {r[0] for r in conn.execute("SELECT typeof(embedding) FROM memories")}
        conn.close()
        assert kinds == {"blob"}, (variant, kinds)


def test_compare_reports_every_variant_and_consistent_ratios(tmp_path: Path) -> None:
    report = bench_003.compare(_v2(tmp_path / "v2.db"), tmp_path, rounds=1)
    assert set(report["variants"]) == set(bench_003.VARIANTS)
    v = report["variants"]
    for name, side in v.items():
        assert side["best_s"] > 0 and side["rows_per_s_best"] > 0, name
    expected = v["json.loads floor"]["best_s"] / v["003"]["best_s"]
    assert abs(report["floor_over_003"]["best"] - expected) <= 0.01 + 0.01 * expected
