"""Command line of fastops: ``python -m fastops {info,bench}``.

``info``  -- how fastops was built (``show_config``) and what this machine has
             now (``_runtime_info.runtime_info``); ``--json`` prints one
             sorted, indented JSON document that diffs cleanly across machines.
``bench`` -- side-by-side benchmark of the fastops kernels against NumPy,
             PyTorch and TensorFlow (see ``fastops._bench``).
``compare`` -- two or more ``bench --json`` files side by side (see ``fastops._compare``).
``study``  -- threads vs processes vs intra-op parallelism vs ``fastops.Pipeline`` for
              ResNet-18 inference (see ``fastops._study``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from fastops import _compare

__all__ = ["main", "build_parser", "format_nested"]


# --------------------------------------------------------------------------- argument types


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _name_list(values: Sequence[str] | None) -> list[str] | None:
    """Flatten ``--opt a,b --opt c`` / ``--opt a b`` into ``[a, b, c]`` (None stays None)."""
    if values is None:
        return None
    return [name for value in values for name in value.split(",") if name]


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m fastops`` argument parser."""
    parser = argparse.ArgumentParser(prog="python -m fastops", description="fastops command line")
    sub = parser.add_subparsers(dest="command", metavar="{info,bench,compare,study}", required=True)

    info = sub.add_parser("info", help="build configuration and what this machine has now")
    info.add_argument("--json", action="store_true", help="print one JSON document (sorted keys)")

    bench = sub.add_parser("bench", help="benchmark fastops kernels against NumPy / PyTorch / TensorFlow")
    _add_run_options(bench, "small sizes, short samples (>= 2 ms), 3 repeats: under a minute",
                     "configuration and all samples")
    bench.add_argument("--kernels", nargs="+", metavar="NAME", default=None,
                       help="kernels to benchmark (default: all registered)")
    bench.add_argument("--impls", nargs="+", metavar="NAME", default=None,
                       help="only these implementations (default: all)")
    bench.add_argument("--repeat", type=_positive_int, metavar="N", help="samples per implementation (7; quick: 3)")
    bench.add_argument("--threads", type=_positive_int, metavar="N",
                       help="threads for every library (default: all cores)")
    bench.add_argument("--min-sample-ms", type=_positive_float, metavar="MS",
                       help="minimum duration of one timing sample (20; quick: 2)")
    bench.add_argument("--peak-gflops-fp32", type=_positive_float, metavar="X",
                       help="fp32 peak GFLOP/s for the %%-of-peak column (default: measured by machine-limits)")
    bench.add_argument("--peak-gflops-fp64", type=_positive_float, metavar="X",
                       help="fp64 peak GFLOP/s for the %%-of-peak column (default: measured by machine-limits)")
    bench.add_argument("--keep-blas-env", action="store_true",
                       help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE instead of re-running without them")

    compare = sub.add_parser("compare", help="bench --json result files side by side, with ratios vs the first")
    _compare.add_arguments(compare)

    study = sub.add_parser("study", help="ResNet-18 inference: thread pool vs process pool vs intra-op "
                                         "vs the fastops pipeline (needs torch)")
    _add_run_options(study, "32 images, fewer configurations, one run each: about a minute on 2 cores",
                     "configuration and records")
    study.add_argument("--images", type=_positive_int, metavar="N", help="images per run (96; quick: 32)")
    study.add_argument("--repeat", type=_positive_int, metavar="N",
                       help="runs per configuration, the median is kept (3; quick: 1)")
    study.add_argument("--batch-size", type=_positive_int, metavar="N",
                       help="batch of the batched strategies (8)")
    study.add_argument("--latency-ms", type=_positive_float, metavar="MS",
                       help="added latency per file in the I/O-bound workload (20)")
    study.add_argument("--modes", nargs="+", metavar="MODE", default=None,
                       help="workloads: compute, io (default: both)")
    return parser


def _add_run_options(parser: argparse.ArgumentParser, quick_help: str, json_content: str) -> None:
    """--quick, --json, --plot and --no-progress, shared by the measuring commands."""
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--json", metavar="PATH", help=f"write {json_content} as JSON")
    parser.add_argument("--plot", metavar="PATH", help="write a PNG plot (needs matplotlib)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


# --------------------------------------------------------------------------- info


def format_nested(value: Any, indent: int = 0) -> list[str]:
    """YAML-like lines for nested dicts / lists (dict keys sorted, as in the JSON)."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key in sorted(value, key=str):
            item = value[key]
            if isinstance(item, (Mapping, list, tuple)) and item:
                lines.append(f"{pad}{key}:")
                lines.extend(format_nested(item, indent + 1))
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, (Mapping, list, tuple)) and item:
                sub = format_nested(item, indent + 1)
                lines.append(f"{pad}- {sub[0].lstrip()}")
                lines.extend(sub[1:])
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    else:
        lines.append(f"{pad}{_scalar(value)}")
    return lines


def _scalar(value: Any) -> str:
    """Text of a leaf value (None -> null, empty containers -> [] / {})."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Mapping, list, tuple)):
        return "{}" if isinstance(value, Mapping) else "[]"
    return str(value)


def _build_config() -> dict[str, Any]:
    """``fastops.show_config(mode="dicts")``, or an error record when the build is unusable."""
    try:
        import fastops

        return fastops.show_config(mode="dicts")
    except Exception as exc:  # report rather than crash: info must work on broken builds
        return {"error": f"{type(exc).__name__}: {exc}"}


def info_document() -> dict[str, Any]:
    """``{"build": ..., "runtime": ...}`` as printed by ``info``."""
    from fastops._runtime_info import runtime_info

    return {"build": _build_config(), "runtime": runtime_info()}


def dumps(document: Any) -> str:
    """Stable JSON: sorted keys, indent 2, unknown objects as strings."""
    return json.dumps(document, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def cmd_info(args: argparse.Namespace) -> int:
    """``info``: print the build and runtime information."""
    document = info_document()
    if args.json:
        print(dumps(document))
    else:
        print("\n".join(format_nested(document)))
    return 0


# --------------------------------------------------------------------------- bench


def _resolve_kernels(parser: argparse.ArgumentParser, names: list[str] | None) -> list[Any]:
    """The requested registered kernels; unknown names are a usage error (exit 2)."""
    from fastops import _bench

    names = names or list(_bench.KERNELS)
    unknown = [name for name in names if name not in _bench.KERNELS]
    if unknown:
        parser.error(f"unknown kernel(s): {', '.join(unknown)} (choose from {', '.join(_bench.KERNELS)})")
    return [_bench.KERNELS[name] for name in dict.fromkeys(names)]


def _check_impls(parser: argparse.ArgumentParser, kernels: Sequence[Any], impls: list[str] | None) -> None:
    """Unknown ``--impls`` names are a usage error (exit 2)."""
    if not impls:
        return
    known = {impl.name for kernel in kernels for impl in kernel.impls()}
    unknown = [name for name in impls if name not in known]
    if unknown:
        parser.error(f"unknown implementation(s): {', '.join(unknown)} (choose from {', '.join(sorted(known))})")


def _settings(args: argparse.Namespace) -> Any:
    """Benchmark settings from the command line (quick mode changes the defaults)."""
    from fastops._bench import Settings

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    repeat = args.repeat or (3 if args.quick else 7)
    min_ms = args.min_sample_ms or (2.0 if args.quick else 20.0)
    return Settings(threads=args.threads, peer_threads=args.threads or cores,
                    min_sample_s=min_ms / 1000.0, repeat=repeat)


def _fastops_threads(threads: int | None) -> int:
    """The OpenMP thread count fastops uses for ``num_threads=threads``."""
    try:
        from fastops._openmp_helpers import openmp_effective_n_threads

        return int(openmp_effective_n_threads(threads))
    except ImportError:
        return threads or os.cpu_count() or 1


def _header_lines(settings: Any, fastops_threads: int, peaks: Mapping[str, float | None], peak_source: str,
                  blas: Sequence[Mapping[str, Any]], build_blas: Mapping[str, Any], forced: Mapping[str, str],
                  removed: str | None, foreign_load: float | None = None) -> list[str]:
    """The lines printed above the table: threads, timing, peaks, BLAS kernels, warnings."""
    lines = [
        f"threads: fastops {fastops_threads} (OpenMP{'' if settings.threads else ', default'}), "
        f"peers {settings.peer_threads}; {settings.repeat} samples of >= {settings.min_sample_s * 1e3:g} ms, "
        "median reported",
        "peak GFLOP/s: " + ", ".join(f"{k} {v:g}" if v else f"{k} -" for k, v in peaks.items())
        + f" (source: {peak_source})",
    ]
    for entry in blas:
        lines.append(f"BLAS kernel: {entry['owner']}: {entry['library']} {entry['version']} "
                     f"architecture={entry['architecture']} threads={entry['num_threads']}")
    if build_blas:
        lines.append(f"fastops build BLAS: library={build_blas.get('library')} "
                     f"corename={build_blas.get('corename')} found={build_blas.get('found')}")
    if foreign_load is not None:
        lines.append(f"other processes used {100 * foreign_load:.0f}% of the CPUs during the run")
        if foreign_load > 0.10:
            lines.append("WARNING: the machine was busy with other work: timings are unreliable "
                         "(OpenMP-based implementations suffer most); re-run on an idle machine")
    if removed:
        lines.append(f"note: re-executed without {removed} so OpenBLAS picks its best kernel")
    if forced:
        lines.append("WARNING: " + "!" * 60)
        lines.append("WARNING: --keep-blas-env: NumPy (and fastops-blas, if it uses OpenBLAS) ran with a forced "
                     "BLAS kernel: " + ", ".join(f"{k}={v}" for k, v in forced.items()))
        lines.append("WARNING: peers are NOT at their best; ratios overstate fastops")
        lines.append("WARNING: " + "!" * 60)
    return lines


def _threadpool_limits(threads: int) -> Any:
    """Limit the BLAS thread pools (NumPy's OpenBLAS, ...) to ``threads``; a no-op without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def cmd_bench(args: argparse.Namespace, parser: argparse.ArgumentParser, argv: Sequence[str],
              env: Mapping[str, str]) -> int:
    """``bench``: re-exec without forced BLAS kernels if needed, run, print the table, write JSON / plot.

    ``env`` is the environment the decision is based on (``os.environ`` from :func:`main`).
    """
    from fastops import _bench

    kernels = _resolve_kernels(parser, _name_list(args.kernels))
    impls = _name_list(args.impls)
    _check_impls(parser, kernels, impls)
    if _bench.should_reexec(env, args.keep_blas_env):
        return _bench.reexec_bench(argv, env)
    settings = _settings(args)
    fastops_threads = _fastops_threads(settings.threads)
    monitor = _bench.LoadMonitor()
    peaks, peak_source = _bench.resolve_peaks(fastops_threads, args.peak_gflops_fp32, args.peak_gflops_fp64)
    peak_load = monitor.foreign_fraction()
    if peak_source.startswith("/") and peak_load is not None and peak_load >= _bench.BUSY_THRESHOLD:
        peak_source += f"; WARNING: measured while other processes used {100 * peak_load:.0f}% of the CPUs"
    try:
        with _threadpool_limits(settings.peer_threads):
            run = _bench.run_bench(kernels, settings, quick=args.quick, only_impls=impls, peaks=peaks,
                                   show_progress=not args.no_progress)
            config = _bench_config(args, settings, fastops_threads, peaks, peak_source, env)
    except _bench.ImplementationError as exc:
        print(f"\nERROR: {exc}", file=sys.stderr)
        return 1
    run.notes.extend(_bench._TF_NOTES)
    config["bench"]["foreign_cpu_load"] = run.foreign_load
    build_blas = config["build"].get("blas", {}) if isinstance(config["build"], Mapping) else {}
    for line in _header_lines(settings, fastops_threads, peaks, peak_source, config["blas_kernels"], build_blas,
                              config["bench"]["forced_blas_env"], config["bench"]["removed_blas_env"],
                              run.foreign_load):
        print(line)
    for kernel in kernels:
        print()
        table = _bench.format_table([r for r in run.results if r.kernel == kernel.name], run.impl_names[kernel.name],
                                    run.fastops_impls[kernel.name], unit=kernel.unit,
                                    missing=run.missing.get(kernel.name),
                                    failed=run.failed, unsupported=run.unsupported,
                                    fma_peak=kernel.peak == "dtype")
        print(table)
        if run.fastops_impls[kernel.name]:
            print("x <impl> = best peer time / <impl> time (> 1: fastops faster); "
                  "best peer = fastest non-fastops implementation")
            print(f"x {run.fastops_impls[kernel.name][0]} IQR = middle half of the per-round ratios "
                  "(samples are taken round-robin): a range that spans 1 is a tie on this machine")
        if "x at peak" in table.splitlines()[0]:
            print("x at peak = FMA peak / best peer's rate: the most any implementation could beat the best peer "
                  "by on this machine (a speed-up target above it cannot be met here)")
        if "% copy" in table.splitlines()[0]:
            print("% copy = operands read once and the result written once, per second, as % of the copy "
                  "bandwidth: near 100 the case is memory-bound (above 100: its data stay in cache)")
        if "  busy" in table.splitlines()[0]:
            print("busy = share of the CPUs other processes used while that row was timed: such rows are unreliable")
    for note in run.notes:
        print(f"note: {note}")
    for (kernel, case, dtype, impl), message in run.failed.items():
        print(f"note: {impl} failed on {kernel} {case} {dtype}: {message}")
    for (kernel, case, dtype, impl), message in run.unsupported.items():
        print(f"note: n/a = {impl} cannot do {kernel} {case} {dtype}: {message}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(dumps(_bench.results_json(run, config)) + "\n")
        print(f"wrote {args.json}")
    if args.plot:
        try:
            _bench.plot_results(run, args.plot, kernels)
        except RuntimeError as exc:
            print(f"ERROR: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {args.plot}")
    return 0


def _bench_config(args: argparse.Namespace, settings: Any, fastops_threads: int,
                  peaks: Mapping[str, float | None], peak_source: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The JSON ``config``: build, runtime (taken after the run, so all loaded libraries show),
    the BLAS kernel each library used, and the benchmark settings."""
    from fastops import _bench

    document = info_document()
    pools = (document["runtime"].get("threadpools") or {}).get("entries") or []
    return {
        **document,
        "blas_kernels": _bench.blas_kernels(pools),
        "bench": {
            "quick": bool(args.quick),
            "repeat": settings.repeat,
            "min_sample_s": settings.min_sample_s,
            "threads_requested": settings.threads,
            "fastops_threads": fastops_threads,
            "peer_threads": settings.peer_threads,
            "peak_gflops": dict(peaks),
            "peak_source": peak_source,
            "forced_blas_env": _bench.forced_blas_env(env),
            "removed_blas_env": env.get(_bench.REEXEC_MARKER) or None,
            "argv": list(sys.argv),
        },
    }


# --------------------------------------------------------------------------- study


def _study_settings(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Any:
    """Study settings from the command line (quick mode changes the defaults)."""
    from dataclasses import replace

    from fastops._study import MODES, StudySettings

    settings = StudySettings.quick() if args.quick else StudySettings()
    modes = _name_list(args.modes)
    if modes is not None:
        unknown = [m for m in modes if m not in MODES]
        if unknown or not modes:
            parser.error(f"study --modes: unknown {unknown}; choose from {', '.join(MODES)}")
        settings = replace(settings, modes=tuple(dict.fromkeys(modes)))
    if args.images:
        settings = replace(settings, images=args.images)
    if args.batch_size:
        settings = replace(settings, batch_size=args.batch_size)
    if args.repeat:
        settings = replace(settings, repeats=args.repeat)
    if args.latency_ms:
        settings = replace(settings, latency_s=args.latency_ms / 1e3)
    return settings


def cmd_study(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``study``: run every strategy on every workload, print the table and summary, write JSON / plot.
    Exits 1 when a strategy's outputs differ from the sequential baseline's."""
    from dataclasses import asdict

    try:
        import torch
    except ImportError:
        print("ERROR: the study needs PyTorch: pip install 'fastops-kernels[bench]' (torch==2.13.0)",
              file=sys.stderr)
        return 1
    from fastops import _bench, _study, _study_report

    settings = _study_settings(args, parser)
    print(f"ResNet-18 (random weights), {settings.images} images of sizes "
          f"{', '.join(f'{h}x{w}' for h, w in _study.IMAGE_SIZES)} -> resize {_study.RESIZE}, "
          f"crop {_study.CROP}; {settings.cores} cores; torch {torch.__version__}; "
          f"I/O latency {settings.latency_s * 1e3:g} ms per file")
    progress = _bench.Progress(_study.count_runs(settings), enabled=not args.no_progress)
    try:
        records = _study.run_study(settings, step=progress.step)
    finally:
        progress.close()
    print(_study_report.format_table(records))
    print()
    for line in _study_report.summary(records):
        print(line)
    if args.json:
        config = {**info_document(), "study": {**asdict(settings), "quick": bool(args.quick),
                                               "argv": list(sys.argv)}}
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(dumps(_study_report.study_json(records, config)) + "\n")
        print(f"wrote {args.json}")
    if args.plot:
        try:
            _study_report.plot_study(records, args.plot)
        except RuntimeError as exc:
            print(f"ERROR: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {args.plot}")
    differ = [r for r in records if r.mismatches]
    for r in differ:
        print(f"ERROR: {r.mode} {r.strategy} x{r.workers} ({r.config}): the outputs of "
              f"{r.mismatches} images differ from the sequential run's", file=sys.stderr)
    return 1 if differ else 0


# --------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run the command line; returns the exit code (argparse usage errors raise SystemExit(2)).

    ``env`` (default ``os.environ``) is only read, to decide on and describe
    the BLAS re-exec; tests pass a dict instead of touching the real environment.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if env is None else env
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            return cmd_info(args)
        if args.command == "compare":
            return _compare.run(args)
        if args.command == "study":
            return cmd_study(args, parser)
        return cmd_bench(args, parser, argv, env)
    except BrokenPipeError:  # e.g. `python -m fastops info | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
