"""``show_config``: how this copy of fastops was built, in NumPy's format."""
from __future__ import annotations

import json
import sys
from typing import Literal

import numpy as np

from fastops import _matmul_t
from fastops._blas_loader import BLAS_INFO
from fastops._build_info import BUILD_INFO
from fastops._openmp_helpers import openmp_enabled


def _config() -> dict:
    from fastops import __version__

    b = BUILD_INFO
    return {
        "fastops": {"version": __version__},
        "build": {
            "profile": b["profile"],
            "compiler": {"name": b["compiler"]["name"], "version": b["compiler"]["version"],
                         "command": b["compiler"]["command"], "args": b["compiler"]["args"],
                         "link_args": b["compiler"]["link_args"]},
            "march_native": b["march_native"],
            "cython_checks": b["cython_checks"],
            "host": {"machine": b["machine"], "system": b["system"],
                     "cpu": b["build_host_cpu"]},
        },
        "dependencies": {"cython": b["cython_version"], "numpy_build": b["numpy_build_version"],
                         "numpy_runtime": np.__version__, "python_build": b["python"],
                         "python_runtime": sys.version.split()[0]},
        "openmp": {"enabled": openmp_enabled(), "requested_by_profile": b["openmp_requested"]},
        "simd": {"compiled": _matmul_t.simd_variants(),
                 "supported_here": _matmul_t.simd_supported(),
                 "active": _matmul_t.active_simd(),
                 "tile_float32": list(_matmul_t.tile_shape("f")),
                 "tile_float64": list(_matmul_t.tile_shape("d"))},
        "blas": dict(BLAS_INFO),
    }


def _print_yaml(node: dict, indent: int = 0) -> None:
    for key, value in node.items():
        if isinstance(value, dict):
            print(f"{' ' * indent}{key}:")
            _print_yaml(value, indent + 2)
        else:
            print(f"{' ' * indent}{key}: {json.dumps(value)}")


def show_config(mode: Literal["stdout", "dicts"] = "stdout") -> dict | None:
    """Print the build configuration, or return it as a nested dict (``mode="dicts"``).

    Keys: fastops (version), build (profile, compiler name/version/args,
    host), dependencies (Cython, NumPy, Python), openmp, simd (variants
    compiled, usable on this CPU, active), blas (the CBLAS bound from NumPy).
    """
    config = _config()
    if mode == "dicts":
        return config
    if mode != "stdout":
        raise ValueError(f"mode must be 'stdout' or 'dicts', got {mode!r}")
    _print_yaml(config)
    return None
