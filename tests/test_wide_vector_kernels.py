"""The AVX-512 instances' packing, checked on CPUs without AVX-512.

``tests/c/pack_t_mr_wide.c`` builds 64-byte-vector instances of the kernels
(AVX-512's 16 float and 8 double lanes) with AVX2 code generation, which gcc
lowers to pairs of 256-bit vectors, and checks their ``pack_t_mr`` (the
blocked GEMM's B^T micro-panels from B's contiguous columns, x @ W.T) against
a scalar reference: every element of the panel right, nothing written past its
end.  The real AVX-512 instances run in tests/test_matmul_t.py on CPUs that
have AVX-512.
"""
from __future__ import annotations

import platform
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

from fastops import _matmul_t

TESTS = Path(__file__).parent
KERNEL_SOURCES = TESTS.parent / "fastops" / "src"


def _compiler() -> str | None:
    cc = (sysconfig.get_config_var("CC") or "gcc").split()[0]
    return shutil.which(cc)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64") or "avx2" not in _matmul_t.simd_supported(),
                    reason="the harness runs AVX2 code")
@pytest.mark.skipif(not (KERNEL_SOURCES / "fo_gemm.h").exists(), reason="no kernel sources beside the tests")
@pytest.mark.skipif(_compiler() is None, reason="no C compiler (the one Python was built with)")
def test_wide_vector_pack_t_mr_matches_the_reference(tmp_path):
    exe = tmp_path / "pack_t_mr_wide"
    subprocess.run([_compiler(), "-O1", f"-I{KERNEL_SOURCES}", "-o", str(exe),
                    str(TESTS / "c" / "pack_t_mr_wide.c")], check=True, capture_output=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout
    assert run.stdout.strip() == "0 wrong"
