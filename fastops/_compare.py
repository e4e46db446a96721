"""``python -m fastops compare A.json B.json [C.json ...] [--plot PATH]``.

Puts two or more ``python -m fastops bench --json`` result files (other
machines, build profiles, commits) side by side: first the settings that
explain a difference (build profile, compiler flags, active SIMD variant, CPU
model and SIMD features, BLAS kernel, threads), each marked ``!`` where the
files disagree; then one row per (kernel, case, dtype, impl) with every
file's median time and its speed relative to the first file (A time / X time,
> 1: X is faster); then the geometric mean of those ratios per implementation.
"""

from __future__ import annotations

import argparse
import json
import math
import string
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastops._bench import _align, format_time

__all__ = ["ResultFile", "CONFIG_FIELDS", "add_arguments", "load", "config_lines", "table_lines",
           "summary_lines", "route_lines", "plot_ratios", "run"]

#: (kernel, case, dtype, impl)
Key = tuple[str, str, str, str]

#: Settings shown at the top: label -> path into the JSON ``config`` ("*" maps over a list).
CONFIG_FIELDS: dict[str, tuple[str, ...]] = {
    "build profile": ("build", "build", "profile"),
    "compiler args": ("build", "build", "compiler", "args"),
    "SIMD active": ("build", "simd", "active"),
    "CPU model": ("runtime", "cpu", "model"),
    "CPU family": ("runtime", "cpu", "family"),
    "CPU SIMD features": ("runtime", "cpu", "simd_features"),
    "logical cores": ("runtime", "cpu", "logical_cores"),
    "BLAS libraries": ("blas_kernels", "*", "owner"),
    "BLAS kernels": ("blas_kernels", "*", "architecture"),
    "fastops threads": ("bench", "fastops_threads"),
    "peer threads": ("bench", "peer_threads"),
    "quick run": ("bench", "quick"),
}

_RESULT_KEYS = ("kernel", "case", "dtype", "impl")


@dataclass(frozen=True)
class ResultFile:
    """One loaded result file: its label (A, B, ...), path, ``config``, median times and routes."""

    label: str
    path: str
    config: Mapping[str, Any]
    times: dict[Key, float]
    #: the results that name their code path (fastops' kernels; older files have none)
    routes: dict[Key, str] = field(default_factory=dict)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``compare`` subcommand's arguments."""
    parser.add_argument("first", metavar="A.json", help="the reference result file (python -m fastops bench --json)")
    parser.add_argument("others", metavar="B.json", nargs="+", help="result files compared with A.json")
    parser.add_argument("--plot", metavar="PATH", help="write a PNG of the speed ratios vs A (needs matplotlib)")


def load(path: str, label: str) -> ResultFile:
    """Read a ``bench --json`` file; ValueError (naming the file) when it is not one."""
    with open(path, encoding="utf-8") as fh:
        try:
            document = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not JSON ({exc})") from None
    results = document.get("results") if isinstance(document, Mapping) else None
    if not isinstance(results, list):
        raise ValueError(f"{path}: no 'results' list; expected the output of python -m fastops bench --json")
    times: dict[Key, float] = {}
    routes: dict[Key, str] = {}
    for index, record in enumerate(results):
        try:
            key: Key = tuple(str(record[name]) for name in _RESULT_KEYS)  # type: ignore[assignment]
            seconds = float(record["median_s"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: result {index} lacks one of {', '.join(_RESULT_KEYS)}, median_s") from None
        if not seconds > 0:
            raise ValueError(f"{path}: result {index} has median_s {seconds!r}, expected > 0")
        times[key] = seconds
        if record.get("route"):
            routes[key] = str(record["route"])
    config = document.get("config")
    return ResultFile(label=label, path=path, config=config if isinstance(config, Mapping) else {},
                      times=times, routes=routes)


def _lookup(value: Any, path: Sequence[str]) -> Any:
    """``value`` followed along ``path`` ("*" maps over a list); None where a step is missing."""
    for position, step in enumerate(path):
        if step == "*":
            return [_lookup(item, path[position + 1:]) for item in value] if isinstance(value, list) else None
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def _text(value: Any) -> str:
    """Display text of a setting: lists space-separated, None as "-"."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return " ".join(_text(item) for item in value) or "(none)"
    return str(value)


def config_lines(files: Sequence[ResultFile]) -> list[str]:
    """The files with their labels, then one line per :data:`CONFIG_FIELDS` setting ("!": files differ)."""
    lines = [f"{f.label}  {f.path}" for f in files]
    lines += ["", "settings (! = the files differ):"]
    width = max(len(name) for name in CONFIG_FIELDS)
    for name, path in CONFIG_FIELDS.items():
        values = [_text(_lookup(f.config, path)) for f in files]
        if len(set(values)) == 1:
            lines.append(f"    {name:{width}}  {values[0]}")
        else:
            lines.append(f"  ! {name:{width}}  " + " | ".join(f"{f.label} {v}" for f, v in zip(files, values)))
    return lines


def _keys(files: Sequence[ResultFile]) -> list[Key]:
    """Every (kernel, case, dtype, impl) of any file, in order of first appearance."""
    return list(dict.fromkeys(key for f in files for key in f.times))


def _ratio(first: ResultFile, other: ResultFile, key: Key) -> float | None:
    """``first`` time / ``other`` time for ``key`` (> 1: other is faster); None when either lacks it."""
    if key in first.times and key in other.times:
        return first.times[key] / other.times[key]
    return None


def table_lines(files: Sequence[ResultFile]) -> list[str]:
    """One row per key: each file's median time, then each later file's ratio vs the first."""
    first, others = files[0], files[1:]
    header = [*_RESULT_KEYS, *(f.label for f in files), *(f"{f.label} vs {first.label}" for f in others)]
    rows = [header]
    for key in _keys(files):
        times = [format_time(f.times[key]) if key in f.times else "-" for f in files]
        ratios = [_ratio(first, other, key) for other in others]
        rows.append([*key, *times, *("-" if r is None else f"{r:.2f}" for r in ratios)])
    lines = _align(rows, left=len(_RESULT_KEYS))
    lines.insert(1, "-" * len(lines[0]))
    return lines


def summary_lines(files: Sequence[ResultFile]) -> list[str]:
    """Per later file: the geometric mean of its ratios vs the first file, per implementation."""
    first = files[0]
    lines = []
    for other in files[1:]:
        logs: dict[str, list[float]] = {}
        for key in _keys(files):
            ratio = _ratio(first, other, key)
            if ratio is not None:
                logs.setdefault(key[3], []).append(math.log(ratio))
        parts = ", ".join(f"{impl} {math.exp(sum(v) / len(v)):.2f} ({len(v)})" for impl, v in logs.items())
        lines.append(f"{other.label} vs {first.label}, geometric mean (rows): {parts or 'no common rows'}")
    return lines


def plot_ratios(files: Sequence[ResultFile], path: str) -> None:
    """Write a PNG: per (kernel, dtype), each later file's ratio vs the first, per case and impl (log y).

    Colours tell implementations apart, markers files; only rows the first file shares with another
    are drawn.  RuntimeError without matplotlib or without such rows.
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise RuntimeError("--plot needs matplotlib: pip install matplotlib") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter

    first, others = files[0], files[1:]
    keys = [key for key in _keys(files) if any(_ratio(first, other, key) is not None for other in others)]
    if not keys:
        raise RuntimeError(f"nothing to plot: no (kernel, case, dtype, impl) of {first.label} is in another file")
    panels = list(dict.fromkeys((kernel, dtype) for kernel, _, dtype, _ in keys))
    impls = list(dict.fromkeys(key[3] for key in keys))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 4 * len(panels)), squeeze=False)
    for ax, (kernel, dtype) in zip(axes[:, 0], panels):
        cases = list(dict.fromkeys(case for k, case, d, _ in keys if (k, d) == (kernel, dtype)))
        for n, other in enumerate(others):
            for i, impl in enumerate(impls):
                points = [(x, _ratio(first, other, (kernel, case, dtype, impl))) for x, case in enumerate(cases)]
                points = [(x, y) for x, y in points if y is not None]
                if points:
                    xs, ys = zip(*points)
                    ax.plot(xs, ys, "osD^v<>"[n % 7], color=colours[i % len(colours)], linestyle="none",
                            label=f"{impl} ({other.label})")
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FormatStrFormatter("%.3g"))
        ax.yaxis.set_minor_formatter(FormatStrFormatter("%.3g"))
        ax.set_xticks(range(len(cases)))
        ax.set_xticklabels(cases, rotation=30, ha="right", fontsize=7)
        ax.set_ylabel(f"{first.label} time / file's time")
        ax.set_title(f"{kernel} {dtype}: speed relative to {first.label} ({first.path})")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def route_lines(files: Sequence[ResultFile]) -> list[str]:
    """The rows whose route differs between files that record one, each file's route on it."""
    lines = []
    for key in _keys(files):
        routes = [(f.label, f.routes[key]) for f in files if key in f.routes]
        if len({route for _, route in routes}) > 1:
            lines.append(f"  {' '.join(key)}: " + " | ".join(f"{label} {route}" for label, route in routes))
    if not lines:
        return ["routes: the same in every file that records them"]
    return ["routes that differ (method, kernel, SIMD variant, threads, split):", *lines]


def run(args: argparse.Namespace) -> int:
    """``compare``: load the files, print settings, table and summary, write the plot; exit code."""
    paths = [args.first, *args.others]
    if len(paths) > len(string.ascii_uppercase):
        print(f"error: at most {len(string.ascii_uppercase)} files", file=sys.stderr)
        return 2
    try:
        files = [load(path, label) for path, label in zip(paths, string.ascii_uppercase)]
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    lines = config_lines(files) + [""] + table_lines(files) + [""] + summary_lines(files)
    lines.append(f"X vs {files[0].label} = {files[0].label} time / X time (> 1: X is faster); medians of each file")
    lines += [""] + route_lines(files)
    print("\n".join(lines))
    if args.plot:
        try:
            plot_ratios(files, args.plot)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {args.plot}")
    return 0
