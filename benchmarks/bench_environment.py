"""asv: record which BLAS kernel a run's peers used, so the result history shows it.

asv's ``track_*`` benchmarks must return numbers, so the kernel's name is a
*parameter* of :class:`BlasKernel`, computed when asv imports this module in
the benchmark environment.  It appears in ``asv show``, ``asv compare`` (a
changed kernel is a different parameter value, hence a separate line) and the
published pages.
"""

from __future__ import annotations

import os
from typing import Any

import numpy  # noqa: F401  (loads NumPy's OpenBLAS, so that threadpoolctl sees it)

from . import FORCED_BLAS_ENV, REMOVED_MARKER


def _blas_pools() -> list[dict[str, Any]]:
    """threadpoolctl's entries for the loaded BLAS libraries ([] without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [entry for entry in threadpool_info() if entry.get("user_api") == "blas"]


def blas_kernels() -> list[str]:
    """``"<library> <architecture>"`` of every loaded BLAS, e.g. ``"openblas SkylakeX"``."""
    kernels = [f"{pool.get('internal_api')} {pool.get('architecture')}" for pool in _blas_pools()]
    return kernels or ["unknown (threadpoolctl missing or no BLAS loaded)"]


def blas_env() -> str:
    """What happened to OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in this process: ``"not set"``,
    ``"removed NAME=VALUE ..."`` (re-executed without them) or ``"kept NAME=VALUE ..."``."""
    if os.environ.get(REMOVED_MARKER):
        return f"removed {os.environ[REMOVED_MARKER]}"
    if FORCED_BLAS_ENV:
        return "kept " + " ".join(f"{name}={value}" for name, value in FORCED_BLAS_ENV.items())
    return "not set"


class BlasKernel:
    """The kernel NumPy's BLAS (and fastops ``method="blas"``) chose in this run's processes.

    Parameters: ``blas_kernel`` (threadpoolctl's ``architecture``) and
    ``blas_env`` (what happened to the variables that force a lesser kernel).
    """

    params = [blas_kernels(), [blas_env()]]
    param_names = ["blas_kernel", "blas_env"]

    def setup(self, blas_kernel: str, blas_env: str) -> None:
        if not _blas_pools():
            raise NotImplementedError(blas_kernel)

    def track_blas_threads(self, blas_kernel: str, blas_env: str) -> int:
        """Threads that BLAS uses by default in this environment (OMP_NUM_THREADS, else all cores)."""
        return int(_blas_pools()[0]["num_threads"])

    track_blas_threads.unit = "threads"  # type: ignore[attr-defined]
