"""``python -m fastops study``: threads vs processes vs intra-op parallelism vs the
fastops pipeline, for image classification with ResNet-18 on this machine.

Every strategy classifies the same synthetic images (mixed realistic sizes) with the
same model (``fastops._resnet.resnet18``, seeded random weights) through the same
recipe -- Resize(256, antialias) -> CenterCrop(224) -> ImageNet Normalize -> model --
and its outputs are checked against the sequential baseline's (``output_mismatches``).
Every configuration runs ``repeats`` times; the run of median wall time is kept.
Pool start-up and the model's first call in every thread and process are not timed.
Two workloads:

* ``compute``: the images are already in memory;
* ``io``: each image is read from a ``.npy`` file in a temporary directory by a loader
  that first sleeps ``latency`` (network storage, as inference-threading tutorials
  model it with ``time.sleep``).

Strategies (``workers`` is the knob the strategy scales):

* ``sequential``  -- one image at a time: load, PyTorch preprocessing, batch-1 model call;
* ``thread_pool`` -- the same per-image task in ``ThreadPoolExecutor(workers).map``, with
  torch's default thread count (all cores) and with ``cores // workers`` (at least 1);
  up to 32 workers in the I/O workload;
* ``process_pool`` -- the same task in ``multiprocessing.Pool(workers)`` (spawn),
  ``imap`` / ``imap_unordered`` with several chunksizes; each process runs
  ``cores // workers`` torch threads (at least 1); up to 8 processes in the I/O workload;
* ``intra_op``    -- batches: PyTorch preprocessing of each batch, one model call per
  batch, ``workers`` torch threads (powers of two up to the cores);
* ``fastops_pipeline`` -- ``fastops.Pipeline``: I/O threads load, a worker thread runs
  ``fastops.preprocess`` on the next batch while the model (``workers`` torch threads:
  all cores, or one fewer) runs on this one.

and, for reference in the compute workload, ``model_only``: the model alone on batches
preprocessed beforehand, the ceiling of every batched strategy.

The per-image PyTorch preprocessing is PyTorch's fastest form: antialiased bilinear
``F.interpolate`` on the uint8 tensor in channels_last (what torchvision's
``Resize`` does on uint8 tensors), then crop, scale and normalize in float32.
Where the time goes is recorded per run: seconds spent loading, preprocessing and
in the model, summed over all threads / processes (``*_s``), and, for the pipeline,
the time the model waited for the next batch.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fastops._openmp_helpers import available_cpus
from fastops.testing import preprocess_resized_shape

__all__ = ["StudySettings", "Record", "run_study", "MODES", "STRATEGIES"]

MODES = ("compute", "io")
STRATEGIES = ("sequential", "thread_pool", "process_pool", "intra_op", "fastops_pipeline")
# Not a strategy: the model alone on ready batches, the ceiling of the batched ones.
MODEL_ONLY = "model_only"
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
RESIZE, CROP = 256, 224
# (height, width) of the synthetic images: VGA both ways, the two Pascal VOC
# sizes, 720p; cycled through in this order.
IMAGE_SIZES = ((480, 640), (640, 480), (375, 500), (500, 375), (720, 1280))
SEED = 0


@dataclass
class StudySettings:
    """What to run: ``images`` per configuration, ``batch_size`` for batched strategies,
    ``latency_s`` per file in the I/O workload, the worker counts to try (more in the
    I/O workload, where threads and processes mostly wait), and ``repeats`` runs of
    each configuration (the median is kept)."""

    images: int = 96
    batch_size: int = 8
    latency_s: float = 0.02
    modes: tuple[str, ...] = MODES
    thread_workers: tuple[int, ...] = (1, 2, 4, 8)
    io_thread_workers: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    process_workers: tuple[int, ...] = (1, 2, 4)
    io_process_workers: tuple[int, ...] = (1, 2, 4, 8)
    chunksizes: tuple[int, ...] = (1, 4, 16)
    io_workers: int = 32
    repeats: int = 3
    few_torch_threads: bool = False
    cores: int = field(default_factory=available_cpus)

    @classmethod
    def quick(cls) -> StudySettings:
        """About a minute on 2 cores: fewer images, worker and torch thread counts,
        chunksizes, one run per configuration."""
        return cls(images=32, thread_workers=(1, 4), io_thread_workers=(4, 16),
                   process_workers=(2,), io_process_workers=(4,), chunksizes=(1, 8), repeats=1,
                   few_torch_threads=True)

    def pool_workers(self, mode: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Thread-pool and process-pool sizes for a workload."""
        if mode == "io":
            return self.io_thread_workers, self.io_process_workers
        return self.thread_workers, self.process_workers

    def torch_threads(self) -> list[int]:
        """Intra-op thread counts: powers of two up to the cores, and the cores
        (quick: 1 and the cores)."""
        counts = {1, self.cores}
        if not self.few_torch_threads:
            counts |= {2 ** i for i in range(self.cores.bit_length()) if 2 ** i <= self.cores}
        return sorted(counts)


@dataclass
class Record:
    """One configuration's run: throughput and where the time went (seconds)."""

    mode: str
    strategy: str
    workers: int
    config: str
    images: int
    wall_s: float
    load_s: float = 0.0
    preprocess_s: float = 0.0
    model_s: float = 0.0
    wait_s: float = 0.0
    mismatches: int = 0

    @property
    def images_per_s(self) -> float:
        return self.images / self.wall_s if self.wall_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "images_per_s": self.images_per_s}


# --------------------------------------------------------------------------- data


def make_images(n: int, seed: int = SEED) -> list[np.ndarray]:
    """``n`` smooth RGB uint8 images (gradients plus noise) of the sizes in IMAGE_SIZES."""
    rng = np.random.default_rng(seed)
    images = []
    for i in range(n):
        h, w = IMAGE_SIZES[i % len(IMAGE_SIZES)]
        y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        x = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
        phase = rng.uniform(0, 2 * np.pi, 3).astype(np.float32)
        base = 127.5 + 100 * np.sin(6 * x + 4 * y + phase)
        noise = rng.normal(0, 12, (h, w, 3)).astype(np.float32)
        images.append(np.clip(base + noise, 0, 255).astype(np.uint8))
    return images


def write_images(images: Sequence[np.ndarray], directory: str) -> list[str]:
    """Save each image as ``<directory>/<i>.npy``; returns the paths in order."""
    paths = []
    for i, image in enumerate(images):
        path = os.path.join(directory, f"{i:05d}.npy")
        np.save(path, image)
        paths.append(path)
    return paths


def read_image(path: str, latency_s: float) -> np.ndarray:
    """The I/O workload's loader: wait ``latency_s`` (remote storage), then read the file."""
    time.sleep(latency_s)
    return np.load(path)


def _identity(image: np.ndarray) -> np.ndarray:
    return image


# --------------------------------------------------------------------------- per-image task


class _Timings:
    """Seconds per phase, summed over the threads that report them."""

    def __init__(self) -> None:
        self.load_s = self.preprocess_s = self.model_s = 0.0
        self._lock = threading.Lock()

    def add(self, load_s: float, preprocess_s: float, model_s: float) -> None:
        with self._lock:
            self.load_s += load_s
            self.preprocess_s += preprocess_s
            self.model_s += model_s


def torch_preprocess(image: np.ndarray) -> Any:
    """PyTorch's fastest per-image form of the recipe: (H, W, 3) uint8 -> (3, 224, 224) float32."""
    import torch
    from torch.nn import functional as F

    x = torch.from_numpy(image).permute(2, 0, 1)[None]           # channels_last uint8 view
    size = preprocess_resized_shape(image.shape[0], image.shape[1], RESIZE)
    x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    top, left = int(round((size[0] - CROP) / 2.0)), int(round((size[1] - CROP) / 2.0))
    x = x[0, :, top:top + CROP, left:left + CROP].float()
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    return (x / 255.0 - mean) / std


def classify_one(model: Any, loader: Callable[[Any], np.ndarray], item: Any,
                 timings: _Timings) -> np.ndarray:
    """The recipes' per-image task: load, PyTorch preprocessing, batch-1 model call -> logits."""
    import torch

    t0 = time.perf_counter()
    image = loader(item)
    t1 = time.perf_counter()
    x = torch_preprocess(image)[None]
    t2 = time.perf_counter()
    with torch.inference_mode():
        logits = model(x)[0].numpy()
    timings.add(t1 - t0, t2 - t1, time.perf_counter() - t2)
    return logits


# --------------------------------------------------------------------------- process pool


_WORKER: dict[str, Any] = {}


def _pool_init(torch_threads: int, model_factory: Callable[[], Any],
               loader: Callable[[Any], np.ndarray]) -> None:
    """Process-pool initializer: the same (seeded) model in every process, run once
    (its first call sets up kernels and is not measured)."""
    import torch

    torch.set_num_threads(torch_threads)
    model = model_factory()
    with torch.inference_mode():
        model(torch.zeros(1, 3, CROP, CROP))
    _WORKER.update(model=model, loader=loader)


def _pool_task(indexed_item: tuple[int, Any]) -> tuple[int, np.ndarray, float, float, float]:
    """(index, item) -> (index, logits, load_s, preprocess_s, model_s), in a pool process."""
    index, item = indexed_item
    timings = _Timings()
    logits = classify_one(_WORKER["model"], _WORKER["loader"], item, timings)
    return index, logits, timings.load_s, timings.preprocess_s, timings.model_s


def _pool_pid(_: int) -> int:
    """The pid of the pool process that ran this (a short task, so that idle processes take some)."""
    time.sleep(0.01)
    return os.getpid()


# --------------------------------------------------------------------------- context


@dataclass
class Workload:
    """What every strategy runs on: items (images or paths), their loader and the model
    (``model_factory()``, picklable, builds it again in pool processes)."""

    mode: str
    items: list[Any]
    loader: Callable[[Any], np.ndarray]
    model_factory: Callable[[], Any]
    settings: StudySettings
    model: Any = None
    _channels_last_model: Any = None

    def __post_init__(self) -> None:
        if self.model is None:
            self.model = self.model_factory()

    def model_for(self, channels_last: bool) -> Any:
        """The model, or a copy of it with channels_last weights (same values), made once."""
        if not channels_last:
            return self.model
        if self._channels_last_model is None:
            import copy

            import torch

            self._channels_last_model = copy.deepcopy(self.model).to(memory_format=torch.channels_last)
        return self._channels_last_model


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _record(work: Workload, strategy: str, workers: int, config: str, wall_s: float,
            timings: _Timings, wait_s: float = 0.0) -> Record:
    return Record(work.mode, strategy, workers, config, len(work.items), wall_s,
                  timings.load_s, timings.preprocess_s, timings.model_s, wait_s)


# --------------------------------------------------------------------------- strategies


def run_sequential(work: Workload) -> tuple[Record, np.ndarray]:
    timings = _Timings()
    cores = work.settings.cores
    with _torch_threads(cores):
        start = time.perf_counter()
        logits = [classify_one(work.model, work.loader, item, timings) for item in work.items]
        wall = time.perf_counter() - start
    return _record(work, "sequential", 1, f"torch threads {cores}", wall, timings), np.stack(logits)


def run_thread_pool(work: Workload, workers: int, torch_threads: int) -> tuple[Record, np.ndarray]:
    """``ThreadPoolExecutor.map`` over images, ``torch_threads`` per model call."""
    import torch

    timings = _Timings()
    task = functools.partial(classify_one, work.model, work.loader, timings=timings)
    everyone = threading.Barrier(workers)

    def warm(_: int) -> None:                 # one first call per thread, not measured
        everyone.wait(timeout=300)
        with torch.inference_mode():
            work.model(torch.zeros(1, 3, CROP, CROP))

    with _torch_threads(torch_threads), ThreadPoolExecutor(workers) as pool:
        list(pool.map(warm, range(workers)))
        start = time.perf_counter()
        logits = list(pool.map(task, work.items))
        wall = time.perf_counter() - start
    return (_record(work, "thread_pool", workers, f"torch threads {torch_threads}", wall, timings),
            np.stack(logits))


def start_process_pool(work: Workload, processes: int, timeout_s: float = 600) -> tuple[Any, int]:
    """A spawned pool whose every process has built and run the model; and its torch threads."""
    threads = max(1, work.settings.cores // processes)
    pool = multiprocessing.get_context("spawn").Pool(processes, _pool_init,
                                                     (threads, work.model_factory, work.loader))
    ready: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while len(ready) < processes:             # a process answers once its initializer is done
        ready.update(pool.map(_pool_pid, range(processes), chunksize=1))
        if time.monotonic() > deadline:
            pool.terminate()
            raise RuntimeError(f"only {len(ready)} of {processes} pool processes started")
    return pool, threads


def run_process_pool(work: Workload, pool: Any, processes: int, torch_threads: int, method: str,
                     chunksize: int) -> tuple[Record, np.ndarray]:
    timings = _Timings()
    start = time.perf_counter()
    results = list(getattr(pool, method)(_pool_task, enumerate(work.items), chunksize=chunksize))
    wall = time.perf_counter() - start
    logits = np.empty((len(work.items), results[0][1].shape[0]), np.float32)
    for index, row, load_s, preprocess_s, model_s in results:
        logits[index] = row
        timings.add(load_s, preprocess_s, model_s)
    config = f"{method} chunksize {chunksize}, torch threads {torch_threads}"
    return _record(work, "process_pool", processes, config, wall, timings), logits


def run_intra_op(work: Workload, threads: int, channels_last: bool) -> tuple[Record, np.ndarray]:
    """Batches: PyTorch preprocessing per image, stacked; one model call per batch."""
    import torch

    timings = _Timings()
    model = work.model_for(channels_last)
    batch = work.settings.batch_size
    logits = []
    with _torch_threads(threads), torch.inference_mode():
        start = time.perf_counter()
        for first in range(0, len(work.items), batch):
            t0 = time.perf_counter()
            images = [work.loader(item) for item in work.items[first:first + batch]]
            t1 = time.perf_counter()
            x = torch.stack([torch_preprocess(image) for image in images])
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            t2 = time.perf_counter()
            logits.append(model(x).numpy())
            timings.add(t1 - t0, t2 - t1, time.perf_counter() - t2)
        wall = time.perf_counter() - start
    config = f"batch {batch}" + (", channels_last" if channels_last else "")
    return _record(work, "intra_op", threads, config, wall, timings), np.concatenate(logits)


def run_model_only(work: Workload, threads: int, channels_last: bool) -> tuple[Record, np.ndarray]:
    """The ceiling of the batched strategies: the model alone on batches preprocessed
    beforehand (by fastops, untimed) and held in memory."""
    import torch

    from fastops.preprocess import preprocess

    model = work.model_for(channels_last)
    batch = work.settings.batch_size
    batches = [torch.from_numpy(preprocess(
        [work.loader(item) for item in work.items[first:first + batch]], size=RESIZE, crop=CROP,
        mean=MEAN, std=STD, layout="NHWC" if channels_last else "NCHW"))
        for first in range(0, len(work.items), batch)]
    if channels_last:
        batches = [x.permute(0, 3, 1, 2) for x in batches]
    timings = _Timings()
    with _torch_threads(threads), torch.inference_mode():
        start = time.perf_counter()
        logits = np.concatenate([model(x).numpy() for x in batches])
        wall = time.perf_counter() - start
    timings.add(0.0, 0.0, wall)
    config = f"batch {batch}" + (", channels_last" if channels_last else "") + ", inputs ready"
    return _record(work, "model_only", threads, config, wall, timings), logits


def run_pipeline(work: Workload, torch_threads: int, channels_last: bool) -> tuple[Record, np.ndarray]:
    """``fastops.Pipeline``: NHWC output is fed to a channels_last model as a view (no copy)."""
    from fastops.pipeline import Pipeline

    settings = work.settings
    io = work.mode == "io"
    model = work.model_for(channels_last)
    prefetch = max(2, -(-settings.io_workers // settings.batch_size)) if io else 2
    pipe = Pipeline(model, batch_size=settings.batch_size, loader=work.loader if io else None,
                    io_workers=settings.io_workers, workers=1, preprocess_threads=1,
                    prefetch=prefetch, size=RESIZE, crop=CROP, mean=MEAN, std=STD,
                    layout="NHWC" if channels_last else "NCHW")
    with _torch_threads(torch_threads):
        logits = np.concatenate([out.numpy() for out in pipe.map(work.items)])
    stats = pipe.stats
    timings = _Timings()
    timings.add(stats.load_s, stats.preprocess_s, stats.model_s)
    config = (f"batch {settings.batch_size}, 1 preprocess thread"
              + (f", {settings.io_workers} I/O threads" if io else "")
              + (", NHWC -> channels_last" if channels_last else ""))
    return (_record(work, "fastops_pipeline", torch_threads, config, stats.wall_s, timings,
                    stats.wait_s), logits)


# --------------------------------------------------------------------------- checking


def output_mismatches(reference: np.ndarray, logits: np.ndarray) -> int:
    """Images whose output is not the reference's (all of them if the shapes differ).

    A random-weight model gives every image nearly the same logits, so plain top-5
    sets would match even in the wrong order.  An image's output must therefore be
    closer to its own reference row than to any other, and its top 5 classes must be
    the reference's after subtracting the mean over images, except for swaps among
    classes within ``5%`` of the spread across images of the 5th largest (ties that
    the rounding of uint8 / float32 preprocessing may break either way)."""
    if logits.shape != reference.shape:
        return len(reference)
    distances = ((logits ** 2).sum(1)[:, None] + (reference ** 2).sum(1)[None, :]
                 - 2 * logits @ reference.T)
    nearest = distances.argmin(axis=1)
    center = reference.mean(axis=0)
    tolerance = 0.05 * float(reference.std(axis=0).mean())
    mismatches = 0
    for i, (ref, got) in enumerate(zip(reference - center, logits - center)):
        ref_top, got_top = set(np.argsort(ref)[-5:]), set(np.argsort(got)[-5:])
        fifth = np.sort(ref)[-5]
        if nearest[i] != i or any(abs(ref[c] - fifth) > tolerance for c in ref_top ^ got_top):
            mismatches += 1
    return mismatches


# --------------------------------------------------------------------------- driver


def plan(settings: StudySettings, mode: str) -> list[tuple[str, Callable[[Workload], tuple[Record, np.ndarray]]]]:
    """(label, run) for every configuration of one workload but the process pools.

    Thread pools run the model with all cores' torch threads (the recipe's default) and
    with ``cores // workers`` (no oversubscription); intra_op with
    ``settings.torch_threads()``; the pipeline with all cores or one fewer (leaving
    one to preprocessing); batched strategies in NCHW and in channels_last layout."""
    cores = settings.cores
    thread_workers, _ = settings.pool_workers(mode)
    runs: list[tuple[str, Callable[[Workload], tuple[Record, np.ndarray]]]] = [
        ("sequential", run_sequential)]
    runs += [(f"thread_pool x{w} torch threads {t}",
              functools.partial(run_thread_pool, workers=w, torch_threads=t))
             for w in thread_workers for t in sorted({max(1, cores // w), cores})]
    runs += [(f"intra_op x{t}{' channels_last' * cl}",
              functools.partial(run_intra_op, threads=t, channels_last=cl))
             for cl in (False, True) for t in settings.torch_threads()]
    runs += [(f"fastops_pipeline x{t}{' NHWC' * cl}",
              functools.partial(run_pipeline, torch_threads=t, channels_last=cl))
             for cl in (False, True) for t in sorted({max(1, cores - 1), cores})]
    if mode == "compute":
        runs += [(f"model_only x{cores}{' channels_last' * cl}",
                  functools.partial(run_model_only, threads=cores, channels_last=cl))
                 for cl in (False, True)]
    return runs


def count_runs(settings: StudySettings) -> int:
    per_pool = 2 * len(settings.chunksizes)
    return sum(len(plan(settings, mode)) + len(settings.pool_workers(mode)[1]) * per_pool
               for mode in settings.modes)


def run_workload(work: Workload, step: Callable[[str], None]) -> list[Record]:
    """Every configuration on one workload, ``settings.repeats`` times each, keeping the
    run of median wall time; every run's output is checked against the sequential one."""
    records: list[Record] = []
    reference: np.ndarray | None = None

    def measure(run: Callable[[], tuple[Record, np.ndarray]]) -> None:
        nonlocal reference
        runs = []
        for _ in range(work.settings.repeats):
            record, logits = run()
            if reference is None:
                reference = logits
            record.mismatches = output_mismatches(reference, logits)
            runs.append(record)
        runs.sort(key=lambda r: r.wall_s)
        median = runs[len(runs) // 2]
        median.mismatches = max(r.mismatches for r in runs)
        records.append(median)

    warm_model(work)
    for label, run in plan(work.settings, work.mode):
        measure(functools.partial(run, work))
        step(f"{work.mode}: {label}")
    for processes in work.settings.pool_workers(work.mode)[1]:
        pool, threads = start_process_pool(work, processes)
        try:
            for method in ("imap", "imap_unordered"):
                for chunksize in work.settings.chunksizes:
                    measure(functools.partial(run_process_pool, work, pool, processes, threads,
                                              method, chunksize))
                    step(f"{work.mode}: process_pool x{processes} {method} chunksize {chunksize}")
        finally:
            pool.terminate()
            pool.join()
    return records


def warm_model(work: Workload) -> None:
    """First calls of the model, in both layouts, at the batch sizes used (oneDNN sets up
    its kernels then), so that no strategy pays for them."""
    import torch

    with torch.inference_mode():
        for batch in (1, work.settings.batch_size):
            for channels_last in (False, True):
                x = torch.zeros(batch, 3, CROP, CROP)
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                work.model_for(channels_last)(x)


def run_study(settings: StudySettings, step: Callable[[str], None] = lambda label: None) -> list[Record]:
    """All workloads of ``settings``; ``step(label)`` is called after each configuration."""
    from fastops._resnet import resnet18

    factory = functools.partial(resnet18, SEED)
    model = factory()
    images = make_images(settings.images)
    records = []
    with tempfile.TemporaryDirectory(prefix="fastops-study-") as directory:
        for mode in settings.modes:
            if mode == "compute":
                work = Workload(mode, list(images), _identity, factory, settings, model)
            else:
                paths = write_images(images, directory)
                loader = functools.partial(read_image, latency_s=settings.latency_s)
                work = Workload(mode, paths, loader, factory, settings, model)
            records += run_workload(work, step)
    return records
