"""``preprocess``: uint8 images -> resize -> center crop -> normalize -> NCHW/NHWC float, fused."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from fastops import _preprocess
from fastops._openmp_helpers import openmp_effective_n_threads

__all__ = ["preprocess", "output_shape"]

_OUT_DTYPES = (np.dtype(np.float32), np.dtype(np.float16))


def _pair(value, name: str) -> tuple[int, int] | None:
    """None, a positive int (both sides) or a pair of positive ints."""
    if value is None:
        return None
    try:
        pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be None, an int or a pair of ints, got {value!r}") from None
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                 for v in pair):
        raise TypeError(f"{name} must be None, an int or a pair of ints, got {value!r}")
    if min(pair) <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return int(pair[0]), int(pair[1])


def _resized_shape(h: int, w: int, size) -> tuple[int, int]:
    """torchvision's Resize: an int sets the shorter side, keeping the aspect ratio."""
    if size is None:
        return h, w
    if isinstance(size, (int, np.integer)) and not isinstance(size, (bool, np.bool_)):
        if size <= 0:
            raise ValueError(f"size must be positive, got {size!r}")
        short, long = (h, w) if h <= w else (w, h)
        new_long = int(size * long / short)
        return (int(size), new_long) if h <= w else (new_long, int(size))
    return _pair(size, "size")


def _as_images(images) -> tuple[list[np.ndarray], list[tuple[int, ...]]]:
    """A list of (H, W) / (H, W, C) uint8 arrays, C in 1, 3, 4 (no copies), and their
    shapes (for an empty (0, H, W, C) batch: its (H, W, C), to size the empty output)."""
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError("images is an empty list")
        arrays = [np.asarray(im) for im in images]
        for im in arrays:
            if im.ndim == 2:
                continue
            if im.ndim != 3:
                raise ValueError(f"each image must be (H, W) or (H, W, C), got shape {im.shape}")
    else:
        batch = np.asarray(images)
        if batch.ndim != 4:
            raise ValueError(f"images must be an (N, H, W, C) array or a list of (H, W, C) "
                             f"arrays, got shape {batch.shape}")
        arrays = list(batch)
        if not arrays:
            if batch.dtype != np.uint8:
                raise TypeError(f"images must be uint8, got {batch.dtype}")
            if 0 in batch.shape[1:3] or batch.shape[3] not in (1, 3, 4):
                raise ValueError(f"images must be non-empty with 1, 3 or 4 channels, got "
                                 f"shape {batch.shape}")
            return [], [batch.shape[1:]]
    for im in arrays:
        if im.dtype != np.uint8:
            raise TypeError(f"images must be uint8, got {im.dtype}")
        if im.ndim == 3 and im.shape[2] not in (1, 3, 4):
            raise ValueError(f"images must have 1, 3 or 4 channels, got shape {im.shape}")
        if im.shape[0] == 0 or im.shape[1] == 0:
            raise ValueError(f"images must not be empty, got shape {im.shape}")
    return arrays, [im.shape for im in arrays]


def _per_channel(values, name: str, default: float) -> np.ndarray:
    if values is None:
        return np.full(3, default)
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (3,):
        raise ValueError(f"{name} must have 3 values (one per channel), got {values!r}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {values!r}")
    return arr


def _plans(shapes: list[tuple[int, ...]], size, crop) -> tuple[np.ndarray, tuple[int, int]]:
    """(N, 4) int64 [resized h, resized w, crop top, crop left] and the output (h, w),
    for images of these shapes (an empty batch passes its (H, W) once)."""
    crop_hw = _pair(crop, "crop")
    plans = np.empty((len(shapes), 4), dtype=np.int64)
    out_hw = None
    for i, shape in enumerate(shapes):
        rh, rw = _resized_shape(shape[0], shape[1], size)
        ch, cw = crop_hw if crop_hw is not None else (rh, rw)
        if ch > rh or cw > rw:
            raise ValueError(f"crop {crop_hw} is larger than the (resized) image {(rh, rw)} "
                             f"of image {i} (shape {shape})")
        if out_hw is None:
            out_hw = (ch, cw)
        elif out_hw != (ch, cw):
            raise ValueError(f"images give outputs of different sizes ({out_hw} and "
                             f"{(ch, cw)} for image {i}): pass size=(h, w) or crop")
        plans[i] = rh, rw, int(round((rh - ch) / 2.0)), int(round((rw - cw) / 2.0))
    return plans, out_hw


def _check_layout(layout: str) -> None:
    if layout not in ("NCHW", "NHWC"):
        raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")


def _result_shape(n: int, oh: int, ow: int, layout: str) -> tuple[int, int, int, int]:
    return (n, 3, oh, ow) if layout == "NCHW" else (n, oh, ow, 3)


def _options(size, crop, mean, std, antialias, channels, layout,
             dtype) -> tuple[np.dtype, np.ndarray, np.ndarray]:
    """Validate the options that do not depend on the images; returns the output
    dtype and the per-channel mean and std."""
    out_dtype = np.dtype(dtype)
    if out_dtype not in _OUT_DTYPES:
        raise TypeError(f"dtype must be float32 or float16, got {out_dtype}")
    _check_layout(layout)
    if channels not in ("RGB", "BGR"):
        raise ValueError(f"channels must be 'RGB' or 'BGR', got {channels!r}")
    if not isinstance(antialias, (bool, np.bool_)):
        raise TypeError(f"antialias must be a bool, got {antialias!r}")
    _resized_shape(1, 1, size)
    _pair(crop, "crop")
    mean_c, std_c = _per_channel(mean, "mean", 0.0), _per_channel(std, "std", 1.0)
    if np.any(std_c == 0):
        raise ValueError(f"std must not contain zeros, got {std!r}")
    return out_dtype, mean_c, std_c


def output_shape(images, *, size: int | tuple[int, int] | None = None,
                 crop: int | tuple[int, int] | None = None,
                 layout: Literal["NCHW", "NHWC"] = "NCHW") -> tuple[int, int, int, int]:
    """The shape ``preprocess(images, size=size, crop=crop, layout=layout)`` returns,
    e.g. to allocate ``out=`` buffers; raises the errors ``preprocess`` would."""
    arrays, shapes = _as_images(images)
    _check_layout(layout)
    _, (oh, ow) = _plans(shapes, size, crop)
    return _result_shape(len(arrays), oh, ow, layout)


def preprocess(images, *, size: int | tuple[int, int] | None = None,
               crop: int | tuple[int, int] | None = None,
               mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
               antialias: bool = True, channels: Literal["RGB", "BGR"] = "RGB",
               layout: Literal["NCHW", "NHWC"] = "NCHW", dtype=np.float32,
               out: np.ndarray | None = None, num_threads: int | None = None) -> np.ndarray:
    """Resize, center-crop, scale and normalize a batch of uint8 images in one pass.

    Parameters
    ----------
    images : uint8 array (N, H, W, C) with any strides, or a list of (H, W, C)
        or (H, W) uint8 arrays whose sizes may differ (torch tensors too).
        C = 3 (RGB); grayscale (C = 1 or 2-D) is repeated to 3 channels;
        RGBA drops alpha.  The output always has 3 channels.
    size : None (no resize), int (shorter side, as torchvision's Resize(int))
        or (h, w).
    crop : None, int or (h, w): center crop of the resized image, torchvision's
        rounding.  All images must end up the same size.
    mean, std : 3 values each on the 0..1 scale (None: 0 and 1);
        output = (x / 255 - mean) / std, in output (RGB) channel order.
    antialias : PyTorch's antialiased bilinear filter (F.interpolate(...,
        antialias=True) on float input); False: plain bilinear, half-pixel.
    channels : "BGR" for OpenCV images: channels are swapped to RGB.
    layout : "NCHW" -> (N, 3, h, w); "NHWC" -> (N, h, w, 3).
    dtype : float32 or float16.
    out : C-contiguous array of exactly the output shape and dtype.
    num_threads : as in ``matmul_t``; threads run over images and rows.

    Returns
    -------
    ndarray (N, 3, h, w) or (N, h, w, 3) of `dtype`.  The GIL is released.
    """
    arrays, shapes = _as_images(images)
    out_dtype, mean_c, std_c = _options(size, crop, mean, std, antialias, channels, layout, dtype)
    plans, (oh, ow) = _plans(shapes, size, crop)
    n_threads = openmp_effective_n_threads(num_threads)
    shape = _result_shape(len(arrays), oh, ow, layout)
    if out is None:
        out = np.empty(shape, out_dtype)
    elif not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    elif out.dtype != out_dtype:
        raise TypeError(f"out has dtype {out.dtype}, the result is {out_dtype}")
    elif out.shape != shape or not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"out must be a writeable C-contiguous array of shape {shape}, "
                         f"got shape {out.shape}")
    if any(np.may_share_memory(out, im) for im in arrays):
        raise ValueError("out overlaps an input image; pass a separate array")
    if not arrays:
        return out
    scale = 1.0 / (255.0 * std_c)
    bias = -mean_c / std_c
    source = (2, 1, 0) if channels == "BGR" else (0, 1, 2)
    return _preprocess.preprocess_into(
        arrays, plans, out, bool(antialias), layout == "NCHW", source,
        tuple(float(v) for v in scale), tuple(float(v) for v in bias), n_threads)
