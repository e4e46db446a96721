"""Tests for ``fastops.matmul_t(a, b, *, out=None, num_threads=None, method="auto")``.

``matmul_t(a, b)`` is ``np.swapaxes(a @ b, -1, -2)`` returned as a new
C-contiguous array, with ``np.matmul``'s broadcasting of batch dimensions.
Every numerical check goes through :mod:`fastops.testing`, which compares
against a float64 NumPy reference with a tolerance derived from the inner
size ``k``.

Nothing here times anything for speed; the GIL test only checks that the main
thread keeps running while a kernel runs in another thread.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import fastops
from fastops import _matmul_t, matmul_t, matmul_t_plan
from fastops.testing import (
    assert_matmul_t_close,
    matmul_t_reference,
    matmul_t_tolerance,
)

# --------------------------------------------------------------------------
# Configuration probed once
# --------------------------------------------------------------------------


def _blas_found() -> bool:
    try:
        return bool(fastops.show_config(mode="dicts")["blas"]["found"])
    except Exception:  # show_config itself is tested in test_config.py
        return False


BLAS_FOUND = _blas_found()
requires_blas = pytest.mark.skipif(
    not BLAS_FOUND, reason="fastops found no BLAS at import (show_config()['blas']['found'] is False)"
)

#: methods available on this build, for hypothesis draws
METHODS = ["auto", "native"] + (["blas"] if BLAS_FOUND else [])
#: the same, as pytest params (blas shows up as skipped when absent)
METHOD_PARAMS = ["auto", "native", pytest.param("blas", marks=requires_blas)]
DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["f32", "f64"]

#: examples per property test, scaled by the hypothesis profile (see conftest.py)
N_EXAMPLES = settings.default.max_examples


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _rand(shape, dtype=np.float64, seed: int = 0) -> np.ndarray:
    return _rng(seed).uniform(-1.0, 1.0, size=shape).astype(dtype)


# --------------------------------------------------------------------------
# Hypothesis strategies
# --------------------------------------------------------------------------


@st.composite
def array_views(draw, shape: tuple[int, ...], dtype) -> np.ndarray:
    """An array of logical ``shape`` and ``dtype`` with a randomly chosen memory layout.

    Layouts: C order; F order; last two axes transposed (the transpose-copy
    trick, i.e. a ``.T`` view of a C array); or "strided": random axis
    permutation of the underlying buffer, step slicing (1..3) with an offset,
    reversal (negative strides) and stride-0 broadcasting per axis.
    """
    ndim = len(shape)
    perm = list(range(ndim))
    steps = [1] * ndim
    offsets = [0] * ndim
    reverse = [False] * ndim
    bcast = [False] * ndim
    kind = draw(st.sampled_from(["C", "F", "T", "strided"]))
    if kind == "F":
        perm = perm[::-1]
    elif kind == "T":
        perm[-2], perm[-1] = perm[-1], perm[-2]
    elif kind == "strided":
        perm = draw(st.permutations(range(ndim)))
        steps = draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))
        offsets = draw(st.lists(st.integers(0, 2), min_size=ndim, max_size=ndim))
        reverse = draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim))
        bcast = draw(
            st.lists(st.sampled_from([False, False, False, True]), min_size=ndim, max_size=ndim)
        )
    seed = draw(st.integers(0, 2**32 - 1))
    dist = draw(st.sampled_from(["uniform", "normal"]))

    base_shape = [1 if bcast[i] else shape[i] * steps[i] + offsets[i] for i in range(ndim)]
    rng = np.random.default_rng(seed)
    stored_shape = [base_shape[p] for p in perm]
    if dist == "uniform":
        base = rng.uniform(-1.0, 1.0, size=stored_shape)
    else:
        base = rng.standard_normal(size=stored_shape)
    base = base.astype(dtype)
    arr = base.transpose(np.argsort(perm))  # back to logical axis order
    index = tuple(
        slice(None) if bcast[i] else slice(offsets[i], offsets[i] + shape[i] * steps[i], steps[i])
        for i in range(ndim)
    )
    arr = arr[index]
    arr = arr[tuple(slice(None, None, -1) if r else slice(None) for r in reverse)]
    if any(bcast):
        arr = np.broadcast_to(arr, shape)
    assert arr.shape == tuple(shape), (arr.shape, shape)
    return arr


def _batch_dim():
    # mostly 1..3, occasionally 0 (empty batch)
    return st.integers(0, 12).map(lambda v: 0 if v == 0 else 1 + v % 3)


@st.composite
def matmul_t_problems(draw, max_dim: int = 70, max_batch_ndim: int = 3):
    """(a, b) with a: (*batch_a, m, k), b: (*batch_b, k, n), broadcastable batches."""
    m = draw(st.integers(0, max_dim), label="m")
    n = draw(st.integers(0, max_dim), label="n")
    k = draw(st.integers(0, max_dim), label="k")
    nb = draw(st.integers(0, max_batch_ndim), label="batch ndim")
    batch = draw(st.lists(_batch_dim(), min_size=nb, max_size=nb), label="batch")
    a_nb = draw(st.integers(0, nb))
    b_nb = draw(st.integers(0, nb))
    a_batch = [1 if draw(st.booleans()) else d for d in batch[nb - a_nb :]]
    b_batch = [1 if draw(st.booleans()) else d for d in batch[nb - b_nb :]]
    a_dtype = draw(st.sampled_from(DTYPES))
    b_dtype = draw(st.sampled_from(DTYPES))
    a = draw(array_views((*a_batch, m, k), a_dtype), label="a")
    b = draw(array_views((*b_batch, k, n), b_dtype), label="b")
    return a, b


def _describe(name: str, x: np.ndarray) -> str:
    return f"{name}: shape={x.shape} dtype={x.dtype} strides={x.strides}"


def _check_call(a, b, method, num_threads):
    note(_describe("a", a))
    note(_describe("b", b))
    a_before = np.array(a, copy=True)
    b_before = np.array(b, copy=True)
    res = matmul_t(a, b, method=method, num_threads=num_threads)
    assert_matmul_t_close(res, a, b)
    # inputs untouched
    np.testing.assert_array_equal(a, a_before)
    np.testing.assert_array_equal(b, b_before)
    # the result is a new array
    if res.size:
        assert not np.shares_memory(res, a)
        assert not np.shares_memory(res, b)
    assert res.flags.writeable


# --------------------------------------------------------------------------
# (1) Property tests
# --------------------------------------------------------------------------


@settings(deadline=None, max_examples=N_EXAMPLES)
@given(
    problem=matmul_t_problems(max_dim=70, max_batch_ndim=3),
    method=st.sampled_from(METHODS),
    num_threads=st.sampled_from([1, 2, None]),
)
def test_matches_numpy_small_any_layout(problem, method, num_threads):
    a, b = problem
    _check_call(a, b, method, num_threads)


@settings(deadline=None, max_examples=max(10, N_EXAMPLES // 5))
@given(
    problem=matmul_t_problems(max_dim=300, max_batch_ndim=1),
    method=st.sampled_from(METHODS),
    num_threads=st.sampled_from([1, 2, None]),
)
def test_matches_numpy_larger_any_layout(problem, method, num_threads):
    a, b = problem
    _check_call(a, b, method, num_threads)


@settings(deadline=None, max_examples=max(10, N_EXAMPLES // 4))
@given(
    m=st.integers(1, 80),
    n=st.integers(1, 80),
    k=st.integers(1, 300),
    dtype=st.sampled_from(DTYPES),
    method=st.sampled_from(METHODS),
    seed=st.integers(0, 2**32 - 1),
)
def test_small_integer_values_are_exact(m, n, k, dtype, method, seed):
    """Integer-valued inputs in [-4, 4]: every partial sum is exact, in any order."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-4, 5, size=(m, k)).astype(dtype)
    b = rng.integers(-4, 5, size=(k, n)).astype(dtype)
    res = matmul_t(a, b, method=method)
    np.testing.assert_array_equal(res, matmul_t_reference(a, b).astype(dtype))


# --------------------------------------------------------------------------
# (2) Named benchmark shapes at small scale
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHOD_PARAMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("size", [1, 8, 64, 256])
def test_square(size, dtype, method):
    a = _rand((size, size), dtype, seed=1)
    b = _rand((size, size), dtype, seed=2)
    assert_matmul_t_close(matmul_t(a, b, method=method), a, b)


NAMED_SHAPES = {
    "batched_16x8x8": ((16, 8, 8), (16, 8, 8)),
    "llama_node_outer": ((1, 128, 1), (1, 1, 1024)),
    "batch_times_matrix": ((8, 128, 64), (64, 256)),
    "matrix_vector": ((4096, 4096), (4096, 1)),
    "batched_vector_matrix": ((32, 1, 128), (32, 128, 512)),
    "decode_8_tokens": ((8, 4096), (4096, 4096)),
    "decode_16_tokens": ((16, 4096), (4096, 4096)),
    "prefill_128_tokens": ((128, 4096), (4096, 11008)),
}


@pytest.mark.parametrize("method", METHOD_PARAMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_linear_layout_x_at_w_transposed(dtype, method):
    """x @ W.T as torch.nn.Linear computes it: B a transposed view of a C-contiguous W."""
    x = _rand((16, 4096), dtype, seed=7)
    w = _rand((4096, 4096), dtype, seed=8)
    assert_matmul_t_close(matmul_t(x, w.T, method=method), x, w.T)


@pytest.mark.parametrize("method", METHOD_PARAMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shapes", list(NAMED_SHAPES.values()), ids=list(NAMED_SHAPES))
def test_named_benchmark_shapes(shapes, dtype, method):
    a_shape, b_shape = shapes
    a = _rand(a_shape, dtype, seed=3)
    b = _rand(b_shape, dtype, seed=4)
    assert_matmul_t_close(matmul_t(a, b, method=method), a, b)


@pytest.mark.parametrize("method", METHOD_PARAMS)
def test_batch_broadcasting_example_from_docs(method):
    # (2, 1, 4, 5) @ (3, 5, 6) -> (2, 3, 4, 6), transposed -> (2, 3, 6, 4)
    a = _rand((2, 1, 4, 5), seed=5)
    b = _rand((3, 5, 6), seed=6)
    res = matmul_t(a, b, method=method)
    assert res.shape == (2, 3, 6, 4)
    assert_matmul_t_close(res, a, b)
    np.testing.assert_allclose(res, np.swapaxes(a @ b, -1, -2), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------
# Layouts, input kinds, dtypes
# --------------------------------------------------------------------------


def _layout(name: str, shape: tuple[int, ...], dtype, seed: int) -> np.ndarray:
    """An array of logical ``shape`` in the named layout."""
    if name == "C":
        return _rand(shape, dtype, seed)
    if name == "F":
        return np.asfortranarray(_rand(shape, dtype, seed))
    if name == "transposed_view":
        return np.swapaxes(_rand((*shape[:-2], shape[-1], shape[-2]), dtype, seed), -1, -2)
    if name == "sliced":  # a[::2, 1::3]
        big = _rand((*shape[:-2], 2 * shape[-2], 3 * shape[-1] + 1), dtype, seed)
        return big[..., ::2, 1::3]
    if name == "reversed":  # a[::-1] and a[:, ::-1]
        return _rand(shape, dtype, seed)[..., ::-1, ::-1]
    if name == "broadcast_rows":  # stride 0 along the row axis
        return np.broadcast_to(_rand((*shape[:-2], 1, shape[-1]), dtype, seed), shape)
    if name == "broadcast_cols":  # stride 0 along the column axis
        return np.broadcast_to(_rand((*shape[:-1], 1), dtype, seed), shape)
    if name == "unaligned":  # data pointer not aligned to the element size
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        buf = np.empty(nbytes + 1, dtype=np.uint8)[1:]
        arr = buf.view(dtype).reshape(shape)
        arr[...] = _rand(shape, dtype, seed)
        return arr
    raise AssertionError(name)


LAYOUTS = [
    "C",
    "F",
    "transposed_view",
    "sliced",
    "reversed",
    "broadcast_rows",
    "broadcast_cols",
    "unaligned",
]


@pytest.mark.parametrize("method", METHOD_PARAMS)
@pytest.mark.parametrize("b_layout", LAYOUTS)
@pytest.mark.parametrize("a_layout", LAYOUTS)
def test_layouts(a_layout, b_layout, method):
    a = _layout(a_layout, (37, 45), np.float64, seed=7)
    b = _layout(b_layout, (45, 29), np.float64, seed=8)
    assert_matmul_t_close(matmul_t(a, b, method=method), a, b)


@pytest.mark.parametrize("method", METHOD_PARAMS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts_batched_float32(layout, method):
    a = _layout(layout, (3, 19, 33), np.float32, seed=9)
    b = _layout(layout, (3, 33, 21), np.float32, seed=10)
    assert_matmul_t_close(matmul_t(a, b, method=method), a, b)


@pytest.mark.parametrize("method", METHOD_PARAMS)
def test_batch_broadcast_views_with_stride_zero(method):
    a = np.broadcast_to(_rand((1, 12, 20), seed=11), (5, 12, 20))
    b = np.broadcast_to(_rand((20, 9), seed=12), (4, 1, 20, 9))
    res = matmul_t(a, b, method=method)
    assert res.shape == (4, 5, 9, 12)
    assert_matmul_t_close(res, a, b)


@pytest.mark.parametrize("method", METHOD_PARAMS)
def test_inputs_may_alias_each_other(method):
    a = _rand((31, 31), seed=13)
    assert_matmul_t_close(matmul_t(a, a, method=method), a, a)
    assert_matmul_t_close(matmul_t(a, a.T, method=method), a, a.T)
    assert_matmul_t_close(matmul_t(a[:, :20], a[5:25], method=method), a[:, :20], a[5:25])


@pytest.mark.parametrize(
    ("a_dtype", "b_dtype", "expected"),
    [
        (np.float32, np.float32, np.float32),
        (np.float32, np.float64, np.float64),
        (np.float64, np.float32, np.float64),
        (np.float64, np.float64, np.float64),
    ],
)
@pytest.mark.parametrize("method", METHOD_PARAMS)
def test_dtype_promotion(a_dtype, b_dtype, expected, method):
    a = _rand((17, 70), a_dtype, seed=14)
    b = _rand((70, 23), b_dtype, seed=15)
    res = matmul_t(a, b, method=method)
    assert res.dtype == expected
    # mixed inputs are computed in float64: float64 tolerance applies
    assert_matmul_t_close(res, a, b)


def test_python_lists_of_floats_are_float64():
    a = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    b = [[1.0, 0.5], [0.25, 2.0], [-1.0, 3.0]]
    res = matmul_t(a, b)
    assert isinstance(res, np.ndarray)
    assert res.dtype == np.float64
    np.testing.assert_array_equal(res, np.swapaxes(np.array(a) @ np.array(b), -1, -2))
    assert_matmul_t_close(res, a, b)


def test_tuples_and_list_with_float32_array_give_float64():
    a = ((1.5, -2.0), (0.0, 4.0), (3.0, 1.0))
    b = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]], dtype=np.float32)
    res = matmul_t(a, b)
    assert res.dtype == np.float64
    assert res.shape == (4, 3)
    assert_matmul_t_close(res, a, b)


def test_other_array_likes():
    """Anything np.asarray accepts: memoryviews, objects with __array__, byte-swapped floats."""
    a = _rand((5, 6), seed=47)
    b = _rand((6, 7), seed=48)

    class HasArray:
        def __array__(self, dtype=None, copy=None):
            return a

    for a_like in (memoryview(a), HasArray(), a.astype(">f8")):
        res = matmul_t(a_like, b)
        assert res.dtype == np.float64
        assert_matmul_t_close(res, a, b)
    res = matmul_t(a.astype(">f4"), b.astype("<f4"))
    assert res.dtype == np.float32
    assert_matmul_t_close(res, a.astype(np.float32), b.astype(np.float32))


# --------------------------------------------------------------------------
# Zero-size dimensions
# --------------------------------------------------------------------------

ZERO_SIZE_CASES = {
    "m0": ((0, 5), (5, 7)),
    "n0": ((6, 5), (5, 0)),
    "k0": ((6, 0), (0, 7)),
    "all0": ((0, 0), (0, 0)),
    "batch0_a": ((0, 3, 4), (4, 5)),
    "batch0_b": ((3, 4), (0, 4, 5)),
    "batch0_broadcast": ((2, 0, 3, 4), (1, 4, 5)),
    "batch_k0": ((3, 4, 0), (1, 0, 6)),
}


@pytest.mark.parametrize("method", METHOD_PARAMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shapes", list(ZERO_SIZE_CASES.values()), ids=list(ZERO_SIZE_CASES))
def test_zero_size_dimensions(shapes, dtype, method):
    a_shape, b_shape = shapes
    a = _rand(a_shape, dtype, seed=16)
    b = _rand(b_shape, dtype, seed=17)
    res = matmul_t(a, b, method=method)
    assert_matmul_t_close(res, a, b)
    if a_shape[-1] == 0:  # k == 0: an empty sum is exactly 0
        np.testing.assert_array_equal(res, np.zeros(res.shape, dtype))


# --------------------------------------------------------------------------
# Result memory
# --------------------------------------------------------------------------

_handler_name = np._core.multiarray.get_handler_name


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("a_shape, b_shape", [
    ((1, 128, 1), (1, 1, 1024)),      # the Llama node: 512 KiB in float32
    ((256, 7), (7, 256)),             # 256 KiB in float32
    ((3, 100, 9), (9, 250)),          # a batch: 293 KiB in float32
])
def test_large_results_start_on_a_cache_line(a_shape, b_shape, dtype):
    """From 256 KiB the result's data is 64-byte aligned (vector stores never split
    across cache lines) and it is still an ordinary array that owns its memory.
    Unrelated allocations between calls move where NumPy's own allocator puts
    blocks: it gives 16-byte alignment."""
    a, b = _rand(a_shape, dtype, seed=61), _rand(b_shape, dtype, seed=62)
    keep = []
    for size in range(1, 200, 13):
        keep.append(np.empty(size * 1000 + size, np.uint8))
        res = matmul_t(a, b)
        keep.append(res)
        assert res.ctypes.data % 64 == 0
        assert res.flags.owndata and res.base is None and res.flags.c_contiguous
        assert _handler_name(res) == "fastops_aligned64"
    assert_matmul_t_close(res, a, b)


def test_small_results_use_numpys_allocator():
    """Below 256 KiB the result comes from NumPy's default allocator (switching
    handlers would cost as much as a tiny product)."""
    a, b = _rand((64, 8)), _rand((8, 64))
    assert _handler_name(matmul_t(a, b)) == _handler_name(np.empty(3))


def _vm_flags(address: int) -> list[str]:
    """The VmFlags of the mapping of this process that holds `address` (Linux)."""
    lines = Path("/proc/self/smaps").read_text().splitlines()
    for i, line in enumerate(lines):
        span = re.match(r"([0-9a-f]+)-([0-9a-f]+) ", line)
        if span and int(span[1], 16) <= address < int(span[2], 16):
            return next(f.split()[1:] for f in lines[i + 1:] if f.startswith("VmFlags:"))
    raise AssertionError(f"no mapping holds {address:#x}")


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux's /proc/self/smaps")
def test_results_from_4_mib_ask_for_huge_pages_like_numpys_arrays():
    """Aligned results of 4 MiB and more are advised MADV_HUGEPAGE ("hg" in
    smaps) whenever NumPy advises its own large arrays, so that writing a
    large result takes a fault per 2 MiB, not per 4 KiB."""
    assert _matmul_t.aligned_results_use_hugepages() == _matmul_t._numpy_advises_hugepages()
    res = matmul_t(_rand((1024, 4)), _rand((4, 1536)))          # 12 MiB in float64
    theirs = np.ones(res.shape)
    assert _handler_name(res) == "fastops_aligned64" and _handler_name(theirs) != "fastops_aligned64"
    assert ("hg" in _vm_flags(res.ctypes.data + res.nbytes // 2)) == ("hg" in _vm_flags(theirs.ctypes.data + theirs.nbytes // 2))


def test_aligned_results_resize_copy_and_pickle_like_any_array():
    """The aligned allocator's realloc keeps the data; copies and pickles round-trip."""
    import pickle

    a, b = _rand((512, 3), seed=63), _rand((3, 128), seed=64)
    res = matmul_t(a, b)
    expected = res.copy()
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(res)), expected)
    res.resize((2 * 128 * 512,), refcheck=False)   # grows through the handler's realloc
    np.testing.assert_array_equal(res[:128 * 512].reshape(128, 512), expected)
    assert res.ctypes.data % 64 == 0
    res.resize((1000,), refcheck=False)             # and shrinks
    np.testing.assert_array_equal(res, expected.ravel()[:1000])


# --------------------------------------------------------------------------
# (3) Errors
# --------------------------------------------------------------------------

BAD_DTYPES = [np.int32, np.int64, np.bool_, np.complex64, np.complex128, np.float16, object]


@pytest.mark.parametrize("method", METHOD_PARAMS)
@pytest.mark.parametrize("which", ["a", "b", "both"])
@pytest.mark.parametrize("bad", BAD_DTYPES, ids=lambda d: np.dtype(d).name)
def test_unsupported_dtype_raises_type_error(bad, which, method):
    a = np.ones((3, 4), dtype=bad if which in ("a", "both") else np.float64)
    b = np.ones((4, 5), dtype=bad if which in ("b", "both") else np.float32)
    with pytest.raises(TypeError) as excinfo:
        matmul_t(a, b, method=method)
    msg = str(excinfo.value)
    assert "float32" in msg and "float64" in msg, msg


def test_integer_lists_raise_type_error():
    with pytest.raises(TypeError, match=r"(?s)(?=.*float32)(?=.*float64)"):
        matmul_t([[1, 2], [3, 4]], [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(TypeError, match=r"(?s)(?=.*float32)(?=.*float64)"):
        matmul_t([[1.0, 2.0], [3.0, 4.0]], [[1, 0], [0, 1]])


SHAPE_ERRORS = {
    "inner_mismatch": ((3, 4), (5, 6)),
    "inner_mismatch_batched": ((2, 3, 4), (2, 5, 6)),
    "a_1d": ((4,), (4, 5)),
    "b_1d": ((3, 4), (4,)),
    "both_1d": ((4,), (4,)),
    "a_0d": ((), (4, 5)),
    "b_0d": ((3, 4), ()),
    "batch_not_broadcastable": ((2, 3, 4), (3, 4, 5)),
    "batch_not_broadcastable_4d": ((2, 1, 3, 4), (3, 3, 4, 5)),
}


@pytest.mark.parametrize("method", METHOD_PARAMS)
@pytest.mark.parametrize("shapes", list(SHAPE_ERRORS.values()), ids=list(SHAPE_ERRORS))
def test_bad_shapes_raise_value_error_naming_both_shapes(shapes, method):
    a_shape, b_shape = shapes
    a = np.ones(a_shape)
    b = np.ones(b_shape)
    with pytest.raises(ValueError) as excinfo:
        matmul_t(a, b, method=method)
    msg = str(excinfo.value)
    assert str(a_shape) in msg, msg
    assert str(b_shape) in msg, msg


def test_shape_error_example_from_spec():
    with pytest.raises(ValueError, match=r"(?s)(?=.*\(3, 4\))(?=.*\(5, 6\))"):
        matmul_t(np.zeros((3, 4)), np.zeros((5, 6)))


def test_one_d_list_raises_value_error():
    with pytest.raises(ValueError):
        matmul_t([1.0, 2.0], [[1.0], [2.0]])


@pytest.mark.parametrize("method", ["", "fast", "BLAS", "Auto", "numpy"])
def test_unknown_method_raises_value_error(method):
    with pytest.raises(ValueError):
        matmul_t(np.ones((2, 3)), np.ones((3, 4)), method=method)


def test_blas_method_without_blas_raises_runtime_error(monkeypatch):
    monkeypatch.setitem(sys.modules["fastops.matmul_t"].BLAS_INFO, "found", False)
    with pytest.raises(RuntimeError, match="no CBLAS"):
        matmul_t(np.ones((2, 3)), np.ones((3, 4)), method="blas")
    # "auto" never needs BLAS: it falls back to the native kernels
    np.testing.assert_allclose(matmul_t(np.ones((200, 300)), np.ones((300, 400))),
                               np.full((400, 200), 300.0))


def test_num_threads_zero_raises_value_error():
    with pytest.raises(ValueError):
        matmul_t(np.ones((2, 3)), np.ones((3, 4)), num_threads=0)


@pytest.mark.parametrize("bad", [1.5, 2.0, "2", True, False, [2]], ids=repr)
def test_num_threads_non_int_raises_type_error(bad):
    with pytest.raises(TypeError):
        matmul_t(np.ones((2, 3)), np.ones((3, 4)), num_threads=bad)


# --------------------------------------------------------------------------
# (5) out=
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHOD_PARAMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    "shapes",
    [((13, 21), (21, 8)), ((2, 1, 4, 5), (3, 5, 6)), ((64, 64), (64, 64))],
    ids=["2d", "broadcast", "square"],
)
def test_out_is_filled_and_returned(shapes, dtype, method):
    a = _rand(shapes[0], dtype, seed=18)
    b = _rand(shapes[1], dtype, seed=19)
    shape = matmul_t_reference(a, b).shape
    out = np.full(shape, np.nan, dtype=dtype)  # garbage must be overwritten
    res = matmul_t(a, b, out=out, method=method)
    assert res is out
    assert_matmul_t_close(out, a, b)


@pytest.mark.parametrize("method", METHOD_PARAMS)
def test_out_with_k0_is_zeroed(method):
    a = np.ones((4, 0))
    b = np.ones((0, 3))
    out = np.full((3, 4), np.nan)
    assert matmul_t(a, b, out=out, method=method) is out
    np.testing.assert_array_equal(out, np.zeros((3, 4)))


def test_out_with_zero_size_result():
    out = np.empty((5, 0))
    assert matmul_t(np.ones((0, 3)), np.ones((3, 5)), out=out) is out


def test_out_mixed_dtypes_needs_float64_out():
    a = _rand((5, 6), np.float32, seed=20)
    b = _rand((6, 7), np.float64, seed=21)
    out = np.empty((7, 5), dtype=np.float64)
    assert matmul_t(a, b, out=out) is out
    assert_matmul_t_close(out, a, b)
    with pytest.raises(TypeError):
        matmul_t(a, b, out=np.empty((7, 5), dtype=np.float32))


@pytest.mark.parametrize(
    "out",
    [
        pytest.param(np.empty((4, 6)), id="untransposed_shape"),  # a @ b's shape, not its transpose
        pytest.param(np.empty((4, 7)), id="wrong_n"),
        pytest.param(np.empty((1, 4, 6)), id="extra_batch_dim"),
        pytest.param(np.empty(24), id="flat"),
        pytest.param(np.empty((4, 6)).T, id="fortran"),  # right shape (6, 4) but F order
        pytest.param(np.empty((6, 8))[:, ::2], id="sliced"),
        pytest.param(np.empty((6, 4))[::-1], id="reversed"),
    ],
)
def test_out_wrong_shape_or_layout_raises_value_error(out):
    a = np.ones((4, 5))
    b = np.ones((5, 6))
    with pytest.raises(ValueError):
        matmul_t(a, b, out=out)


@pytest.mark.parametrize(
    ("result_dtype", "out_dtype"),
    [
        (np.float64, np.float32),
        (np.float32, np.float64),
        (np.float64, np.int64),
        (np.float64, np.complex128),
    ],
)
def test_out_wrong_dtype_raises_type_error(result_dtype, out_dtype):
    a = np.ones((4, 5), dtype=result_dtype)
    b = np.ones((5, 6), dtype=result_dtype)
    with pytest.raises(TypeError):
        matmul_t(a, b, out=np.empty((6, 4), dtype=out_dtype))


@pytest.mark.parametrize("out", [[[0.0] * 4] * 6, 0.0, "out"], ids=["list", "float", "str"])
def test_out_not_ndarray_raises_type_error(out):
    with pytest.raises(TypeError):
        matmul_t(np.ones((4, 5)), np.ones((5, 6)), out=out)


def test_out_read_only_raises_value_error():
    out = np.empty((6, 4))
    out.flags.writeable = False
    with pytest.raises(ValueError):
        matmul_t(np.ones((4, 5)), np.ones((5, 6)), out=out)


def test_out_overlapping_inputs_raises_value_error():
    a = _rand((4, 4), seed=22)
    b = _rand((4, 4), seed=23)
    a_before, b_before = a.copy(), b.copy()
    with pytest.raises(ValueError):
        matmul_t(a, b, out=a)
    with pytest.raises(ValueError):
        matmul_t(a, b, out=b)
    base = _rand((16, 4), seed=24)
    with pytest.raises(ValueError):  # out overlaps rows 2 and 4 of a strided view
        matmul_t(base[::2][:4], b, out=base[1:5])
    with pytest.raises(ValueError):  # b is a transposed view of out's memory
        c = np.zeros((4, 4))
        matmul_t(a, c.T, out=c)
    np.testing.assert_array_equal(a, a_before)
    np.testing.assert_array_equal(b, b_before)


def test_out_overlapping_input_of_other_dtype_raises_value_error():
    """Overlap counts even when the input needs a dtype conversion first."""
    out = np.zeros((4, 4))
    a32 = out.view(np.float32)[:, :4]  # float32 view of out's first 2 columns
    assert np.shares_memory(a32, out)
    with pytest.raises(ValueError):
        matmul_t(a32, np.ones((4, 4)), out=out)


def test_out_sharing_a_buffer_without_overlap_is_allowed():
    """Overlap is decided element-wise (np.shares_memory), not by address bounds."""
    base = np.zeros(200)
    out = base[80:96].reshape(4, 4)
    # a[i, j] lives at base[i + 120 * j]: elements on both sides of out's block
    a = np.lib.stride_tricks.as_strided(base, shape=(4, 2), strides=(8, 8 * 120))
    a[...] = _rand((4, 2), seed=25)
    b = _rand((2, 4), seed=26)
    assert np.may_share_memory(a, out) and not np.shares_memory(a, out)
    assert matmul_t(a, b, out=out) is out
    assert_matmul_t_close(out, a, b)

    # disjoint halves of one buffer
    base2 = _rand((8, 4), seed=45)
    a2, out2 = base2[:4], base2[4:]
    b2 = _rand((4, 4), seed=46)
    assert matmul_t(a2, b2, out=out2) is out2
    assert_matmul_t_close(out2, a2, b2)


# --------------------------------------------------------------------------
# (4) PyTorch tensors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHOD_PARAMS)
def test_torch_cpu_tensors(method):
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        ta = torch.randn(3, 33, 47, dtype=dtype, generator=gen)
        tb = torch.randn(47, 29, dtype=dtype, generator=gen)
        # np.asarray of a CPU tensor is a view, not a copy
        assert np.asarray(ta).ctypes.data == ta.data_ptr()
        res = matmul_t(ta, tb, method=method, num_threads=1)
        assert isinstance(res, np.ndarray)
        assert_matmul_t_close(res, ta, tb)
        np.testing.assert_array_equal(
            res, matmul_t(ta.numpy(), tb.numpy(), method=method, num_threads=1)
        )


@pytest.mark.parametrize("method", METHOD_PARAMS)
def test_torch_non_contiguous_tensors(method):
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(1)
    base = torch.randn(60, 50, dtype=torch.float32, generator=gen)
    cases = [
        (base.t()[:, :30], torch.randn(30, 20, generator=gen)),  # transposed view
        (base[::2, 1::3], torch.randn(17, 11, generator=gen)),  # sliced
        (torch.randn(1, 40, generator=gen).expand(9, 40), base[:40, :7]),  # stride 0
    ]
    for ta, tb in cases:
        res = matmul_t(ta, tb, method=method)
        assert_matmul_t_close(res, ta, tb)
        np.testing.assert_allclose(
            res,
            matmul_t(ta.numpy(), tb.numpy(), method=method),
            rtol=matmul_t_tolerance(np.float32, ta.shape[-1])[0],
            atol=0,
        )


def test_torch_float32_with_numpy_float64_promotes():
    torch = pytest.importorskip("torch")
    ta = torch.randn(12, 15, dtype=torch.float32, generator=torch.Generator().manual_seed(2))
    b = _rand((15, 9), np.float64, seed=27)
    res = matmul_t(ta, b)
    assert res.dtype == np.float64
    assert_matmul_t_close(res, ta, b)


def test_torch_unsupported_dtype_and_out():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"(?s)(?=.*float32)(?=.*float64)"):
        matmul_t(torch.ones(3, 4, dtype=torch.int64), np.ones((4, 5)))
    with pytest.raises(TypeError, match=r"(?s)(?=.*float32)(?=.*float64)"):
        matmul_t(torch.ones(3, 4, dtype=torch.float16), torch.ones(4, 5, dtype=torch.float16))
    with pytest.raises(TypeError):  # out must be an ndarray, not a tensor
        matmul_t(np.ones((3, 4)), np.ones((4, 5)), out=torch.empty(5, 3, dtype=torch.float64))


# --------------------------------------------------------------------------
# (6) NaN / inf propagation
# --------------------------------------------------------------------------


def _assert_nonfinite_like_numpy(res: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    with np.errstate(invalid="ignore"):
        expected = np.swapaxes(np.matmul(a.astype(np.float64), b.astype(np.float64)), -1, -2)
    np.testing.assert_array_equal(np.isnan(res), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(res), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(res), np.isneginf(expected))
    np.testing.assert_allclose(res, expected, rtol=1e-3, equal_nan=True)


@pytest.mark.parametrize("method", METHOD_PARAMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("k", [50, 1100], ids=["k50", "k1100"])
def test_nan_and_inf_propagate_like_numpy(k, dtype, method):
    rng = _rng(28)
    m, n = 40, 30
    # magnitudes in [0.5, 1.5] with random signs: no accidental zeros
    a = (rng.uniform(0.5, 1.5, (m, k)) * rng.choice([-1.0, 1.0], (m, k))).astype(dtype)
    b = (rng.uniform(0.5, 1.5, (k, n)) * rng.choice([-1.0, 1.0], (k, n))).astype(dtype)
    a[2, k - 3] = np.nan  # row 2 of a @ b -> NaN (late k block)
    b[1, 4] = np.nan  # column 4 of a @ b -> NaN
    a[7, 0] = np.inf  # row 7 -> +-inf ...
    b[0, 11] = 0.0  # ... except inf * 0 = NaN at (7, 11)
    a[9, 5] = np.inf
    a[9, 6] = -np.inf  # row 9: inf - inf = NaN where b[5, j], b[6, j] share sign
    b[5, :] = np.abs(b[5, :])
    b[6, :10] = np.abs(b[6, :10])
    b[6, 10:] = -np.abs(b[6, 10:])  # row 9, columns 10.. -> +inf
    with np.errstate(invalid="ignore"):
        res = matmul_t(a, b, method=method)
    assert res.dtype == dtype
    _assert_nonfinite_like_numpy(res, a, b)
    assert np.isnan(res[:, 2]).all()
    assert np.isnan(res[4, :]).all()
    assert np.isnan(res[11, 7])


@pytest.mark.parametrize("method", METHOD_PARAMS)
def test_nan_in_batched_strided_input(method):
    a = _rand((3, 20, 40), seed=29)[:, ::2, :]
    b = np.asfortranarray(_rand((40, 15), seed=30))
    a = a.copy()
    a[1, 3, 17] = np.nan
    res = matmul_t(a, b, method=method)
    _assert_nonfinite_like_numpy(res, a, b)
    assert np.isnan(res[1, :, 3]).all()
    assert np.isfinite(np.delete(res[1], 3, axis=1)).all()
    assert np.isfinite(res[[0, 2]]).all()


# --------------------------------------------------------------------------
# (7) Thread counts
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHOD_PARAMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    "shapes", [((300, 300), (300, 300)), ((6, 70, 130), (130, 90))], ids=["300x300", "batch"]
)
def test_results_do_not_depend_on_thread_count(shapes, dtype, method):
    a = _rand(shapes[0], dtype, seed=31)
    b = _rand(shapes[1], dtype, seed=32)
    k = shapes[0][-1]
    rtol, _ = matmul_t_tolerance(dtype, k)
    scale = np.abs(matmul_t_reference(np.abs(a), np.abs(b))).max()
    results = {}
    for nt in (1, 2, -1, None, 8):
        results[nt] = matmul_t(a, b, num_threads=nt, method=method)
        assert_matmul_t_close(results[nt], a, b)
    for nt, res in results.items():
        np.testing.assert_allclose(res, results[1], rtol=0, atol=2 * rtol * scale, err_msg=f"num_threads={nt}")


def test_num_threads_minus_two():
    """-2 means all cores but one (at least one thread)."""
    a = _rand((120, 80), seed=33)
    b = _rand((80, 90), seed=34)
    assert_matmul_t_close(matmul_t(a, b, num_threads=-2), a, b)


def test_num_threads_none_honours_threadpoolctl_limits():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    a = _rand((150, 160), seed=35)
    b = _rand((160, 170), seed=36)
    with threadpoolctl.threadpool_limits(limits=1):
        assert fastops._openmp_helpers.openmp_effective_n_threads() == 1
        res = matmul_t(a, b)
    assert_matmul_t_close(res, a, b)


def _assert_correct_from_threads(problems, method, calls, workers):
    """Each (a, b, num_threads) problem called `calls` times in a pool of `workers`
    Python threads, all at once; every result checked against the reference."""
    def run(p):
        a, b, nt = p
        return [matmul_t(a, b, num_threads=nt, method=method) for _ in range(calls)]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        all_results = list(pool.map(run, problems))
    for (a, b, _), results in zip(problems, all_results):
        for res in results:
            assert_matmul_t_close(res, a, b)


@pytest.mark.parametrize("method", METHOD_PARAMS)
def test_concurrent_calls_from_python_threads(method):
    """Several Python threads calling matmul_t at once all get correct results."""
    problems = []
    for i in range(8):
        dtype = DTYPES[i % 2]
        shape_a = (3, 40 + 7 * i, 90 + 5 * i) if i % 3 == 0 else (60 + 9 * i, 90 + 5 * i)
        a = _rand(shape_a, dtype, seed=100 + i)
        b = _rand((90 + 5 * i, 50 + 11 * i), dtype, seed=200 + i)
        problems.append((a, b, [1, 2, None][i % 3]))
    _assert_correct_from_threads(problems, method, calls=3, workers=4)


@pytest.mark.parametrize("method", METHOD_PARAMS)
def test_concurrent_tiny_calls_from_python_threads(method):
    """Tiny products and batches of them (below 16^3 multiply-adds the kernels keep
    the GIL) give correct results when many Python threads call at once."""
    shapes = [((1, 1), (1, 1)), ((4, 4), (4, 4)), ((7, 3), (3, 5)), ((6, 3, 5), (5, 2)),
              ((2, 8, 8), (2, 8, 8)), ((3, 1, 4, 2), (5, 2, 3))]
    problems = [(_rand(sa, DTYPES[i % 2], seed=300 + i), _rand(sb, DTYPES[i % 2], seed=400 + i),
                 [1, 2, None][i % 3]) for i, (sa, sb) in enumerate(shapes * 2)]
    _assert_correct_from_threads(problems, method, calls=200, workers=6)


_SMALL_STACKS = """
import sys, threading
import numpy as np
import fastops
from fastops.testing import assert_matmul_t_close
fastops._matmul_t.select_simd(sys.argv[1])
rng = np.random.default_rng(0)
f32 = np.float32
problems = {                                       # every kernel, and those with 64 KiB of scratch
    "tiny": ((4, 4), (4, 4)), "panel": ((1, 128, 1), (1, 1, 1024)), "direct": ((8, 64, 64), (8, 64, 64)),
    "blocked-gemm": ((512, 512), (512, 512)), "dot": ((4096, 4096), (4096, 1)),
    "dot, strided columns of B": ((2048, 2048), (2048, 3)),
    "few-rows, 16 rows": ((16, 4096), (4096, 4096)), "few-rows, 2 groups": ((24, 4096), (4096, 4096)),
    "few-rows, batch": ((16, 6, 256), (16, 256, 512)),
}
operands = {name: (rng.standard_normal(sa, dtype=f32), rng.standard_normal(sb, dtype=f32))
            for name, (sa, sb) in problems.items()}
results = {}
def run():                                         # only matmul_t on the small stack (not NumPy's BLAS)
    for name, (a, b) in operands.items():
        results[name] = [fastops.matmul_t(a, b, method="native", num_threads=t) for t in (1, 2)]
threading.stack_size(64 * 1024)                    # the calling thread: a small Python thread stack
worker = threading.Thread(target=run)
worker.start()
worker.join()
assert len(results) == len(problems), "the thread raised"
for name, (a, b) in operands.items():
    for got in results[name]:
        assert_matmul_t_close(got, a, b)
    print(name, fastops.matmul_t_plan(a, b, method="native")["kernel"])
"""


def test_every_simd_variant_runs_on_small_thread_stacks(simd_variant):
    """Every kernel runs in a Python thread of 64 KiB of stack, with OpenMP's
    worker threads on 64 KiB too (OMP_STACKSIZE): kernel scratch comes from
    the heap (a stack overflow kills the child process)."""
    import subprocess
    env = dict(os.environ, OMP_STACKSIZE="64K")
    done = subprocess.run([sys.executable, "-c", _SMALL_STACKS, simd_variant],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:] or f"child died: signal {-done.returncode}"
    kernels = {line.rsplit(" ", 1)[1] for line in done.stdout.splitlines()}
    assert {"tiny", "panel", "direct", "blocked-gemm", "dot", "few-rows"} <= kernels, done.stdout


# --------------------------------------------------------------------------
# GIL release
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHOD_PARAMS)
def test_gil_is_released_during_the_kernel(method):
    """While another thread is inside matmul_t, the main thread keeps running Python.

    The worker repeatedly runs a 1500x1500 float64 product with one thread and
    records the time window of each call.  The main thread spins a pure-Python
    loop and notes the time about every millisecond.  If the GIL were held
    during the computation, the main thread could not run at all inside a
    window (away from its edges, where the worker runs matmul_t's Python
    part); with the GIL released it runs inside every window unless the
    machine starves it.  Progress is asked for, not speed, so a loaded
    machine (fewer time slices for the main thread) does not fail it.
    """
    n = 1500
    a = _rand((n, n), seed=37)
    b = _rand((n, n), seed=38)
    EDGE = 0.005
    windows: list[tuple[float, float]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def worker():
        try:
            start = time.perf_counter()
            reps = 0
            while reps < 2 or (reps < 6 and time.perf_counter() - start < 0.5):
                t0 = time.perf_counter()
                matmul_t(a, b, num_threads=1, method=method)
                windows.append((t0, time.perf_counter()))
                reps += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    progress: list[float] = []
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        thread = threading.Thread(target=worker)
        thread.start()
        last = time.perf_counter()
        while not done.is_set():
            now = time.perf_counter()
            if now - last > 1e-3:
                progress.append(now)
                last = now
        thread.join()
    finally:
        sys.setswitchinterval(old_interval)
    assert not errors, errors

    inner = [(t0 + EDGE, t1 - EDGE) for t0, t1 in windows if t1 - t0 > 4 * EDGE]
    assert inner, f"every call took under {4 * EDGE}s: {windows}"
    ran = [any(lo < t < hi for t in progress) for lo, hi in inner]
    # GIL held: the main thread never runs inside a window.  Released: it does
    # in every one that the scheduler gives it a time slice in.
    assert sum(ran) >= len(ran) / 2, (
        f"the main thread ran inside {sum(ran)} of {len(ran)} matmul_t calls "
        f"(windows={windows}, {len(progress)} progress marks)")


# --------------------------------------------------------------------------
# (8) Problems spanning several cache blocks
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHOD_PARAMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    "shapes",
    [
        ((700, 600), (600, 650)),
        ((50, 1100), (1100, 40)),  # several k blocks accumulate
        ((3, 33, 2100), (2100, 17)),  # batched, long k
        ((1, 4100), (4100, 1)),  # a single long dot product
    ],
    ids=["700x600x650", "k1100", "batch_k2100", "dot_k4100"],
)
def test_large_problems_span_cache_blocks(shapes, dtype, method):
    a = _rand(shapes[0], dtype, seed=39)
    b = _rand(shapes[1], dtype, seed=40)
    assert_matmul_t_close(matmul_t(a, b, method=method), a, b)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    "shapes",
    [((130, 300), (300, 317)), ((517, 290), (290, 45)), ((3, 101, 260), (260, 99))],
    ids=["slabs_of_rows", "slabs_of_columns", "batch_of_3"],
)
def test_blocked_gemm_is_bitwise_independent_of_thread_count(shapes, dtype):
    """Each thread runs the serial blocked GEMM on its own slab of R (rows, or
    columns when m > n), with the same k order, so any thread count gives the
    same bits, including counts that leave a short last slab or idle threads."""
    a = _rand(shapes[0], dtype, seed=45)
    b = _rand(shapes[1], dtype, seed=46)
    serial = matmul_t(a, b, method="native", num_threads=1)
    assert_matmul_t_close(serial, a, b)
    for num_threads in (2, 3, 4, 7):
        np.testing.assert_array_equal(matmul_t(a, b, method="native", num_threads=num_threads),
                                      serial, err_msg=f"num_threads={num_threads}")


@pytest.mark.parametrize("method", METHOD_PARAMS)
def test_large_problem_with_strided_inputs(method):
    a = _rand((1100, 900), seed=41)[::2, ::-1][:, :700]  # (550, 700), negative stride
    b = np.asfortranarray(_rand((700, 520), seed=42))
    assert_matmul_t_close(matmul_t(a, b, method=method), a, b)


# --------------------------------------------------------------------------
# fastops.testing itself
# --------------------------------------------------------------------------


def test_testing_helpers_reject_wrong_results():
    a = _rand((9, 10), np.float32, seed=43)
    b = _rand((10, 11), np.float32, seed=44)
    good = matmul_t_reference(a, b).astype(np.float32)
    assert_matmul_t_close(good, a, b)
    with pytest.raises(AssertionError, match="dtype"):
        assert_matmul_t_close(good.astype(np.float64), a, b)
    with pytest.raises(AssertionError, match="C-contiguous"):
        assert_matmul_t_close(np.asfortranarray(good), a, b)
    with pytest.raises(AssertionError, match="shape"):
        assert_matmul_t_close(np.ascontiguousarray(good.T), a, b)
    bad = good.copy()
    bad[3, 4] += 1e-3
    with pytest.raises(AssertionError, match="differs"):
        assert_matmul_t_close(bad, a, b)
    bad = good.copy()
    bad[0, 0] = np.nan
    with pytest.raises(AssertionError):
        assert_matmul_t_close(bad, a, b)


def test_tolerance_is_monotone_in_k_and_tighter_for_float64():
    r32 = [matmul_t_tolerance(np.float32, k) for k in (0, 1, 64, 1000, 10000)]
    r64 = [matmul_t_tolerance(np.float64, k) for k in (0, 1, 64, 1000, 10000)]
    assert all(x[0] < y[0] and x[1] < y[1] for x, y in zip(r32, r32[1:]))
    assert all(x[0] < y[0] for x, y in zip(r64, r32))
    assert r32[3][0] < 1e-4  # k=1000 float32: still tight
    assert r64[3][0] < 1e-12
    with pytest.raises(TypeError):
        matmul_t_tolerance(np.int64, 3)


# --------------------------------------------------------------------------- SIMD variants


# simd_variant (tests/conftest.py) runs a test once per variant this CPU can execute.


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_shape, b_shape", [
    ((3, 5), (5, 7)),                 # panel kernel, half width
    ((37, 29), (29, 41)),             # panel kernel, full width, odd edges
    ((1, 128, 1), (1, 1, 1024)),      # outer product
    ((96, 1), (1, 1367)),             # outer product over half an L2: rows split, ragged groups
    ((64, 64), (64, 2051)),           # 2 threads, rows split unevenly: panel kernel (fp32), blocked (fp64 on AVX2)
    ((32, 64), (64, 2051)),           # the same on the panel kernel in fp64 with AVX2 (16 KiB of A^T)
    ((6, 9, 12), (6, 12, 10)),        # batch of small products
    ((78, 78), (78, 78)),             # 2 threads in fp64 only (past 76^3), 1 in fp32
    ((130, 300), (300, 150)),         # blocked GEMM, edge tiles, two k blocks
    ((90, 260), (260, 61)),           # edge tiles: 2 of 4 vectors of columns, 1 of 6 rows
    ((113, 270), (270, 50)),          # edge tiles: 3 of 4 vectors, the last one partial
    ((70, 1100), (1100, 33)),         # blocked GEMM, several k blocks
    ((256, 40), (40, 77)),            # AVX-512: the direct kernel up to 256 rows of A,
    ((257, 40), (40, 77)),            # the blocked GEMM from 257
    ((5, 300), (300, 261)),           # few-rows kernel, 5 rows (AVX2 too), ragged last vector
    ((3, 7, 200), (3, 200, 300)),     # ... in a batch, 7 rows
    ((4, 600), (600, 1030)),          # ... 4 rows, B past its strips' 512 KiB
])
def test_every_simd_variant_matches_reference(simd_variant, dtype, a_shape, b_shape):
    """Every variant against the reference on 1 and 2 threads. With AVX-512,
    single products whose B rows are contiguous and A has at most 256 rows
    take the direct kernel; reversed rows of A with a Fortran-order B take the
    panel kernel or the blocked GEMM on every variant."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal(a_shape).astype(dtype)
    b = rng.standard_normal(b_shape).astype(dtype)
    for num_threads in (1, 2):
        assert_matmul_t_close(matmul_t(a, b, method="native", num_threads=num_threads), a, b)
    assert_matmul_t_close(matmul_t(a[..., ::-1, :], np.asfortranarray(b), method="native"),
                          a[..., ::-1, :], np.asfortranarray(b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_shape, b_shape, b_row_stride", [
    ((9, 1027), (1027, 401), None),        # few rows of A; depth blocks of 512, 512 and 3
    ((300, 1027), (1027, 401), None),      # the blocked GEMM on every variant (A beyond 512 KiB)
    ((2, 20, 515), (515, 389), None),      # a batch against one B
    ((40, 700), (700, 611), 1000),         # rows of B a slice of longer rows
])
def test_every_simd_variant_packs_large_b_across_panels(simd_variant, dtype, a_shape, b_shape,
                                                        b_row_stride):
    """B beyond L2 has its B^T blocks packed a few rows of B at a time across
    all the micro-panels: ragged last panels, depth tails that are not a whole
    number of row groups and rows longer than the block are all in place."""
    rng = np.random.default_rng(11)
    a = rng.standard_normal(a_shape).astype(dtype)
    k, n = b_shape
    b = rng.standard_normal((k, b_row_stride or n)).astype(dtype)[:, :n]
    for num_threads in (1, 2):
        assert_matmul_t_close(matmul_t(a, b, method="native", num_threads=num_threads), a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_shape, w_shape, w_row_stride", [
    ((9, 1027), (401, 1027), None),        # x @ W.T: depth blocks of 512, 512 and 3; a ragged last panel
    ((70, 515), (389, 515), None),         # depth tail shorter than a vector of every variant
    ((2000, 5), (61, 5), None),            # depth shorter than a vector
    ((40, 700), (611, 700), 1000),         # rows of W a slice of longer rows
])
def test_every_simd_variant_packs_b_with_contiguous_columns(simd_variant, dtype, a_shape, w_shape,
                                                            w_row_stride):
    """The blocked GEMM against B = W.T (B's columns contiguous, as in x @ W.T)
    packs its B^T micro-panels by in-register transposes, right for ragged
    last panels, depth tails and sliced rows of W, on 1 and 2 threads, and for
    a B whose columns are one column broadcast (column stride 0)."""
    rng = np.random.default_rng(12)
    a = rng.standard_normal(a_shape).astype(dtype)
    n, k = w_shape
    b = rng.standard_normal((n, w_row_stride or k)).astype(dtype)[:, :k].T
    _check_blocked_gemm_and_broadcast_column(a, b)


def _check_blocked_gemm_and_broadcast_column(a, b):
    """The blocked GEMM takes a @ b, right on 1 and 2 threads, and so it does
    with every column of b replaced by its first (column stride 0)."""
    assert matmul_t_plan(a, b, method="native")["kernel"] == "blocked-gemm"
    broadcast = np.broadcast_to(b[:, :1], b.shape)
    for num_threads in (1, 2):
        assert_matmul_t_close(matmul_t(a, b, method="native", num_threads=num_threads), a, b)
        assert_matmul_t_close(matmul_t(a, broadcast, method="native", num_threads=num_threads), a, broadcast)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("panel_rows", ["full", "ragged"])
@pytest.mark.parametrize("k", [600, 4133])  # one depth block; two of 2048 (KC_IN_PLACE) and a tail
def test_every_simd_variant_reads_b_columns_in_place_for_one_a_panel(simd_variant, dtype, panel_rows, k):
    """Where A^T is one micro-panel (m up to the tile's NR) and B's columns are
    contiguous, the blocked GEMM's tiles read B's columns in place, 257 of
    them (a ragged last tile), over one or several depth blocks, on 1 and 2
    threads, and a broadcast column (column stride 0) too. A is
    Fortran-ordered so that no variant's dot kernel takes the product instead."""
    nr = _matmul_t.tile_shape(np.dtype(dtype).char)[1]
    m = nr if panel_rows == "full" else nr - 1
    rng = np.random.default_rng(13)
    a = np.asfortranarray(rng.standard_normal((m, k)).astype(dtype))
    b = rng.standard_normal((257, k)).astype(dtype).T
    _check_blocked_gemm_and_broadcast_column(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 8, 11, 16])  # every panel width, and between
@pytest.mark.parametrize("m", [1, 3, 4, 7, 8, 13, 16])
def test_every_simd_variant_tiny_products(simd_variant, dtype, k, m):
    """Tiny products (m and k up to a panel width: A^T held in registers, rows
    of A read as whole vectors past k), batched and single, with contiguous,
    transposed, reversed and broadcast A, 1 to 17 rows of R, NaN and inf in B,
    5 entries: split 2 + 3 between two threads."""
    rng = np.random.default_rng(m * 100 + k)
    for n in (1, 5, 9, 17):
        a = rng.standard_normal((5, m, k)).astype(dtype)
        b = rng.standard_normal((5, k, n)).astype(dtype)
        b[1, 0, -1], b[2, -1, 0] = np.nan, np.inf
        for a_view in (a, np.swapaxes(np.swapaxes(a, 1, 2).copy(), 1, 2), a[:, ::-1, :], a[3:4]):
            for num_threads in (1, 2):
                assert_matmul_t_close(matmul_t(a_view, b, method="native", num_threads=num_threads),
                                      a_view, b)
            assert_matmul_t_close(matmul_t(a_view[-1], b[1], method="native"), a_view[-1], b[1])


_READ_UP_TO_A_GUARD_PAGE = """
import ctypes, mmap, sys
import numpy as np
import fastops
dtype, m, k, n, entries, simd = np.dtype(sys.argv[1]), *map(int, sys.argv[2:6]), sys.argv[6]
fastops._matmul_t.select_simd(simd)
page, count = mmap.PAGESIZE, entries * m * k
total = (count * dtype.itemsize // page + 2) * page
buf = mmap.mmap(-1, total)
start = ctypes.addressof(ctypes.c_char.from_buffer(buf))
libc = ctypes.CDLL(None, use_errno=True)
assert libc.mprotect(ctypes.c_void_p(start + total - page), page, 0) == 0   # PROT_NONE
a = np.frombuffer(buf, dtype, count, total - page - count * dtype.itemsize).reshape(entries, m, k)
a[...] = np.arange(count).reshape(entries, m, k) % 5 - 2    # A's last element ends the page
b = (np.arange(entries * k * n).reshape(entries, k, n) % 3 - 1).astype(dtype)
if entries == 1:
    a, b = a[0], b[0]
for threads in (1, 2):
    got = fastops.matmul_t(a, b, method="native", num_threads=threads)
    assert (got == np.swapaxes(a @ b, -1, -2)).all(), (m, k, n, threads)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mprotect through ctypes: Linux")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m, k", [(3, 3), (1, 5), (7, 2), (13, 11), (5, 7)])
@pytest.mark.parametrize("entries", [7, 1])                # a batch, a single product
def test_every_simd_variant_tiny_products_read_no_further_than_a(simd_variant, dtype, m, k,
                                                                entries):
    """Tiny products read A's rows as whole vectors past their k elements, but
    not past A's last element: with an unreadable page right after it (a read
    there kills the child process), every entry is still right."""
    import subprocess
    done = subprocess.run([sys.executable, "-c", _READ_UP_TO_A_GUARD_PAGE, dtype,
                           str(m), str(k), "6", str(entries), simd_variant],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:] or f"child died: signal {-done.returncode}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [11, 19, 27, 35, 43, 51])  # never a whole number of vectors
@pytest.mark.parametrize("b_layout", ["C", "F"])          # rows of B contiguous or strided
@pytest.mark.parametrize("k", [17, 1])                    # 1: outer products, row by row
def test_every_simd_variant_panel_blocks_stay_inside_out(simd_variant, dtype, m, b_layout, k):
    """The panel kernel on 2 to 13 vectors per row of R (full-width stores
    spill into the next row, which is written later) and whole or ragged last
    row groups: right results, and not one element written past the end of
    `out`, which sits inside a larger buffer."""
    rng = np.random.default_rng(m)
    a = rng.standard_normal((m, k)).astype(dtype)
    for n, num_threads in itertools.product((13, 16), (1, 2)):  # 16: the last group is whole
        b = np.asarray(rng.standard_normal((k, n)).astype(dtype), order=b_layout)
        buffer = np.full(n * m + 64, -7.0, dtype=dtype)
        out = buffer[: n * m].reshape(n, m)
        assert matmul_t(a, b, out=out, method="native", num_threads=num_threads) is out
        assert_matmul_t_close(out, a, b)
        assert (buffer[n * m:] == -7.0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [2, 4, 7, 13, 32])          # whole and ragged groups of A's rows
@pytest.mark.parametrize("k", [3, 17])
def test_every_simd_variant_direct_kernel_batches(simd_variant, dtype, m, k):
    """Batches with B's rows contiguous (the direct kernel, no packing): 1 to 3
    whole vectors and a partial one per strip of B's columns, A contiguous,
    transposed or reversed, B contiguous, row-reversed or the left columns of
    a wider array, NaN and inf in B; right results, and not one element
    written past the end of `out`, which sits inside a larger buffer."""
    rng = np.random.default_rng(m * 100 + k)
    for n in (2, 8, 13, 24, 37, 48, 61):
        a = rng.standard_normal((3, m, k)).astype(dtype)
        wide = rng.standard_normal((3, k, n + 5)).astype(dtype)
        wide[1, 0, n - 1], wide[2, -1, 0] = np.nan, np.inf
        b = wide[:, :, :n].copy()
        a_views = (a, np.swapaxes(np.swapaxes(a, 1, 2).copy(), 1, 2), a[:, ::-1, :])
        b_views = (b, b[:, ::-1, :], wide[:, :, :n])
        for a_view, b_view, num_threads in itertools.product(a_views, b_views, (1, 2)):
            buffer = np.full(3 * n * m + 64, -7.0, dtype=dtype)
            out = buffer[: 3 * n * m].reshape(3, n, m)
            assert matmul_t(a_view, b_view, out=out, method="native", num_threads=num_threads) is out
            assert_matmul_t_close(out, a_view, b_view)
            assert (buffer[3 * n * m:] == -7.0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("wide", [True, False])
def test_every_simd_variant_packs_a_streamed_b_in_wide_shallow_blocks(simd_variant, dtype, wide):
    """One A^T micro-panel (here a ragged one) against a B of 16 MiB or more
    with contiguous rows: the blocked GEMM packs B in blocks of 2048 columns
    (a multiple of the tile's rows) by 64 steps of depth; ragged last blocks
    of columns (fp32 4200 = 2 x 2046 + 108, fp64 2100 = 2046 + 54) and of
    depth (1000 = 15 x 64 + 40), on 1 and 2 threads.  Rows of B too short
    for the few-rows kernel (100 columns, one short block, depth blocks to a
    ragged last one) reach these blocks with every variant; wide ones only
    beyond the rows the few-rows kernel takes (28 in float32, 20 in float64)."""
    mr, nr = _matmul_t.tile_shape(np.dtype(dtype).char)
    m = nr - 3
    if m <= ((28 if dtype is np.float32 else 20) if wide else 4):
        pytest.skip(f"m = {m} (a {nr}-row A^T micro-panel less 3): the few-rows kernel takes it")
    rng = np.random.default_rng(22)
    size = np.dtype(dtype).itemsize
    k, n = (1000, 4200 * 4 // size) if wide else (16 * 1024 * 1024 // (100 * size) + 40, 100)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    assert k * n * b.itemsize >= 16 * 1024 * 1024
    assert matmul_t_plan(a, b, method="native")["kernel"] == "blocked-gemm"
    for num_threads in (1, 2):
        assert_matmul_t_close(matmul_t(a, b, method="native", num_threads=num_threads), a, b)


@pytest.mark.parametrize("dtype, m", [(d, m) for d in (np.float32, np.float64)
                                      for m in (8, 9, 13, 16, 17, 20)] + [(np.float32, 27)])
def test_every_simd_variant_streams_a_large_b_for_few_rows(simd_variant, dtype, m):
    """8 to 28 rows of A (20 in float64) against a B of 16 MiB or more (a few
    tokens against a weight) take the few-rows kernel on every variant,
    AVX-512 too, whose direct kernel would read B's rows a few vectors at a
    time, a page per step, from 17 rows in two groups of rows of A (17 = 9 +
    8, 27 = 14 + 13): right results with a ragged last chunk of B's columns
    and a last group of 5 rows of B (k = 8 * 255 + 5), A C- and
    Fortran-ordered, on 1 and 2 threads."""
    rng = np.random.default_rng(21 + m)
    k = 2045
    n = 16 * 1024 * 1024 // (k * np.dtype(dtype).itemsize) + 5
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    for a_view in (a, np.asfortranarray(a)):
        assert matmul_t_plan(a_view, b, method="native")["kernel"] == "few-rows"
        for num_threads in (1, 2):
            assert_matmul_t_close(matmul_t(a_view, b, method="native", num_threads=num_threads),
                                  a_view, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("narrow", [1, 2, 3, 4, 5, 7, 8])    # dot and few rows: up to 8
@pytest.mark.parametrize("k", [1, 7, 16, 17, 100])            # whole vectors of k and a tail
def test_every_simd_variant_matrix_vector_products(simd_variant, dtype, narrow, k):
    """Products with few rows of A or few columns of B: the dot kernel (A's
    rows and B's columns contiguous), the few-rows kernel (B's rows
    contiguous), and the other layouts, each as a single product (split among
    2 threads along its long side) and as a batch; right results, and not
    one element written past the end of `out`, which sits inside a larger
    buffer."""
    rng = np.random.default_rng(narrow * 1000 + k)
    for wide in (1, 13, 16, 67, 300, 2100):   # 2100: B past the few-rows kernel's cached size
        a = rng.standard_normal((3, narrow, k)).astype(dtype)
        b = rng.standard_normal((3, k, wide)).astype(dtype)
        b[1, 0, -1], b[2, -1, 0] = np.nan, np.inf
        pairs = [(x, y) for x in (a, np.asfortranarray(a), a[:, ::-1, :])
                 for y in (b, np.asfortranarray(b))]
        pairs += [(np.swapaxes(y, 1, 2), np.swapaxes(x, 1, 2)) for x, y in pairs]  # few columns of B
        for x, y in pairs:
            for entries, num_threads in itertools.product((slice(None), slice(1, 2)), (1, 2)):
                xs, ys = x[entries], y[entries]
                shape = np.swapaxes(xs @ ys, -1, -2).shape
                buffer = np.full(int(np.prod(shape)) + 64, -7.0, dtype=dtype)
                out = buffer[: int(np.prod(shape))].reshape(shape)
                xs_, ys_ = (xs[0], ys[0]) if entries.start else (xs, ys)
                out = out[0] if entries.start else out
                assert matmul_t(xs_, ys_, out=out, method="native", num_threads=num_threads) is out
                assert_matmul_t_close(out, xs_, ys_)
                assert (buffer[int(np.prod(shape)):] == -7.0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_too_small_for_the_vectors_take_a_narrower_variant(simd_variant, dtype):
    """A product whose result's longer side, max(m, n), is shorter than the
    selected variant's vectors runs the widest variant below it whose vectors
    that side fills (the baseline at the least)."""
    char = np.dtype(dtype).char
    vector_bytes = {"baseline": 16, "avx2": 32, "avx512": 64}
    names = fastops._matmul_t.simd_supported()
    for side in (1, 2, 3, 4, 7, 8, 15, 16, 17, 1000):
        chosen = fastops._matmul_t.simd_for(char, side)
        fitting = [v for v in names[: names.index(simd_variant) + 1]
                   if vector_bytes[v] // np.dtype(dtype).itemsize <= side]
        assert chosen == (fitting[-1] if fitting else "baseline"), side


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_simd_variant_direct_kernel_split_among_threads(simd_variant, dtype):
    """A batch too short to share out by entries, of products wide enough to
    split: the direct kernel runs on each thread's chunk of R's rows, the last
    chunk ragged."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 32, 32)).astype(dtype)
    b = rng.standard_normal((3, 32, 2001)).astype(dtype)
    for num_threads in (2, 3):
        assert_matmul_t_close(matmul_t(a, b, method="native", num_threads=num_threads), a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_shape, b_shape", [
    ((1024, 32, 32), (1024, 32, 32)),   # batch entries: 8 MiB of float64 result
    ((1024, 36, 32), (1024, 32, 36)),   # rows of R not a whole number of cache lines
    ((256, 64), (64, 4500)),            # a single product, R's rows split among threads,
])                                      # each strip's last vector partial
def test_every_simd_variant_large_direct_results(simd_variant, dtype, a_shape, b_shape):
    """From 8 MiB of result the direct kernel may write R past the caches
    (AVX-512 float64, R and its rows on cache lines): the same values as
    ordinary stores, into an aligned new result and into an `out` two elements
    off a line, and nothing written past the end of `out`."""
    a, b = _rand(a_shape, dtype, seed=71), _rand(b_shape, dtype, seed=72)
    shape = np.broadcast_shapes(a_shape[:-2], b_shape[:-2]) + (b_shape[-1], a_shape[-2])
    size = math.prod(shape)
    for num_threads in (1, 2):
        res = matmul_t(a, b, method="native", num_threads=num_threads)
        assert res.ctypes.data % 64 == 0
        assert_matmul_t_close(res, a, b)
        buffer = np.full(size + 16, -7.0, dtype=dtype)
        start = (-buffer.ctypes.data // buffer.itemsize) % (64 // buffer.itemsize) + 2
        out = buffer[start:start + size].reshape(shape)
        assert matmul_t(a, b, out=out, method="native", num_threads=num_threads) is out
        assert_matmul_t_close(out, a, b)
        assert (buffer[start + size:] == -7.0).all()


@settings(deadline=None, max_examples=N_EXAMPLES)
@given(data=st.data())
def test_out_flaws_extent_bits_agree_with_may_share_memory(data):
    """The C extent check behind out= agrees with np.may_share_memory on strided views."""
    base = np.empty((12, 10))

    def view():
        rows = slice(data.draw(st.integers(0, 11)), data.draw(st.integers(0, 12)),
                     data.draw(st.sampled_from([1, 2, -1, -3])))
        cols = slice(data.draw(st.integers(0, 9)), data.draw(st.integers(0, 10)),
                     data.draw(st.sampled_from([1, 3, -1])))
        v = base[rows, cols]
        return v.T if data.draw(st.booleans()) else v

    out, x, y = view(), view(), view()
    flaws = fastops._matmul_t.out_flaws(out, x, y)
    assert bool(flaws & fastops._matmul_t.OUT_NEAR_A) == np.may_share_memory(out, x)
    assert bool(flaws & fastops._matmul_t.OUT_NEAR_B) == np.may_share_memory(out, y)
    assert bool(flaws & fastops._matmul_t.OUT_NOT_C_CONTIGUOUS) == (not out.flags.c_contiguous)


# --------------------------------------------------------------------------- auto policy

_NATIVE, _BLAS = fastops._matmul_t.METHOD_NATIVE, fastops._matmul_t.METHOD_BLAS


@requires_blas
@pytest.mark.parametrize("a_shape, b_shape, dtype, on_intel, on_zen5, on_zen4, otherwise", [
    ((16, 16), (16, 16), np.float32, _NATIVE, _NATIVE, _NATIVE, _NATIVE),                # tiny
    ((64, 64), (64, 64), np.float64, _NATIVE, _NATIVE, _NATIVE, _NATIVE),                # small
    ((256, 256), (256, 256), np.float32, _NATIVE, _NATIVE, _NATIVE, _NATIVE),            # mid-size
    ((1000, 1000), (1000, 50), np.float32, _NATIVE, _NATIVE, _NATIVE, _NATIVE),
    ((1023, 1024), (1024, 1024), np.float64, _NATIVE, _NATIVE, _NATIVE, _NATIVE),        # just below 1024^3
    ((1024, 1024), (1024, 1024), np.float64, _NATIVE, _NATIVE, _NATIVE, _BLAS),          # from 1024^3 on AMD
    ((1024, 1024), (1024, 1024), np.float32, _NATIVE, _NATIVE, _NATIVE, _NATIVE),        # without AVX-512:
    ((2048, 2048), (2048, 2048), np.float32, _NATIVE, _NATIVE, _NATIVE, _NATIVE),        # BLAS in fp64
    ((2047, 2048), (2048, 2048), np.float64, _NATIVE, _NATIVE, _NATIVE, _BLAS),          # Zen 4: BLAS in fp64
    ((2048, 2048), (2048, 2048), np.float64, _NATIVE, _NATIVE, _BLAS, _BLAS),            # from 2048^3
    ((3071, 3072), (3072, 3072), np.float32, _NATIVE, _NATIVE, _NATIVE, _NATIVE),
    ((3071, 3072), (3072, 3072), np.float64, _NATIVE, _NATIVE, _BLAS, _BLAS),
    ((3072, 3072), (3072, 3072), np.float32, _BLAS, _BLAS, _NATIVE, _NATIVE),            # from 3072^3: BLAS on Intel,
    ((3072, 3072), (3072, 3072), np.float64, _BLAS, _NATIVE, _BLAS, _BLAS),              # and on Zen 5 in fp32
    ((4096, 4096), (4096, 4096), np.float32, _BLAS, _BLAS, _NATIVE, _NATIVE),
    ((4096, 4096), (4096, 4096), np.float64, _BLAS, _NATIVE, _BLAS, _BLAS),
    ((2, 3072, 3072), (2, 3072, 3072), np.float32, _NATIVE, _NATIVE, _NATIVE, _NATIVE),
    ((2, 3072, 3072), (2, 3072, 3072), np.float64, _NATIVE, _NATIVE, _NATIVE, _NATIVE),
    ((128, 1), (1, 1024), np.float32, _NATIVE, _NATIVE, _NATIVE, _NATIVE),               # k = 1 outer products
    ((1, 128, 1), (1, 1, 1024), np.float64, _NATIVE, _NATIVE, _NATIVE, _NATIVE),         # the Llama node, fp64
    ((32768, 1), (1, 32768), np.float64, _NATIVE, _NATIVE, _NATIVE, _NATIVE),
    ((4, 8, 8), (4, 8, 8), np.float64, _NATIVE, _NATIVE, _NATIVE, _NATIVE),              # batches
    ((4, 32, 32), (4, 32, 32), np.float32, _NATIVE, _NATIVE, _NATIVE, _NATIVE),
    ((4, 48, 48), (4, 48, 48), np.float64, _NATIVE, _NATIVE, _NATIVE, _NATIVE),
    ((2, 1024, 1024), (2, 1024, 1024), np.float32, _NATIVE, _NATIVE, _NATIVE, _NATIVE),
    ((8, 128, 64), (64, 256), np.float32, _NATIVE, _NATIVE, _NATIVE, _NATIVE),           # broadcast operand
])
def test_auto_picks_the_measured_path(monkeypatch, a_shape, b_shape, dtype, on_intel,
                                      on_zen5, on_zen4, otherwise):
    """method="auto" follows the README's "How auto chooses" table on Intel CPUs (AVX-512
    or not), on AMD ones with AVX-512 (Zen 5, and Zen 4: family 25) and on AMD ones
    without (the inlined single-product fast path included)."""
    module = sys.modules["fastops.matmul_t"]
    chosen = []
    monkeypatch.setattr(module, "_matmul_t_into",
                        lambda a, b, out, shape, code, n_threads: chosen.append(code) or out)
    a, b = np.empty(a_shape, dtype), np.empty(b_shape, dtype)
    for intel, avx512, zen4, expected in ((True, True, False, on_intel),
                                          (True, False, False, on_intel),
                                          (False, True, False, on_zen5),
                                          (False, True, True, on_zen4),
                                          (False, False, False, otherwise),
                                          (False, False, True, otherwise)):
        monkeypatch.setattr(module, "_intel", intel)
        monkeypatch.setattr(module, "_zen4", zen4)
        monkeypatch.setattr(module, "_NATIVE_MAX",
                            module._INTEL_NATIVE_MAX if intel else module._AMD_NATIVE_MAX)
        monkeypatch.setattr(module, "_avx512", lambda avx512=avx512: avx512)
        matmul_t(a, b)
        assert chosen.pop() == expected, f"intel={intel} avx512={avx512} zen4={zen4}"


def test_cpu_vendor_matches_proc_cpuinfo():
    """The policy's vendor check agrees with what the kernel reports."""
    vendors = {line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
               if line.startswith("vendor_id")} if os.path.exists("/proc/cpuinfo") else set()
    if not vendors:
        pytest.skip("no vendor_id in /proc/cpuinfo (not an x86 Linux machine)")
    assert fastops._matmul_t.cpu_is_intel() == (vendors == {"GenuineIntel"})


def test_cpu_family_matches_proc_cpuinfo():
    """The family that tells Zen 4 from Zen 5 is the one the kernel reports."""
    families = {int(line.split(":", 1)[1]) for line in open("/proc/cpuinfo")
                if line.startswith("cpu family")} if os.path.exists("/proc/cpuinfo") else set()
    if not families:
        pytest.skip("no cpu family in /proc/cpuinfo (not an x86 Linux machine)")
    assert {fastops._matmul_t.cpu_family()} == families
