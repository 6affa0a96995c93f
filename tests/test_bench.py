"""`memvault bench`: the report's structure and the sanity of its figures (never its speed)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from memvault.cli import cli
from memvault.ops.measure import Timing, time_interleaved

STAGES = {"before", "after_002", "after"}
QUANTILES = ("p50_ms", "p95_ms", "p99_ms")


@pytest.fixture(scope="module")
def tiny_report() -> dict:
    result = CliRunner().invoke(
        cli, ["bench", "--size", "tiny", "--seed", "7", "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    start = result.output.index("{")  # progress notes go to stderr, mixed in by CliRunner
    return json.loads(result.output[start:])


def check_timing(t: dict, n: int) -> None:
    assert t["n"] == n
    assert 0 < t["min_ms"] <= t["p50_ms"] <= t["p95_ms"] <= t["p99_ms"] <= t["max_ms"]


def test_every_query_has_percentiles_before_and_after(tiny_report: dict) -> None:
    repeat, heavy = tiny_report["dataset"]["repeat"], tiny_report["dataset"]["heavy_repeat"]
    queries = tiny_report["queries"]
    assert {"entities.list", "memories.list", "memories.search (FTS5)"} <= set(queries)
    assert "memories.search (seed LIKE scan)" in queries
    for name, entry in queries.items():
        assert set(entry["stages"]) == STAGES, name
        n = heavy if name.startswith("memories.similar") else repeat
        for stage in entry["stages"].values():
            check_timing(stage["raw"], n)
            assert stage["plan"] and stage["rows_mean"] >= 0
            if "memvault" in stage:
                check_timing(stage["memvault"], n)
                assert all(v > 0 for v in stage["memvault_over_raw"].values())
        for variant, ratios in entry["before_over_after"].items():
            assert variant in ("raw", "memvault")
            before, after = entry["stages"]["before"][variant], entry["stages"]["after"][variant]
            assert ratios["p50"] == pytest.approx(before["p50_ms"] / after["p50_ms"], rel=0.01)


def test_memvault_over_raw_is_the_quotient_of_the_two_timings(tiny_report: dict) -> None:
    after = tiny_report["queries"]["memories.list"]["stages"]["after"]
    for q in ("p50", "p95", "p99"):
        expected = after["memvault"][f"{q}_ms"] / after["raw"][f"{q}_ms"]
        assert after["memvault_over_raw"][q] == pytest.approx(expected, rel=0.01)


def test_index_migrations_change_the_listing_plans(tiny_report: dict) -> None:
    """The plans are facts about the schema, not timings: the sort disappears after."""
    entities = tiny_report["queries"]["entities.list"]["stages"]
    assert any("TEMP B-TREE" in line for line in entities["before"]["plan"])
    assert any("idx_entities_user_created" in line for line in entities["after_002"]["plan"])
    memories = tiny_report["queries"]["memories.list"]["stages"]
    assert any("TEMP B-TREE" in line for line in memories["before"]["plan"])
    assert any("idx_memories_user_active_created" in line for line in memories["after"]["plan"])
    assert [m["version"] for m in tiny_report["migrations"]][:3] == [2, 3, 4]


def test_similar_create_many_and_search_sections(tiny_report: dict) -> None:
    similar = tiny_report["similar"]
    assert similar["vectors"] == tiny_report["dataset"]["vectors"] > 0
    assert similar["same_top_k_as_raw"] is True
    for key in ("memvault", "raw_sql", "raw_sql_plus_numpy"):
        check_timing(similar[key], tiny_report["dataset"]["heavy_repeat"])
    for key in ("memvault_cached", "numpy_in_memory"):
        check_timing(similar[key], similar["light_repeat"])
    assert similar["light_repeat"] > tiny_report["dataset"]["heavy_repeat"]
    assert similar["memvault_over_raw_sql"]["p50"] > 0
    create = tiny_report["create_many"]
    assert create["rows"] == similar["vectors"]
    for side in ("memvault", "raw", "raw_indexed"):
        assert create[side]["rows_per_s"] > 0 and create[side]["seconds"] > 0
    for floor in ("raw", "raw_indexed"):
        assert create[f"memvault_over_{floor}"] == pytest.approx(
            create["memvault"]["seconds"] / create[floor]["seconds"], rel=0.02
        )
    search = tiny_report["search_fts_vs_like"]
    assert search["like_over_fts_raw"]["p50"] > 0 and search["fts_rows_mean"] > 0
    terms = search["by_term"]
    assert [t["term"] for t in terms] == tiny_report["dataset"]["search_terms"]
    counts = [t["memories_matching_all_users"] for t in terms]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]  # Zipf-ordered
    for t in terms:
        check_timing(t["fts_raw"], t["fts_raw"]["n"])
        check_timing(t["like_raw"], t["fts_raw"]["n"])


def test_report_names_its_command_dataset_and_environment(tiny_report: dict) -> None:
    assert tiny_report["command"] == "memvault bench --size tiny --seed 7 --json"
    assert tiny_report["size"] == "tiny" and tiny_report["seed"] == 7
    assert tiny_report["environment"]["sqlite"]
    assert tiny_report["seconds"] > 0


def test_same_seed_builds_the_same_data(tiny_report: dict) -> None:
    again = CliRunner().invoke(cli, ["bench", "--size", "tiny", "--seed", "7", "--json"])
    report = json.loads(again.output[again.output.index("{") :])
    assert report["dataset"]["search_terms"] == tiny_report["dataset"]["search_terms"]
    for name, entry in report["queries"].items():
        for stage, result in entry["stages"].items():
            assert result["rows_mean"] == tiny_report["queries"][name]["stages"][stage]["rows_mean"]


def test_human_output_and_nothing_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    result = CliRunner().invoke(cli, ["bench", "--size", "tiny"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Latency (ms)" in result.output and "memvault ÷ raw" in result.output
    assert "create_many:" in result.output and "similar() top 10 of" in result.output
    assert list(tmp_path.iterdir()) == []  # the temporary database is gone


def test_unknown_size_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["bench", "--size", "huge"])
    assert result.exit_code == 2
    assert "huge" in result.output


def test_interleaved_timing_gives_each_function_its_own_samples() -> None:
    calls: list[str] = []
    timings = time_interleaved(
        [lambda: calls.append("a"), lambda: calls.append("b")], repeat=3, warmup=1
    )
    assert calls == ["a", "b"] * 4
    assert all(isinstance(t, Timing) and t.n == 3 for t in timings)


def test_migration_and_review_benchmarks_run_under_one_command(tmp_path: Path) -> None:
    runner = CliRunner()
    migrations = runner.invoke(
        cli,
        ["bench", "migrations", "--users", "1", "--memories-per-user", "20", "--dim", "8",
         "--repeat", "3", "--rounds", "1", "--workdir", str(tmp_path)],
    )  # fmt: skip
    assert migrations.exit_code == 0, migrations.output
    assert "003" in migrations.output and "v3/v4" in migrations.output
    speed = migrations.output
    assert "json.loads floor ÷ 003: best" in speed and "Python heap peak" in speed
    assert "secure_delete ON:" in speed and "WAL" in speed
    rounds = runner.invoke(cli, ["bench", "migrations", "--rounds", "0"])
    assert rounds.exit_code == 2
    review = runner.invoke(
        cli,
        ["bench", "review", "--users", "1", "--entities-per-user", "20",
         "--memories-per-user", "20", "--activity-per-user", "5", "--repeat", "3"],
    )  # fmt: skip
    assert review.exit_code == 0, review.output
    assert "latest" in review.output
    bad = runner.invoke(cli, ["bench", "review", "--no-such-option"])
    assert bad.exit_code == 2


def test_tenant_section_shapes_the_tenants(tiny_report: dict) -> None:
    t = tiny_report["tenants"]
    sizes = {label: c["memories_of_first"] for label, c in t["classes"].items()}
    assert sizes["50%"] == t["memories"] // 2 and sizes["1%"] == t["memories"] // 100
    rest = t["memories"] - sizes["50%"] - sizes["1%"]
    assert abs(sizes["small"] - rest / (t["tenants"] - 2)) <= 1
    assert t["words"]["common"]["share"] > 0.9 > t["words"]["mid"]["share"] > 0.02
    assert t["words"]["rare"]["share"] < 0.01
    for entry in t["classes"].values():
        search = entry["search mid word"]
        assert {"memvault", "raw", "seed_like", "memvault_over_raw"} <= set(search)
        assert entry["similar (no vector cache)"]["memvault"]["n"] >= 2
