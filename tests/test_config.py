"""Tests for ``fastops.show_config(mode="stdout" | "dicts")``.

``mode="dicts"`` returns a nested, JSON-serialisable dict describing the build
and the runtime; ``mode="stdout"`` prints it and returns ``None``.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import fastops

PROFILES = {"portable", "native", "noopenmp", "debug", "asan"}


@pytest.fixture(scope="module")
def config() -> dict:
    cfg = fastops.show_config(mode="dicts")
    assert isinstance(cfg, dict)
    return cfg


def _version_of(entry) -> str:
    """A dependency entry is either a version string or a dict with "version"."""
    if isinstance(entry, dict):
        entry = entry["version"]
    assert isinstance(entry, str) and entry, entry
    return entry


def test_top_level_sections(config):
    for key in ("fastops", "build", "dependencies", "openmp", "simd", "blas"):
        assert key in config, f"missing section {key!r}"
        assert isinstance(config[key], dict), key


def test_fastops_version(config):
    version = config["fastops"]["version"]
    assert isinstance(version, str) and version
    if hasattr(fastops, "__version__"):
        assert version == fastops.__version__


def test_build_section(config):
    build = config["build"]
    assert build["profile"] in PROFILES
    compiler = build["compiler"]
    assert isinstance(compiler, dict)
    for key in ("name", "version", "args"):
        assert key in compiler, key
    assert isinstance(compiler["name"], str) and compiler["name"]
    assert isinstance(compiler["version"], str)
    args = compiler["args"]
    assert isinstance(args, (list, str))
    if isinstance(args, list):
        assert all(isinstance(x, str) for x in args)


def test_dependencies_section(config):
    deps = config["dependencies"]
    _version_of(deps["cython"])
    numpy_keys = [key for key in deps if key.lower().startswith("numpy")]
    assert numpy_keys, f"no numpy version in {sorted(deps)}"
    for key in numpy_keys:
        _version_of(deps[key])
    # a numpy runtime version, if reported, is the one imported here
    for key in numpy_keys:
        if "runtime" in key:
            assert _version_of(deps[key]) == np.__version__


def test_openmp_section(config):
    openmp = config["openmp"]
    assert isinstance(openmp["enabled"], bool)
    if config["build"]["profile"] == "noopenmp":
        assert openmp["enabled"] is False


def test_simd_section(config):
    simd = config["simd"]
    compiled = simd["compiled"]
    assert isinstance(compiled, list) and compiled
    assert all(isinstance(name, str) and name for name in compiled)
    assert len(set(compiled)) == len(compiled)
    assert isinstance(simd["active"], str)
    assert simd["active"] in compiled


def test_blas_section(config):
    blas = config["blas"]
    assert isinstance(blas["found"], bool)
    assert "library" in blas
    if blas["found"]:
        assert isinstance(blas["library"], str) and blas["library"]
    else:
        assert blas["library"] is None or isinstance(blas["library"], str)


def test_dicts_are_json_serialisable(config):
    text = json.dumps(config)
    assert json.loads(text) == config


def test_dicts_mode_returns_fresh_data(config):
    """Mutating the returned dict does not change what later calls report."""
    snapshot = copy.deepcopy(config)
    mutated = fastops.show_config(mode="dicts")
    mutated["fastops"]["version"] = "mutated"
    mutated.clear()
    again = fastops.show_config(mode="dicts")
    assert again["fastops"] == snapshot["fastops"]
    assert again["build"] == snapshot["build"]


def test_stdout_mode_prints_and_returns_none(capsys):
    assert fastops.show_config(mode="stdout") is None
    printed = capsys.readouterr().out
    assert printed.strip()
    for key in ("fastops", "build", "openmp", "simd", "blas"):
        assert key in printed
    assert fastops.show_config(mode="dicts")["fastops"]["version"] in printed


def test_default_mode_prints(capsys):
    assert fastops.show_config() is None
    assert capsys.readouterr().out.strip()


def test_unknown_mode_raises():
    with pytest.raises((ValueError, TypeError)):
        fastops.show_config(mode="yaml-ish")
