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


# --------------------------------------------------------------------------
# fastops.preprocess
# --------------------------------------------------------------------------


def _preprocess_pair(value: Any, name: str) -> tuple[int, int] | None:
    """None, a positive int (both sides) or a pair of positive ints -> (h, w)."""
    if value is None:
        return None
    if isinstance(value, bool) or (
        not isinstance(value, (int, np.integer)) and any(isinstance(v, bool) for v in value)
    ):
        raise TypeError(f"{name} must be None, an int or a pair of ints, got {value!r}")
    pair = (int(value), int(value)) if isinstance(value, (int, np.integer)) else tuple(
        int(v) for v in value
    )
    if len(pair) != 2 or min(pair) <= 0:
        raise ValueError(f"{name} must be positive (h, w), got {value!r}")
    return pair


def preprocess_resized_shape(h: int, w: int, size: Any) -> tuple[int, int]:
    """Image size ``(h, w)`` after torchvision's ``Resize(size)``.

    ``None`` keeps ``(h, w)``; an int sets the shorter side to ``size`` and the
    longer one to ``int(size * long / short)`` (torchvision's
    ``_compute_resized_output_size`` without ``max_size``); a pair is ``(h, w)``.
    """
    if size is None:
        return int(h), int(w)
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = int(size)
        if size <= 0:
            raise ValueError(f"size must be positive, got {size!r}")
        short, long = (h, w) if h <= w else (w, h)
        new_long = int(size * long / short)
        return (size, new_long) if h <= w else (new_long, size)
    pair = _preprocess_pair(size, "size")
    assert pair is not None
    return pair


def preprocess_reference(
    images: Any,
    *,
    size: Any = None,
    crop: Any = None,
    mean: Any = None,
    std: Any = None,
    antialias: bool = True,
    channels: str = "RGB",
    layout: str = "NCHW",
) -> np.ndarray:
    """Float64 reference for ``fastops.preprocess`` (needs PyTorch).

    Each image is processed on its own, in float64, by the chain the spec
    describes:

    1. to 3 channels: ``(H, W)`` and ``(H, W, 1)`` are repeated, ``(H, W, 4)``
       drops its alpha channel; ``channels="BGR"`` reverses the channel order
       so that the result is RGB;
    2. resize to :func:`preprocess_resized_shape` with
       ``torch.nn.functional.interpolate(x.double(), size, mode="bilinear",
       antialias=antialias, align_corners=False)`` (skipped when the size does
       not change, where interpolate is the identity anyway), on a
       channels_last tensor: PyTorch 2.13 returns wrong antialiased values for
       a contiguous NCHW input resized to width 1 (e.g. (1, 3, 90, 2) ->
       (7, 1)), its channels_last kernel does not;
    3. center crop ``(ch, cw)`` at ``top = int(round((rh - ch) / 2))``,
       ``left = int(round((rw - cw) / 2))`` (torchvision's ``center_crop``,
       Python's round); a crop larger than the resized image raises
       ``ValueError``;
    4. ``(x / 255 - mean) / std`` per output (RGB) channel (``mean`` None: 0,
       ``std`` None: 1).

    Parameters
    ----------
    images : uint8 array ``(N, H, W, C)`` or list of ``(H, W)`` / ``(H, W, C)``
        uint8 arrays (C in 1, 3, 4; anything ``np.asarray`` takes, torch CPU
        tensors included).  Not validated beyond what the chain needs.
    size, crop : None, int or ``(h, w)``
    mean, std : None or 3 floats on the 0..1 scale
    antialias : bool
    channels : ``"RGB"`` or ``"BGR"``
    layout : ``"NCHW"`` or ``"NHWC"``

    Returns
    -------
    numpy.ndarray, float64, shape ``(N, 3, h, w)`` (NCHW) or ``(N, h, w, 3)``
        (NHWC), C-contiguous, where ``(h, w)`` is the crop (or the resized
        size without a crop).  All images must give the same ``(h, w)``
        (``ValueError`` otherwise).
    """
    import torch
    import torch.nn.functional as F

    if channels not in ("RGB", "BGR"):
        raise ValueError(f"channels must be 'RGB' or 'BGR', got {channels!r}")
    if layout not in ("NCHW", "NHWC"):
        raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
    if isinstance(images, (list, tuple)):
        arrays = [np.asarray(im) for im in images]
    else:
        arrays = list(np.asarray(images))
    if not arrays:
        raise ValueError("no images")
    crop_hw = _preprocess_pair(crop, "crop")
    mean_c = np.zeros(3) if mean is None else np.asarray(mean, dtype=np.float64).reshape(3)
    std_c = np.ones(3) if std is None else np.asarray(std, dtype=np.float64).reshape(3)

    results = []
    for im in arrays:
        im = np.asarray(im)
        if im.ndim == 2:
            im = im[:, :, None]
        if im.shape[2] == 1:
            im = np.repeat(im, 3, axis=2)
        im = im[:, :, :3]
        if channels == "BGR":
            im = im[:, :, ::-1]
        h, w = im.shape[:2]
        # (1, 3, H, W) float64 in channels_last memory (strides (3HW, 1, 3W, 3)):
        # PyTorch 2.13's antialiased kernel for contiguous NCHW input is wrong
        # when the output width is 1 and the height changes; the channels_last
        # kernel computes the documented filter for every shape.
        x = torch.from_numpy(np.ascontiguousarray(im[None], dtype=np.float64)).permute(0, 3, 1, 2)
        rh, rw = preprocess_resized_shape(h, w, size)
        if (rh, rw) != (h, w):
            x = F.interpolate(
                x, size=(rh, rw), mode="bilinear", antialias=bool(antialias), align_corners=False
            )
        ch, cw = crop_hw if crop_hw is not None else (rh, rw)
        if ch > rh or cw > rw:
            raise ValueError(f"crop {(ch, cw)} is larger than the resized image {(rh, rw)}")
        top, left = int(round((rh - ch) / 2.0)), int(round((rw - cw) / 2.0))
        x = x[0, :, top : top + ch, left : left + cw].numpy()  # (3, ch, cw)
        x = (x / 255.0 - mean_c[:, None, None]) / std_c[:, None, None]
        results.append(x)
    shapes = {r.shape for r in results}
    if len(shapes) != 1:
        raise ValueError(f"images give outputs of different sizes: {sorted(shapes)}")
    out = np.stack(results)  # (N, 3, h, w)
    if layout == "NHWC":
        out = out.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(out, dtype=np.float64)


__all__ += ["preprocess_reference", "preprocess_resized_shape"]
