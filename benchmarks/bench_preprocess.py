"""asv suite for ``fastops.preprocess``: uint8 images -> resize -> center crop -> normalize -> NCHW.

Cases are ImageNet recipes on 32 images (see :data:`CASES`); implementations
(``impl``) are each library's fastest idiomatic form (:data:`IMPLS`).  Every
call is checked once in setup() against ``fastops.testing.preprocess_reference``
(within one uint8 level: PyTorch's fastest antialiased path resizes in uint8;
skipped without PyTorch, which the reference needs),
except OpenCV's ``blobFromImages``, a related recipe (resizes the shorter side
straight to the crop, no std, no antialias) that is checked for shape only.
Commits before ``fastops.preprocess`` existed skip (NotImplementedError).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np

import fastops

from . import common

Call = Callable[[], Any]
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

#: case -> (source H, W, resize shorter side, crop, antialias)
CASES: dict[str, tuple[int, int, int | None, int | None, bool]] = {
    "normalize 224x224": (224, 224, None, None, False),
    "resize256 crop224 antialias 480x640": (480, 640, 256, 224, True),
    "resize256 crop224 480x640": (480, 640, 256, 224, False),
}
N_IMAGES = 32


def _resized(h: int, w: int, size: int) -> tuple[int, int]:
    return (size, int(size * w / h)) if h <= w else (int(size * h / w), size)


def _fastops(reuse_out: bool) -> Callable[..., Call]:
    def factory(images, size, crop, antialias, dtype, threads) -> Call:
        if not hasattr(fastops, "preprocess"):
            raise NotImplementedError("this commit has no fastops.preprocess")
        kwargs = dict(size=size, crop=crop, mean=MEAN, std=STD, antialias=antialias,
                      dtype=dtype, num_threads=threads)
        out = fastops.preprocess(images, **kwargs) if reuse_out else None
        return lambda: fastops.preprocess(images, out=out, **kwargs)
    return factory


def _numpy(images, size, crop, antialias, dtype, threads) -> Call:
    if size is not None:
        raise NotImplementedError("NumPy has no resize")
    scale = (1 / (255 * np.asarray(STD)))[:, None, None].astype(dtype)
    bias = (-np.asarray(MEAN) / np.asarray(STD))[:, None, None].astype(dtype)
    nchw = images.transpose(0, 3, 1, 2)

    def call():
        out = np.empty(nchw.shape, dtype)
        np.multiply(nchw, scale, out=out, casting="unsafe")
        out += bias
        return out
    return call


def _torch(images, size, crop, antialias, dtype, threads) -> Call:
    torch = common.torch_module(threads)
    import torch.nn.functional as F

    x = torch.from_numpy(images).permute(0, 3, 1, 2)    # channels-last memory: uint8 AA fast path
    tdtype = getattr(torch, dtype)
    mean = torch.tensor(MEAN, dtype=tdtype)[:, None, None]
    std = torch.tensor(STD, dtype=tdtype)[:, None, None]

    def call():
        y = x
        if size is not None:
            rh, rw = _resized(*images.shape[1:3], size)
            y = F.interpolate(y if antialias else y.float(), size=(rh, rw), mode="bilinear",
                              align_corners=False, antialias=antialias)
            top, left = int(round((rh - crop) / 2)), int(round((rw - crop) / 2))
            y = y[..., top:top + crop, left:left + crop]
        return ((y.to(tdtype) / 255 - mean) / std).contiguous()
    return call


def _tensorflow(images, size, crop, antialias, dtype, threads) -> Call:
    tf = common.tensorflow_module(threads)
    x = tf.constant(images)
    mean, std = tf.constant(MEAN, dtype=dtype), tf.constant(STD, dtype=dtype)

    def call():
        y = tf.cast(x, dtype)
        if size is not None:
            rh, rw = _resized(*images.shape[1:3], size)
            y = tf.image.resize(y, (rh, rw), method="bilinear", antialias=antialias)
            top, left = int(round((rh - crop) / 2)), int(round((rw - crop) / 2))
            y = tf.cast(y[:, top:top + crop, left:left + crop], dtype)
        return tf.transpose((y / 255 - mean) / std, (0, 3, 1, 2))
    return call


def _opencv(images, size, crop, antialias, dtype, threads) -> Call:
    cv2 = common.require("cv2")
    if antialias or dtype != "float32":
        raise NotImplementedError("blobFromImages: no antialias, float32 only")
    cv2.setNumThreads(threads)
    side = crop if crop is not None else images.shape[1]
    batch = list(images)
    mean = tuple(255 * m for m in MEAN)
    return lambda: cv2.dnn.blobFromImages(batch, scalefactor=1 / 255, size=(side, side),
                                          mean=mean, swapRB=False, crop=crop is not None)


#: impl -> (factory, checked against the reference)
IMPLS: dict[str, tuple[Callable[..., Call], bool]] = {
    "fastops": (_fastops(False), True),          # fastops.preprocess(images, size=, crop=, mean=, std=)
    "fastops-out": (_fastops(True), True),       # the same into a reused out=
    "numpy": (_numpy, True),                     # one ufunc pass NHWC uint8 -> NCHW float (no resize)
    "torch": (_torch, True),                     # uint8 AA interpolate (channels-last) / float bilinear
    "tensorflow": (_tensorflow, True),           # tf.image.resize(antialias=), crop, normalize, transpose
    "opencv": (_opencv, False),                  # cv2.dnn.blobFromImages(crop=True): related recipe
}


class Preprocess:
    """Time, GB/s (uint8 read + float written) and peak memory of each implementation."""

    params = [list(CASES), ["float32", "float16"], list(IMPLS)]
    param_names = ["case", "dtype", "impl"]
    timeout = common.TIMEOUT

    def setup(self, case: str, dtype: str, impl: str) -> None:
        h, w, size, crop, antialias = CASES[case]
        images = np.random.default_rng(3).integers(0, 256, (N_IMAGES, h, w, 3), dtype=np.uint8)
        factory, checked = IMPLS[impl]
        self.call = factory(images, size, crop, antialias, dtype, common.thread_count())
        result = np.asarray(self.call())
        side = crop if crop is not None else h
        if result.shape != (N_IMAGES, 3, side, side):
            raise AssertionError(f"{impl}: shape {result.shape}")
        if checked and hasattr(fastops, "preprocess") and importlib.util.find_spec("torch"):
            import fastops.testing as testing

            reference = testing.preprocess_reference(images, size=size, crop=crop, mean=MEAN,
                                                     std=STD, antialias=antialias)
            tolerance = (2e-3 if dtype == "float32" else 2e-2) + 1 / (255 * min(STD))
            error = float(np.max(np.abs(result.astype(np.float64) - reference)))
            if error > tolerance:
                raise AssertionError(f"{impl}: max abs error {error:.3g} > {tolerance:.3g}")
        self.bytes = images.nbytes + N_IMAGES * 3 * side * side * np.dtype(dtype).itemsize

    def time_preprocess(self, case: str, dtype: str, impl: str) -> None:
        self.call()

    def peakmem_preprocess(self, case: str, dtype: str, impl: str) -> None:
        self.call()

    def track_gbps(self, case: str, dtype: str, impl: str) -> float:
        return common.gflops(self.bytes, self.call)

    track_gbps.unit = "GB/s"
