"""asv suite for ``fastops.matmul_t(a, b)`` = ``swapaxes(a @ b, -1, -2)``, C-contiguous.

Every class runs the same implementations (``impl`` parameter), each the
fastest idiomatic form of its library; see :data:`IMPLS`.  Every call is
checked once against ``fastops.testing.assert_matmul_t_close`` in setup(), so
a wrong result is never timed.  Threads: each implementation gets
``common.thread_count()`` (the matrix's ``OMP_NUM_THREADS``), except in
:class:`GilReleased`, which runs one-threaded calls from several Python threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent import futures
from typing import Any

import numpy as np

import fastops
import fastops.testing

from . import common

Call = Callable[[], Any]
#: factory(a, b, threads) -> the zero-argument call to time; inputs converted outside the timed call
Factory = Callable[[np.ndarray, np.ndarray, int], Call]


def _fastops(method: str) -> Factory:
    """Factory of ``fastops.matmul_t(a, b, num_threads=threads, method=method)``."""

    def factory(a: np.ndarray, b: np.ndarray, threads: int) -> Call:
        if method == "blas" and not fastops.show_config(mode="dicts").get("blas", {}).get("found"):
            raise NotImplementedError("this fastops build found no BLAS")
        matmul_t = fastops.matmul_t
        return lambda: matmul_t(a, b, num_threads=threads, method=method)

    return factory


def _numpy(a: np.ndarray, b: np.ndarray, threads: int) -> Call:
    """Factory of ``np.swapaxes(b, -1, -2) @ np.swapaxes(a, -1, -2)`` ((A·B)ᵀ = Bᵀ·Aᵀ; views made once)."""
    at, bt = np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2)
    return lambda: bt @ at


def _numpy_out(a: np.ndarray, b: np.ndarray, threads: int) -> Call:
    """Factory of ``np.matmul(a, b, out=np.swapaxes(c, -1, -2))`` into a preallocated C-contiguous c."""
    c = np.empty(fastops.testing.matmul_t_result_shape(a.shape, b.shape), dtype=np.result_type(a, b))
    view = np.swapaxes(c, -1, -2)

    def call() -> np.ndarray:
        np.matmul(a, b, out=view)
        return c

    return call


def _torch(a: np.ndarray, b: np.ndarray, threads: int) -> Call:
    """Factory of ``bt.mT @ at.mT`` on ``torch.from_numpy`` tensors (zero-copy; views made once)."""
    torch = common.torch_module(threads)
    at_t, bt_t = torch.from_numpy(a).mT, torch.from_numpy(b).mT
    return lambda: bt_t @ at_t


def _tensorflow(a: np.ndarray, b: np.ndarray, threads: int) -> Call:
    """Factory of ``tf.matmul(b, a, transpose_a=True, transpose_b=True)`` on constants made once."""
    tf = common.tensorflow_module(threads)
    at, bt = tf.constant(a), tf.constant(b)
    return lambda: tf.matmul(bt, at, transpose_a=True, transpose_b=True)


#: impl name -> (factory, the expression it times); the names match ``python -m fastops bench``.
IMPLS: dict[str, tuple[Factory, str]] = {
    "fastops": (_fastops("auto"), "fastops.matmul_t(a, b, method='auto')"),
    "fastops-blas": (_fastops("blas"), "fastops.matmul_t(a, b, method='blas')"),
    "fastops-native": (_fastops("native"), "fastops.matmul_t(a, b, method='native')"),
    "numpy": (_numpy, "np.swapaxes(b, -1, -2) @ np.swapaxes(a, -1, -2)  (views made once)"),
    "numpy-out": (_numpy_out, "np.matmul(a, b, out=np.swapaxes(c, -1, -2))"),
    "torch": (_torch, "bt.mT @ at.mT  (at, bt = torch.from_numpy(a), torch.from_numpy(b); views made once)"),
    "tensorflow": (_tensorflow, "tf.matmul(b, a, transpose_a=True, transpose_b=True)"),
}

#: the implementations of :class:`GilReleased` (those that release the GIL with one thread)
GIL_IMPLS = ["fastops", "fastops-blas", "fastops-native", "numpy"]


def impls_doc(names: Iterable[str]) -> str:
    """Docstring lines naming the expression each implementation times."""
    return "\n".join(f"    {name:15} {IMPLS[name][1]}" for name in names)


DTYPES = ["float32", "float64"]

#: n of the square n x n @ n x n products (FASTOPS_ASV_SLOW=1 adds 2048 and 4096)
SIZES = [8, 64, 256, 1024] + ([2048, 4096] if common.SLOW else [])

#: name -> (shape of a, shape of b) of the non-square products
SHAPES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "batch 4096x8x8": ((4096, 8, 8), (4096, 8, 8)),
    "batch 1024x32x32": ((1024, 32, 32), (1024, 32, 32)),
    "batch 64x128x128": ((64, 128, 128), (64, 128, 128)),
    "llama 128x1 @ 1x1024": ((1, 128, 1), (1, 1, 1024)),
    "bcast 8x128x64 @ 64x256": ((8, 128, 64), (64, 256)),
    "matvec 4096x4096 @ 4096x1": ((4096, 4096), (4096, 1)),
    "vecmat 32x1x128 @ 32x128x512": ((32, 1, 128), (32, 128, 512)),
    "decode 8x4096 @ 4096x4096": ((8, 4096), (4096, 4096)),
    "decode 16x4096 @ 4096x4096": ((16, 4096), (4096, 4096)),
    "prefill 128x4096 @ 4096x11008": ((128, 4096), (4096, 11008)),
}

#: name -> (shape of x, shape of W) of the x @ W.T products (torch.nn.Linear's
#: layout: b is the transposed view of a C-contiguous W)
LINEAR: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "linear 16x4096 @ (4096x4096).T": ((16, 4096), (4096, 4096)),
}


def random_inputs(a_shape: tuple[int, ...], b_shape: tuple[int, ...], dtype: str,
                  b_transposed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Uniform(-1, 1) operands of ``dtype`` from a fixed seed; ``b_transposed``:
    b is the transposed view of a C-contiguous (..., n, k) array."""
    rng = np.random.default_rng(12345)
    stored_b = (*b_shape[:-2], b_shape[-1], b_shape[-2]) if b_transposed else b_shape
    a, b = (rng.random(shape, dtype=dtype) * 2 - 1 for shape in (a_shape, stored_b))
    return a, (np.swapaxes(b, -1, -2) if b_transposed else b)


def flop_count(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> int:
    """Floating-point operations of ``a @ b``: 2 * batch * m * n * k."""
    batch = math.prod(np.broadcast_shapes(a_shape[:-2], b_shape[:-2]))
    return 2 * batch * a_shape[-2] * a_shape[-1] * b_shape[-1]


def checked_call(impl: str, a: np.ndarray, b: np.ndarray, threads: int) -> Call:
    """``impl``'s call on ``a``, ``b``, after checking its result with ``fastops.testing``."""
    call = IMPLS[impl][0](a, b, threads)
    fastops.testing.assert_matmul_t_close(np.asarray(call()), a, b)
    return call


class _Products:
    """Shared setup and measurements of :class:`Square` and :class:`Shapes`."""

    timeout = common.TIMEOUT

    def _setup(self, a_shape: tuple[int, ...], b_shape: tuple[int, ...], dtype: str, impl: str,
               b_transposed: bool = False) -> None:
        """Build and check ``impl``'s call; all BLAS pools get the suite's thread count."""
        threads = common.thread_count()
        common.limit_blas_threads(threads)
        self.call = checked_call(impl, *random_inputs(a_shape, b_shape, dtype, b_transposed), threads)
        self.flops = flop_count(a_shape, b_shape)

    def time_matmul_t(self, *params: Any) -> None:
        self.call()

    time_matmul_t.__doc__ = f"Seconds per matmul_t, impl being one of:\n{impls_doc(IMPLS)}"

    def track_gflops(self, *params: Any) -> float:
        return common.gflops(self.flops, self.call)

    track_gflops.__doc__ = f"GFLOP/s (best of 3 timeit samples), impl being one of:\n{impls_doc(IMPLS)}"
    track_gflops.unit = "GFLOP/s"  # type: ignore[attr-defined]


class Square(_Products):
    """Square products n x n @ n x n."""

    params = [SIZES, DTYPES, list(IMPLS)]
    param_names = ["n", "dtype", "impl"]

    def setup(self, n: int, dtype: str, impl: str) -> None:
        self._setup((n, n), (n, n), dtype, impl)

    def peakmem_matmul_t(self, n: int, dtype: str, impl: str) -> None:
        self.call()

    peakmem_matmul_t.__doc__ = (f"Peak RSS of the benchmark process, imports and inputs included "
                                f"(compare commits, not implementations), impl being one of:\n{impls_doc(IMPLS)}")


class Shapes(_Products):
    """Batched, broadcast, outer (the Llama (A·B)ᵀ node), matrix-vector,
    vector-matrix and few-row (8 and 16 tokens against a 4096^2 weight) products, see
    :data:`SHAPES`."""

    params = [list(SHAPES), DTYPES, list(IMPLS)]
    param_names = ["shape", "dtype", "impl"]

    def setup(self, shape: str, dtype: str, impl: str) -> None:
        self._setup(*SHAPES[shape], dtype, impl)


class Linear(_Products):
    """x @ W.T as torch.nn.Linear computes it (b the transposed view of W:
    its columns contiguous), see :data:`LINEAR`."""

    params = [list(LINEAR), DTYPES, list(IMPLS)]
    param_names = ["shape", "dtype", "impl"]

    def setup(self, shape: str, dtype: str, impl: str) -> None:
        x_shape, w_shape = LINEAR[shape]
        self._setup(x_shape, (w_shape[1], w_shape[0]), dtype, impl, b_transposed=True)


class GilReleased:
    """N Python threads each run CALLS_PER_THREAD one-threaded 256 x 256 float32 products.

    The kernels release the GIL, so on N free cores the time stays flat as N
    grows (pandas' asv_bench gil.py does the same).  fastops gets
    ``num_threads=1``; NumPy's BLAS is capped at one thread.
    """

    N = 256
    CALLS_PER_THREAD = 8
    params = [[1, 2, 4], GIL_IMPLS]
    param_names = ["python_threads", "impl"]
    timeout = common.TIMEOUT

    def setup(self, python_threads: int, impl: str) -> None:
        common.limit_blas_threads(1)
        self.call = checked_call(impl, *random_inputs((self.N, self.N), (self.N, self.N), "float32"), 1)
        self.flops = python_threads * self.CALLS_PER_THREAD * flop_count((self.N, self.N), (self.N, self.N))
        self.pool = futures.ThreadPoolExecutor(max_workers=python_threads)
        self.python_threads = python_threads

    def teardown(self, python_threads: int, impl: str) -> None:
        self.pool.shutdown()

    def _work(self) -> None:
        """One thread's share: CALLS_PER_THREAD calls."""
        for _ in range(self.CALLS_PER_THREAD):
            self.call()

    def _run_threads(self) -> None:
        """Run ``_work`` in every pool thread and wait for all (re-raising errors)."""
        for future in [self.pool.submit(self._work) for _ in range(self.python_threads)]:
            future.result()

    def time_threads(self, python_threads: int, impl: str) -> None:
        self._run_threads()

    time_threads.__doc__ = f"Seconds for all threads' calls, impl being one of:\n{impls_doc(GIL_IMPLS)}"

    def track_gflops(self, python_threads: int, impl: str) -> float:
        return common.gflops(self.flops, self._run_threads)

    track_gflops.__doc__ = f"GFLOP/s summed over the Python threads, impl being one of:\n{impls_doc(GIL_IMPLS)}"
    track_gflops.unit = "GFLOP/s"  # type: ignore[attr-defined]
