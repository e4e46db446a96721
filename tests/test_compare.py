"""Tests for ``python -m fastops compare`` on small synthetic ``bench --json`` files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fastops import _cli, _compare


def _document(profile: str = "portable", simd: str = "avx512", cpu: str = "AMD EPYC",
              features: tuple[str, ...] = ("avx2", "avx512f"), times: dict[tuple[str, str], float] | None = None,
              routes: dict[tuple[str, str], str] | None = None) -> dict[str, Any]:
    """A minimal bench --json document; ``times`` maps (case, impl) -> median seconds (float32),
    ``routes`` (case, impl) -> the result's route (none when not given, as in older files)."""
    times = {("square 64", "fastops"): 2e-6, ("square 64", "numpy"): 4e-6} if times is None else times
    routes = routes or {}
    return {
        "config": {
            "build": {"build": {"profile": profile, "compiler": {"args": ["-O3"]}}, "simd": {"active": simd}},
            "runtime": {"cpu": {"model": cpu, "simd_features": list(features), "logical_cores": 2}},
            "blas_kernels": [{"owner": "numpy", "architecture": "SkylakeX"}],
            "bench": {"fastops_threads": 2, "peer_threads": 2, "quick": True},
        },
        "results": [{"kernel": "matmul_t", "case": case, "dtype": "float32", "impl": impl, "median_s": seconds,
                     **({"route": routes[case, impl]} if (case, impl) in routes else {})}
                    for (case, impl), seconds in times.items()],
    }


def _write(tmp_path: Path, name: str, document: Any) -> str:
    """Write ``document`` as JSON to ``tmp_path / name``; return the path."""
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``python -m fastops compare ARGV``: exit code, stdout, stderr."""
    code = _cli.main(["compare", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_flags_differing_settings_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _write(tmp_path, "a.json", _document())
    b = _write(tmp_path, "b.json", _document(profile="native", simd="avx2", features=("avx2",)))
    code, out, _ = _run(capsys, a, b)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"A  {a}" and lines[1] == f"B  {b}"
    assert "  ! build profile      A portable | B native" in lines
    assert "  ! SIMD active        A avx512 | B avx2" in lines
    assert "  ! CPU SIMD features  A avx2 avx512f | B avx2" in lines
    assert "    CPU model          AMD EPYC" in lines
    assert "    compiler args      -O3" in lines
    assert "    BLAS libraries     numpy" in lines
    assert "    BLAS kernels       SkylakeX" in lines


def test_rows_side_by_side_with_ratio_vs_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _write(tmp_path, "a.json", _document())
    b = _write(tmp_path, "b.json", _document(times={("square 64", "fastops"): 1e-6, ("square 8", "numpy"): 1e-6}))
    code, out, _ = _run(capsys, a, b)
    assert code == 0
    rows = {tuple(line.split()[5:]) for line in out.splitlines() if line.startswith("matmul_t")}
    assert rows == {("2.00", "µs", "1.00", "µs", "2.00"),  # fastops: twice as fast in B
                    ("4.00", "µs", "-", "-"),              # numpy square 64: only in A
                    ("-", "1.00", "µs", "-")}              # numpy square 8: only in B
    assert "B vs A, geometric mean (rows): fastops 2.00 (1)" in out


def test_three_files_and_geometric_mean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slow = {("square 64", "fastops"): 8e-6, ("square 256", "fastops"): 2e-6}
    files = [_write(tmp_path, f"{n}.json", _document(times=t)) for n, t in enumerate(
        [slow, {k: v / 2 for k, v in slow.items()}, {("square 64", "fastops"): 2e-6, ("square 256", "fastops"): 4e-6}])]
    code, out, _ = _run(capsys, *files)
    assert code == 0
    header = next(line for line in out.splitlines() if line.startswith("kernel"))
    assert [cell.strip() for cell in header.split("  ") if cell.strip()][4:] == ["A", "B", "C", "B vs A", "C vs A"]
    assert "B vs A, geometric mean (rows): fastops 2.00 (2)" in out
    assert "C vs A, geometric mean (rows): fastops 1.41 (2)" in out  # sqrt(4 * 0.5)


def test_lists_rows_whose_route_differs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    times = {("square 64", "fastops"): 2e-6, ("square 256", "fastops"): 9e-5, ("square 64", "numpy"): 4e-6}
    before = {("square 64", "fastops"): "native panel avx2 x1 none",
              ("square 256", "fastops"): "native blocked-gemm avx2 x2 product"}
    after = {**before, ("square 256", "fastops"): "blas blas - x2 product"}
    a = _write(tmp_path, "a.json", _document(times=times, routes=before))
    b = _write(tmp_path, "b.json", _document(times=times, routes=after))
    old = _write(tmp_path, "old.json", _document(times=times))  # written before routes were recorded
    code, out, _ = _run(capsys, a, b, old)
    assert code == 0
    tail = out.splitlines()[-2:]
    assert tail == ["routes that differ (method, kernel, SIMD variant, threads, split):",
                    "  matmul_t square 256 float32 fastops: A native blocked-gemm avx2 x2 product"
                    " | B blas blas - x2 product"]
    code, out, _ = _run(capsys, a, old)
    assert out.splitlines()[-1] == "routes: the same in every file that records them"


def test_plot_writes_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    a = _write(tmp_path, "a.json", _document())
    b = _write(tmp_path, "b.json", _document(times={("square 64", "fastops"): 1e-6}))
    png = tmp_path / "ratios.png"
    code, out, _ = _run(capsys, a, b, "--plot", str(png))
    assert code == 0 and f"wrote {png}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not JSON"),
    (json.dumps({"config": {}}), "no 'results' list"),
    (json.dumps({"results": [{"kernel": "matmul_t", "case": "c", "dtype": "float32", "impl": "x"}]}),
     "result 0 lacks"),
    (json.dumps({"results": [{"kernel": "k", "case": "c", "dtype": "d", "impl": "x", "median_s": 0}]}),
     "expected > 0"),
])
def test_bad_file_is_an_error_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        content: str, message: str) -> None:
    good = _write(tmp_path, "good.json", _document())
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    code, out, err = _run(capsys, good, str(bad))
    assert code == 1 and out == ""
    assert f"error: {bad}: " in err and message in err


def test_missing_file_and_single_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path, "good.json", _document())
    code, _, err = _run(capsys, good, str(tmp_path / "absent.json"))
    assert code == 1 and "absent.json" in err
    with pytest.raises(SystemExit) as exc:
        _cli.main(["compare", good])
    assert exc.value.code == 2


def test_config_lookup_tolerates_missing_sections(tmp_path: Path) -> None:
    bare = _compare.load(_write(tmp_path, "bare.json", {"results": []}), "A")
    full = _compare.load(_write(tmp_path, "full.json", _document()), "B")
    lines = _compare.config_lines([bare, full])
    assert "  ! build profile      A - | B portable" in lines
    assert "  ! BLAS kernels       A - | B SkylakeX" in lines


def test_plot_needs_common_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    a = _write(tmp_path, "a.json", _document(times={("square 64", "fastops"): 1e-6}))
    b = _write(tmp_path, "b.json", _document(times={("square 8", "fastops"): 1e-6}))
    code, _, err = _run(capsys, a, b, "--plot", str(tmp_path / "none.png"))
    assert code == 1 and "nothing to plot" in err
    assert not (tmp_path / "none.png").exists()
