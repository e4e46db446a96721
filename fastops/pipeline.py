"""``Pipeline``: batched inference with ``fastops.preprocess`` in worker threads,
overlapped with the model.

    >>> import numpy as np, fastops
    >>> pipe = fastops.Pipeline(lambda x: x.mean(axis=(1, 2, 3)), batch_size=2, size=8)
    >>> images = np.zeros((5, 16, 16, 3), np.uint8)
    >>> [out.shape for out in pipe.map(images)]
    [(2,), (2,), (1,)]

While the model (in the calling thread) runs on batch k, worker threads preprocess
batches k+1 .. k+prefetch, and, with a ``loader``, I/O threads read their images.
``fastops.preprocess`` releases the GIL, so these threads run truly in parallel with
a model that releases it too (PyTorch, TensorFlow, ONNX Runtime do).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import itertools
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastops._openmp_helpers import openmp_effective_n_threads
from fastops.preprocess import _options, output_shape, preprocess

__all__ = ["Pipeline", "PipelineStats"]

# Options of ``preprocess`` that the pipeline sets itself; the others, with their defaults.
_OWN_OPTIONS = frozenset({"images", "out", "num_threads"})
_PREPROCESS_DEFAULTS = {name: p.default for name, p in inspect.signature(preprocess).parameters.items()
                        if name not in _OWN_OPTIONS}
_THREAD_PREFIX = "fastops-"


@dataclass
class PipelineStats:
    """Where the time of one ``Pipeline.map`` run went (seconds).

    ``model_s`` and ``wait_s`` are spent in the calling thread (running the model,
    waiting for the next preprocessed batch); ``preprocess_s`` and ``load_s`` are
    summed over the worker and I/O threads, so they may exceed ``wall_s``."""

    images: int = 0
    batches: int = 0
    wall_s: float = 0.0
    model_s: float = 0.0
    wait_s: float = 0.0
    preprocess_s: float = 0.0
    load_s: float = 0.0
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False,
                                              compare=False)

    @property
    def images_per_s(self) -> float:
        return self.images / self.wall_s if self.wall_s > 0 else 0.0

    def add(self, name: str, seconds: float) -> None:
        """Add to a time field from any thread."""
        with self._lock:
            setattr(self, name, getattr(self, name) + seconds)


class _Buffers:
    """Free ``out=`` arrays by shape, shared by the worker threads."""

    def __init__(self, dtype: np.dtype) -> None:
        self._dtype = dtype
        self._free: dict[tuple[int, ...], list[np.ndarray]] = {}
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...]) -> np.ndarray:
        with self._lock:
            free = self._free.get(shape)
            if free:
                return free.pop()
        return np.empty(shape, self._dtype)

    def give(self, array: np.ndarray) -> None:
        with self._lock:
            self._free.setdefault(array.shape, []).append(array)


def _batches(items: Iterable[Any], batch_size: int, image_array: bool) -> Iterator[Any]:
    """Slices of an (N, H, W, C) image array (views), else lists of ``batch_size`` items."""
    if image_array:
        for start in range(0, len(items), batch_size):
            yield items[start:start + batch_size]
        return
    items = iter(items)
    while batch := list(itertools.islice(items, batch_size)):
        yield batch


def _torch_call(model: Any, nhwc: bool) -> Callable[[np.ndarray], Any] | None:
    """A PyTorch module gets a zero-copy tensor under ``torch.inference_mode()``; an
    NHWC batch is passed as an NCHW-shaped channels_last tensor (a permuted view)."""
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(model, torch.nn.Module):
        return None

    def call(batch: np.ndarray) -> Any:
        with torch.inference_mode():
            x = torch.from_numpy(batch)
            return model(x.permute(0, 3, 1, 2) if nhwc else x)
    return call


def _stop(pool: ThreadPoolExecutor) -> None:
    """Cancel queued work and join the threads (unless called from one of them, as a
    garbage collection on a worker thread may do: then the threads end by themselves)."""
    own = threading.current_thread().name.startswith(_THREAD_PREFIX)
    pool.shutdown(wait=not own, cancel_futures=True)


class Pipeline:
    """Feed uint8 images through ``fastops.preprocess`` and a model, in batches,
    preprocessing the next batches while the model runs.

    Parameters
    ----------
    model : callable taking the preprocessed batch, an (n, 3, h, w) or (n, h, w, 3)
        float array (n <= batch_size), and returning anything.  A
        ``torch.nn.Module`` gets a tensor instead (zero copy, under
        ``torch.inference_mode()``; with ``layout="NHWC"``, a channels_last view of
        logical shape (n, 3, h, w)).
    batch_size : images per model call.
    loader : optional callable item -> uint8 image (e.g. a path -> array reader);
        it runs in ``io_workers`` threads so that reading overlaps compute.
    io_workers : I/O threads (used only with a loader).
    workers : preprocessing threads; each preprocesses whole batches.
    preprocess_threads : OpenMP threads of each ``preprocess`` call (as its
        ``num_threads``); 1 by default, leaving the other cores to the model.
    prefetch : batches preprocessed (and loaded) ahead of the model, >= 1.
    **preprocess_options : the options of ``fastops.preprocess`` (size, crop,
        mean, std, antialias, channels, layout, dtype), validated here.

    ``map(images)`` yields the model's output per batch, in input order; ``run``
    collects them in a list.  ``stats`` describes the latest run.  A batch buffer is
    reused only when nothing references it any more after the model call, so a
    model may return or keep (views of) its input.  An exception in a loader, in
    preprocessing or in the model is raised in the caller after the outputs of the
    batches before it; one raised by the `images` iterable, after the outputs of
    every batch read before it.  The threads are stopped when the iterator is
    exhausted, raises or is closed (``contextlib.closing(pipe.map(...))`` closes
    one you stop reading early; an abandoned one is closed when collected).
    """

    def __init__(self, model: Callable[[Any], Any], *, batch_size: int = 32,
                 loader: Callable[[Any], Any] | None = None, io_workers: int = 8,
                 workers: int = 1, preprocess_threads: int | None = 1, prefetch: int = 2,
                 **preprocess_options: Any) -> None:
        if not callable(model):
            raise TypeError(f"model must be callable, got {type(model).__name__}")
        if loader is not None and not callable(loader):
            raise TypeError(f"loader must be callable or None, got {type(loader).__name__}")
        for name, value in (("batch_size", batch_size), ("io_workers", io_workers),
                            ("workers", workers), ("prefetch", prefetch)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, got {value!r}")
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        unknown = set(preprocess_options) - set(_PREPROCESS_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown preprocess options {sorted(unknown)}; the options are "
                            f"{sorted(_PREPROCESS_DEFAULTS)}")
        options = {**_PREPROCESS_DEFAULTS, **preprocess_options}
        out_dtype, _, _ = _options(**options)
        openmp_effective_n_threads(preprocess_threads)
        self.model = model
        self.batch_size = int(batch_size)
        self.loader = loader
        self.io_workers = int(io_workers)
        self.workers = int(workers)
        self.preprocess_threads = preprocess_threads
        self.prefetch = int(prefetch)
        self.preprocess_options = options
        self._call_model = _torch_call(model, options["layout"] == "NHWC") or model
        self._buffers = _Buffers(out_dtype)
        self.stats = PipelineStats()

    # ----------------------------------------------------------------- worker side

    def _load(self, stats: PipelineStats, item: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.loader(item)
        finally:
            stats.add("load_s", time.perf_counter() - start)

    def _prepare(self, stats: PipelineStats, batch: Any, loading: bool) -> np.ndarray:
        """Preprocess one batch (its images, or futures of them when `loading`) into a buffer."""
        if loading:
            batch = [future.result() for future in batch]
        start = time.perf_counter()
        options = self.preprocess_options
        out = self._buffers.take(output_shape(batch, size=options["size"], crop=options["crop"],
                                              layout=options["layout"]))
        preprocess(batch, out=out, num_threads=self.preprocess_threads, **options)
        stats.add("preprocess_s", time.perf_counter() - start)
        return out

    # ----------------------------------------------------------------- caller side

    def _run_model(self, stats: PipelineStats, prepared: Future) -> Any:
        start = time.perf_counter()
        batch = prepared.result()
        references = sys.getrefcount(batch)
        ready = time.perf_counter()
        result = self._call_model(batch)
        done = time.perf_counter()
        if sys.getrefcount(batch) == references:     # the model kept no view of it
            self._buffers.give(batch)
        stats.wait_s += ready - start
        stats.model_s += done - ready
        stats.images += len(batch)
        stats.batches += 1
        return result

    def map(self, images: Iterable[Any]) -> Iterator[Any]:
        """Yield ``model(preprocessed batch)`` for consecutive batches of `images`.

        images : an (N, H, W, C) uint8 array, or any iterable of images (arrays of
            differing sizes) -- or of loader items, such as paths, with a ``loader``.
        """
        image_array = self.loader is None and isinstance(images, np.ndarray)
        if image_array and images.ndim != 4:
            raise ValueError(f"an image array must be (N, H, W, C), got shape {images.shape}")
        self.stats = PipelineStats()
        return self._map(_batches(images, self.batch_size, image_array), self.stats)

    def _map(self, batches: Iterator[Any], stats: PipelineStats) -> Iterator[Any]:
        start = time.perf_counter()
        loading = self.loader is not None
        io_pool = (ThreadPoolExecutor(self.io_workers, thread_name_prefix=_THREAD_PREFIX + "io")
                   if loading else None)
        workers = ThreadPoolExecutor(self.workers, thread_name_prefix=_THREAD_PREFIX + "preprocess")
        prepare = functools.partial(self._prepare, stats, loading=loading)
        load = functools.partial(self._load, stats)
        pending: deque[Future] = deque()
        source_error: Exception | None = None
        try:
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                except Exception as exc:        # finish the batches read so far first
                    source_error = exc
                    break
                if io_pool is not None:
                    batch = [io_pool.submit(load, item) for item in batch]
                pending.append(workers.submit(prepare, batch))
                if len(pending) > self.prefetch:
                    yield self._run_model(stats, pending.popleft())
            while pending:
                yield self._run_model(stats, pending.popleft())
            if source_error is not None:
                raise source_error
        finally:
            for future in pending:
                future.cancel()
            if io_pool is not None:
                _stop(io_pool)
            _stop(workers)
            stats.wall_s = time.perf_counter() - start

    def run(self, images: Iterable[Any]) -> list[Any]:
        """The outputs of ``map(images)``, one per batch, in a list."""
        return list(self.map(images))
