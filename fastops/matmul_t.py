"""``matmul_t``: (A·B)ᵀ in one pass, validated here and computed in ``_matmul_t``."""
from __future__ import annotations

from math import prod
from typing import Literal

import numpy as np

from fastops import _matmul_t
from fastops._blas_loader import BLAS_INFO
from fastops._openmp_helpers import openmp_effective_n_threads

__all__ = ["matmul_t", "matmul_t_plan"]

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_NATIVE, _BLAS = _matmul_t.METHOD_NATIVE, _matmul_t.METHOD_BLAS
_matmul_t_into = _matmul_t.matmul_t_into
_out_flaws = _matmul_t.out_flaws
_ndarray = np.ndarray
_METHODS = {"native": _NATIVE, "blas": _BLAS}


_avx512 = _matmul_t.active_simd_is_avx512
_intel = _matmul_t.cpu_is_intel()
#: From this many multiply-adds in one product, NumPy's OpenBLAS can beat the
#: native kernels; below it, and for every batch and k = 1 outer product,
#: native (README, "How auto chooses").  Intel Xeon (AVX-512, AMX), BLAS time
#: / native time, float32 / float64: squares 1024-2048 1.05-1.10 in both,
#: 3072^2 0.97 / 1.00, 4096^2 0.93-0.98 / 0.95-1.00 (four runs).  The AMD
#: threshold holds for every CPU not made by Intel (Zen 5's, from before its
#: native GEMM caught up with OpenBLAS; not re-measured without AVX-512);
#: _auto_method decides above it.
_AMD_NATIVE_MAX = 1024 * 1024 * 1024
_INTEL_NATIVE_MAX = 3072 * 3072 * 3072
_NATIVE_MAX = _INTEL_NATIVE_MAX if _intel else _AMD_NATIVE_MAX
#: With AVX-512 on AMD, float32 products from this many multiply-adds go to
#: OpenBLAS; float64 ones stay native.  Zen 5, 2 threads, BLAS / native:
#: float32 1024^2-2048^2 0.99-1.05, 3072^2 0.975, 4096^2 0.95; float64
#: 1024^2-4096^2 1.08-1.14, five shapes of 1024^3 multiply-adds 1.12-1.28.
_AMD_AVX512_F32_NATIVE_MAX = 3072 * 3072 * 3072
#: Zen 4 (AMD family 25 with AVX-512, on 256-bit datapaths) differs: BLAS /
#: native, 2 threads, 5-9 rounds: float32 2048^2-4096^2 0.97-1.01, 4096 x
#: 1024 @ 1024 x 4096 1.09 (native everywhere); float64 1536^2 0.99, 1024 x
#: 4096 @ 4096 x 1024 1.02, 2048^2 0.98, 3072^2 0.97, 4096^2 0.96 (OpenBLAS
#: from 2048^3 multiply-adds).
_zen4 = not _intel and _matmul_t.cpu_family() == 25
_ZEN4_F64_NATIVE_MAX = 2048 * 2048 * 2048
#: Without AVX-512 on AMD, float64 products with up to this many rows of A
#: stay native (the blocked GEMM packs a B beyond L2 a few of its rows at a
#: time; README, "How auto chooses").  Zen 3, AVX2, 2 threads, BLAS / native,
#: median of 7 rounds: 32-224 x 4096 @ 4096 x 4096 1.08-1.53, 256 rows 1.06;
#: 64-192 rows against 1024 x 8192 to 16384 x 1024 1.01-1.24.
_AMD_AVX2_F64_NATIVE_ROWS = 256


def _auto_method(dtype: np.dtype, work: int, m: int, k: int, n_batch: int) -> int:
    """The faster path for a product of `work` >= _NATIVE_MAX multiply-adds,
    from side-by-side measurements on 2 threads (README, "How auto chooses"):
    Intel Xeon with AVX-512, AMD Zen 5 and Zen 4 with AVX-512, Zen 3 with AVX2.
    Native for batches (one product per thread) and k = 1 outer products
    (BLAS packs operands for a single multiply).  OpenBLAS for single products
    on Intel CPUs.  On Zen 4: native in float32, OpenBLAS in float64 from
    _ZEN4_F64_NATIVE_MAX.  On other AMD CPUs with AVX-512 (Zen 5): native in
    float64, and in float32 below _AMD_AVX512_F32_NATIVE_MAX; without AVX-512 (Zen 3): native
    in float32 (ties from 512^3 to 4096^3), OpenBLAS in float64 from more than
    _AMD_AVX2_F64_NATIVE_ROWS rows of A.  The AMD
    policy without AVX-512 was measured with AVX2; the SSE baseline shares
    it.  The Intel policy was measured with AVX-512 only.
    """
    if not BLAS_INFO["found"] or n_batch > 1 or k == 1:
        return _NATIVE
    if _intel:
        return _BLAS
    if _avx512():
        if _zen4:
            return _BLAS if dtype is _F64 and work >= _ZEN4_F64_NATIVE_MAX else _NATIVE
        return _NATIVE if dtype is _F64 or work < _AMD_AVX512_F32_NATIVE_MAX else _BLAS
    return _BLAS if dtype is _F64 and m > _AMD_AVX2_F64_NATIVE_ROWS else _NATIVE


def _result_dtype(a: np.ndarray, b: np.ndarray) -> np.dtype:
    da, db = a.dtype, b.dtype
    if da is db and (da is _F32 or da is _F64):
        return da
    for d in (da, db):
        if d.kind != "f" or d.itemsize not in (4, 8):
            raise TypeError(f"matmul_t supports float32 and float64 inputs (mixed gives "
                            f"float64), got {da} and {db}")
    return _F64 if 8 in (da.itemsize, db.itemsize) else _F32


def _as_operand(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """x in `dtype` (native byte order), aligned, so strides are whole elements."""
    return np.array(x, dtype=dtype, order="K")


def _check_out(out, shape: tuple, dtype: np.dtype, a: np.ndarray, b: np.ndarray) -> None:
    if not isinstance(out, _ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype is not dtype and out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, the result is {dtype}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}, the result has shape {shape}")
    flaws = _out_flaws(out, a, b)
    if not flaws:
        return
    if flaws & _matmul_t.OUT_NOT_C_CONTIGUOUS:
        raise ValueError("out must be C-contiguous")
    if flaws & _matmul_t.OUT_READ_ONLY:
        raise ValueError("out is read-only")
    for x, near in ((a, _matmul_t.OUT_NEAR_A), (b, _matmul_t.OUT_NEAR_B)):
        if flaws & near and np.shares_memory(out, x):
            raise ValueError("out overlaps an input; pass a separate array")


def _result_shape(shape_a: tuple, shape_b: tuple) -> tuple[tuple, int]:
    """The result's shape (batch + (n, m)) and batch size; ValueError naming
    the shapes if they do not multiply."""
    if len(shape_a) < 2 or len(shape_b) < 2:
        raise ValueError(f"matmul_t needs arrays of at least 2 dimensions, got shapes "
                         f"{shape_a} and {shape_b}")
    if shape_a[-1] != shape_b[-2]:
        raise _inner_mismatch(shape_a, shape_b)
    batch = shape_a[:-2]
    if batch != shape_b[:-2]:
        try:
            batch = np.broadcast_shapes(batch, shape_b[:-2])
        except ValueError:
            raise ValueError(f"matmul_t: batch dimensions do not broadcast: "
                             f"{shape_a} @ {shape_b}") from None
    return batch + (shape_b[-1], shape_a[-2]), prod(batch)


def _inner_mismatch(shape_a: tuple, shape_b: tuple) -> ValueError:
    return ValueError(f"matmul_t: inner dimensions differ: {shape_a} @ {shape_b} "
                      f"({shape_a[-1]} != {shape_b[-2]})")


def _method_for(method: str, dtype: np.dtype, m: int, k: int, n: int, n_batch: int) -> int:
    """The method code for `method` ("auto": the faster path for an m x k @ k x n product)."""
    if method == "auto":
        work = m * k * n
        return _NATIVE if work < _NATIVE_MAX else _auto_method(dtype, work, m, k, n_batch)
    return _method_code(method)


def _method_code(method: str) -> int:
    code = _METHODS.get(method)
    if code is None:
        raise ValueError(f"method must be 'auto', 'native' or 'blas', got {method!r}")
    if code == _BLAS and not BLAS_INFO["found"]:
        raise RuntimeError("method='blas': no CBLAS was found in NumPy's libraries "
                           "(see fastops.show_config())")
    return code


def matmul_t(a, b, *, out: np.ndarray | None = None, num_threads: int | None = None,
             method: Literal["auto", "native", "blas"] = "auto") -> np.ndarray:
    """(A·B)ᵀ as a new C-contiguous array: ``np.swapaxes(a @ b, -1, -2)``, fused.

    Parameters
    ----------
    a : array_like, (..., m, k), float32 or float64 (torch CPU tensors too)
    b : array_like, (..., k, n); batch dimensions broadcast as in ``np.matmul``
    out : ndarray, optional
        C-contiguous, shape ``broadcast(...) + (n, m)``, the result dtype.
    num_threads : int, optional
        None: OpenMP's default (``OMP_NUM_THREADS``, threadpoolctl) capped by
        the usable CPUs; n > 0: n threads; n < 0: all CPUs but |n| - 1.
    method : {"auto", "native", "blas"}
        "native": fastops' packed, register-tiled kernels (any strides);
        "blas": the CBLAS NumPy ships, for layouts with a unit stride (others
        fall back to "native"); "auto": the faster one for the shape.

    Returns
    -------
    ndarray, (..., n, m): float32 if both inputs are float32, else float64.
    The GIL is released while it computes (from 16^3 multiply-adds in all;
    smaller products cost less than releasing it).
    """
    if type(a) is not _ndarray:
        a = np.asarray(a)
    if type(b) is not _ndarray:
        b = np.asarray(b)
    dtype = a.dtype
    convert = dtype is not b.dtype or (dtype is not _F32 and dtype is not _F64)
    if convert:
        dtype = _result_dtype(a, b)
    shape_a, shape_b = a.shape, b.shape
    if len(shape_a) == 2 and len(shape_b) == 2:  # _result_shape's case, inline (small products)
        m, k = shape_a
        k_b, n = shape_b
        if k_b != k:
            raise _inner_mismatch(shape_a, shape_b)
        shape = (n, m)
        n_batch = 1
    else:
        shape, n_batch = _result_shape(shape_a, shape_b)
        m, k = shape_a[-2:]
        n = shape_b[-1]
    if method == "auto" and m * n * k < _NATIVE_MAX:
        code = _NATIVE
    else:
        code = _method_for(method, dtype, m, k, n, n_batch)
    # 0: the compiled side resolves OpenMP's default (one Python call less)
    n_threads = 0 if num_threads is None else openmp_effective_n_threads(num_threads)
    if out is not None:
        _check_out(out, shape, dtype, a, b)
    if convert:
        a = a if a.dtype is dtype else _as_operand(a, dtype)
        b = b if b.dtype is dtype else _as_operand(b, dtype)
    try:
        return _matmul_t_into(a, b, out, shape, code, n_threads)
    except _matmul_t.UnalignedError:  # strides not in whole elements: rare, copy
        return matmul_t(_as_operand(a, dtype), _as_operand(b, dtype), out=out,
                        num_threads=num_threads, method=method)


def matmul_t_plan(a, b, *, num_threads: int | None = None,
                  method: Literal["auto", "native", "blas"] = "auto") -> dict:
    """How ``matmul_t(a, b, num_threads=..., method=...)`` would compute, without computing.

    Same arguments and errors as :func:`matmul_t` (no ``out``).  Returns a
    dict: ``shape`` and ``dtype`` of the result, ``batch`` (products),
    ``converted`` (the operands copied first: to the result dtype, or for
    strides that are not whole elements), ``method`` ("native" or "blas":
    "blas" falls back to "native" for layouts without a unit stride),
    ``kernel`` ("blas", "tiny", "dot", "few-rows", "direct", "panel",
    "blocked-gemm"; "none" for an empty result, "zeros" for k = 0), ``simd``
    (the native kernel's variant, else None), ``threads``, ``split`` ("none":
    one thread, "batch": one product per thread, "product": threads inside
    each product in turn) and ``gil_released``.  README, "Which kernel runs".

    >>> import numpy as np, fastops
    >>> x = np.ones((4, 4), np.float32)
    >>> fastops.matmul_t_plan(x, x, num_threads=1)["kernel"]
    'tiny'
    """
    a, b = np.asarray(a), np.asarray(b)
    dtype = _result_dtype(a, b)
    shape, n_batch = _result_shape(a.shape, b.shape)
    code = _method_for(method, dtype, a.shape[-2], a.shape[-1], b.shape[-1], n_batch)
    n_threads = 0 if num_threads is None else openmp_effective_n_threads(num_threads)
    converted = [name for name, x in (("a", a), ("b", b)) if x.dtype != dtype]
    a, b = (x if x.dtype == dtype else _as_operand(x, dtype) for x in (a, b))
    try:
        plan = _matmul_t.plan(a, b, shape, code, n_threads)
    except _matmul_t.UnalignedError:
        converted = ["a", "b"]
        plan = _matmul_t.plan(_as_operand(a, dtype), _as_operand(b, dtype), shape, code, n_threads)
    return {"shape": shape, "dtype": dtype, "batch": n_batch, "converted": converted,
            "method": "blas" if plan["kernel"] == "blas" else "native", **plan}
