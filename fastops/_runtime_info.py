"""What this machine has *now* (as opposed to what fastops was built with).

``runtime_info()`` returns a plain, JSON-serialisable nested dict: the CPU
model, core counts, the SIMD instruction-set extensions the CPU reports, the
OpenMP thread count fastops would use, the environment variables that steer
the BLAS / OpenMP runtimes, the native thread pools loaded in this process
(via threadpoolctl), and the Python / NumPy / platform versions.

It is used by ``python -m fastops info`` and recorded in the benchmark JSON so
that two machines' results can be compared with a plain line diff.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

__all__ = ["runtime_info", "cpu_model", "cpu_identity", "cpu_flags", "simd_features", "RELEVANT_ENV_VARS"]

#: Environment variables that change how BLAS / OpenMP behave in this process.
RELEVANT_ENV_VARS: tuple[str, ...] = (
    "OMP_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)

#: SIMD-related CPU flags worth reporting, in a stable order (x86 first, then Arm).
SIMD_FLAGS: tuple[str, ...] = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx_vnni",
    "avx512f",
    "avx512dq",
    "avx512cd",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "asimd",
    "asimdhp",
    "sve",
    "sve2",
)

#: Optional frameworks whose installed version is worth recording (no import needed).
FRAMEWORKS: tuple[str, ...] = ("numpy", "torch", "tensorflow-cpu", "tensorflow", "threadpoolctl", "matplotlib")

_CPUINFO = "/proc/cpuinfo"


def _read_cpuinfo(path: str = _CPUINFO) -> str:
    """Return the text of /proc/cpuinfo, or "" where it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def _cpuinfo_field(text: str, names: tuple[str, ...]) -> str | None:
    """Value of the first line of ``text`` whose key is one of ``names``."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in names:
            return value.strip()
    return None


def cpu_model(cpuinfo: str | None = None) -> str:
    """CPU model name from /proc/cpuinfo, falling back to ``platform.processor()``."""
    text = _read_cpuinfo() if cpuinfo is None else cpuinfo
    name = _cpuinfo_field(text, ("model name", "cpu model", "hardware"))
    return name or platform.processor() or platform.machine() or "unknown"


def cpu_identity(cpuinfo: str | None = None) -> dict[str, Any]:
    """Vendor, family and model number from /proc/cpuinfo (None where absent).

    VMs often mask the model name ("AMD EPYC" for Zen 4 and Zen 5 alike); the
    family tells them apart (25: Zen 3 and Zen 4, 26: Zen 5), and matmul_t's
    auto policy follows it.
    """
    text = _read_cpuinfo() if cpuinfo is None else cpuinfo
    family, model = _cpuinfo_field(text, ("cpu family",)), _cpuinfo_field(text, ("model",))
    return {"vendor": _cpuinfo_field(text, ("vendor_id",)),
            "family": int(family) if family and family.isdigit() else None,
            "model_number": int(model) if model and model.isdigit() else None}


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """All CPU feature flags reported by /proc/cpuinfo (``flags`` on x86, ``Features`` on Arm)."""
    text = _read_cpuinfo() if cpuinfo is None else cpuinfo
    value = _cpuinfo_field(text, ("flags", "features"))
    return set(value.split()) if value else set()


def simd_features(flags: set[str] | None = None) -> list[str]:
    """The SIMD extensions from :data:`SIMD_FLAGS` present on this CPU, in stable order."""
    present = cpu_flags() if flags is None else flags
    return [flag for flag in SIMD_FLAGS if flag in present]


def _affinity_count() -> int | None:
    """Number of CPUs this process may run on (None where the OS cannot tell)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _openmp_info() -> dict[str, Any]:
    """OpenMP status of the compiled fastops helpers, or a note why it is unknown."""
    try:
        from fastops import _openmp_helpers
    except Exception as exc:  # build missing or broken: report, do not fail
        return {"enabled": None, "effective_n_threads": None, "note": f"fastops._openmp_helpers unavailable: {exc}"}
    return {
        "enabled": bool(_openmp_helpers.openmp_enabled()),
        "effective_n_threads": int(_openmp_helpers.openmp_effective_n_threads()),
        "serial_after_fork": _openmp_helpers.serial_after_fork(),
    }


def _threadpools() -> dict[str, Any]:
    """threadpoolctl's view of the native thread pools loaded in this process."""
    try:
        import threadpoolctl
    except ImportError:
        return {"entries": None, "note": "threadpoolctl is not installed; thread pools unknown"}
    entries = [dict(sorted(entry.items())) for entry in threadpoolctl.threadpool_info()]
    entries.sort(key=lambda e: (str(e.get("user_api")), str(e.get("internal_api")), str(e.get("filepath"))))
    return {"entries": entries}


def _versions() -> dict[str, str | None]:
    """Installed versions of the optional frameworks (None when not installed)."""
    versions: dict[str, str | None] = {}
    for name in FRAMEWORKS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def runtime_info() -> dict[str, Any]:
    """Describe this machine and process as they are now (JSON-serialisable).

    Only cheap queries are made; nothing is imported except threadpoolctl and
    fastops' own compiled OpenMP helper.  The thread-pool list reflects the
    libraries loaded *so far* in this process, so call it late (e.g. after a
    benchmark imported torch) to see them all.
    """
    import numpy as np

    text = _read_cpuinfo()
    return {
        "cpu": {
            "model": cpu_model(text),
            **cpu_identity(text),
            "logical_cores": os.cpu_count(),
            "affinity_cores": _affinity_count(),
            "simd_features": simd_features(cpu_flags(text)),
        },
        "openmp": _openmp_info(),
        "env": {name: os.environ.get(name) for name in RELEVANT_ENV_VARS},
        "threadpools": _threadpools(),
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "numpy": {"version": np.__version__},
        "packages": _versions(),
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "platform": platform.platform(),
        },
    }
