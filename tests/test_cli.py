"""Tests for the command line (``python -m fastops``) and the benchmark engine.

Everything here is fast: the engine is exercised on tiny synthetic kernels
with fake implementations, ``bench`` runs on a monkeypatched case list with
NumPy and fastops only (no torch / TensorFlow import), and nothing touches
the real ``OPENBLAS_*`` environment (the re-exec decision is tested as a
pure function of a dict).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastops
from fastops import _bench, _cli
from fastops._runtime_info import cpu_identity, cpu_flags, cpu_model, runtime_info, simd_features

# --------------------------------------------------------------------------- helpers


def _fast_settings(repeat: int = 3) -> _bench.Settings:
    """Settings for sub-second engine runs."""
    return _bench.Settings(threads=None, peer_threads=1, min_sample_s=1e-4, repeat=repeat, settle_timeout_s=0.0)


def _tiny_case(name: str = "tiny", size: int | None = 4) -> _bench.Case:
    """A 4x4 matmul_t case (inputs of the requested dtype)."""
    return _bench._matmul_t_case(name, (4, 4), (4, 4), size=size)


def _fake_kernel(impls: list[_bench.Impl], cases: list[_bench.Case] | None = None) -> _bench.Kernel:
    """A matmul_t-like kernel with the given implementations and tiny cases."""
    cases = cases or [_tiny_case()]
    return _bench.Kernel(
        name="fake",
        cases=lambda quick: list(cases),
        impls=lambda: list(impls),
        reference=lambda inputs: np.swapaxes(inputs[0].astype(np.float64) @ inputs[1], -1, -2).copy(),
        check=_bench.check_matmul_t,
        dtypes=("float32",),
    )


def _good(inputs, settings):
    """Correct fake implementation."""
    a, b = inputs
    return lambda: np.ascontiguousarray(np.swapaxes(a @ b, -1, -2))


def _wrong(inputs, settings):
    """Fake implementation that forgets the transpose."""
    a, b = inputs
    return lambda: a @ b + 1


def _raising(inputs, settings):
    """Fake implementation that cannot handle the case."""
    raise NotImplementedError("unsupported here")


def _broken(inputs, settings):
    """Fake implementation that crashes."""
    raise RuntimeError("crashed")


# --------------------------------------------------------------------------- argument handling


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["info", "--bogus"],
        ["bench", "--repeat", "0"],
        ["bench", "--repeat", "x"],
        ["bench", "--threads", "-1"],
        ["bench", "--peak-gflops-fp32", "-5"],
        ["bench", "--min-sample-ms", "0"],
        ["bench", "--kernels", "unknown"],
        ["bench", "--kernels", "matmul_t,unknown"],
        ["bench", "--impls", "nope"],
    ],
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        _cli.main(argv)
    assert info.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_unknown_kernel_message(capsys):
    with pytest.raises(SystemExit):
        _cli.main(["bench", "--kernels", "unknown"])
    err = capsys.readouterr().err
    assert "unknown kernel" in err and "matmul_t" in err


def test_kernel_and_impl_lists_accept_commas_and_spaces():
    args = _cli.build_parser().parse_args(["bench", "--kernels", "matmul_t,a", "b", "--impls", "x,y"])
    assert _cli._name_list(args.kernels) == ["matmul_t", "a", "b"]
    assert _cli._name_list(args.impls) == ["x", "y"]
    assert _cli._name_list(None) is None


def test_quick_changes_defaults():
    parser = _cli.build_parser()
    quick = _cli._settings(parser.parse_args(["bench", "--quick"]))
    full = _cli._settings(parser.parse_args(["bench"]))
    assert (quick.repeat, quick.min_sample_s) == (3, 0.002)
    assert (full.repeat, full.min_sample_s) == (7, 0.02)
    explicit = _cli._settings(parser.parse_args(["bench", "--quick", "--repeat", "5", "--threads", "1"]))
    assert (explicit.repeat, explicit.threads, explicit.peer_threads) == (5, 1, 1)


# --------------------------------------------------------------------------- info


def test_info_json_is_valid_and_sorted(capsys):
    assert _cli.main(["info", "--json"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert set(doc) == {"build", "runtime"}
    assert {"fastops", "build", "openmp", "simd", "blas"} <= set(doc["build"])
    runtime = doc["runtime"]
    assert {"cpu", "env", "openmp", "threadpools", "python", "numpy", "platform"} <= set(runtime)
    assert set(runtime["env"]) == set(_cli_env_vars())
    assert out == _cli.dumps(doc) + "\n"  # sort_keys + indent=2: diffs cleanly


def _cli_env_vars():
    from fastops._runtime_info import RELEVANT_ENV_VARS

    return RELEVANT_ENV_VARS


def test_info_text(capsys):
    assert _cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("build:\n")
    assert "\nruntime:\n" in out
    assert "  cpu:" in out


def test_format_nested():
    lines = _cli.format_nested({"b": [1, {"x": None}], "a": {"c": True, "d": []}})
    assert lines == ["a:", "  c: true", "  d: []", "b:", "  - 1", "  - x: null"]


def test_runtime_info_pieces():
    text = ("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
            "model name\t: Test CPU 9000\nflags\t\t: fpu sse4_2 avx2 fma avx512f amx_tile\n")
    assert cpu_model(text) == "Test CPU 9000"
    assert cpu_identity(text) == {"vendor": "AuthenticAMD", "family": 25, "model_number": 17}
    assert cpu_identity("") == {"vendor": None, "family": None, "model_number": None}
    assert simd_features(cpu_flags(text)) == ["sse4_2", "avx2", "fma", "avx512f", "amx_tile"]
    assert cpu_model("")  # falls back to platform.processor() / machine
    info = runtime_info()
    json.dumps(info)  # serialisable
    assert info["cpu"]["logical_cores"] >= 1


# --------------------------------------------------------------------------- re-exec decision


@pytest.mark.parametrize(
    ("env", "keep", "expected"),
    [
        ({}, False, False),
        ({"OPENBLAS_CORETYPE": "Haswell"}, False, True),
        ({"OPENBLAS_L2_SIZE": "512"}, False, True),
        ({"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"}, False, True),
        ({"OPENBLAS_CORETYPE": ""}, False, True),
        ({"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"}, True, False),
        ({"OPENBLAS_NUM_THREADS": "1", "PATH": "/bin"}, False, False),
    ],
)
def test_should_reexec(env, keep, expected):
    assert _bench.should_reexec(env, keep) is expected


def test_child_env_drops_only_the_overrides():
    env = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512", "OPENBLAS_NUM_THREADS": "2", "PATH": "/bin"}
    child = _bench.env_without_blas_overrides(env)
    assert "OPENBLAS_CORETYPE" not in child and "OPENBLAS_L2_SIZE" not in child
    assert child["OPENBLAS_NUM_THREADS"] == "2" and child["PATH"] == "/bin"
    assert not _bench.should_reexec(child, keep_blas_env=False)  # no loop
    assert "OPENBLAS_CORETYPE=Haswell" in child[_bench.REEXEC_MARKER]
    assert env["OPENBLAS_CORETYPE"] == "Haswell"  # input untouched


def test_reexec_runs_child_and_propagates_exit_code(monkeypatch, capsys):
    seen = {}

    def fake_run(cmd, env, check):
        seen.update(cmd=cmd, env=env)
        return subprocess.CompletedProcess(cmd, 3)

    monkeypatch.setattr(_bench.subprocess, "run", fake_run)
    code = _bench.reexec_bench(["bench", "--quick"], {"OPENBLAS_CORETYPE": "Haswell", "HOME": "/root"})
    assert code == 3
    assert seen["cmd"] == [sys.executable, "-m", "fastops", "bench", "--quick"]
    assert "OPENBLAS_CORETYPE" not in seen["env"] and seen["env"]["HOME"] == "/root"
    assert "re-running" in capsys.readouterr().out


# --------------------------------------------------------------------------- engine


def test_calibrate_reaches_min_sample_time():
    loops, per_call = _bench.calibrate(lambda: sum(range(50)), 0.002)
    assert loops > 1 and 0 < per_call < 0.002
    assert _bench._time_loops(lambda: sum(range(50)), loops) >= 0.0015


def test_engine_on_fake_kernel():
    impls = [
        _bench.Impl("fo", _good, is_fastops=True),
        _bench.Impl("peer", _good),
        _bench.Impl("absent", _good, available=lambda: "not installed"),
        _bench.Impl("flaky", _raising),
        _bench.Impl("broken", _broken),
    ]
    kernel = _fake_kernel(impls, [_tiny_case("a", 4), _tiny_case("b", None)])
    stream = io.StringIO()
    run = _bench.run_bench([kernel], _fast_settings(), peaks={"float32": 100.0, "bandwidth": 10.0},
                           progress_stream=stream)
    assert [(r.case, r.impl) for r in run.results] == [("a", "fo"), ("a", "peer"), ("b", "fo"), ("b", "peer")]
    for res in run.results:
        assert len(res.samples_s) == 3 and res.median_s > 0
        assert res.flops == 2 * 4**3
        assert res.gflops == pytest.approx(res.flops / res.median_s / 1e9)
        assert res.pct_peak == pytest.approx(res.gflops)  # peak is 100 GFLOP/s
        # 4x4 @ 4x4 float32: 3 x 16 elements of 4 bytes at least, against 10 GB/s
        assert res.pct_bandwidth == pytest.approx(100 * 3 * 16 * 4 / res.median_s / 1e9 / 10)
    assert run.missing == {"fake": {"absent": "not installed"}}
    assert run.unsupported == {("fake", "a", "float32", "flaky"): "unsupported here",
                               ("fake", "b", "float32", "flaky"): "unsupported here"}
    assert set(run.failed) == {("fake", "a", "float32", "broken"), ("fake", "b", "float32", "broken")}
    assert run.failed[("fake", "a", "float32", "broken")] == "RuntimeError: crashed"
    assert run.sizes == {("fake", "a"): 4, ("fake", "b"): None}
    assert "fake float32 b" in stream.getvalue()  # progress went to the given stream


def test_round_order_varies_who_follows_whom():
    names = ["fastops", "fastops-blas", "numpy", "torch", "tensorflow"]
    orders = [_bench.round_order(names, rep) for rep in range(7)]
    assert all(sorted(order) == sorted(names) for order in orders)
    assert orders == [_bench.round_order(names, rep) for rep in range(7)]  # the same every run
    before_fastops = {order[order.index("fastops") - 1] if order.index("fastops") else None
                      for order in orders}
    assert len(before_fastops) >= 3


def test_engine_rejects_wrong_results():
    kernel = _fake_kernel([_bench.Impl("peer", _wrong)])
    with pytest.raises(_bench.ImplementationError, match="wrong result"):
        _bench.run_bench([kernel], _fast_settings(), progress_stream=io.StringIO())


def test_engine_fails_loudly_when_fastops_raises():
    kernel = _fake_kernel([_bench.Impl("fo", _raising, is_fastops=True)])
    with pytest.raises(_bench.ImplementationError, match="fo failed"):
        _bench.run_bench([kernel], _fast_settings(), progress_stream=io.StringIO())


def test_check_matmul_t():
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 5), dtype=np.float32), rng.random((5, 2), dtype=np.float32)
    ref = np.swapaxes(a.astype(np.float64) @ b, -1, -2).copy()
    good = np.ascontiguousarray((a @ b).T)
    assert _bench.check_matmul_t(good, ref, (a, b)) is None
    assert "shape" in _bench.check_matmul_t(a @ b, ref, (a, b))
    assert "dtype" in _bench.check_matmul_t(good.astype(np.float64), ref, (a, b))
    assert "contiguous" in _bench.check_matmul_t(np.asfortranarray(good), ref, (a, b))
    assert "error" in _bench.check_matmul_t(good + 1e-2, ref, (a, b))
    nan = good.copy()
    nan[0, 0] = np.nan
    assert _bench.check_matmul_t(nan, ref, (a, b)) is not None


def test_matmul_t_cases():
    quick = _bench.matmul_t_cases(quick=True)
    full = _bench.matmul_t_cases(quick=False)
    assert [c.size for c in quick if c.size] == [1, 8, 64, 256, 1024]
    assert [c.size for c in full if c.size] == [1, 8, 64, 256, 1024, 2048, 4096]
    by_name = {c.name: c for c in full}
    assert by_name["llama (1,128,1)@(1,1,1024)"].flops == 2 * 128 * 1024 * 1
    assert by_name["bcast (8,128,64)@(64,256)"].flops == 2 * 8 * 128 * 256 * 64
    a, b = by_name["bcast (8,128,64)@(64,256)"].make_inputs(np.dtype("float32"))
    assert (a.shape, b.shape, a.dtype) == ((8, 128, 64), (64, 256), np.float32)
    assert -1 <= a.min() and a.max() <= 1
    linear = by_name["linear (16,4096)@(4096,4096).T"]
    assert linear.flops == 2 * 16 * 4096 * 4096
    x, b = linear.make_inputs(np.dtype("float64"))      # b = W.T: a view of a C-contiguous W
    assert (x.shape, b.shape) == ((16, 4096), (4096, 4096))
    assert b.T.flags.c_contiguous and not b.flags.c_contiguous


def test_matmul_t_impls_are_correct_on_small_case():
    """Every available matmul_t implementation passes the check on one small case (torch/TF excluded: slow)."""
    case = _bench._matmul_t_case("bcast", (3, 5, 4), (4, 6))
    settings = _fast_settings()
    for dtype in ("float32", "float64"):
        inputs = case.make_inputs(np.dtype(dtype))
        ref = _bench.matmul_t_reference(inputs)
        for impl in _bench.matmul_t_impls():
            if impl.name.startswith(("torch", "tensorflow")) or impl.available() is not None:
                continue
            result = _bench.to_numpy(impl.factory(inputs, settings)())
            assert _bench.check_matmul_t(result, ref, inputs) is None, impl.name


# --------------------------------------------------------------------------- peaks


LIMITS = """model name\t: AMD EPYC
threads=1 vector=avx512 fp32_peak_gflops=268 fp64_peak_gflops=134 copy_read_write_gbs=27.4
threads=2 vector=avx512 fp32_peak_gflops=526 fp64_peak_gflops=263 copy_read_write_gbs=35.2
"""


def test_parse_machine_limits():
    assert _bench.parse_machine_limits(LIMITS, 2) == {"float32": 526.0, "float64": 263.0, "bandwidth": 35.2}
    assert _bench.parse_machine_limits(LIMITS, 1) == {"float32": 268.0, "float64": 134.0, "bandwidth": 27.4}
    assert _bench.parse_machine_limits(LIMITS, 3) is None


def test_resolve_peaks(tmp_path):
    tool = tmp_path / "machine-limits"
    tool.write_text("")

    def runner(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 0, stdout=LIMITS)

    none = {"float32": None, "float64": None, "bandwidth": None}
    assert _bench.resolve_peaks(2, 1.0, 2.0, tool=tool, runner=runner)[0] == {**none, "float32": 1.0, "float64": 2.0}
    assert _bench.resolve_peaks(2, None, None, tool=tool, runner=runner)[0] == {
        "float32": 526.0, "float64": 263.0, "bandwidth": 35.2}
    assert _bench.resolve_peaks(2, 7.0, None, tool=tool, runner=runner)[0] == {
        "float32": 7.0, "float64": 263.0, "bandwidth": 35.2}
    assert _bench.resolve_peaks(3, None, None, tool=tool, runner=runner)[0] == none
    missing = _bench.resolve_peaks(2, None, None, tool=tmp_path / "absent", runner=runner)
    assert missing[0] == none and "none" in missing[1]


def test_resolve_peaks_keeps_the_highest_of_several_readings(tmp_path):
    tool = tmp_path / "machine-limits"
    tool.write_text("")
    readings = iter([LIMITS.replace("526", "263").replace("35.2", "41.0"), LIMITS,
                     LIMITS.replace("263", "250")])

    def runner(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 0, stdout=next(readings))

    peaks, source = _bench.resolve_peaks(2, None, None, tool=tool, runner=runner, runs=3)
    assert peaks == {"float32": 526.0, "float64": 263.0, "bandwidth": 41.0}
    assert "best of 3" in source


# --------------------------------------------------------------------------- output


def _result(case, dtype, impl, median, peak=None, samples=None):
    flops = 2 * 64**3
    gflops = flops / median / 1e9
    return _bench.Result("k", case, dtype, impl, median, samples or [median], flops, gflops,
                         None if peak is None else 100 * gflops / peak)


def test_format_time():
    assert _bench.format_time(812e-9) == "812 ns"
    assert _bench.format_time(12.34e-6) == "12.3 µs"
    assert _bench.format_time(1.234e-3) == "1.23 ms"
    assert _bench.format_time(2.051) == "2.05 s"
    assert _bench.format_time(5e-10) == "0.50 ns"


def test_format_table():
    results = [
        _result("n=64", "float32", "fo", 1e-6, peak=1000.0),
        _result("n=64", "float32", "fo-x", 4e-6, peak=1000.0),
        _result("n=64", "float32", "np", 2e-6),
        _result("n=64", "float32", "pt", 3e-6),
        _result("n=64", "float64", "fo", 2e-3, peak=1000.0),
        _result("n=64", "float64", "pt", 1e-3),
    ]
    table = _bench.format_table(results, ["fo", "fo-x", "np", "pt", "tf", "cv"], ["fo", "fo-x"],
                                missing={"tf": "not installed"},
                                failed={("k", "n=64", "float64", "np"): "boom"},
                                unsupported={("k", "n=64", "float64", "cv"): "no fp64"})
    lines = table.splitlines()
    assert lines[0].split() == ["case", "dtype", "fo", "fo-x", "np", "pt", "tf", "cv", "fo", "GFLOP/s", "%", "peak",
                                "x", "fo", "x", "fo-x", "x", "fo", "IQR", "x", "at", "peak", "best", "peer"]
    assert set(lines[1]) == {"-"}
    f32, f64 = lines[2].split(), lines[3].split()
    assert f32[:4] == ["n=64", "float32", "1.00", "µs"]
    assert "not" in f32 and "installed" in f32
    assert f32[-5:] == ["2.00", "0.50", "-", "-", "np"]  # ratios: 2 µs / 1 µs, 2 µs / 4 µs; best peer np
    assert f32[-7] == "524.3" and f32[-6] == "52.4"  # GFLOP/s and % of a 1000 GFLOP/s peak
    assert "failed" in f64 and f64[-5:] == ["0.50", "-", "-", "-", "pt"]  # one sample each: no IQR
    assert f64[f64.index("installed") + 1] == "n/a" and "n/a" not in f32  # cv cannot do float64


def test_format_table_gives_the_spread_of_per_round_ratios():
    """Round r of the peer is divided by round r of fastops: drift between rounds cancels."""
    fo = _result("c", "float32", "fo", 2e-6, samples=[1e-6, 2e-6, 3e-6, 4e-6, 5e-6])
    np_ = _result("c", "float32", "np", 4e-6, samples=[3e-6, 3e-6, 6e-6, 10e-6, 5e-6])
    # per-round ratios 3, 1.5, 2, 2.5, 1: quartiles 1.5 and 2.5 (drift cancels: fo's rounds grow 5x)
    assert _bench.paired_ratio_quartiles(np_, fo) == (pytest.approx(1.5), pytest.approx(2.5))
    row = _bench.format_table([fo, np_], ["fo", "np"], ["fo"]).splitlines()[2].split()
    assert row[-3:] == ["2.00", "1.50-2.50", "np"]
    assert _bench.paired_ratio_quartiles(_result("c", "float32", "np", 1e-6), fo) is None


def test_format_table_bounds_the_speed_up_by_the_peak():
    """x at peak = peak / best peer's rate: the most a kernel at the machine's FMA peak could win by."""
    fo = _result("c", "float32", "fo", 1e-3, peak=1.0)
    np_ = _result("c", "float32", "np", 2e-3, peak=1.0)     # 0.262 GFLOP/s of a 1 GFLOP/s peak
    pt = _result("c", "float32", "pt", 4e-3, peak=1.0)
    lines = _bench.format_table([fo, np_, pt], ["fo", "np", "pt"], ["fo"]).splitlines()
    names = [h.strip() for h in lines[0].split("  ") if h.strip()]
    row = lines[2].split()
    assert names[-2:] == ["x at peak", "best peer"]
    assert row[-2:] == [f"{1.0 / np_.gflops:.2f}", "np"]   # from the best peer, not the slower pt
    assert float(row[-2]) == pytest.approx(3.81, abs=0.01)
    assert "x at peak" not in _bench.format_table([_result("c", "float32", "np", 1e-3)], ["np"], [])
    # a copy-bandwidth peak bounds nothing: data in cache outrun it
    assert "x at peak" not in _bench.format_table([fo, np_, pt], ["fo", "np", "pt"], ["fo"], fma_peak=False)


def test_format_table_flags_busy_rows():
    quiet, busy = _result("a", "float32", "np", 1e-3), _result("b", "float32", "np", 1e-3)
    quiet.foreign_load, busy.foreign_load = 0.01, 0.6
    lines = _bench.format_table([quiet, busy], ["np"], []).splitlines()
    assert "busy" in lines[0].split()
    assert "60%" not in lines[2] and lines[3].split()[-2:] == ["60%", "np"]
    assert "busy" not in _bench.format_table([quiet], ["np"], [])


def test_format_table_shows_share_of_copy_bandwidth():
    fo, np_ = _result("c", "float32", "fo", 1e-3), _result("c", "float32", "np", 2e-3)
    fo.pct_bandwidth = 87.25
    lines = _bench.format_table([fo, np_], ["fo", "np"], ["fo"]).splitlines()
    names = [h.strip() for h in lines[0].split("  ") if h.strip()]
    assert names[names.index("fo GFLOP/s") + 1] == "% copy"
    assert "87.2" in lines[2].split()
    assert "% copy" not in _bench.format_table([np_], ["np"], [])


def test_matmul_t_cases_count_least_traffic():
    case = _bench._matmul_t_case("bcast", (8, 128, 64), (64, 256))
    assert case.elements == 8 * 128 * 64 + 64 * 256 + 8 * 256 * 128  # b is read once, not 8 times


def test_format_table_without_peak_or_fastops():
    table = _bench.format_table([_result("c", "float32", "np", 1e-3)], ["np"], [])
    assert "% peak" not in table and "GFLOP/s" not in table
    assert table.splitlines()[2].split()[-1] == "np"


def test_plot_results(tmp_path):
    pytest.importorskip("matplotlib")
    run = _bench.BenchRun(
        results=[_result("sq 8", "float32", "fo", 1e-6), _result("sq 16", "float32", "fo", 2e-6),
                 _result("odd", "float32", "fo", 1e-6), _result("odd", "float32", "np", 2e-6)],
        impl_names={"k": ["fo", "np"]}, fastops_impls={"k": ["fo"]},
        sizes={("k", "sq 8"): 8, ("k", "sq 16"): 16, ("k", "odd"): None})
    kernel = _bench.Kernel("k", lambda q: [], lambda: [], lambda i: None, lambda *a: None, dtypes=("float32",))
    path = tmp_path / "p.png"
    _bench.plot_results(run, path, [kernel])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- bench main()


@pytest.fixture
def tiny_matmul_t(monkeypatch):
    """Shrink the matmul_t case list and skip the machine-limits tool (fast, deterministic)."""
    kernel = _bench.KERNELS["matmul_t"]
    cases = [_tiny_case("square 4", 4), _bench._matmul_t_case("bcast (2,3,4)@(4,5)", (2, 3, 4), (4, 5))]
    monkeypatch.setitem(_bench.KERNELS, "matmul_t",
                        _bench.Kernel(**{**kernel.__dict__, "cases": lambda quick: list(cases)}))
    monkeypatch.setattr(_bench, "machine_limits_tool", lambda: Path("/nonexistent/machine-limits"))
    return cases


def test_bench_main_json_schema(tiny_matmul_t, tmp_path, capsys):
    path = tmp_path / "r.json"
    code = _cli.main(["bench", "--quick", "--no-progress", "--repeat", "2", "--kernels", "matmul_t",
                      "--min-sample-ms", "0.2", "--impls", "fastops,numpy,numpy-out",
                      "--peak-gflops-fp32", "100", "--peak-gflops-fp64", "50", "--json", str(path)],
                     env={})
    assert code == 0
    out = capsys.readouterr().out
    assert "square 4" in out and "bcast (2,3,4)@(4,5)" in out
    doc = json.loads(path.read_text())
    assert set(doc) == {"config", "results"}
    assert {"build", "runtime", "blas_kernels", "bench"} <= set(doc["config"])
    assert doc["config"]["bench"]["peak_gflops"] == {"float32": 100.0, "float64": 50.0, "bandwidth": None}
    results = doc["results"]
    assert len(results) == 2 * 2 * 3  # cases x dtypes x impls
    keys = {"kernel", "case", "dtype", "impl", "median_s", "samples_s", "gflops", "pct_peak", "flops",
            "pct_bandwidth"}
    for rec in results:
        assert keys <= set(rec)
        assert rec["kernel"] == "matmul_t" and len(rec["samples_s"]) == 2
        assert rec["median_s"] > 0 and rec["pct_peak"] is not None
    assert {r["impl"] for r in results} == {"fastops", "numpy", "numpy-out"}
    # each fastops result names its route, as matmul_t_plan gives it; peers name none
    inputs = {case.name: case.make_inputs(np.dtype("float64")) for case in tiny_matmul_t}
    for rec in results:
        if rec["impl"] != "fastops":
            assert rec["route"] is None
            continue
        a, b = inputs[rec["case"]]
        plan = fastops.matmul_t_plan(a.astype(rec["dtype"]), b.astype(rec["dtype"]),
                                     num_threads=doc["config"]["bench"]["fastops_threads"])
        assert rec["route"] == f"{plan['method']} {plan['kernel']} {plan['simd'] or '-'} x{plan['threads']} {plan['split']}"


def test_bench_keep_blas_env_warns(tiny_matmul_t, capsys):
    code = _cli.main(["bench", "--keep-blas-env", "--no-progress", "--repeat", "1", "--min-sample-ms", "0.1",
                      "--kernels", "matmul_t", "--impls", "numpy"], env={"OPENBLAS_CORETYPE": "Haswell"})
    assert code == 0
    out = capsys.readouterr().out
    assert "WARNING" in out and "OPENBLAS_CORETYPE=Haswell" in out
    assert "% peak" not in out  # no peaks: column omitted


def test_bench_reexecs_when_blas_env_forced(tiny_matmul_t, monkeypatch):
    calls = []
    monkeypatch.setattr(_bench, "reexec_bench", lambda argv, env: calls.append((list(argv), dict(env))) or 7)
    assert _cli.main(["bench", "--quick", "--impls", "numpy"], env={"OPENBLAS_L2_SIZE": "512"}) == 7
    assert calls == [(["bench", "--quick", "--impls", "numpy"], {"OPENBLAS_L2_SIZE": "512"})]
