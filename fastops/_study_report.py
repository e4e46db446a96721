"""Table, summary, JSON and plot of ``python -m fastops study`` records (``fastops._study.Record``)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from fastops._bench import _align, pyplot
from fastops._study import MODEL_ONLY, STRATEGIES, Record

__all__ = ["format_table", "summary", "study_json", "plot_study"]

RECIPES = ("thread_pool", "process_pool")


def _best(records: Sequence[Record], strategies: Sequence[str]) -> Record | None:
    chosen = [r for r in records if r.strategy in strategies]
    return max(chosen, key=lambda r: r.images_per_s) if chosen else None


def _ms_per_image(seconds: float, images: int) -> str:
    return f"{1e3 * seconds / images:.1f}" if seconds else "-"


def format_table(records: Sequence[Record]) -> str:
    """One block per workload (mode): a row per configuration with images/s, speed-up over
    the sequential baseline and where the time went, in ms per image summed over threads
    and processes (so load + preprocess + model exceeds wall ms/img when work overlaps)."""
    blocks = []
    for mode in dict.fromkeys(r.mode for r in records):
        rows = [r for r in records if r.mode == mode]
        base = next((r for r in rows if r.strategy == "sequential"), None)
        table = [["strategy", "workers", "config", "images/s", "x seq", "wall ms/img",
                  "load", "preprocess", "model", "model waits", "output"]]
        for r in rows:
            table.append([
                r.strategy, str(r.workers), r.config, f"{r.images_per_s:.1f}",
                f"{r.images_per_s / base.images_per_s:.2f}" if base else "-",
                _ms_per_image(r.wall_s, r.images), _ms_per_image(r.load_s, r.images),
                _ms_per_image(r.preprocess_s, r.images), _ms_per_image(r.model_s, r.images),
                _ms_per_image(r.wait_s, r.images),
                "same" if not r.mismatches else f"{r.mismatches} differ"])
        lines = _align(table, left=3)
        lines.insert(1, "-" * len(lines[0]))
        blocks.append(f"[{mode}] {rows[0].images} images\n" + "\n".join(lines))
    return "\n\n".join(blocks)


def summary(records: Sequence[Record]) -> list[str]:
    """Per workload: the fastops pipeline's best against the best thread/process-pool recipe,
    the best batched intra-op run and the model alone on ready batches."""
    lines = []
    for mode in dict.fromkeys(r.mode for r in records):
        rows = [r for r in records if r.mode == mode]
        pipeline = _best(rows, ["fastops_pipeline"])
        if pipeline is None:
            continue
        for label, strategies in (("best recipe (thread/process pool)", RECIPES),
                                  ("best intra_op", ["intra_op"]),
                                  ("the model alone (ceiling)", [MODEL_ONLY])):
            other = _best(rows, strategies)
            if other is not None:
                lines.append(
                    f"{mode}: fastops_pipeline x{pipeline.workers} ({pipeline.config}) "
                    f"{pipeline.images_per_s:.1f} images/s = "
                    f"{pipeline.images_per_s / other.images_per_s:.2f} x {label}: "
                    f"{other.strategy} x{other.workers} ({other.config}) {other.images_per_s:.1f}")
    return lines


def study_json(records: Sequence[Record], config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``--json`` document: configuration and one record per configuration run."""
    return {"config": dict(config), "results": [r.to_json() for r in records]}


def plot_study(records: Sequence[Record], path: str | os.PathLike) -> None:
    """Images/s vs workers per strategy, one panel per workload; for pools and pipelines,
    the best configuration at each worker count.  Needs matplotlib."""
    plt = pyplot()
    modes = list(dict.fromkeys(r.mode for r in records))
    fig, axes = plt.subplots(1, len(modes), figsize=(6.5 * len(modes), 4.8), squeeze=False)
    for ax, mode in zip(axes[0], modes):
        rows = [r for r in records if r.mode == mode]
        for strategy in (*STRATEGIES, MODEL_ONLY):
            best: dict[int, Record] = {}
            for r in rows:
                if r.strategy == strategy and (r.workers not in best
                                               or r.images_per_s > best[r.workers].images_per_s):
                    best[r.workers] = r
            if not best:
                continue
            workers = sorted(best)
            rates = [best[w].images_per_s for w in workers]
            style = "s--" if len(workers) == 1 else "o-"
            ax.plot(workers, rates, style, label=strategy)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("workers (threads / processes / torch threads)")
        ax.set_ylabel("images/s")
        ax.set_ylim(bottom=0)
        ax.set_title(f"ResNet-18, {mode}-bound, {rows[0].images} images")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
