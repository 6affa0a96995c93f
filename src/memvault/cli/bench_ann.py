"""Tables for `memvault bench ann`: exact search against IVF-flat, per size and nprobe."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from memvault.cli.output import console


def print_report(report: dict[str, Any]) -> None:
    """The corpus, one table per size, the crossover table and the machine's load."""
    c, out = report["corpus"], console()
    out.print(
        f"{c['indexed']:,} vectors indexed, {c['queries']} held-out queries: {c['dim']}-d "
        f"{c['model']} embeddings of {c['sentences']:,} sentences ({c['distinct_vectors']:,} "
        f"distinct vectors) from the {c['source']}; read in {c['read_seconds']} s, embedded "
        f"in {c['embed_seconds']} s. Recall@{report['k']} against float64 exact cosine "
        f"(tolerance {report['tolerance']:.1e})."
    )
    for size in report["sizes"]:
        out.print(_size_table(size))
        builds = {r["index"]: r for r in size["faiss"] or []}
        for name, r in builds.items():
            out.print(
                f"  {name}: built in {r['build_seconds']:.2f} s, "
                f"{r['overhead_bytes'] / 1024:,.0f} KiB beyond the vectors."
            )
    if report["sizes"] and report["sizes"][0]["faiss"] is None:
        out.print("faiss is not installed: its IVF-flat and HNSW rows are left out.")
    out.print(_crossover_table(report["crossover"]))
    env = report["environment"]
    out.print(
        f"Total {report['seconds']} s on {env['cpus']} CPUs; 1-minute load average "
        f"{env['load_before']} before, {env['load_after']} after."
    )


def _size_table(size: dict[str, Any]) -> Table:
    e = size["exact"]
    table = Table(
        title=f"{size['vectors']:,} vectors ({size['floats'] / 1e6:.1f}M floats, "
        f"{size['vectors_bytes'] / 1_048_576:.1f} MiB); IVF-flat nlist {size['nlist']} (lists "
        f"of {size['list_sizes']['min']} to {size['list_sizes']['max']}), built in "
        f"{size['build_seconds']:.2f} s, {size['index_overhead_bytes'] / 1024:.0f} KiB beyond "
        f"the vectors; memvault exact ÷ NumPy floor {e['memvault_over_floor']}x, same top 10 "
        f"for {e['same_top10_as_floor']:.1%} of queries",
        title_justify="left",
    )
    for col in (
        "search",
        "scored",
        "recall@10",
        "id overlap",
        "p50 ms",
        "p95 ms",
        "speed-up p50 (p95)",
    ):
        table.add_column(col, justify="left" if col == "search" else "right")
    table.add_row("memvault exact", "100%", f"{e['recall']:.4f}", "1.0000",
                  _ms(e["memvault"]["p50_ms"]), _ms(e["memvault"]["p95_ms"]), "1x")  # fmt: skip
    table.add_row("NumPy floor", "100%", "", "", _ms(e["numpy_floor"]["p50_ms"]),
                  _ms(e["numpy_floor"]["p95_ms"]), "")  # fmt: skip
    for r in size["ivf"]:
        s = r["speedup_over_memvault"]
        table.add_row(
            f"IVF nprobe {r['nprobe']}", f"{r['vectors_scored_share']:.1%}", f"{r['recall']:.4f}",
            f"{r['recall_id_overlap']:.4f}", _ms(r["timing"]["p50_ms"]),
            _ms(r["timing"]["p95_ms"]), f"{s['p50']}x ({s['p95']}x)",
        )  # fmt: skip
    for r in size["faiss"] or []:
        s = r["speedup_over_memvault"]
        param = "nprobe" if "nprobe" in r else "efSearch"
        table.add_row(
            f"{r['index']} {param} {r[param]}", "", f"{r['recall']:.4f}",
            f"{r['recall_id_overlap']:.4f}", _ms(r["timing"]["p50_ms"]),
            _ms(r["timing"]["p95_ms"]), f"{s['p50']}x ({s['p95']}x)",
        )  # fmt: skip
    return table


def _crossover_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Cheapest setting reaching a recall, per size", title_justify="left")
    columns = ("vectors", "floats", "index", "target", "setting", "recall", "exact p50",
               "index p50", "speed-up")  # fmt: skip
    for col in columns:
        table.add_column(col, justify="left" if col in ("index", "setting") else "right")
    for r in rows:
        found = r["setting"] is not None
        table.add_row(
            f"{r['vectors']:,}", f"{r['floats'] / 1e6:.1f}M", r["index"], f"{r['target_recall']}",
            r["setting"] or "—", f"{r['recall']:.4f}" if found else "—",
            _ms(r["exact_p50_ms"]), _ms(r["index_p50_ms"]) if found else "—",
            f"{r['speedup_p50']}x" if found else "—",
        )  # fmt: skip
    return table


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"
