"""Helpers for checking :func:`fastops.matmul_t` results.

These are public so that the test-suite, the benchmarks and downstream users
all judge a ``matmul_t`` result by the same yardstick:

* :func:`matmul_t_reference` computes the exact-as-practical float64 answer,
* :func:`matmul_t_tolerance` says how far a correct float32 / float64 result
  may stray from it for a given inner (reduction) size ``k``,
* :func:`assert_matmul_t_close` checks dtype, layout, shape and values of a
  result in one call.

Shapes follow :func:`numpy.matmul`: ``a`` is ``(..., m, k)``, ``b`` is
``(..., k, n)`` and ``matmul_t(a, b)`` is ``(..., n, m)``, the batch dimensions
``...`` being broadcast against each other.

This module imports only NumPy; it never calls into the compiled extension.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "matmul_t_reference",
    "matmul_t_tolerance",
    "matmul_t_result_dtype",
    "matmul_t_result_shape",
    "assert_matmul_t_close",
]

_SUPPORTED = (np.dtype(np.float32), np.dtype(np.float64))


def matmul_t_reference(a: npt.ArrayLike, b: npt.ArrayLike) -> np.ndarray:
    """Float64 reference for ``matmul_t(a, b)``.

    Parameters
    ----------
    a : array_like, shape ``(..., m, k)``
        Any real dtype NumPy can cast to float64 (float32 / float64 in
        practice); converted with ``np.asarray(a, dtype=np.float64)``.
    b : array_like, shape ``(..., k, n)``
        As ``a``; the batch dimensions of ``a`` and ``b`` must broadcast.

    Returns
    -------
    numpy.ndarray, float64, shape ``(*broadcast(a.shape[:-2], b.shape[:-2]), n, m)``
        ``swapaxes(a @ b, -1, -2)`` computed by NumPy in float64, as a new
        C-contiguous array.
    """
    a64 = np.asarray(a, dtype=np.float64)
    b64 = np.asarray(b, dtype=np.float64)
    return np.ascontiguousarray(np.swapaxes(np.matmul(a64, b64), -1, -2))


def matmul_t_tolerance(
    dtype: npt.DTypeLike, k: int, *, scale: float = 1.0
) -> tuple[float, float]:
    """Tolerance ``(rtol, atol)`` for a ``matmul_t`` result of ``dtype``.

    A correct kernel sums ``k`` products per output element in ``dtype``
    arithmetic.  Whatever the summation order (sequential, blocked, FMA or
    not), the rounding error of such a sum behaves like a random walk, so it
    is bounded with high probability by ``c * eps * sqrt(k) * sum|a_ip b_pj|``
    (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.5 and
    the probabilistic analysis of Higham & Mary 2019).  We use ``c = 4`` and
    ``sqrt(k + 1)`` so that ``k == 0`` and ``k == 1`` still get a few ulps.

    Parameters
    ----------
    dtype : float32 or float64
        dtype of the result being checked (float32 only if both inputs were
        float32).
    k : int
        Inner (reduction) dimension, ``a.shape[-1]``.
    scale : float, optional
        Typical magnitude of one product ``|a_ip * b_pj|``; ``1.0`` suits
        inputs drawn from ``uniform(-1, 1)`` or ``standard_normal``.

    Returns
    -------
    (rtol, atol) : tuple of float
        Meant for ``np.testing.assert_allclose(result, reference, rtol, atol)``.
        ``rtol`` is also the factor used for the element-wise bound
        ``|result - reference| <= rtol * (|a| @ |b|)`` that
        :func:`assert_matmul_t_close` applies, which is the tighter and more
        robust check (it does not need ``scale``).  ``atol`` covers entries
        whose exact value is close to zero through cancellation:
        ``rtol * sqrt(k + 1) * scale`` (about ``8 * unit_roundoff * k``).

    Examples
    --------
    float32 with k = 1000: rtol ~ 1.5e-5, atol ~ 4.8e-4.
    float64 with k = 1000: rtol ~ 2.8e-14, atol ~ 8.9e-13.
    """
    dt = np.dtype(dtype)
    if dt not in _SUPPORTED:
        raise TypeError(f"matmul_t results are float32 or float64, got {dt}")
    k = int(k)
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    eps = float(np.finfo(dt).eps)
    root = math.sqrt(k + 1)
    rtol = 4.0 * eps * root
    atol = rtol * root * float(scale)
    return rtol, atol


def matmul_t_result_dtype(a: npt.ArrayLike, b: npt.ArrayLike) -> np.dtype:
    """dtype ``matmul_t(a, b)`` must return: float32 iff both inputs are float32.

    Inputs are looked at through ``np.asarray`` (so Python lists of floats are
    float64, PyTorch float32 CPU tensors are float32).
    """
    f32 = np.dtype(np.float32)
    if np.asarray(a).dtype == f32 and np.asarray(b).dtype == f32:
        return f32
    return np.dtype(np.float64)


def matmul_t_result_shape(
    a_shape: tuple[int, ...], b_shape: tuple[int, ...]
) -> tuple[int, ...]:
    """Shape of ``matmul_t`` for operands of shapes ``(..., m, k)`` and ``(..., k, n)``.

    Returns ``(*np.broadcast_shapes(a_shape[:-2], b_shape[:-2]), n, m)``.
    Does no validation beyond what ``np.broadcast_shapes`` does.
    """
    batch = np.broadcast_shapes(tuple(a_shape[:-2]), tuple(b_shape[:-2]))
    return (*batch, b_shape[-1], a_shape[-2])


def assert_matmul_t_close(
    result: Any,
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Assert that ``result`` is a correct ``matmul_t(a, b)``.

    Checks, in order:

    1. ``result`` is a ``numpy.ndarray``;
    2. its dtype is float32 if both ``np.asarray(a)`` and ``np.asarray(b)``
       are float32, float64 otherwise;
    3. it is C-contiguous;
    4. its shape is ``(*broadcast(a.shape[:-2], b.shape[:-2]), n, m)``;
    5. non-finite entries of the float64 reference (NaN, +-inf) are matched
       exactly (NaN where NaN, the same infinity where infinite);
    6. every finite entry satisfies
       ``|result - ref| <= rtol * (|a| @ |b|).T + atol``
       with ``rtol`` from :func:`matmul_t_tolerance` unless given, and
       ``atol`` defaulting to ``(k + 1) * smallest_normal(dtype)`` (only
       there so that flushed subnormals do not count as errors).

    Parameters
    ----------
    result : numpy.ndarray, float32 or float64, shape ``(..., n, m)``
        Output of ``matmul_t(a, b, ...)``.
    a : array_like, shape ``(..., m, k)``
    b : array_like, shape ``(..., k, n)``
    rtol, atol : float, optional
        Override the default tolerance.

    Raises
    ------
    AssertionError
        With a description of the first failed check.
    """
    a_arr = np.asarray(a)
    b_arr = np.asarray(b)
    assert isinstance(result, np.ndarray), (
        f"matmul_t returned {type(result).__name__}, expected numpy.ndarray"
    )
    want_dtype = matmul_t_result_dtype(a_arr, b_arr)
    assert result.dtype == want_dtype, (
        f"dtype {result.dtype} for inputs {a_arr.dtype} and {b_arr.dtype}; "
        f"expected {want_dtype}"
    )
    assert result.flags.c_contiguous, (
        f"result is not C-contiguous (shape {result.shape}, strides {result.strides})"
    )
    want_shape = matmul_t_result_shape(a_arr.shape, b_arr.shape)
    assert result.shape == want_shape, (
        f"shape {result.shape} for inputs {a_arr.shape} @ {b_arr.shape}; "
        f"expected {want_shape}"
    )

    ref = matmul_t_reference(a_arr, b_arr)
    k = a_arr.shape[-1]
    if rtol is None:
        rtol = matmul_t_tolerance(want_dtype, k)[0]
    if atol is None:
        atol = (k + 1) * float(np.finfo(want_dtype).smallest_normal)

    got = result.astype(np.float64)
    finite = np.isfinite(ref)
    if not finite.all():
        # NaN / inf must propagate exactly like NumPy's.
        np.testing.assert_array_equal(
            np.isnan(got),
            np.isnan(ref),
            err_msg="NaN pattern differs from numpy's",
        )
        inf_ref = np.isinf(ref)
        np.testing.assert_array_equal(
            got[inf_ref], ref[inf_ref], err_msg="infinities differ from numpy's"
        )

    if ref.size == 0:
        return
    with np.errstate(invalid="ignore", over="ignore"):
        magnitude = matmul_t_reference(np.abs(a_arr), np.abs(b_arr))
        bound = rtol * magnitude + atol
        err = np.abs(got - ref)
    bad = finite & ~(err <= bound)
    if bad.any():
        idx = np.argwhere(bad)
        first = tuple(int(i) for i in idx[0])
        raise AssertionError(
            f"matmul_t result differs from the float64 reference at "
            f"{int(bad.sum())} of {ref.size} entries (result shape {ref.shape}, "
            f"dtype {want_dtype}, k={k}, rtol={rtol:.3g}).\n"
            f"First at index {first}: got {got[first]!r}, expected {ref[first]!r}, "
            f"|error| {err[first]:.3g} > bound {bound[first]:.3g}.\n"
            f"Largest error / bound ratio: {np.max(np.where(finite, err / np.maximum(bound, 1e-300), 0)):.3g}"
        )
