"""`memvault bench`: measure the store on a synthetic dataset; a thin shell over memvault.ops."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from memvault.cli.app import cli
from memvault.cli.output import console, emit_json, info
from memvault.ops.bench import DEFAULT_SEED, iter_rows, run_bench
from memvault.ops.benchdata import SIZES


@cli.group(invoke_without_command=True)
@click.option(
    "--size",
    type=click.Choice(["small", "medium", "large", "tiny"]),
    default="small",
    show_default=True,
    help="Dataset size: small runs in a few minutes, medium longer; large is the tenant "
    "section alone at 1M memories over 1,000 tenants (~15 min to build here); tiny is for tests.",
)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Data seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
def bench(ctx: click.Context, size: str, seed: int, as_json: bool) -> None:
    """Time the store against raw sqlite3; `bench migrations` and `bench review` time the
    migrations and the schema review's findings.

    Without a subcommand: builds a seeded dataset in a temporary file at the legacy schema
    (version 1), times the queries, applies the migrations and times them again; then the
    tenant section (one tenant 50%, one 1%, the rest 49%) per tenant size. Reports
    p50/p95/p99, before ÷ after, and memvault ÷ raw for the same SQL, all in one run. The
    -d/--database option is not used.
    """
    if ctx.invoked_subcommand is not None:
        return
    report = run_bench(SIZES[size], seed=seed, progress=info)
    seed_arg = [] if seed == DEFAULT_SEED else ["--seed", str(seed)]
    report["command"] = shlex.join(
        ["memvault", "bench", "--size", size, *seed_arg, *(["--json"] if as_json else [])]
    )
    if as_json:
        emit_json(report)
    else:
        _print(report)


def _print(report: dict[str, Any]) -> None:
    if "dataset" in report:
        _print_stages(report)
    if "tenants" in report:
        _print_tenants(report["tenants"])
    out = console()
    out.print(f"Total {report['seconds']} s on {report['environment']['cpus']} CPUs.")


def _print_tenants(t: dict[str, Any]) -> None:
    out = console()
    words = ", ".join(
        f"{label} {w['word']!r} in {w['share']:.2%} of memories" for label, w in t["words"].items()
    )
    out.print(
        f"Tenants: {t['memories']:,} memories over {t['tenants']:,} tenants (one 50%, one 1%, "
        f"the rest 49%), {t['words_per_memory']} words each from a {t['vocabulary']:,}-word "
        f"Zipf vocabulary, {t['dim']}-d embeddings; built in {t['build_seconds']} s "
        f"({t['file_bytes'] / 1_048_576:,.0f} MiB). Words: {words}."
    )
    for label, entry in t["classes"].items():
        table = Table(
            title=f"{label} tenant ({entry['memories_of_first']:,} memories; "
            f"{entry['tenants_timed']} tenant(s) in turn), ms",
            title_justify="left",
        )
        for col in ("operation", "variant", "n", "p50", "p95", "p99", "memvault ÷ it p50 (p95)"):
            table.add_column(col, justify="left" if col in ("operation", "variant") else "right")
        for name, variants in entry.items():
            if not isinstance(variants, dict):
                continue
            for variant, timing in variants.items():
                if variant.startswith("memvault_over_"):
                    continue
                ratio = variants.get(f"memvault_over_{variant}")
                table.add_row(
                    name, variant, str(timing["n"]), _ms(timing["p50_ms"]),
                    _ms(timing["p95_ms"]), _ms(timing["p99_ms"]), _pair(ratio),
                )  # fmt: skip
        out.print(table)


def _print_stages(report: dict[str, Any]) -> None:
    out = console()
    d = report["dataset"]
    out.print(
        f"Dataset ({report['size']}, seed {report['seed']}): {d['users']} users x "
        f"{d['entities_per_user']} entities, {d['memories_per_user']} memories "
        f"({d['legacy_embedding_dim']}-d JSON embeddings at v1); {d['vectors']:,} vectors "
        f"of {d['vector_dim']} dimensions for similar() and create_many."
    )
    out.print(_latency_table(report))
    out.print(_ratio_table(report))
    out.print(_term_table(report))
    _print_similar(report)
    _print_create_many(report)
    steps = ", ".join(f"{m['version']:03d} {m['duration_ms']} ms" for m in report["migrations"])
    out.print(f"Migrations applied during the run: {steps}.")


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _latency_table(report: dict[str, Any]) -> Table:
    table = Table(title="Latency (ms)", title_justify="left")
    for col in ("query", "stage", "variant", "n", "p50", "p95", "p99", "rows"):
        table.add_column(col, justify="left" if col in ("query", "stage", "variant") else "right")
    for name, stage, variant, t in iter_rows(report):
        rows = report["queries"][name]["stages"][stage]["rows_mean"]
        table.add_row(
            name, stage, variant, str(t["n"]), _ms(t["p50_ms"]), _ms(t["p95_ms"]),
            _ms(t["p99_ms"]), f"{rows:g}",
        )  # fmt: skip
    return table


def _ratio_table(report: dict[str, Any]) -> Table:
    table = Table(title="Ratios at p50 (p95)", title_justify="left")
    for col in ("query", "before ÷ after (raw)", "before ÷ after (memvault)", "memvault ÷ raw"):
        table.add_column(col, justify="left" if col == "query" else "right")
    for name, entry in report["queries"].items():
        speed = entry["before_over_after"]
        after = entry["stages"]["after"]
        table.add_row(
            name,
            _pair(speed.get("raw")),
            _pair(speed.get("memvault")),
            _pair(after.get("memvault_over_raw")),
        )
    return table


def _term_table(report: dict[str, Any]) -> Table:
    table = Table(title="Search per term, newest schema, raw SQL (ms)", title_justify="left")
    for col in ("term", "memories holding it", "FTS5 p50", "FTS5 p95", "LIKE p50", "LIKE p95"):
        table.add_column(col, justify="left" if col == "term" else "right")
    for t in report["search_fts_vs_like"]["by_term"]:
        fts, like = t["fts_raw"], t["like_raw"]
        table.add_row(
            t["term"], f"{t['memories_matching_all_users']:,}", _ms(fts["p50_ms"]),
            _ms(fts["p95_ms"]), _ms(like["p50_ms"]), _ms(like["p95_ms"]),
        )  # fmt: skip
    return table


def _pair(ratios: dict[str, float | None] | None) -> str:
    if not ratios or ratios["p50"] is None:
        return "—"
    return f"{ratios['p50']:.2f}x ({ratios['p95']:.2f}x)"


def _print_similar(report: dict[str, Any]) -> None:
    s, f = report["similar"], report["search_fts_vs_like"]
    out = console()
    out.print(
        f"Search, newest schema, all terms: seed LIKE scan ÷ FTS5 (raw) p50 "
        f"{_ratio(f['like_over_fts_raw'])} ({f['like_rows_mean']:g} vs {f['fts_rows_mean']:g} "
        "rows returned on average)."
    )
    out.print(
        f"similar() top {s['k']} of {s['vectors']:,} x {s['dim']}-d, uncached: p50 "
        f"{_ms(s['memvault']['p50_ms'])} ms, p95 {_ms(s['memvault']['p95_ms'])} ms, p99 "
        f"{_ms(s['memvault']['p99_ms'])} ms; raw SQL fetch p50 {_ms(s['raw_sql']['p50_ms'])} ms "
        f"(memvault ÷ raw {s['memvault_over_raw_sql']['p50']:.2f}x), fetch + NumPy p50 "
        f"{_ms(s['raw_sql_plus_numpy']['p50_ms'])} ms "
        f"(memvault ÷ it p50 (p95) {_pair(s['memvault_over_raw_sql_plus_numpy'])}); with the "
        f"store's vector cache warm p50 {_ms(s['memvault_cached']['p50_ms'])} ms, p95 "
        f"{_ms(s['memvault_cached']['p95_ms'])} ms against NumPy on vectors already in memory "
        f"p50 {_ms(s['numpy_in_memory']['p50_ms'])} ms, p95 "
        f"{_ms(s['numpy_in_memory']['p95_ms'])} ms "
        f"({_pair(s['memvault_cached_over_numpy_in_memory'])}); same top-k: "
        f"{s['same_top_k_as_raw']}."
    )


def _ratio(ratios: dict[str, float | None]) -> str:
    return "n/a" if ratios["p50"] is None else f"{ratios['p50']:.2f}x"


def _print_create_many(report: dict[str, Any]) -> None:
    for c in (report["create_many"], report["create_many"]["without_embeddings"]):
        what = f"{c['dim']}-d embeddings (NumPy arrays)" if c["dim"] else "no embeddings"
        console().print(
            f"create_many, {what}: {c['rows']:,} rows in batches of {c['batch_size']}: "
            f"memvault {c['memvault']['rows_per_s']:,.0f} rows/s; raw executemany "
            f"{c['raw']['rows_per_s']:,.0f} rows/s, rows left queued for search (memvault ÷ "
            f"raw time {c['memvault_over_raw']}x); raw executemany + the same search "
            f"indexing {c['raw_indexed']['rows_per_s']:,.0f} rows/s (memvault ÷ that "
            f"{c['memvault_over_raw_indexed']}x); batch p50 "
            f"{_ms(c['memvault']['batch']['p50_ms'])} ms vs "
            f"{_ms(c['raw']['batch']['p50_ms'])} / {_ms(c['raw_indexed']['batch']['p50_ms'])} ms."
        )


_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


@bench.command(context_settings=_PASS_THROUGH)
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
def migrations(options: tuple[str, ...]) -> None:
    """Migrations 003 and 004 on a v1.3.5-shaped file (see --help of this subcommand)."""
    from memvault.ops.bench_migrations import main

    _run_argparse(main, options)


@bench.command(context_settings=_PASS_THROUGH)
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
def review(options: tuple[str, ...]) -> None:
    """What the schema review's index findings are worth, and the seed's claimed figures."""
    from memvault.ops.bench_review import main

    _run_argparse(main, options)


def _run_argparse(main: Any, options: tuple[str, ...]) -> None:
    """Run a report whose options argparse reads; its usage errors exit 2 as ours do."""
    try:
        main(list(options))
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise click.exceptions.Exit(2) from None


@bench.command("search-scale")
@click.option("--memories", type=click.IntRange(1000), default=200_000, show_default=True)
@click.option("--tenants", type=click.IntRange(3), default=500, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def search_scale(memories: int, tenants: int, as_json: bool) -> None:
    """A tenant's search in a shared file against the same tenant alone, before and after
    migration 009 (tenant-scoped search), wall-clock and CPU p50/p95 (several minutes)."""
    from memvault.ops import bench_search_scale as scale

    report = scale.run(scale.Shape(memories=memories, tenants=tenants), progress=info)
    if as_json:
        emit_json(report)
    else:
        scale.print_report(report)


@bench.command(context_settings=_PASS_THROUGH)
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
def mcp(options: tuple[str, ...]) -> None:
    """MCP tool round trips for recall over 10k memories, and `memvault mcp` start-up to the
    first tools/list answer (needs the [mcp] extra)."""
    from memvault.mcp.bench import main

    _run_argparse(main, options)


@bench.command(context_settings=_PASS_THROUGH)
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
def libsql(options: tuple[str, ...]) -> None:
    """Store calls on a libSQL server against the raw libsql client replaying the same
    requests, with request counts (give an empty database's URL)."""
    from memvault.ops.bench_libsql import main

    _run_argparse(main, options)


@bench.command()
@click.option("--queries", type=click.IntRange(1), default=500, show_default=True,
              help="Held-out sentences to query with.")  # fmt: skip
@click.option("--vectors", type=click.IntRange(100), default=None,
              help="Index at most this many vectors (default: every other sentence).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def ann(queries: int, vectors: int | None, as_json: bool) -> None:
    """Exact top-10 against an IVF-flat index on real text: the stdlib's docstring and
    comment sentences embedded offline (needs the [mcp] extra); recall, latency, build
    time and memory, at 1/16, 1/4, 1/2 and all of the vectors (a few minutes)."""
    from memvault.cli.bench_ann import print_report
    from memvault.ops import bench_ann

    try:
        report = bench_ann.run(bench_ann.Shape(queries=queries, vectors=vectors), progress=info)
    except bench_ann.CorpusTooSmall as exc:
        raise click.BadParameter(str(exc), param_hint="--queries") from None
    if as_json:
        emit_json(report)
    else:
        print_report(report)


@bench.command()
@click.option("--runs", type=click.IntRange(1), default=30, show_default=True)
@click.option(
    "--also",
    "others",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Another installation's memvault entry point to time in the same rounds "
    "(e.g. an older version); repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def startup(runs: int, others: tuple[Path, ...], as_json: bool) -> None:
    """Start-up of the installed `memvault` (migrate status, --version, user list) beside
    `python -c pass` and the floor (click, rich.table, sqlite3), interleaved, in subprocesses."""
    from memvault.ops import bench_startup

    report = bench_startup.run(runs=runs, others=others, progress=info)
    if as_json:
        emit_json(report)
        return
    table = Table(title="Start-up, ms (fresh subprocess each run)", title_justify="left")
    columns = (
        "command",
        "wall p50",
        "p95",
        "min",
        "CPU p50",
        "p95",
        "min",
        "÷ floor p50 wall (CPU)",
    )
    for col in columns:
        table.add_column(col, justify="left" if col == "command" else "right")
    for c in report["cases"]:
        wall, cpu = c["wall_ms"], c["cpu_ms"]
        table.add_row(
            Text(c["name"]), *(f"{t[k]:.1f}" for t in (wall, cpu) for k in ("p50", "p95", "min")),
            f"{c['wall_over_floor_p50']:.2f}x ({c['cpu_over_floor_p50']:.2f}x)",
        )  # fmt: skip
    out = console()
    out.print(table)
    load = report["load_average"]
    out.print(
        Text(
            f"{report['runs']} interleaved rounds on {report['cpus']} CPUs, Python "
            f"{report['python']}; floor = {report['floor']}; entry point {report['entry_point']}; "
            f"load average {load['before'][0]:.2f} before, {load['after'][0]:.2f} after."
        )
    )
