"""The search-at-scale benchmark runs end to end on a small shape and reports what it says."""

from __future__ import annotations

from memvault.ops.bench_search_scale import Shape, run, tenant_sizes


def test_tenant_sizes_are_half_one_percent_and_the_rest_shared() -> None:
    sizes = tenant_sizes(Shape(memories=200_000, tenants=500))
    assert sizes[:2] == [100_000, 2_000] and len(sizes) == 500 and sum(sizes) == 200_000
    assert max(sizes[2:]) - min(sizes[2:]) <= 1


def test_a_small_run_reports_every_tenant_term_and_way() -> None:
    report = run(Shape(memories=1_200, tenants=6, repeat=3, warmup=0))
    results = report["results"]
    assert [(r["tenant"], r["term"]) for r in results] == [
        (t, w) for t in ("50%", "1%", "small") for w in ("common", "mid", "rare")
    ]
    for r in results:
        assert set(r["ms"]) >= {"before_raw", "after_raw", "after_memvault"}
        assert all(0 < v["p50"] <= v["p95"] for v in r["ms"].values())
        # The same words find the same number of the tenant's rows every way, in every file.
        assert len(set(r["hits"].values())) == 1, r["hits"]
        if r["term"] == "rare":  # picked among the words the tenant holds
            assert r["hits"]["after_memvault"] >= 1
    assert all("shared_over_alone_p95" in r for r in results if r["tenant"] == "small")
