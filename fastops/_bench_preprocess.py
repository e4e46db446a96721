"""Benchmark cases for ``fastops.preprocess`` against NumPy, PyTorch, TensorFlow and OpenCV.

Registered as kernel "preprocess" in :mod:`fastops._bench`; rates are GB/s of
uint8 input read plus float output written, compared with the machine's copy
bandwidth.  Each case's parameters travel as the second input: a 0-d object
array holding a :class:`PreprocessSpec`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastops._bench import (Call, Case, Impl, Inputs, Kernel, Settings, _installed, _tensorflow,
                            _torch, register_kernel)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class PreprocessSpec:
    """One preprocessing recipe: resize (shorter side) and center crop, or neither."""

    size: int | None
    crop: int | None
    antialias: bool
    dtype: str


def _spec(inputs: Inputs) -> PreprocessSpec:
    return inputs[1].item()


def _case(name: str, n: int, h: int, w: int, size: int | None, crop: int | None,
          antialias: bool) -> Case:
    out_hw = crop if crop is not None else h

    def make_inputs(dtype: np.dtype) -> Inputs:
        images = np.random.default_rng(3).integers(0, 256, (n, h, w, 3), dtype=np.uint8)
        spec = PreprocessSpec(size, crop, antialias, np.dtype(dtype).name)
        return images, np.array(spec, dtype=object)

    # Work in bytes: every source byte read once, every output element written once.
    def bytes_moved(itemsize: int) -> int:
        return n * h * w * 3 + n * 3 * out_hw * out_hw * itemsize

    return Case(name=name, flops=bytes_moved(4), make_inputs=make_inputs)


def preprocess_cases(quick: bool = False) -> list[Case]:
    """ImageNet recipes on a batch of 32 (8 in quick mode) images."""
    n = 8 if quick else 32
    return [
        _case(f"normalize {n}x224x224", n, 224, 224, None, None, False),
        _case(f"resize256+crop224 aa {n}x480x640", n, 480, 640, 256, 224, True),
        _case(f"resize256+crop224 {n}x480x640", n, 480, 640, 256, 224, False),
    ]


def _resized_hw(h: int, w: int, size: int) -> tuple[int, int]:
    return (size, int(size * w / h)) if h <= w else (int(size * h / w), size)


def _fastops(reuse_out: bool):
    """fastops.preprocess(images, size=, crop=, mean=, std=, antialias=, dtype=) in one call."""

    def factory(inputs: Inputs, settings: Settings) -> Call:
        import fastops

        images, spec = inputs[0], _spec(inputs)
        kwargs = dict(size=spec.size, crop=spec.crop, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                      antialias=spec.antialias, dtype=spec.dtype, num_threads=settings.threads)
        out = fastops.preprocess(images, **kwargs) if reuse_out else None
        return lambda: fastops.preprocess(images, out=out, **kwargs)

    return factory


def _numpy(inputs: Inputs, settings: Settings) -> Call:
    """NumPy: one ufunc pass uint8 NHWC -> float NCHW (x * 1/(255 std) - mean/std); no resize."""
    images, spec = inputs[0], _spec(inputs)
    if spec.size is not None:
        raise NotImplementedError("NumPy has no resize")
    scale = (1.0 / (255.0 * np.asarray(IMAGENET_STD)))[:, None, None]
    bias = (-np.asarray(IMAGENET_MEAN) / np.asarray(IMAGENET_STD))[:, None, None]
    n, h, w, _ = images.shape
    nchw = images.transpose(0, 3, 1, 2)

    def call() -> np.ndarray:
        out = np.empty((n, 3, h, w), spec.dtype)
        np.multiply(nchw, scale.astype(spec.dtype), out=out, casting="unsafe")
        out += bias.astype(spec.dtype)
        return out

    return call


def _torch_impl(inputs: Inputs, settings: Settings) -> Call:
    """PyTorch at its fastest: antialiased resize on uint8 channels-last (its SIMD path),
    plain bilinear on float; then crop, float, normalize, contiguous NCHW."""
    torch = _torch(settings.peer_threads)
    import torch.nn.functional as F

    images, spec = inputs[0], _spec(inputs)
    x = torch.from_numpy(images).permute(0, 3, 1, 2)          # NCHW view, channels-last memory
    dtype = getattr(torch, spec.dtype)
    mean = torch.tensor(IMAGENET_MEAN, dtype=dtype)[:, None, None]
    std = torch.tensor(IMAGENET_STD, dtype=dtype)[:, None, None]

    def call():
        y = x
        if spec.size is not None:
            rh, rw = _resized_hw(images.shape[1], images.shape[2], spec.size)
            y = F.interpolate(y if spec.antialias else y.float(), size=(rh, rw), mode="bilinear",
                              align_corners=False, antialias=spec.antialias)
            top, left = int(round((rh - spec.crop) / 2)), int(round((rw - spec.crop) / 2))
            y = y[..., top:top + spec.crop, left:left + spec.crop]
        return ((y.to(dtype) / 255 - mean) / std).contiguous()

    return call


def _tf_impl(inputs: Inputs, settings: Settings) -> Call:
    """TensorFlow: tf.image.resize(antialias=) on NHWC, crop, normalize, transpose to NCHW."""
    tf = _tensorflow(settings.peer_threads)
    images, spec = inputs[0], _spec(inputs)
    x = tf.constant(images)
    mean = tf.constant(IMAGENET_MEAN, dtype=spec.dtype)
    std = tf.constant(IMAGENET_STD, dtype=spec.dtype)

    def call():
        y = tf.cast(x, spec.dtype)
        if spec.size is not None:
            rh, rw = _resized_hw(images.shape[1], images.shape[2], spec.size)
            y = tf.image.resize(y, (rh, rw), method="bilinear", antialias=spec.antialias)
            top, left = int(round((rh - spec.crop) / 2)), int(round((rw - spec.crop) / 2))
            y = tf.cast(y[:, top:top + spec.crop, left:left + spec.crop], spec.dtype)
        return tf.transpose((y / 255 - mean) / std, (0, 3, 1, 2))

    return call


def _opencv(inputs: Inputs, settings: Settings) -> Call:
    """OpenCV: cv2.dnn.blobFromImages(scalefactor=1/255, mean, crop=True) -- a related recipe,
    checked for shape only: it resizes the shorter side straight to the crop size, has no
    per-channel std (less work) and no antialias; float32 only."""
    import cv2

    images, spec = inputs[0], _spec(inputs)
    if spec.antialias or spec.dtype != "float32":
        raise NotImplementedError("blobFromImages has no antialias and gives float32 only")
    cv2.setNumThreads(settings.peer_threads)
    side = spec.crop if spec.crop is not None else images.shape[1]
    batch = list(images)
    mean = tuple(255 * m for m in IMAGENET_MEAN)
    return lambda: cv2.dnn.blobFromImages(batch, scalefactor=1 / 255, size=(side, side),
                                          mean=mean, swapRB=False, crop=spec.crop is not None)


def preprocess_impls() -> list[Impl]:
    """fastops (new output, reused output), then the peers in their fastest forms."""
    return [
        Impl("fastops", _fastops(False), is_fastops=True, doc="preprocess(images, ...)"),
        Impl("fastops-out", _fastops(True), is_fastops=True, doc="preprocess(images, ..., out=out)"),
        Impl("numpy", _numpy, doc=_numpy.__doc__ or ""),
        Impl("torch", _torch_impl, available=_installed("torch"), doc=_torch_impl.__doc__ or ""),
        Impl("tensorflow", _tf_impl, available=_installed("tensorflow"), doc=_tf_impl.__doc__ or ""),
        Impl("opencv", _opencv, available=_installed("cv2"), doc=_opencv.__doc__ or "", checked=False),
    ]


def preprocess_reference(inputs: Inputs) -> np.ndarray:
    """float64 reference from ``fastops.testing.preprocess_reference`` (PyTorch, float64)."""
    from fastops.testing import preprocess_reference as reference

    spec = _spec(inputs)
    return np.asarray(reference(inputs[0], size=spec.size, crop=spec.crop, mean=IMAGENET_MEAN,
                                std=IMAGENET_STD, antialias=spec.antialias), dtype=np.float64)


def check_preprocess(result, reference: np.ndarray, inputs: Inputs) -> str | None:
    """Shape, and max abs error within one uint8 level (1 / (255 std), PyTorch's fastest
    antialiased path resizes in uint8) plus 2e-3 (float32) / 2e-2 (float16), in normalized
    units.  fastops' own accuracy (2e-3 / 2e-2) is enforced by tests/test_preprocess.py."""
    result = np.asarray(result)
    if result.shape != reference.shape:
        return f"shape {result.shape} != expected {reference.shape}"
    tolerance = (2e-3 if result.dtype == np.float32 else 2e-2) + 1 / (255 * min(IMAGENET_STD))
    err = float(np.max(np.abs(result.astype(np.float64) - reference)))
    return None if err <= tolerance else f"max abs error {err:.3g} > {tolerance}"


register_kernel(Kernel(
    name="preprocess",
    cases=preprocess_cases,
    impls=preprocess_impls,
    reference=preprocess_reference,
    check=check_preprocess,
    dtypes=("float32", "float16"),
    size_label="images",
    unit="GB/s",
    peak="bandwidth",
))

__all__ = ["PreprocessSpec", "preprocess_cases", "preprocess_impls"]
