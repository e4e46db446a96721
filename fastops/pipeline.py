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

from fastops.preprocess import output_shape, preprocess

__all__ = ["Pipeline", "PipelineStats"]

# Options of ``preprocess`` that the pipeline sets itself.
_OWN_OPTIONS = frozenset({"images", "out", "num_threads"})
_PREPROCESS_OPTIONS = frozenset(inspect.signature(preprocess).parameters) - _OWN_OPTIONS


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

    @property
    def images_per_s(self) -> float:
        return self.images / self.wall_s if self.wall_s > 0 else 0.0


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


def _batches(images: Iterable[Any], batch_size: int) -> Iterator[Any]:
    """Slices of an (N, H, W, C) array (views), else lists of ``batch_size`` items."""
    if isinstance(images, np.ndarray):
        if images.ndim != 4:
            raise ValueError(f"an image array must be (N, H, W, C), got shape {images.shape}")
        for start in range(0, len(images), batch_size):
            yield images[start:start + batch_size]
        return
    items = iter(images)
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


def _shares_memory(result: Any, buffer: np.ndarray) -> bool:
    """Whether the model returned (a view of) its input buffer, which must then not be reused."""
    try:
        return np.may_share_memory(np.asarray(result), buffer)
    except (TypeError, ValueError, RuntimeError):
        return False


class Pipeline:
    """Feed uint8 images through ``fastops.preprocess`` and a model, in batches,
    preprocessing the next batches while the model runs.

    Parameters
    ----------
    model : callable taking the preprocessed batch, an (n, 3, h, w) or (n, h, w, 3)
        float array (n <= batch_size), and returning anything.  A
        ``torch.nn.Module`` gets a tensor instead (zero copy, under
        ``torch.inference_mode()``; with ``layout="NHWC"``, a channels_last view of
        logical shape (n, 3, h, w)).  The model must not keep its input after it
        returns: the buffer is reused for a later batch.
    batch_size : images per model call.
    loader : optional callable item -> uint8 image (e.g. a path -> array reader);
        it runs in ``io_workers`` threads so that reading overlaps compute.
    io_workers : I/O threads (used only with a loader).
    workers : preprocessing threads; each preprocesses whole batches.
    preprocess_threads : OpenMP threads of each ``preprocess`` call (as its
        ``num_threads``); 1 by default, leaving the other cores to the model.
    prefetch : batches preprocessed (and loaded) ahead of the model, >= 1.
    **preprocess_options : the options of ``fastops.preprocess`` (size, crop,
        mean, std, antialias, channels, layout, dtype).

    ``map(images)`` yields the model's output per batch, in input order; ``run``
    collects them in a list.  ``stats`` describes the last run.  An exception in a
    loader, in preprocessing or in the model is raised in the caller, after the
    outputs of the batches before it; the threads are stopped before ``map``
    returns, raises or is closed.
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
        unknown = set(preprocess_options) - _PREPROCESS_OPTIONS
        if unknown:
            raise TypeError(f"unknown preprocess options {sorted(unknown)}; the options are "
                            f"{sorted(_PREPROCESS_OPTIONS)}")
        self.model = model
        self.batch_size = int(batch_size)
        self.loader = loader
        self.io_workers = int(io_workers)
        self.workers = int(workers)
        self.preprocess_threads = preprocess_threads
        self.prefetch = int(prefetch)
        self.preprocess_options = preprocess_options
        nhwc = preprocess_options.get("layout", "NCHW") == "NHWC"
        self._call_model = _torch_call(model, nhwc) or model
        self._buffers = _Buffers(np.dtype(preprocess_options.get("dtype", np.float32)))
        self._timing_lock = threading.Lock()
        self.stats = PipelineStats()

    # ----------------------------------------------------------------- worker side

    def _add(self, field: str, seconds: float) -> None:
        with self._timing_lock:
            setattr(self.stats, field, getattr(self.stats, field) + seconds)

    def _load(self, item: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.loader(item)
        finally:
            self._add("load_s", time.perf_counter() - start)

    def _prepare(self, batch: Any) -> np.ndarray:
        """Preprocess one batch (its items, or futures of loaded images) into a reused buffer."""
        if isinstance(batch, list) and batch and isinstance(batch[0], Future):
            batch = [future.result() for future in batch]
        start = time.perf_counter()
        options = self.preprocess_options
        shape = output_shape(batch, size=options.get("size"), crop=options.get("crop"),
                             layout=options.get("layout", "NCHW"))
        out = self._buffers.take(shape)
        preprocess(batch, out=out, num_threads=self.preprocess_threads, **options)
        self._add("preprocess_s", time.perf_counter() - start)
        return out

    # ----------------------------------------------------------------- caller side

    def _run_model(self, prepared: Future) -> Any:
        start = time.perf_counter()
        batch = prepared.result()
        ready = time.perf_counter()
        result = self._call_model(batch)
        done = time.perf_counter()
        if not _shares_memory(result, batch):
            self._buffers.give(batch)
        stats = self.stats
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
        self.stats = stats = PipelineStats()
        start = time.perf_counter()
        io_pool = (ThreadPoolExecutor(self.io_workers, thread_name_prefix="fastops-io")
                   if self.loader is not None else None)
        workers = ThreadPoolExecutor(self.workers, thread_name_prefix="fastops-preprocess")
        pending: deque[Future] = deque()
        try:
            for batch in _batches(images, self.batch_size):
                if io_pool is not None:
                    batch = [io_pool.submit(self._load, item) for item in batch]
                pending.append(workers.submit(self._prepare, batch))
                if len(pending) > self.prefetch:
                    yield self._run_model(pending.popleft())
            while pending:
                yield self._run_model(pending.popleft())
        finally:
            for future in pending:
                future.cancel()
            if io_pool is not None:
                io_pool.shutdown(wait=True, cancel_futures=True)
            workers.shutdown(wait=True, cancel_futures=True)
            stats.wall_s = time.perf_counter() - start

    def run(self, images: Iterable[Any]) -> list[Any]:
        """The outputs of ``map(images)``, one per batch, in a list."""
        return list(self.map(images))
