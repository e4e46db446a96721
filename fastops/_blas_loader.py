"""Find the CBLAS that NumPy loaded and hand its gemm addresses to the kernels.

fastops links no BLAS: NumPy's wheels already carry OpenBLAS (as
``libscipy_openblas64_``, ILP64, symbols ``scipy_cblas_sgemm64_`` ...), and
calling that copy adds no dependency, no second thread pool, and makes the
BLAS path exactly as fast as NumPy's own.  A NumPy built against another
CBLAS (system OpenBLAS, MKL, BLIS) is found by the plain symbol names.
"""
from __future__ import annotations

import ctypes
import os

import numpy  # noqa: F401  (loads NumPy's BLAS into the process)

from fastops import _matmul_t

# (sgemm, dgemm, ilp64) symbol pairs, most specific first.
_CANDIDATES = (
    ("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", True),
    ("cblas_sgemm64_", "cblas_dgemm64_", True),
    ("scipy_cblas_sgemm", "scipy_cblas_dgemm", False),
    ("cblas_sgemm", "cblas_dgemm", False),
)
_BLAS_HINTS = ("openblas", "blas", "mkl_rt", "blis", "flexiblas")

BLAS_INFO: dict = {"found": False, "library": None, "symbols": None, "ilp64": None,
                   "corename": None, "config": None, "threads_local": False}


def _loaded_libraries() -> list[str]:
    """Shared objects mapped into this process whose name looks like a BLAS."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "/" in line}
    except OSError:
        return []
    return sorted(p for p in paths
                  if any(h in os.path.basename(p).lower() for h in _BLAS_HINTS)
                  and ".so" in p)


def _address(lib: ctypes.CDLL, name: str) -> int:
    try:
        return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value or 0
    except AttributeError:
        return 0


def _describe(lib: ctypes.CDLL, prefix: str, suffix: str) -> None:
    for key, symbol in (("corename", "openblas_get_corename"),
                        ("config", "openblas_get_config")):
        fn = getattr(lib, f"{prefix}{symbol}{suffix}", None) or getattr(lib, symbol, None)
        if fn is not None:
            fn.restype = ctypes.c_char_p
            BLAS_INFO[key] = fn().decode()


def bind() -> dict:
    """Bind the first CBLAS found; returns BLAS_INFO (``found`` False if none)."""
    for path in _loaded_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for sname, dname, ilp64 in _CANDIDATES:
            s_addr, d_addr = _address(lib, sname), _address(lib, dname)
            if s_addr and d_addr:
                local = _address(lib, "openblas_set_num_threads_local")
                _matmul_t.bind_blas(s_addr, d_addr, local, ilp64)
                BLAS_INFO.update(found=True, library=path, symbols=[sname, dname],
                                 ilp64=ilp64, threads_local=bool(local))
                prefix, suffix = ("scipy_", "64_") if sname.startswith("scipy_") and ilp64 \
                    else ("", "")
                _describe(lib, prefix, suffix)
                return BLAS_INFO
    return BLAS_INFO
