"""Helpers shared by the fastops asv suites.

Only the public fastops API and the peer frameworks are imported anywhere in
the suites: asv also runs them against old commits.
"""

from __future__ import annotations

import functools
import importlib
import os
import timeit
from collections.abc import Callable
from types import ModuleType
from typing import Any

#: FASTOPS_ASV_SLOW=1 adds the slow problem sizes (seconds per call); off by default.
SLOW = os.environ.get("FASTOPS_ASV_SLOW") == "1"

#: asv ``timeout`` (seconds) of one benchmark: generous with the slow sizes.
TIMEOUT = 900.0 if SLOW else 120.0


def thread_count() -> int:
    """Threads every implementation gets: ``OMP_NUM_THREADS`` (the asv matrix's
    ``env_nobuild``), else all CPUs this process may use."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def require(module: str) -> ModuleType:
    """Import a peer framework; raise NotImplementedError (asv: skipped) when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise NotImplementedError(f"{module} is not installed") from exc


def limit_blas_threads(threads: int) -> None:
    """Cap every loaded BLAS (NumPy's OpenBLAS, used by NumPy and ``method="blas"``) at ``threads``.

    A no-op without threadpoolctl: OpenBLAS then follows ``OMP_NUM_THREADS`` by itself.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=threads, user_api="blas")


@functools.lru_cache(maxsize=None)
def torch_module(threads: int) -> ModuleType:
    """PyTorch with ``threads`` intra-op threads (NotImplementedError when not installed)."""
    torch = require("torch")
    torch.set_num_threads(threads)
    return torch


@functools.lru_cache(maxsize=None)
def tensorflow_module(threads: int) -> ModuleType:
    """TensorFlow with ``threads`` intra- and inter-op threads (NotImplementedError when not installed).

    TF accepts this only before its runtime starts; each asv benchmark runs in a
    fresh process (``launch_method: "spawn"``) and this is its first TF call.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    tf = require("tensorflow")
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    return tf


def gflops(flops: int, call: Callable[[], Any], repeat: int = 3) -> float:
    """GFLOP/s of ``call``: ``flops`` over the best of ``repeat`` timeit samples of >= 0.2 s each,
    to 2 decimals (asv prints track values as they are)."""
    timer = timeit.Timer(call)
    number, _ = timer.autorange()
    seconds = min(timer.repeat(repeat=repeat, number=number)) / number
    return round(flops / seconds / 1e9, 2)
