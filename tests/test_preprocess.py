"""Tests for ``fastops.preprocess``: uint8 images -> resize -> center crop -> normalize.

``preprocess(images, *, size=None, crop=None, mean=None, std=None,
antialias=True, channels="RGB", layout="NCHW", dtype=np.float32, out=None,
num_threads=None)`` is, image by image, the torchvision recipe

    Resize(size, antialias) -> CenterCrop(crop) -> x / 255 -> Normalize(mean, std)

computed on float input: every numerical check compares against
:func:`fastops.testing.preprocess_reference`, which runs the same chain per
image with ``torch.nn.functional.interpolate`` in float64.  The spec's
accuracy budget, in normalized output units, is

* max abs error <= 2e-3 for float32 output,
* max abs error <= 2e-2 for float16 output,

for both antialias settings, downscaling and upscaling, odd sizes, portrait
and landscape images, a crop without a resize and an exact ``(h, w)`` resize.
``std`` is drawn from [0.1, 1] so that normalized values stay within +-10.

Results must not depend on the thread count: every output pixel is computed
by one thread in a fixed order, so they are compared with
``assert_array_equal``.

PyTorch is only needed for the reference (the ``reference`` fixture) and for
the torch-tensor input test; those skip without it.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from fastops import preprocess
from fastops.preprocess import output_shape as preprocess_output_shape
from fastops.testing import preprocess_reference, preprocess_resized_shape

# --------------------------------------------------------------------------
# Constants and helpers
# --------------------------------------------------------------------------

#: the spec's accuracy budget per output dtype (max abs error, normalized units)
TOL = {np.dtype(np.float32): 2e-3, np.dtype(np.float16): 2e-2}
OUT_DTYPES = [np.float32, np.float16]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: examples per property test, scaled by the hypothesis profile (see conftest.py);
#: the ci profile's 100 gives 100 / 50 per test here, which keeps the file well
#: under a minute on 2 cores.
N_EXAMPLES = settings.default.max_examples
N_MAIN = max(10, N_EXAMPLES)
N_SMALL = max(10, N_EXAMPLES // 2)

#: image sides drawn by the property tests
MAX_IMAGE_SIDE = 120
#: output sides drawn for size=(h, w) (above MAX_IMAGE_SIDE: upscaling)
MAX_SIZE_SIDE = 160
#: cap on the long side that size=int produces (keeps the reference fast)
MAX_LONG_SIDE = 320


@pytest.fixture(scope="module")
def reference():
    """:func:`preprocess_reference`, skipping the test when PyTorch is missing."""
    pytest.importorskip("torch")
    return preprocess_reference


def make_image(rng: np.random.Generator, shape: tuple[int, ...], kind: str = "noise") -> np.ndarray:
    """uint8 image of `shape`: uniform noise, a 0/255 checkerboard or a smooth ramp."""
    if kind == "noise":
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    h, w = shape[-3:-1] if len(shape) >= 3 else shape
    yy, xx = np.indices((h, w))
    if kind == "checker":
        plane = ((yy + xx) % 2 * 255).astype(np.uint8)
    else:  # "ramp"
        plane = ((yy * 7 + xx * 3) % 256).astype(np.uint8)
    if len(shape) == 2:
        return plane
    out = np.empty(shape, np.uint8)
    for c in range(shape[-1]):
        out[..., c] = (plane.astype(np.int64) + 85 * c) % 256
    return out


def assert_preprocess_close(result, ref: np.ndarray, dtype=np.float32, context: str = "") -> None:
    """result is a C-contiguous ndarray of `dtype` and ref's shape, within the spec's budget."""
    dtype = np.dtype(dtype)
    assert isinstance(result, np.ndarray), f"returned {type(result).__name__}, not ndarray"
    assert result.dtype == dtype, f"dtype {result.dtype}, expected {dtype}"
    assert result.flags.c_contiguous, f"not C-contiguous (strides {result.strides})"
    assert result.shape == ref.shape, f"shape {result.shape}, expected {ref.shape}"
    got = result.astype(np.float64)
    assert np.all(np.isfinite(got)), "non-finite values in the result"
    if ref.size == 0:
        return
    err = np.abs(got - ref)
    worst = np.unravel_index(int(np.argmax(err)), err.shape)
    tol = TOL[dtype]
    assert err[worst] <= tol, (
        f"max abs error {err[worst]:.3g} > {tol:g} ({dtype}) at {tuple(map(int, worst))}: "
        f"got {got[worst]!r}, expected {ref[worst]!r}; "
        f"{int((err > tol).sum())} of {err.size} values off. {context}"
    )


def output_shape(n: int, hw: tuple[int, int], layout: str) -> tuple[int, int, int, int]:
    return (n, 3, *hw) if layout == "NCHW" else (n, *hw, 3)


# --------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------

sides = st.integers(1, MAX_IMAGE_SIDE)
image_kinds = st.sampled_from(["noise", "noise", "checker", "ramp"])
seeds = st.integers(0, 2**32 - 1)
normalizations = st.one_of(
    st.none(),
    st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3),
)
stds = st.one_of(
    st.none(),
    st.lists(st.floats(0.1, 1.0), min_size=3, max_size=3),
)


@st.composite
def size_and_crop(draw, h: int, w: int):
    """(size, crop, (out_h, out_w)) valid for an h x w image: size None / int / (h, w)
    (down- and upscaling), crop None / int / (h, w) that fits the resized image."""
    kind = draw(st.sampled_from(["none", "int", "pair"]))
    if kind == "none":
        size = None
    elif kind == "int":
        short, long = min(h, w), max(h, w)
        size = draw(st.integers(1, max(1, min(MAX_SIZE_SIDE, MAX_LONG_SIDE * short // long))))
    else:
        size = (draw(st.integers(1, MAX_SIZE_SIDE)), draw(st.integers(1, MAX_SIZE_SIDE)))
    rh, rw = preprocess_resized_shape(h, w, size)
    crop_kind = draw(st.sampled_from(["none", "int", "pair"]))
    if crop_kind == "none":
        crop, out_hw = None, (rh, rw)
    elif crop_kind == "int":
        c = draw(st.integers(1, min(rh, rw)))
        crop, out_hw = c, (c, c)
    else:
        crop = (draw(st.integers(1, rh)), draw(st.integers(1, rw)))
        out_hw = crop
    return size, crop, out_hw


# --------------------------------------------------------------------------
# Property tests: the whole parameter space against the float64 reference
# --------------------------------------------------------------------------


@settings(deadline=None, max_examples=N_MAIN)
@given(
    data=st.data(),
    n=st.integers(1, 3),
    h=sides,
    w=sides,
    c=st.sampled_from([3, 3, 1, 4]),
    kind=image_kinds,
    seed=seeds,
    antialias=st.booleans(),
    channels=st.sampled_from(["RGB", "BGR"]),
    layout=st.sampled_from(["NCHW", "NHWC"]),
    dtype=st.sampled_from(OUT_DTYPES),
    mean=normalizations,
    std=stds,
    threads=st.integers(2, 5),
)
def test_batch_matches_reference(reference, data, n, h, w, c, kind, seed, antialias, channels,
                                 layout, dtype, mean, std, threads):
    """(N, H, W, C) batches, C in 1/3/4, any size / crop / antialias / channels /
    layout / dtype / mean / std: within the spec's budget of the float64 chain,
    and bit-identical for 1 and several threads."""
    size, crop, out_hw = data.draw(size_and_crop(h, w), label="size, crop, out_hw")
    images = make_image(np.random.default_rng(seed), (n, h, w, c), kind)
    kw = dict(size=size, crop=crop, mean=mean, std=std, antialias=antialias,
              channels=channels, layout=layout)
    result = preprocess(images, dtype=dtype, num_threads=1, **kw)
    assert result.shape == output_shape(n, out_hw, layout)
    assert_preprocess_close(result, reference(images, **kw), dtype, context=repr(kw))
    np.testing.assert_array_equal(
        preprocess(images, dtype=dtype, num_threads=threads, **kw), result,
        err_msg=f"num_threads={threads} differs from num_threads=1")


def _axis_slice(step: int, offset: int) -> slice:
    """Every |step|-th index, skipping `offset` at the start (step > 0) or the end."""
    return slice(offset, None, step) if step > 0 else slice(-1 - offset, None, step)


@settings(deadline=None, max_examples=N_SMALL)
@given(
    data=st.data(),
    n=st.integers(1, 4),
    h=st.integers(1, 60),
    w=st.integers(1, 60),
    seed=seeds,
    antialias=st.booleans(),
    layout=st.sampled_from(["NCHW", "NHWC"]),
    dtype=st.sampled_from(OUT_DTYPES),
    step_n=st.sampled_from([1, 2, -1, -2]),
    step_h=st.sampled_from([1, 2, 3, -1, -2]),
    step_w=st.sampled_from([1, 2, 3, -1, -3]),
    channel_view=st.sampled_from(["rgb", "reversed", "rgb_of_rgba", "strided"]),
)
def test_strided_batches(reference, data, n, h, w, seed, antialias, layout, dtype,
                         step_n, step_h, step_w, channel_view):
    """Sliced views with any strides (steps, negative steps, channels reversed or
    taken from a wider pixel) give the result of their contiguous copy."""
    rng = np.random.default_rng(seed)
    base_c = {"rgb": 3, "reversed": 3, "rgb_of_rgba": 4, "strided": 6}[channel_view]
    base = make_image(rng, (n * abs(step_n), h * abs(step_h) + 1, w * abs(step_w) + 2, base_c))
    view = base[::step_n, _axis_slice(step_h, 1), _axis_slice(step_w, 2)]
    view = {"rgb": view, "reversed": view[..., ::-1], "rgb_of_rgba": view[..., :3],
            "strided": view[..., ::2]}[channel_view]
    view = view[:n, :h, :w]
    assert view.shape == (n, h, w, 3), view.shape
    size, crop, _ = data.draw(size_and_crop(h, w), label="size, crop, out_hw")
    kw = dict(size=size, crop=crop, antialias=antialias, layout=layout,
              mean=IMAGENET_MEAN, std=IMAGENET_STD)
    note(f"view strides {view.strides}")
    result = preprocess(view, dtype=dtype, **kw)
    assert_preprocess_close(result, reference(view, **kw), dtype, context=repr(kw))
    np.testing.assert_allclose(result, preprocess(np.ascontiguousarray(view), dtype=dtype, **kw),
                               rtol=0, atol=1e-5 if dtype == np.float32 else 1e-2)


def test_broadcast_and_fortran_batches(reference):
    """Stride-0 (broadcast, read-only) and Fortran-ordered batches."""
    rng = np.random.default_rng(18)
    image = make_image(rng, (23, 31, 3))
    kw = dict(size=12, crop=(10, 14), mean=IMAGENET_MEAN, std=IMAGENET_STD)
    for batch in (
        np.broadcast_to(image, (3, 23, 31, 3)),                      # same image 3 times
        np.broadcast_to(image[:, :1], (2, 23, 31, 3)),               # stride-0 columns
        np.broadcast_to(image[:1, :1, :1], (2, 23, 31, 3)),          # one value everywhere
        np.asfortranarray(make_image(rng, (2, 23, 31, 3))),
        np.asfortranarray(make_image(rng, (2, 23, 31, 3)))[..., ::-1],
    ):
        result = preprocess(batch, **kw)
        assert_preprocess_close(result, reference(np.ascontiguousarray(batch), **kw),
                                context=f"strides {batch.strides}")
        np.testing.assert_allclose(result, preprocess(np.ascontiguousarray(batch), **kw),
                                   rtol=0, atol=1e-5)


@settings(deadline=None, max_examples=N_SMALL)
@given(
    shapes=st.lists(st.tuples(sides, sides, st.sampled_from([0, 1, 3, 4])),
                    min_size=1, max_size=4),
    out_h=st.integers(1, MAX_SIZE_SIDE),
    out_w=st.integers(1, MAX_SIZE_SIDE),
    seed=seeds,
    antialias=st.booleans(),
    channels=st.sampled_from(["RGB", "BGR"]),
    layout=st.sampled_from(["NCHW", "NHWC"]),
    dtype=st.sampled_from(OUT_DTYPES),
)
def test_list_of_different_sizes_exact_size(reference, shapes, out_h, out_w, seed, antialias,
                                            channels, layout, dtype):
    """A list of images of different sizes and channel counts (0: 2-D grayscale)
    resized to an exact (h, w)."""
    rng = np.random.default_rng(seed)
    images = [make_image(rng, (h, w) if c == 0 else (h, w, c)) for h, w, c in shapes]
    kw = dict(size=(out_h, out_w), antialias=antialias, channels=channels, layout=layout,
              mean=IMAGENET_MEAN, std=IMAGENET_STD)
    result = preprocess(images, dtype=dtype, **kw)
    assert result.shape == output_shape(len(images), (out_h, out_w), layout)
    assert_preprocess_close(result, reference(images, **kw), dtype, context=repr(kw))


@settings(deadline=None, max_examples=N_SMALL)
@given(
    shapes=st.lists(st.tuples(sides, sides), min_size=1, max_size=4),
    data=st.data(),
    seed=seeds,
    antialias=st.booleans(),
)
def test_list_of_different_sizes_int_size_and_crop(reference, shapes, data, seed, antialias):
    """A list of images of different sizes: shorter side resized to `size`, then a
    crop that fits every image makes the outputs equal."""
    min_short = min(min(h, w) for h, w in shapes)
    size = data.draw(st.integers(1, max(1, min(MAX_SIZE_SIDE, MAX_LONG_SIDE * min_short
                                               // max(max(h, w) for h, w in shapes)))),
                     label="size")
    resized = [preprocess_resized_shape(h, w, size) for h, w in shapes]
    crop = (data.draw(st.integers(1, min(r[0] for r in resized)), label="crop h"),
            data.draw(st.integers(1, min(r[1] for r in resized)), label="crop w"))
    rng = np.random.default_rng(seed)
    images = [make_image(rng, (h, w, 3)) for h, w in shapes]
    kw = dict(size=size, crop=crop, antialias=antialias)
    result = preprocess(images, **kw)
    assert result.shape == (len(images), 3, *crop)
    assert_preprocess_close(result, reference(images, **kw), context=repr(kw))


# --------------------------------------------------------------------------
# Explicit accuracy cases
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", OUT_DTYPES, ids=["f32", "f16"])
@pytest.mark.parametrize("antialias", [True, False], ids=["aa", "no_aa"])
@pytest.mark.parametrize("hw", [(480, 640), (640, 480)], ids=["landscape", "portrait"])
def test_imagenet_recipe(reference, hw, antialias, dtype):
    """Resize(256) -> CenterCrop(224) -> Normalize(ImageNet) on 480x640 photos."""
    images = make_image(np.random.default_rng(0), (2, *hw, 3))
    kw = dict(size=256, crop=224, mean=IMAGENET_MEAN, std=IMAGENET_STD, antialias=antialias)
    result = preprocess(images, dtype=dtype, **kw)
    assert result.shape == (2, 3, 224, 224)
    assert_preprocess_close(result, reference(images, **kw), dtype)
    # the resized shape is torchvision's: 256 x int(256 * 640 / 480) = 256 x 341
    assert preprocess_resized_shape(*hw, 256) == ((256, 341) if hw[0] < hw[1] else (341, 256))
    assert preprocess(images, dtype=dtype, size=256, antialias=antialias).shape == (
        (2, 3, 256, 341) if hw[0] < hw[1] else (2, 3, 341, 256))


@pytest.mark.parametrize("antialias", [True, False], ids=["aa", "no_aa"])
@pytest.mark.parametrize(
    "hw, size, crop",
    [
        ((37, 53), (19, 29), None),       # odd sizes, exact (h, w) downscale
        ((37, 53), (101, 77), None),      # odd sizes, exact (h, w) upscale
        ((53, 37), 17, None),             # portrait, int size
        ((37, 53), 17, None),             # landscape, int size
        ((20, 30), 45, 41),               # int upscale then crop
        ((37, 53), None, (21, 30)),       # crop without resize
        ((37, 53), None, 37),             # crop of the full height
        ((1, 1), (5, 7), None),           # a single pixel, upscaled
        ((1, 90), 3, None),               # a 1-pixel-high strip
        ((90, 2), (7, 1), None),          # down to one column
        ((64, 64), (64, 64), None),       # size equal to the image: identity resize
        ((64, 64), (64, 20), (10, 20)),   # one axis resized only
    ],
)
def test_accuracy_cases(reference, hw, size, crop, antialias):
    """Named corners of the parameter space (odd, portrait, landscape, up / down,
    crop only, 1-pixel images, one-axis resize)."""
    images = make_image(np.random.default_rng(1), (2, *hw, 3))
    kw = dict(size=size, crop=crop, antialias=antialias, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    result = preprocess(images, **kw)
    assert_preprocess_close(result, reference(images, **kw), context=repr(kw))


def test_no_resize_no_crop_is_exact_scaling():
    """Without size and crop the output is x / 255 exactly (as float32)."""
    images = make_image(np.random.default_rng(2), (2, 9, 11, 3))
    result = preprocess(images)
    np.testing.assert_allclose(result, images.transpose(0, 3, 1, 2) / 255.0, rtol=1e-6, atol=0)


@pytest.mark.parametrize("kind", ["noise", "checker", "ramp"])
@pytest.mark.parametrize(
    "hw, size",
    [((256, 256), 32), ((248, 248), 8), ((120, 120), 3), ((100, 100), 2),
     ((120, 120), 1), ((512, 64), (8, 8))],
    ids=["8x", "31x", "40x", "50x", "120x", "64x_rows"],
)
def test_strong_downscale_antialias(reference, hw, size, kind):
    """Antialiased downscaling by large factors: the filter spans 2 * factor
    source pixels per output pixel, all of which count."""
    images = make_image(np.random.default_rng(3), (1, *hw, 3), kind)
    result = preprocess(images, size=size, antialias=True)
    assert_preprocess_close(result, reference(images, size=size, antialias=True),
                            context=f"size={size}")


# --------------------------------------------------------------------------
# Channels: grayscale, RGBA, BGR
# --------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["2d", "hw1"])
def test_grayscale_repeated_to_three_channels(reference, form):
    gray = make_image(np.random.default_rng(4), (33, 47))
    image = gray if form == "2d" else gray[:, :, None]
    kw = dict(size=20, crop=(18, 22), mean=IMAGENET_MEAN, std=IMAGENET_STD)
    result = preprocess([image], **kw)
    assert result.shape == (1, 3, 18, 22)
    assert_preprocess_close(result, reference([image], **kw))
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    np.testing.assert_allclose(result, preprocess([rgb], **kw), rtol=0, atol=1e-5)
    # a batch of (H, W, 1)
    batch = np.stack([gray[:, :, None]] * 2)
    np.testing.assert_allclose(preprocess(batch, **kw), preprocess(np.stack([rgb] * 2), **kw),
                               rtol=0, atol=1e-5)


def test_rgba_drops_alpha(reference):
    rgba = make_image(np.random.default_rng(5), (2, 31, 45, 4))
    kw = dict(size=(16, 24), mean=IMAGENET_MEAN, std=IMAGENET_STD)
    result = preprocess(rgba, **kw)
    assert result.shape == (2, 3, 16, 24)
    assert_preprocess_close(result, reference(rgba, **kw))
    np.testing.assert_allclose(result, preprocess(np.ascontiguousarray(rgba[..., :3]), **kw),
                               rtol=0, atol=1e-5)
    # alpha does not matter at all
    other_alpha = rgba.copy()
    other_alpha[..., 3] = 255 - other_alpha[..., 3]
    np.testing.assert_array_equal(preprocess(other_alpha, **kw), result)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_bgr_equals_rgb_of_flipped_image(layout):
    """channels="BGR" on a BGR image == RGB on the RGB image; mean/std are in
    output (RGB) order."""
    rgb = make_image(np.random.default_rng(6), (2, 30, 41, 3))
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    kw = dict(size=24, crop=20, mean=(0.1, 0.5, 0.9), std=(0.2, 0.4, 0.8), layout=layout)
    np.testing.assert_allclose(preprocess(bgr, channels="BGR", **kw), preprocess(rgb, **kw),
                               rtol=0, atol=1e-6)
    # and a BGR image read as RGB is the channel-reversed result (with mean/std reversed)
    swapped = preprocess(bgr, size=24, crop=20, layout=layout)
    axis = 1 if layout == "NCHW" else 3
    np.testing.assert_allclose(np.flip(swapped, axis),
                               preprocess(rgb, size=24, crop=20, layout=layout),
                               rtol=0, atol=1e-6)


def test_bgra_drops_alpha_and_swaps():
    rgba = make_image(np.random.default_rng(7), (1, 20, 20, 4))
    bgra = np.ascontiguousarray(rgba[..., [2, 1, 0, 3]])
    np.testing.assert_allclose(preprocess(bgra, size=7, channels="BGR"),
                               preprocess(rgba, size=7), rtol=0, atol=1e-6)


# --------------------------------------------------------------------------
# Layout, dtype, torch input
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", OUT_DTYPES, ids=["f32", "f16"])
def test_nhwc_equals_nchw_transposed(dtype):
    images = make_image(np.random.default_rng(8), (3, 40, 29, 3))
    kw = dict(size=(17, 23), mean=IMAGENET_MEAN, std=IMAGENET_STD, dtype=dtype)
    nchw = preprocess(images, layout="NCHW", **kw)
    nhwc = preprocess(images, layout="NHWC", **kw)
    assert nchw.shape == (3, 3, 17, 23) and nhwc.shape == (3, 17, 23, 3)
    assert nhwc.flags.c_contiguous
    np.testing.assert_array_equal(nhwc, nchw.transpose(0, 2, 3, 1))


def test_float16_is_float32_rounded():
    images = make_image(np.random.default_rng(9), (2, 35, 50, 3))
    kw = dict(size=21, crop=19, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    f16 = preprocess(images, dtype=np.float16, **kw)
    f32 = preprocess(images, dtype="float32", **kw)
    assert f16.dtype == np.float16 and f32.dtype == np.float32
    np.testing.assert_allclose(f16.astype(np.float32), f32, rtol=2**-10, atol=1e-3)


def test_torch_tensor_input(reference):
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    batch = torch.randint(0, 256, (2, 45, 38, 3), dtype=torch.uint8, generator=gen)
    kw = dict(size=20, crop=16, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    result = preprocess(batch, **kw)
    assert isinstance(result, np.ndarray)
    np.testing.assert_array_equal(result, preprocess(batch.numpy(), **kw))
    assert_preprocess_close(result, reference(batch.numpy(), **kw))
    # a non-contiguous view: channels-last view of an NCHW tensor
    nchw = torch.randint(0, 256, (2, 3, 45, 38), dtype=torch.uint8, generator=gen)
    view = nchw.permute(0, 2, 3, 1)
    assert not view.is_contiguous()
    assert_preprocess_close(preprocess(view, **kw), reference(view.contiguous().numpy(), **kw))
    # a list of tensors of different sizes, one grayscale
    images = [torch.randint(0, 256, s, dtype=torch.uint8, generator=gen)
              for s in [(30, 40, 3), (50, 20), (25, 25, 3)]]
    result = preprocess(images, size=(12, 14))
    assert_preprocess_close(result, reference([t.numpy() for t in images], size=(12, 14)))
    # torch tensors of the wrong dtype are refused like arrays
    with pytest.raises(TypeError, match="uint8"):
        preprocess(batch.float())


# --------------------------------------------------------------------------
# out=
# --------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", OUT_DTYPES, ids=["f32", "f16"])
def test_out_is_filled_and_returned(dtype, layout):
    rng = np.random.default_rng(10)
    kw = dict(size=30, crop=(24, 28), mean=IMAGENET_MEAN, std=IMAGENET_STD, layout=layout,
              dtype=dtype)
    out = np.full(output_shape(2, (24, 28), layout), np.nan, dtype)
    for _ in range(3):  # reused across calls
        images = make_image(rng, (2, 40, 60, 3))
        got = preprocess(images, out=out, **kw)
        assert got is out
        np.testing.assert_array_equal(out, preprocess(images, **kw))


def test_out_with_list_input():
    images = [make_image(np.random.default_rng(11), s) for s in [(30, 40, 3), (22, 18)]]
    out = np.empty((2, 10, 12, 3), np.float32)
    assert preprocess(images, size=(10, 12), layout="NHWC", out=out) is out
    np.testing.assert_array_equal(out, preprocess(images, size=(10, 12), layout="NHWC"))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("images, size, crop", [
    ([(30, 40, 3), (22, 18)], (10, 12), None),
    ([(480, 640, 3), (640, 480, 4), (375, 500)], 256, 224),
    ([(9, 7, 1)], None, None),
    ([(20, 50, 3)] * 3, 16, (16, 30)),
])
def test_output_shape_is_the_shape_preprocess_returns(images, size, crop, layout):
    arrays = [np.zeros(shape, np.uint8) for shape in images]
    shape = preprocess_output_shape(arrays, size=size, crop=crop, layout=layout)
    assert shape == preprocess(arrays, size=size, crop=crop, layout=layout).shape


def test_output_shape_raises_what_preprocess_raises():
    images = [np.zeros((30, 40, 3), np.uint8), np.zeros((20, 20, 3), np.uint8)]
    with pytest.raises(ValueError, match="different sizes"):
        preprocess_output_shape(images, size=10)
    with pytest.raises(ValueError, match="layout"):
        preprocess_output_shape(images, size=(8, 8), layout="CHW")
    with pytest.raises(TypeError, match="uint8"):
        preprocess_output_shape([np.zeros((4, 4, 3))], size=2)


def test_out_errors():
    images = make_image(np.random.default_rng(12), (2, 20, 20, 3))
    kw = dict(size=8)
    with pytest.raises(TypeError, match="dtype"):
        preprocess(images, out=np.empty((2, 3, 8, 8), np.float64), **kw)
    with pytest.raises(TypeError, match="dtype"):
        preprocess(images, out=np.empty((2, 3, 8, 8), np.float32), dtype=np.float16, **kw)
    with pytest.raises(ValueError, match="shape"):
        preprocess(images, out=np.empty((2, 3, 8, 9), np.float32), **kw)
    with pytest.raises(ValueError, match="shape"):
        preprocess(images, out=np.empty((2, 8, 8, 3), np.float32), **kw)  # NHWC for NCHW
    with pytest.raises(ValueError, match="shape"):
        preprocess(images, out=np.empty((1, 3, 8, 8), np.float32), **kw)
    with pytest.raises(ValueError, match="contiguous"):
        preprocess(images, out=np.empty((2, 3, 8, 16), np.float32)[..., ::2], **kw)
    with pytest.raises(ValueError, match="contiguous"):
        preprocess(images, out=np.empty((2, 3, 8, 8), np.float32, order="F"), **kw)
    read_only = np.empty((2, 3, 8, 8), np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        preprocess(images, out=read_only, **kw)
    with pytest.raises(TypeError, match="ndarray"):
        preprocess(images, out=[[0.0]], **kw)


def test_out_overlapping_an_input():
    """out and an image sharing memory -> ValueError (no silent corruption)."""
    buf = np.zeros(4096, np.uint8)
    out = buf[:2 * 3 * 8 * 8 * 4].view(np.float32).reshape(2, 3, 8, 8)
    batch = buf[2048:2048 + 2 * 8 * 8 * 3].reshape(2, 8, 8, 3)  # disjoint: fine
    assert preprocess(batch, out=out) is out
    overlapping = buf[100:100 + 2 * 8 * 8 * 3].reshape(2, 8, 8, 3)
    with pytest.raises(ValueError, match="overlap"):
        preprocess(overlapping, out=out)
    with pytest.raises(ValueError, match="overlap"):
        preprocess([batch[0], overlapping[1]], out=out)


# --------------------------------------------------------------------------
# num_threads
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, hw, size, crop",
    [
        (1, (300, 200), 150, 128),        # one image: threads split its rows
        (5, (64, 48), (31, 29), None),    # a few images: images and rows
        (16, (20, 30), 10, None),         # many small images: whole images
    ],
)
@pytest.mark.parametrize("dtype", OUT_DTYPES, ids=["f32", "f16"])
def test_thread_count_independence(n, hw, size, crop, dtype):
    images = make_image(np.random.default_rng(13), (n, *hw, 3))
    kw = dict(size=size, crop=crop, mean=IMAGENET_MEAN, std=IMAGENET_STD, dtype=dtype)
    for antialias in (True, False):
        single = preprocess(images, antialias=antialias, num_threads=1, **kw)
        for threads in (2, 3, 4, 7, 64, -1, -2, -100, None, np.int64(2)):
            np.testing.assert_array_equal(
                preprocess(images, antialias=antialias, num_threads=threads, **kw), single,
                err_msg=f"num_threads={threads!r}, antialias={antialias}")


def test_concurrent_calls_from_python_threads():
    """The GIL is released and calls share no state: concurrent calls from a
    thread pool give the single-threaded results."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(19)
    batches = [make_image(rng, (2, 60 + 7 * i, 80 - 5 * i, 3)) for i in range(6)]
    kw = dict(size=(33, 41), mean=IMAGENET_MEAN, std=IMAGENET_STD)
    want = [preprocess(b, num_threads=1, **kw) for b in batches]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda b: preprocess(b, num_threads=2, **kw), batches * 3))
    for i, g in enumerate(got):
        np.testing.assert_array_equal(g, want[i % len(batches)])


def test_num_threads_errors():
    images = make_image(np.random.default_rng(14), (1, 8, 8, 3))
    with pytest.raises(ValueError, match="num_threads"):
        preprocess(images, num_threads=0)
    for bad in (1.5, "2", True, 2.0):
        with pytest.raises(TypeError, match="num_threads"):
            preprocess(images, num_threads=bad)


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16, np.uint16, np.int8,
                                   np.complex128, np.bool_])
def test_wrong_image_dtype(dtype):
    images = np.zeros((1, 8, 8, 3), dtype)
    with pytest.raises(TypeError, match="uint8"):
        preprocess(images)
    with pytest.raises(TypeError, match="uint8"):
        preprocess([np.zeros((8, 8, 3), np.uint8), images[0]])


@pytest.mark.parametrize(
    "images",
    [
        np.zeros((8, 8, 3), np.uint8),          # a single image as a 3-D array
        np.zeros((8, 8), np.uint8),
        np.zeros((8,), np.uint8),
        np.zeros((1, 1, 8, 8, 3), np.uint8),
        np.uint8(3),
    ],
    ids=["3d", "2d", "1d", "5d", "0d"],
)
def test_array_must_be_4d(images):
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        preprocess(images)


@pytest.mark.parametrize("shape", [(8,), (1, 8, 8, 3), (8, 8, 3, 1)], ids=["1d", "4d", "4d_b"])
def test_list_items_must_be_2d_or_3d(shape):
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, C\)"):
        preprocess([np.zeros((8, 8, 3), np.uint8), np.zeros(shape, np.uint8)])


@pytest.mark.parametrize("c", [0, 2, 5, 6])
def test_wrong_channel_count(c):
    with pytest.raises(ValueError, match="channels"):
        preprocess(np.zeros((1, 8, 8, c), np.uint8))
    with pytest.raises(ValueError, match="channels"):
        preprocess([np.zeros((8, 8, c), np.uint8)])


def test_empty_list():
    with pytest.raises(ValueError, match="empty"):
        preprocess([])
    with pytest.raises(ValueError, match="empty"):
        preprocess(())


@pytest.mark.parametrize("shape", [(0, 8, 3), (8, 0, 3), (0, 0), (0, 8)])
def test_zero_size_images(shape):
    with pytest.raises(ValueError, match="empty"):
        preprocess([np.zeros(shape, np.uint8)])
    with pytest.raises(ValueError, match="empty"):
        preprocess([np.zeros((4, 4, 3), np.uint8), np.zeros(shape, np.uint8)], size=(2, 2))
    if len(shape) == 3:
        with pytest.raises(ValueError, match="empty"):
            preprocess(np.zeros((1, *shape), np.uint8))


@pytest.mark.parametrize("crop", [None, 4], ids=["no_crop", "crop"])
def test_empty_batch(crop):
    """A batch of zero images is a zero-size input: either a ValueError whose
    message says so, or (defensibly) an empty result of the right shape, never an
    internal error."""
    images = np.zeros((0, 8, 8, 3), np.uint8)
    try:
        result = preprocess(images, crop=crop)
    except ValueError as exc:
        assert re.search(r"empty|zero|no image", str(exc), re.I), str(exc)
    else:
        side = 8 if crop is None else crop
        assert result.shape == (0, 3, side, side) and result.dtype == np.float32


def test_different_output_sizes():
    images = [np.zeros((20, 30, 3), np.uint8), np.zeros((30, 20, 3), np.uint8)]
    with pytest.raises(ValueError, match="different sizes"):
        preprocess(images)
    with pytest.raises(ValueError, match="different sizes"):
        preprocess(images, size=10)  # (10, 15) and (15, 10)
    # size=(h, w) or a crop both fix it
    assert preprocess(images, size=(10, 12)).shape == (2, 3, 10, 12)
    assert preprocess(images, size=10, crop=10).shape == (2, 3, 10, 10)
    assert preprocess(images, crop=(20, 20)).shape == (2, 3, 20, 20)


def test_crop_larger_than_image():
    images = np.zeros((1, 20, 30, 3), np.uint8)
    with pytest.raises(ValueError, match="larger"):
        preprocess(images, crop=21)
    with pytest.raises(ValueError, match="larger"):
        preprocess(images, crop=(10, 31))
    with pytest.raises(ValueError, match="larger"):
        preprocess(images, size=16, crop=17)          # resized to (16, 24)
    with pytest.raises(ValueError, match="larger"):
        preprocess(images, size=(12, 40), crop=(13, 5))
    assert preprocess(images, size=16, crop=(16, 24)).shape == (1, 3, 16, 24)


@pytest.mark.parametrize("name", ["size", "crop"])
@pytest.mark.parametrize("bad", [0, -3, (0, 4), (4, -1), (0, 0)])
def test_non_positive_size_and_crop(name, bad):
    with pytest.raises(ValueError, match=f"{name} must be positive"):
        preprocess(np.zeros((1, 8, 8, 3), np.uint8), **{name: bad})


@pytest.mark.parametrize("name", ["size", "crop"])
@pytest.mark.parametrize("bad", [True, False, (True, 4), (4, 2.0), (4, 5, 6), (4,), "ab"])
def test_bool_or_malformed_size_and_crop(name, bad):
    with pytest.raises((TypeError, ValueError), match=name):
        preprocess(np.zeros((1, 8, 8, 3), np.uint8), **{name: bad})


@pytest.mark.parametrize("name", ["size", "crop"])
@pytest.mark.parametrize("bad", [2.5, 8.0, np.True_, "3"])
def test_non_integer_size_and_crop(name, bad):
    with pytest.raises(TypeError):
        preprocess(np.zeros((1, 8, 8, 3), np.uint8), **{name: bad})


def test_numpy_integer_size_and_crop():
    images = make_image(np.random.default_rng(15), (1, 20, 30, 3))
    np.testing.assert_array_equal(preprocess(images, size=np.int64(10), crop=np.int32(8)),
                                  preprocess(images, size=10, crop=8))
    np.testing.assert_array_equal(preprocess(images, size=(np.int16(9), np.uint8(11))),
                                  preprocess(images, size=[9, 11]))


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(mean=(0.5, 0.5)), "mean"),
        (dict(mean=(0.5, 0.5, 0.5, 0.5)), "mean"),
        (dict(mean=0.5), "mean"),
        (dict(std=(0.5, 0.5)), "std"),
        (dict(std=[0.5] * 4), "std"),
        (dict(std=(0.2, 0.0, 0.2)), "std"),
        (dict(std=(0.0, 0.0, 0.0)), "std"),
        (dict(mean=(0.5, float("nan"), 0.5)), "mean"),
        (dict(std=(0.5, float("inf"), 0.5)), "std"),
    ],
)
def test_bad_mean_std(kw, match):
    with pytest.raises(ValueError, match=match):
        preprocess(np.zeros((1, 8, 8, 3), np.uint8), **kw)


def test_bad_layout_channels_dtype():
    images = np.zeros((1, 8, 8, 3), np.uint8)
    for layout in ("NWHC", "nchw", "CHW", None):
        with pytest.raises(ValueError, match="layout"):
            preprocess(images, layout=layout)
    for channels in ("RGBA", "rgb", "GRAY", None):
        with pytest.raises(ValueError, match="channels"):
            preprocess(images, channels=channels)
    for dtype in (np.float64, np.int32, np.uint8, np.complex64, "float64"):
        with pytest.raises(TypeError, match="dtype"):
            preprocess(images, dtype=dtype)


def test_input_not_modified():
    images = make_image(np.random.default_rng(16), (2, 25, 35, 3))
    copy = images.copy()
    preprocess(images, size=11, crop=9, channels="BGR", mean=IMAGENET_MEAN, std=IMAGENET_STD)
    np.testing.assert_array_equal(images, copy)


def test_reference_helper_shapes():
    """preprocess_resized_shape is torchvision's Resize(int) arithmetic."""
    assert preprocess_resized_shape(480, 640, 256) == (256, 341)
    assert preprocess_resized_shape(640, 480, 256) == (341, 256)
    assert preprocess_resized_shape(100, 100, 7) == (7, 7)
    assert preprocess_resized_shape(3, 10, 5) == (5, 16)
    assert preprocess_resized_shape(10, 20, (4, 5)) == (4, 5)
    assert preprocess_resized_shape(10, 20, None) == (10, 20)


def _filter_matrix(n_in: int, n_out: int, antialias: bool) -> np.ndarray:
    """(n_out, n_in) weights of PyTorch's bilinear resize along one axis, written
    out from aten/src/ATen/native/cpu/UpSampleKernel.cpp (align_corners=False)."""
    scale = n_in / n_out
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        if antialias:
            support = max(scale, 1.0)
            inv = 1.0 / scale if scale >= 1.0 else 1.0
            center = scale * (i + 0.5)
            lo = max(int(center - support + 0.5), 0)
            hi = min(int(center + support + 0.5), n_in)
            w = np.array([max(0.0, 1.0 - abs((j + lo - center + 0.5) * inv))
                          for j in range(hi - lo)])
            m[i, lo:hi] = w / w.sum()
        else:
            src = max(scale * (i + 0.5) - 0.5, 0.0)
            i0 = min(int(src), n_in - 1)
            lam = min(src - i0, 1.0)
            m[i, i0] += 1.0 - lam
            m[i, min(i0 + 1, n_in - 1)] += lam
    return m


@pytest.mark.parametrize("antialias", [True, False], ids=["aa", "no_aa"])
def test_reference_is_pytorch_filter(reference, antialias):
    """The yardstick itself: preprocess_reference equals the separable filter
    written out in NumPy, including output width 1 (where PyTorch 2.13's
    contiguous-NCHW antialiased kernel is wrong, see preprocess_reference)."""
    rng = np.random.default_rng(17)
    for (h, w), (oh, ow) in [((90, 2), (7, 1)), ((5, 8), (20, 1)), ((13, 30), (1, 1)),
                             ((30, 13), (7, 20)), ((1, 1), (3, 2)), ((121, 90), (2, 3)),
                             ((8, 8), (8, 3)), ((3, 40), (150, 7))]:
        images = make_image(rng, (1, h, w, 3))
        want = np.einsum("yh,nhwc,xw->ncyx", _filter_matrix(h, oh, antialias),
                         images.astype(np.float64), _filter_matrix(w, ow, antialias)) / 255.0
        np.testing.assert_allclose(reference(images, size=(oh, ow), antialias=antialias), want,
                                   rtol=0, atol=1e-12, err_msg=f"{(h, w)} -> {(oh, ow)}")
