"""Tests for ``fastops.matmul_t_plan``: which kernel ``matmul_t`` runs, on how many threads.

The plan comes from the same C function that ``matmul_t`` dispatches on
(``_plan`` in ``_matmul_t.pyx``), so the routing table below is the spec of
that dispatch: each row says which kernel a shape takes with the AVX2
variant and why (the measurement is in ``_geometry``'s comments).  A change
of routing, wanted or not, fails here and has to be written down.  The AVX2
variant runs on every CPU that CI meets (Zen 3 to 5, Intel Xeon); where
the AVX-512 variant routes differently, a second table covers it on CPUs
that have it; the numeric tests in test_matmul_t.py run every variant.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastops
from fastops import _matmul_t, matmul_t, matmul_t_plan
from fastops._openmp_helpers import openmp_enabled

F32, F64 = np.float32, np.float64
KEYS = {"shape", "dtype", "batch", "converted", "method", "kernel", "simd", "threads", "split",
        "gil_released"}


def _ones(shape, dtype):
    return np.ones(shape, dtype)


# (a shape, b shape, dtype, kernel, split) with C-ordered operands, the AVX2
# variant, method="native", num_threads=2.
ROUTES_AVX2 = [
    # tiny products: A^T in registers, one C call per thread over the batch
    ((4096, 8, 8), (4096, 8, 8), F32, "tiny", "batch"),
    # small float64 batch entries with up to 8 columns of B: the direct kernel,
    # not the dot kernel (its sums across lanes cost 4.7x here)
    ((4096, 8, 8), (4096, 8, 8), F64, "direct", "batch"),
    ((4096, 6, 6), (4096, 6, 6), F64, "direct", "batch"),
    ((4096, 8, 8), (4096, 8, 4), F64, "direct", "batch"),
    ((4096, 16, 16), (4096, 16, 4), F32, "panel", "batch"),
    ((4096, 16, 16), (4096, 16, 4), F64, "direct", "batch"),
    ((1024, 32, 32), (1024, 32, 32), F32, "direct", "batch"),
    # larger entries with few columns of B: the dot kernel
    ((32, 128, 128), (32, 128, 7), F32, "dot", "batch"),
    ((32, 128, 128), (32, 128, 7), F64, "dot", "batch"),
    ((1024, 1024), (1024, 6), F64, "dot", "product"),
    ((1024, 1024), (1024, 1), F32, "dot", "product"),
    # 1 to 8 rows of A against wide rows of B: the few-rows kernel (with AVX2
    # from 4 rows too: 1.1-4x the blocked GEMM, panel or direct kernel on Zen 3)
    ((1, 1024), (1024, 1024), F32, "few-rows", "product"),
    ((3, 4096), (4096, 4096), F64, "few-rows", "product"),
    ((4, 4096), (4096, 4096), F32, "few-rows", "product"),
    ((5, 4096), (4096, 4096), F64, "few-rows", "product"),
    ((7, 2048), (2048, 128), F64, "few-rows", "product"),
    ((256, 6, 128), (256, 128, 512), F32, "few-rows", "batch"),
    # 8 rows too: in float32, in batches, and single float64 products whose B
    # is beyond L2 (1.1-2.6x the blocked GEMM or panel kernel on Zen 3) ...
    ((8, 4096), (4096, 4096), F32, "few-rows", "product"),
    ((8, 256), (256, 1024), F32, "few-rows", "product"),
    ((8, 1024), (1024, 1024), F64, "few-rows", "product"),
    ((64, 8, 128), (64, 128, 512), F64, "few-rows", "batch"),
    # 9 to 16 rows against a B of 16 MiB or more, which streams from memory
    # (1.3-1.9x the blocked GEMM on Zen 5), unless A^T fits the panel kernel
    # (16 KiB with AVX2: a 32 KiB A^T does not)
    ((12, 2048), (2048, 2048), F32, "few-rows", "product"),
    ((16, 4096), (4096, 4096), F64, "few-rows", "product"),
    ((16, 512), (512, 8192), F32, "few-rows", "product"),
    ((12, 256), (256, 16384), F32, "panel", "product"),
    ((16, 2048), (2048, 1024), F32, "blocked-gemm", "product"),   # 8 MiB: cached
    # ... and more rows in two groups, each a pass over B: up to 28 in fp32, 20 in fp64
    ((28, 4096), (4096, 4096), F32, "few-rows", "product"),
    ((20, 4096), (4096, 2048), F64, "few-rows", "product"),
    ((29, 4096), (4096, 4096), F32, "blocked-gemm", "product"),
    ((21, 4096), (4096, 2048), F64, "blocked-gemm", "product"),
    # ... but not a single float64 product whose B fits L2 (0.87-0.96)
    ((8, 128), (128, 512), F64, "panel", "product"),
    # ... but not 4 rows in batch entries whose B its strips would read from memory,
    ((256, 4, 128), (256, 128, 512), F32, "direct", "batch"),
    # nor rows of B under FEW_MIN_COLS columns
    ((7, 2048), (2048, 64), F64, "blocked-gemm", "product"),
    # k = 1 (the Llama node): the panel kernel, rows of R split between threads
    ((1, 128, 1), (1, 1, 1024), F32, "panel", "product"),
    # the rest: blocked GEMM, over batch entries or inside each product
    ((64, 128, 128), (64, 128, 128), F64, "blocked-gemm", "batch"),
    ((8, 128, 64), (64, 256), F32, "blocked-gemm", "batch"),
    ((256, 256), (256, 256), F64, "blocked-gemm", "product"),
    ((1024, 1024), (1024, 1024), F32, "blocked-gemm", "product"),
]




# Where the AVX-512 variant routes differently because its direct kernel
# takes single products with up to 256 rows of A: not against a B of 16 MiB
# or more, read from memory (see _geometry's comments for the measurements).
ROUTES_AVX512 = [
    ((256, 256), (256, 256), F64, "direct", "product"),
    ((8, 1024), (1024, 1024), F64, "direct", "product"),    # 8 MiB: cached
    # 8 to 16 rows against a B of 16 MiB or more: the few-rows kernel streams B's rows
    ((8, 4096), (4096, 4096), F32, "few-rows", "product"),
    ((8, 2048), (2048, 1024), F64, "few-rows", "product"),
    ((16, 4096), (4096, 2048), F32, "few-rows", "product"),
    ((12, 4096), (4096, 11008), F32, "few-rows", "product"),
    ((16, 1024), (1024, 2048), F64, "few-rows", "product"),
    # ... unless A^T fits the panel kernel, which would take it: then the
    # direct kernel does, as for 9 to 16 rows against a cached B
    ((9, 512), (512, 8192), F32, "direct", "product"),
    ((16, 512), (512, 8192), F32, "direct", "product"),
    ((16, 2048), (2048, 1024), F32, "direct", "product"),
    # ... up to 28 rows in fp32 and 20 in fp64 in two groups; more rows
    # against a streamed B: the blocked GEMM, which packs B's rows in long runs
    ((17, 4096), (4096, 4096), F32, "few-rows", "product"),
    ((24, 4096), (4096, 11008), F32, "few-rows", "product"),
    ((32, 4096), (4096, 2048), F32, "blocked-gemm", "product"),
    ((24, 4096), (4096, 2048), F64, "blocked-gemm", "product"),
]


ROUTES = [("avx2", *route) for route in ROUTES_AVX2] + [("avx512", *route) for route in ROUTES_AVX512]


@pytest.mark.skipif(not openmp_enabled(), reason="built without OpenMP: one thread, split none")
@pytest.mark.parametrize("simd_variant, a_shape, b_shape, dtype, kernel, split", ROUTES, indirect=["simd_variant"],
                         ids=[f"{v}-{a}@{b}-{np.dtype(d).name}" for v, a, b, d, *_ in ROUTES])
def test_routes_on_two_threads(simd_variant, a_shape, b_shape, dtype, kernel, split):
    plan = matmul_t_plan(_ones(a_shape, dtype), _ones(b_shape, dtype), num_threads=2, method="native")
    assert (plan["kernel"], plan["split"], plan["threads"]) == (kernel, split, 2)
    assert plan["simd"] == simd_variant and plan["method"] == "native"


def test_plan_describes_the_result():
    plan = matmul_t_plan(_ones((3, 1, 5, 4), F32), _ones((2, 4, 6), F64), num_threads=1)
    assert set(plan) == KEYS
    assert plan["shape"] == (3, 2, 6, 5) == matmul_t(_ones((3, 1, 5, 4), F32), _ones((2, 4, 6), F64)).shape
    assert plan["dtype"] == np.float64 and plan["batch"] == 6
    assert plan["converted"] == ["a"]
    assert (plan["threads"], plan["split"]) == (1, "none")


def test_small_products_run_one_thread_and_keep_the_gil():
    plan = matmul_t_plan(_ones((4, 4), F32), _ones((4, 4), F32))
    assert plan["threads"] == 1 and plan["split"] == "none"
    assert plan["gil_released"] is False
    assert plan["kernel"] == "tiny"


def test_large_products_release_the_gil():
    assert matmul_t_plan(_ones((64, 64), F32), _ones((64, 64), F32))["gil_released"] is True


def test_empty_results_and_k_zero():
    assert matmul_t_plan(_ones((0, 3), F32), _ones((3, 4), F32))["kernel"] == "none"
    assert matmul_t_plan(_ones((2, 0), F64), _ones((0, 4), F64))["kernel"] == "zeros"
    assert matmul_t_plan(_ones((5, 0, 3), F64), _ones((3, 4), F64))["kernel"] == "none"


@pytest.mark.skipif(not fastops.show_config(mode="dicts")["blas"]["found"], reason="no BLAS in build")
def test_blas_where_its_layout_goes_else_native():
    a, b = _ones((300, 300), F64), _ones((300, 300), F64)
    plan = matmul_t_plan(a, b, method="blas")
    assert (plan["method"], plan["kernel"], plan["simd"]) == ("blas", "blas", None)
    assert matmul_t_plan(a.T, b, method="blas")["kernel"] == "blas"        # transposed: fine
    sliced = _ones((600, 900), F64)[::2, ::3]                                # no unit stride
    plan = matmul_t_plan(sliced, b, method="blas")
    assert plan["method"] == "native" and plan["kernel"] == "blocked-gemm"


def test_auto_is_native_below_the_blas_threshold_and_for_batches():
    assert matmul_t_plan(_ones((512, 512), F64), _ones((512, 512), F64))["method"] == "native"
    batch = matmul_t_plan(_ones((2, 1024, 1024), F64), _ones((2, 1024, 1024), F64))
    assert batch["method"] == "native"


@pytest.mark.skipif(not fastops.show_config(mode="dicts")["blas"]["found"], reason="no BLAS in build")
@pytest.mark.parametrize("simd_variant", ["avx2"], indirect=True)
def test_auto_on_amd_without_avx512_keeps_few_row_float64_products_native(simd_variant):
    """Zen 3: float64 single products from 1024^3 multiply-adds go to BLAS,
    except those with up to 256 rows of A; float32 ones stay native."""
    if _matmul_t.cpu_is_intel():
        pytest.skip("the AMD policy")
    method = lambda m, k, n, dtype=F64: matmul_t_plan(_ones((m, k), dtype), _ones((k, n), dtype))["method"]
    assert method(256, 4096, 1024) == method(64, 8192, 2048) == "native"
    assert method(257, 4096, 1024) == method(1024, 1024, 1024) == method(4096, 1024, 256) == "blas"
    assert method(1024, 1024, 1024, F32) == "native"


def test_unaligned_operands_are_copied_first():
    buf = np.empty(8 * 16 + 1, np.uint8)[1:]
    a = buf.view(F64).reshape(4, 4)
    plan = matmul_t_plan(a, _ones((4, 4), F64))
    assert plan["converted"] == ["a", "b"] and plan["kernel"] != "none"


@pytest.mark.parametrize("a, b, kwargs, error", [
    (np.ones((2, 3), np.int32), np.ones((3, 2), np.int32), {}, TypeError),
    (np.ones(3), np.ones((3, 2)), {}, ValueError),
    (np.ones((2, 3)), np.ones((4, 2)), {}, ValueError),
    (np.ones((2, 2, 3)), np.ones((3, 3, 2)), {}, ValueError),
    (np.ones((2, 3)), np.ones((3, 2)), {"num_threads": 0}, ValueError),
    (np.ones((2, 3)), np.ones((3, 2)), {"num_threads": 1.5}, TypeError),
    (np.ones((2, 3)), np.ones((3, 2)), {"method": "fast"}, ValueError),
])
def test_errors_are_those_of_matmul_t(a, b, kwargs, error):
    with pytest.raises(error) as from_matmul_t:
        matmul_t(a, b, **kwargs)
    with pytest.raises(error) as from_plan:
        matmul_t_plan(a, b, **kwargs)
    assert str(from_plan.value) == str(from_matmul_t.value)
