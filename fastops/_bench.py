"""Side-by-side benchmark engine for fastops kernels, and the ``matmul_t`` cases.

The engine is generic: a :class:`Kernel` bundles a list of :class:`Case`
objects (problem shapes with their FLOP counts and an input factory), the
:class:`Impl` objects that compute the kernel (fastops variants and peer
frameworks), a float64 reference and a correctness check.  Kernels register
themselves in :data:`KERNELS`; ``python -m fastops bench --kernels NAME``
picks among them.  Later kernels (e.g. image preprocessing) add their own
case lists and implementations with :func:`register_kernel`.

Method, per case and dtype:

1. build the inputs once (``Case.make_inputs``) and the float64 reference;
2. for every implementation: build its zero-argument call once (inputs
   converted to the framework's own tensors *outside* the timed region),
   call it once and check the result against the reference (a wrong result
   raises :class:`ImplementationError`), then calibrate the number of inner
   loops so that one sample lasts at least ``min_sample_s``;
3. take ``repeat`` samples per implementation, round-robin across the
   implementations in a shuffled order every round (:func:`round_order`), so
   machine noise hits all of them alike and no implementation always follows
   the same one; before each sample, wait until the
   thread pools of the previous implementation stopped spinning
   (:func:`wait_for_idle`), so no implementation pays for another's, then
   warm the implementation up again (:func:`warm_up`), so each sample
   measures the steady state of back-to-back calls;
4. report the median per-call time of each implementation.

Threads (``--threads N``; default: all cores the process may use):
fastops gets ``num_threads=N`` (None by default: its own default, all usable
cores); NumPy's BLAS (and any other BLAS loaded) is capped with
``threadpoolctl.threadpool_limits``; PyTorch gets ``torch.set_num_threads``;
TensorFlow gets its intra- and inter-op pool sizes, which TF only accepts
before its runtime initialises -- it is imported lazily by this module, so
that holds unless something else in the process ran a TF op first, in which
case a note says TF kept its default (all cores).

Nothing in here loops over array elements in Python; the only Python loops
are over cases, implementations and timing repetitions.
"""

from __future__ import annotations

import functools
import gc
import importlib.util
import math
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

__all__ = [
    "Case",
    "Impl",
    "Kernel",
    "Settings",
    "Result",
    "BenchRun",
    "ImplementationError",
    "KERNELS",
    "register_kernel",
    "run_bench",
    "run_case",
    "round_order",
    "calibrate",
    "format_time",
    "format_table",
    "parse_machine_limits",
    "resolve_peaks",
    "blas_kernels",
    "plot_results",
    "BLAS_OVERRIDE_VARS",
    "should_reexec",
    "env_without_blas_overrides",
]

# --------------------------------------------------------------------------- data model

Inputs = tuple[np.ndarray, ...]
Call = Callable[[], Any]


@dataclass(frozen=True)
class Settings:
    """How to run the benchmark.

    ``threads`` is the explicit ``--threads`` value (None: each library's
    default, i.e. all cores); ``peer_threads`` is what the peer frameworks are
    set to (``threads`` or the number of CPUs this process may use).
    """

    threads: int | None
    peer_threads: int
    min_sample_s: float
    repeat: int
    settle_timeout_s: float = 1.0

    @property
    def warmup_s(self) -> float:
        """Untimed warm-up before each sample: half a sample's minimum duration, and at
        least 10 ms (a parked vCPU can take some ms to come back: with --quick's 1 ms,
        the 8x8 batch read 180 us instead of 60 us)."""
        return max(self.min_sample_s / 2, 0.01)


@dataclass(frozen=True)
class Case:
    """One problem of a kernel: a name, its work (FLOPs, or bytes for GB/s kernels) and an input factory.

    ``size`` places the case on the x-axis of the size-sweep plot; cases with
    ``size=None`` go to the bar panel instead.
    """

    name: str
    flops: int
    make_inputs: Callable[[np.dtype], Inputs]
    size: int | None = None
    #: elements every implementation reads or writes at least (the operands as
    #: stored, plus the result): the "% copy" column of FLOP kernels; 0 when not given
    elements: int = 0


@dataclass(frozen=True)
class Impl:
    """An implementation: ``factory(inputs, settings)`` returns the zero-argument call to time.

    ``available()`` returns None when the implementation can run here, else a
    short reason (e.g. "not installed") shown in the table.  ``checked=False``
    marks a peer that computes a related but different recipe (its docstring
    says how): only its result's shape is checked.  ``route(inputs, settings)``,
    where given, says in a few words which code path the call takes (fastops:
    :func:`fastops.matmul_t_plan`'s kernel, SIMD variant and threads), so that
    a change of routing shows between two result files.
    """

    name: str
    factory: Callable[[Inputs, Settings], Call]
    is_fastops: bool = False
    available: Callable[[], str | None] = lambda: None
    doc: str = ""
    checked: bool = True
    route: Callable[[Inputs, Settings], str] | None = None


@dataclass(frozen=True)
class Kernel:
    """A benchmarkable kernel: its cases, implementations, reference and check.

    ``check(result, reference, inputs)`` returns None when ``result`` is
    acceptable, else a message describing what is wrong.
    """

    name: str
    cases: Callable[[bool], list[Case]]
    impls: Callable[[], list[Impl]]
    reference: Callable[[Inputs], np.ndarray]
    check: Callable[[np.ndarray, np.ndarray, Inputs], str | None]
    dtypes: tuple[str, ...] = ("float32", "float64")
    size_label: str = "problem size"
    #: what ``Case.flops`` counts per 1e9, as a rate: "GFLOP/s" (FLOPs) or "GB/s" (bytes moved)
    unit: str = "GFLOP/s"
    #: key of the peak this kernel is compared with: "dtype" (FMA peak) or "bandwidth" (copy)
    peak: str = "dtype"


@dataclass
class Result:
    """Timing of one implementation on one case and dtype."""

    kernel: str
    case: str
    dtype: str
    impl: str
    median_s: float
    samples_s: list[float]
    flops: int
    gflops: float
    pct_peak: float | None
    #: unit of ``gflops`` (the kernel's rate: GFLOP/s, or GB/s with ``flops`` counting bytes)
    unit: str = "GFLOP/s"
    #: a FLOP kernel's least memory traffic (``Case.elements``) per second, as % of the
    #: copy bandwidth (None: not given, or no bandwidth known)
    pct_bandwidth: float | None = None
    #: share of all CPUs other processes used while this case was timed (None: unknown)
    foreign_load: float | None = None
    #: the code path the implementation took (``Impl.route``; None: not given)
    route: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON record of this result."""
        return asdict(self)


@dataclass
class BenchRun:
    """Everything one benchmark run produced."""

    results: list[Result] = field(default_factory=list)
    #: kernel -> impl -> reason the implementation was not run at all
    missing: dict[str, dict[str, str]] = field(default_factory=dict)
    #: (kernel, case, dtype, impl) -> why that implementation failed on that case
    failed: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    #: (kernel, case, dtype, impl) -> why that implementation cannot do that case
    #: (it raised NotImplementedError)
    unsupported: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    #: kernel -> ordered names of the implementations (available or not)
    impl_names: dict[str, list[str]] = field(default_factory=dict)
    #: kernel -> names of the fastops implementations
    fastops_impls: dict[str, list[str]] = field(default_factory=dict)
    #: (kernel, case) -> size on the plot's x-axis (None: bar panel)
    sizes: dict[tuple[str, str], int | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: fraction of all CPUs other processes used during the run (None: unknown)
    foreign_load: float | None = None


class ImplementationError(AssertionError):
    """An implementation returned a wrong result (or fastops itself failed)."""


KERNELS: dict[str, Kernel] = {}


def register_kernel(kernel: Kernel) -> Kernel:
    """Add ``kernel`` to :data:`KERNELS` (replacing one of the same name) and return it."""
    KERNELS[kernel.name] = kernel
    return kernel


# --------------------------------------------------------------------------- progress


class Progress:
    """A dependency-free progress bar on a stream (stderr by default).

    On a terminal the bar is redrawn in place; elsewhere (logs, pipes) a line
    is written at most every ``log_every_s`` seconds.
    """

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True,
                 width: int = 24, log_every_s: float = 5.0) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.log_every_s = log_every_s
        self._last_log = -math.inf
        self._last_len = 0

    def render(self, label: str) -> str:
        """The bar text for the current state, e.g. ``[####......] 12/40 label``."""
        filled = int(self.width * min(self.done, self.total) / self.total)
        return f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {label}"

    def step(self, label: str, n: int = 1) -> None:
        """Advance by ``n`` ticks and show ``label``."""
        self.done += n
        if not self.enabled:
            return
        text = self.render(label)
        if self.tty:
            pad = max(self._last_len - len(text), 0)
            self.stream.write("\r" + text + " " * pad)
            self._last_len = len(text)
            self.stream.flush()
        elif time.monotonic() - self._last_log >= self.log_every_s or self.done >= self.total:
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last_log = time.monotonic()

    def note(self, message: str) -> None:
        """Print ``message`` on its own line without garbling the bar."""
        if self.tty and self._last_len:
            self.stream.write("\r" + " " * self._last_len + "\r")
            self._last_len = 0
        self.stream.write(message + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Finish the bar's line."""
        if self.enabled and self.tty and self._last_len:
            self.stream.write("\n")
            self.stream.flush()
            self._last_len = 0


# --------------------------------------------------------------------------- timing


def _time_loops(fn: Call, loops: int) -> float:
    """Wall time of ``loops`` back-to-back calls of ``fn`` (garbage collector paused)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        return time.perf_counter() - start
    finally:
        if gc_was_enabled:
            gc.enable()


def calibrate(fn: Call, min_sample_s: float, max_growth: int = 100) -> tuple[int, float]:
    """Smallest-ish number of inner loops for which one sample lasts >= ``min_sample_s``.

    Grows the loop count from 1, extrapolating from the last measurement (at
    most ``max_growth``-fold per step, at least doubling).  Returns the loop
    count and the seconds per call it measured with it.
    """
    loops = 1
    while True:
        elapsed = _time_loops(fn, loops)
        if elapsed >= min_sample_s:
            return loops, elapsed / loops
        per_call = max(elapsed / loops, 1e-9)
        wanted = int(math.ceil(min_sample_s / per_call * 1.1))
        loops = max(loops * 2, min(wanted, loops * max_growth))


def wait_for_idle(timeout_s: float, slice_s: float = 0.01, busy_fraction: float = 0.2) -> float:
    """Sleep until this process's other threads stop burning CPU; return the seconds waited.

    BLAS and OpenMP pools keep their worker threads spinning after a call
    (OpenBLAS for ~0.1 s, libgomp for some ms): timing the next
    implementation while they spin would charge it for its predecessor
    (measured: NumPy 64x(128x128) batch 3x slower right after torch).
    Watches the process CPU clock in ``slice_s`` sleeps until a slice uses
    under ``busy_fraction`` of one core, or ``timeout_s`` passed.  The
    kernel updates other threads' CPU time only every scheduler tick (~4 ms),
    so slices must span a few ticks.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        time.sleep(slice_s)
        if time.process_time() - cpu0 < busy_fraction * (time.perf_counter() - wall0):
            break
    return time.perf_counter() - start


#: Calls at least this long are not warmed up before each sample: the wake-up
#: cost (a few ms at most) is within noise there, and a warm-up call would
#: double the run time of the largest cases.
LONG_CALL_S = 0.2


def warm_up(fn: Call, duration_s: float, min_calls: int = 1) -> int:
    """Call ``fn`` untimed for ``duration_s`` (at least ``min_calls`` times); return the call count.

    After :func:`wait_for_idle` the implementation's own worker threads are
    asleep and idle vCPUs may be parked by the hypervisor: the first calls
    then take far longer (measured: 64x64 matmul 150 µs instead of 8 µs).
    The benchmark measures the warm, steady state that a hot loop sees.
    """
    calls = 0
    start = time.perf_counter()
    while calls < min_calls or time.perf_counter() - start < duration_s:
        fn()
        calls += 1
    return calls


def time_per_call(fn: Call, loops: int) -> float:
    """One sample: mean seconds per call over ``loops`` calls."""
    return _time_loops(fn, loops) / loops


def to_numpy(value: Any) -> np.ndarray:
    """Convert a framework result (ndarray, torch / TF tensor) to a NumPy array."""
    if not isinstance(value, np.ndarray) and hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value)


# --------------------------------------------------------------------------- engine


def _label(kernel: Kernel, case: Case, dtype: str, impl: str) -> str:
    """Progress-bar label of one step."""
    return f"{kernel.name} {dtype} {case.name} {impl}"


def _prepare(kernel: Kernel, case: Case, dtype: str, impl: Impl, inputs: Inputs,
             reference: np.ndarray, settings: Settings) -> tuple[Call, int, bool]:
    """Build ``impl``'s call, check its result once, and calibrate its loop count.

    Returns the call, its loop count, and whether samples need a warm-up
    (calls shorter than :data:`LONG_CALL_S`).

    Raises :class:`ImplementationError` when the result is wrong; other
    exceptions from building or calling propagate.
    """
    fn = impl.factory(inputs, settings)
    wait_for_idle(settings.settle_timeout_s)
    start = time.perf_counter()
    result = fn()
    first_call_s = time.perf_counter() - start
    result = to_numpy(result)
    problem = (kernel.check(result, reference, inputs) if impl.checked
               else None if result.shape == reference.shape
               else f"shape {result.shape} != expected {reference.shape}")
    del result
    if problem is not None:
        raise ImplementationError(
            f"{impl.name} returned a wrong result for {kernel.name} case {case.name!r} {dtype}: {problem}")
    if first_call_s >= max(LONG_CALL_S, settings.min_sample_s):  # one call is a sample: no need to calibrate
        return fn, 1, False
    warm_up(fn, settings.warmup_s)
    loops, per_call = calibrate(fn, settings.min_sample_s)
    return fn, loops, per_call < LONG_CALL_S


def round_order(names: Sequence[str], rep: int) -> list[str]:
    """The order in which round ``rep`` times the implementations: a shuffle seeded by
    ``rep`` (the same in every run), so whatever one implementation leaves behind
    does not always land on the same next one.  With a fixed rotation the first
    implementation followed the last in every round but one, and in three Zen 3 full
    benches ``fastops`` (after TensorFlow) read 8-30% slower than ``fastops-blas`` making
    the same BLAS call at 2048^2 and 4096^2 (square 2048 fp64: 231 ms in the round it
    came first, 309-389 ms in the others); a run of that case alone did not repeat it."""
    order = list(names)
    random.Random(rep).shuffle(order)
    return order


def run_case(kernel: Kernel, case: Case, dtype: str, impls: Sequence[Impl], settings: Settings,
             progress: Progress, run: BenchRun, peaks: Mapping[str, float | None]) -> None:
    """Check, calibrate and time every implementation on one case and dtype; append to ``run``.

    A peer implementation that raises is recorded in ``run.failed`` (in
    ``run.unsupported`` for NotImplementedError: it cannot do the case) and
    skipped; a fastops implementation that raises, or any implementation
    returning a wrong result, aborts with :class:`ImplementationError`.
    """
    inputs = case.make_inputs(np.dtype(dtype))
    reference = kernel.reference(inputs)
    calls: dict[str, tuple[Call, int, bool]] = {}
    for impl in impls:
        progress.step(_label(kernel, case, dtype, impl.name) + " (check)")
        try:
            calls[impl.name] = _prepare(kernel, case, dtype, impl, inputs, reference, settings)
        except ImplementationError:
            raise
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            if impl.is_fastops:
                raise ImplementationError(
                    f"{impl.name} failed on {kernel.name} case {case.name!r} {dtype}: {message}") from exc
            key = (kernel.name, case.name, dtype, impl.name)
            if isinstance(exc, NotImplementedError):
                run.unsupported[key] = str(exc)
            else:
                run.failed[key] = message
                progress.note(f"note: {impl.name} failed on {kernel.name} {case.name} {dtype}, skipped: {message}")
            progress.step(_label(kernel, case, dtype, impl.name), n=settings.repeat)
    samples: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    monitor = LoadMonitor()
    for rep in range(settings.repeat):
        for name in round_order(names, rep):
            progress.step(_label(kernel, case, dtype, name))
            fn, loops, needs_warm_up = calls[name]
            wait_for_idle(settings.settle_timeout_s)
            if needs_warm_up:
                warm_up(fn, settings.warmup_s)
            samples[name].append(time_per_call(fn, loops))
    peak = peaks.get(dtype if kernel.peak == "dtype" else kernel.peak)
    bandwidth = peaks.get("bandwidth") if kernel.peak == "dtype" and case.elements else None
    least_bytes = case.elements * np.dtype(dtype).itemsize
    foreign = monitor.foreign_fraction()
    routes = {impl.name: impl.route(inputs, settings) for impl in impls
              if impl.name in calls and impl.route is not None}
    for name in names:  # keep the implementations' order in the results
        median = statistics.median(samples[name])
        gflops = case.flops / median / 1e9
        run.results.append(Result(
            kernel=kernel.name, case=case.name, dtype=dtype, impl=name, median_s=median,
            samples_s=samples[name], flops=case.flops, gflops=gflops,
            pct_peak=(100.0 * gflops / peak) if peak else None, unit=kernel.unit,
            pct_bandwidth=(100.0 * least_bytes / median / 1e9 / bandwidth) if bandwidth else None,
            foreign_load=foreign, route=routes.get(name)))


def select_impls(kernel: Kernel, only: Sequence[str] | None = None) -> list[Impl]:
    """The kernel's implementations, restricted to the names in ``only`` (kernel's order) when given.

    Names the kernel does not have are ignored (they may belong to another
    kernel of the same run; the command line rejects names no kernel has).
    """
    impls = kernel.impls()
    return [impl for impl in impls if impl.name in only] if only else impls


def run_bench(kernels: Sequence[Kernel], settings: Settings, *, quick: bool = False,
              only_impls: Sequence[str] | None = None, peaks: Mapping[str, float | None] | None = None,
              progress_stream: TextIO | None = None, show_progress: bool = True) -> BenchRun:
    """Run every case x dtype x implementation of ``kernels``; return all results and notes."""
    run = BenchRun()
    plan: list[tuple[Kernel, list[Case], list[Impl]]] = []
    for kernel in kernels:
        impls = select_impls(kernel, only_impls)
        run.impl_names[kernel.name] = [impl.name for impl in impls]
        run.fastops_impls[kernel.name] = [impl.name for impl in impls if impl.is_fastops]
        usable = []
        for impl in impls:
            reason = impl.available()
            if reason is None:
                usable.append(impl)
            else:
                run.missing.setdefault(kernel.name, {})[impl.name] = reason
                run.notes.append(f"{kernel.name}: {impl.name} skipped ({reason})")
        cases = kernel.cases(quick)
        run.sizes.update({(kernel.name, case.name): case.size for case in cases})
        plan.append((kernel, cases, usable))
    total = sum(len(cases) * len(k.dtypes) * len(impls) * (1 + settings.repeat) for k, cases, impls in plan)
    progress = Progress(total, stream=progress_stream, enabled=show_progress)
    for note in run.notes:
        progress.note(f"note: {note}")
    monitor = LoadMonitor()
    try:
        for kernel, cases, impls in plan:
            for case in cases:
                for dtype in kernel.dtypes:
                    run_case(kernel, case, dtype, impls, settings, progress, run, peaks or {})
    finally:
        progress.close()
    run.foreign_load = monitor.foreign_fraction()
    return run


# --------------------------------------------------------------------------- machine load


def _system_busy_s(path: str = "/proc/stat") -> float | None:
    """CPU-seconds all processes have spent busy since boot (None where /proc/stat is unreadable)."""
    try:
        with open(path, encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(x) for x in fields[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class LoadMonitor:
    """Measures how much CPU *other* processes used while the benchmark ran.

    Other load (builds, tests, other benchmarks) on a small machine distorts
    the timings, OpenMP-based implementations far more than others, so it is
    reported next to the results.
    """

    def __init__(self) -> None:
        self.start_wall = time.perf_counter()
        self.start_self = self._own_cpu_s()
        self.start_system = _system_busy_s()

    @staticmethod
    def _own_cpu_s() -> float:
        """CPU-seconds of this process and its waited-for children (e.g. machine-limits)."""
        times = os.times()
        return time.process_time() + times.children_user + times.children_system

    def foreign_fraction(self) -> float | None:
        """Fraction (0..1) of all CPUs used by other processes since construction, if known."""
        system = _system_busy_s()
        if system is None or self.start_system is None:
            return None
        wall = time.perf_counter() - self.start_wall
        others = (system - self.start_system) - (self._own_cpu_s() - self.start_self)
        cpus = os.cpu_count() or 1
        return min(max(others / (wall * cpus), 0.0), 1.0) if wall > 0 else None


# --------------------------------------------------------------------------- BLAS environment


#: Rows timed while other processes used more than this share of the CPUs are flagged.
BUSY_THRESHOLD = 0.25

#: Environment variables that force OpenBLAS onto a lesser kernel on this machine.
BLAS_OVERRIDE_VARS: tuple[str, ...] = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def forced_blas_env(env: Mapping[str, str]) -> dict[str, str]:
    """The BLAS-forcing variables set in ``env`` (name -> value)."""
    return {name: env[name] for name in BLAS_OVERRIDE_VARS if name in env}


def should_reexec(env: Mapping[str, str], keep_blas_env: bool) -> bool:
    """Whether the bench must re-run itself without the BLAS-forcing variables.

    True when any of :data:`BLAS_OVERRIDE_VARS` is set (even to "") and the
    user did not ask to keep them with ``--keep-blas-env``.
    """
    return not keep_blas_env and bool(forced_blas_env(env))


#: Set in the child's environment to record what the parent removed.
REEXEC_MARKER = "FASTOPS_BENCH_REMOVED_ENV"


def env_without_blas_overrides(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``env`` without :data:`BLAS_OVERRIDE_VARS`, marking what was removed."""
    removed = forced_blas_env(env)
    child = {name: value for name, value in env.items() if name not in BLAS_OVERRIDE_VARS}
    child[REEXEC_MARKER] = ",".join(f"{name}={value}" for name, value in removed.items())
    return child


def reexec_bench(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Run ``python -m fastops <argv>`` in a child without the BLAS-forcing variables; return its exit code."""
    removed = forced_blas_env(env)
    print("note: " + ", ".join(f"{k}={v}" for k, v in removed.items())
          + " force OpenBLAS onto a lesser kernel; re-running the benchmark in a child process"
          " without them (use --keep-blas-env to keep them)", flush=True)
    sys.stderr.flush()
    return subprocess.run([sys.executable, "-m", "fastops", *argv], env=env_without_blas_overrides(env),
                          check=False).returncode


def blas_kernels(threadpools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """BLAS libraries loaded in this process, which package shipped them, and their kernel (architecture)."""
    found = []
    for pool in threadpools:
        if pool.get("user_api") != "blas":
            continue
        path = str(pool.get("filepath", ""))
        match = re.search(r"site-packages/([^/]+)/", path)
        owner = match.group(1).removesuffix(".libs") if match else Path(path).name
        found.append({
            "owner": owner,
            "library": pool.get("prefix"),
            "internal_api": pool.get("internal_api"),
            "version": pool.get("version"),
            "architecture": pool.get("architecture"),
            "num_threads": pool.get("num_threads"),
            "filepath": path,
        })
    return found


# --------------------------------------------------------------------------- peaks


def parse_machine_limits(text: str, threads: int) -> dict[str, float] | None:
    """Peak GFLOP/s per dtype (and copy GB/s as "bandwidth") from the machine-limits line
    with ``threads=<threads>``, if any."""
    for line in text.splitlines():
        fields = dict(token.split("=", 1) for token in line.split() if "=" in token)
        if fields.get("threads") == str(threads) and "fp32_peak_gflops" in fields:
            peaks = {"float32": float(fields["fp32_peak_gflops"]),
                     "float64": float(fields["fp64_peak_gflops"])}
            if "copy_read_write_gbs" in fields:
                peaks["bandwidth"] = float(fields["copy_read_write_gbs"])
            return peaks
    return None


def machine_limits_tool() -> Path:
    """Where the workplace's machine-limits tool would be, relative to the package's repository."""
    import fastops

    return Path(fastops.__file__).resolve().parents[2] / "shared" / "tools" / "machine-limits"


#: machine-limits runs per bench: peaks are upper limits, so the highest reading
#: of each counts.  One Zen 5 bench read 263 / 131 GFLOP/s for 2 threads, half
#: of what the tool printed before and after it (509-531 / 250-267), with no
#: other process running: the host under the VM lends its cores unevenly.
PEAK_RUNS = 3


def resolve_peaks(threads: int, fp32: float | None, fp64: float | None,
                  tool: Path | None = None,
                  runner: Callable[..., subprocess.CompletedProcess] = subprocess.run,
                  runs: int = PEAK_RUNS,
                  ) -> tuple[dict[str, float | None], str]:
    """Peak GFLOP/s per dtype, copy bandwidth ("bandwidth", GB/s), and where they came from.

    Explicit values win; missing ones are measured by running the
    machine-limits tool ``runs`` times (nothing is cached) and taking the
    highest reading of each in its line for ``threads``; otherwise they stay
    None (the %-of-peak column is omitted).
    """
    peaks: dict[str, float | None] = {"float32": fp32, "float64": fp64, "bandwidth": None}
    if fp32 is not None and fp64 is not None:
        return peaks, "command line"
    tool = machine_limits_tool() if tool is None else tool
    if not tool.exists():
        return peaks, "command line" if (fp32 or fp64) else f"none (no {tool})"
    best: dict[str, float] = {}
    for _ in range(runs):
        try:
            proc = runner([str(tool)], capture_output=True, text=True, timeout=300, check=True)
        except (OSError, subprocess.SubprocessError) as exc:
            return peaks, f"none ({tool} failed: {exc})"
        measured = parse_machine_limits(proc.stdout, threads)
        if measured is None:
            return peaks, f"none ({tool} printed no line for threads={threads})"
        for key, value in measured.items():
            best[key] = max(value, best.get(key, value))
    for dtype, value in best.items():
        if peaks.get(dtype) is None:
            peaks[dtype] = value
    source = f"{tool} (threads={threads}, best of {runs})"
    return peaks, source + (" + command line" if (fp32 or fp64) else "")


# --------------------------------------------------------------------------- output


def format_time(seconds: float) -> str:
    """Human time with 3 significant digits: ``812 ns``, ``12.3 µs``, ``1.23 ms``, ``2.05 s``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            break
    else:
        unit, scale = "ns", 1e-9
    value = seconds / scale
    digits = 0 if value >= 100 else 1 if value >= 10 else 2
    return f"{value:.{digits}f} {unit}"


def _align(rows: list[list[str]], left: int) -> list[str]:
    """Join cells in columns; the first ``left`` columns and the last are left-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    last = len(widths) - 1
    return ["  ".join(cell.ljust(w) if (i < left or i == last) else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in rows]


def paired_ratio_quartiles(peer: Result, own: Result) -> tuple[float, float] | None:
    """First and third quartiles of the per-round ratios peer time / own time.

    Samples are taken round-robin (:func:`run_case`), so sample r of every
    implementation was timed within seconds of the others: each round's ratio
    cancels the machine's drift between rounds.  None with fewer than 2 rounds.
    """
    ratios = [p / o for p, o in zip(peer.samples_s, own.samples_s) if o > 0]
    if len(ratios) < 2:
        return None
    q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    return q1, q3


def format_table(results: Sequence[Result], impl_names: Sequence[str], fastops_impls: Sequence[str], *,
                 unit: str = "GFLOP/s", missing: Mapping[str, str] | None = None,
                 failed: Mapping[tuple[str, str, str, str], str] | None = None,
                 unsupported: Mapping[tuple[str, str, str, str], str] | None = None,
                 fma_peak: bool = True) -> str:
    """One row per (case, dtype): each implementation's median time, fastops' rate (``unit``), % of peak
    and (FLOP kernels) % of the copy bandwidth its least memory traffic takes, the speed-up of every
    fastops implementation over the best peer, the middle half of the first one's per-round speed-ups
    (:func:`paired_ratio_quartiles`), the most any implementation could beat the best peer by at this
    machine's FMA peak ("x at peak": peak / the best peer's rate; a speed-up target above it cannot be met
    here; only where the peak is the FMA peak, ``fma_peak``: data in cache outrun the copy bandwidth),
    and the best peer's name.
    A "busy" column appears when other processes used >= :data:`BUSY_THRESHOLD` of the CPUs
    while some row was timed (those rows are unreliable).

    ``missing`` maps implementations that never ran to a reason shown in their
    cells; ``failed`` marks single cells "failed" and ``unsupported`` "n/a" (key: kernel,
    case, dtype, impl).
    """
    missing = missing or {}
    failed = failed or {}
    unsupported = unsupported or {}
    rows: dict[tuple[str, str, str], dict[str, Result]] = {}
    for res in results:
        rows.setdefault((res.kernel, res.case, res.dtype), {})[res.impl] = res
    primary = fastops_impls[0] if fastops_impls else None
    show_peak = any(res.pct_peak is not None for res in results)
    show_copy = any(res.pct_bandwidth is not None for res in results)
    show_busy = any((res.foreign_load or 0) >= BUSY_THRESHOLD for res in results)
    header = ["case", "dtype", *impl_names]
    if primary:
        header += [f"{primary} {unit}"] + (["% peak"] if show_peak else []) + (["% copy"] if show_copy else [])
    header += [f"x {name}" for name in fastops_impls] + ([f"x {primary} IQR"] if primary else [])
    show_ceiling = show_peak and fma_peak
    header += ["x at peak"] if show_ceiling else []
    header += (["busy"] if show_busy else []) + ["best peer"]
    table = [header]
    for (kernel, case, dtype), by_impl in rows.items():
        cells = [case, dtype]
        for name in impl_names:
            if name in by_impl:
                cells.append(format_time(by_impl[name].median_s))
            elif name in missing:
                cells.append(missing[name])
            else:
                key = (kernel, case, dtype, name)
                cells.append("failed" if key in failed else "n/a" if key in unsupported else "-")
        peers = [res for name, res in by_impl.items() if name not in fastops_impls]
        best = min(peers, key=lambda res: res.median_s) if peers else None
        if primary:
            main = by_impl.get(primary)
            cells.append(f"{main.gflops:.1f}" if main else "-")
            if show_peak:
                cells.append(f"{main.pct_peak:.1f}" if main and main.pct_peak is not None else "-")
            if show_copy:
                cells.append(f"{main.pct_bandwidth:.1f}" if main and main.pct_bandwidth is not None else "-")
        for name in fastops_impls:
            own = by_impl.get(name)
            cells.append(f"{best.median_s / own.median_s:.2f}" if own and best else "-")
        if primary:
            own = by_impl.get(primary)
            quartiles = paired_ratio_quartiles(best, own) if own and best else None
            cells.append(f"{quartiles[0]:.2f}-{quartiles[1]:.2f}" if quartiles else "-")
        if show_ceiling:
            ceiling = 100.0 / best.pct_peak if best and best.pct_peak else None
            cells.append("-" if ceiling is None else f"{ceiling:.2f}" if ceiling < 100 else f"{ceiling:.0f}")
        if show_busy:
            load = max((res.foreign_load or 0) for res in by_impl.values()) if by_impl else 0
            cells.append(f"{100 * load:.0f}%" if load >= BUSY_THRESHOLD else "")
        cells.append(best.impl if best else "-")
        table.append(cells)
    lines = _align(table, left=2)
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def results_json(run: BenchRun, config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``--json`` document: the configuration and one record per result."""
    return {"config": dict(config), "results": [res.to_json() for res in run.results]}


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (files only); RuntimeError without matplotlib."""
    try:
        import matplotlib
    except ImportError as exc:
        raise RuntimeError("--plot needs matplotlib: pip install matplotlib") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_results(run: BenchRun, path: str | os.PathLike, kernels: Sequence[Kernel]) -> None:
    """Write a PNG: per kernel, its rate (GFLOP/s or GB/s) vs size (log x) with one panel per
    dtype, and below it a full-width bar panel for the cases without a size.  Needs matplotlib (lazy import, Agg)."""
    plt = pyplot()
    has_bars = {k.name: any(run.sizes.get((k.name, r.case)) is None for r in run.results if r.kernel == k.name)
                for k in kernels}
    has_sweep = {k.name: any(run.sizes.get((k.name, r.case)) is not None for r in run.results
                             if r.kernel == k.name) for k in kernels}
    ncols = max(len(k.dtypes) for k in kernels)
    nrows = max(1, sum(has_sweep[k.name] + has_bars[k.name] for k in kernels))
    fig = plt.figure(figsize=(6.5 * ncols, 4.8 * nrows))
    grid = fig.add_gridspec(nrows, ncols)
    row = 0
    for kernel in kernels:
        results = [r for r in run.results if r.kernel == kernel.name]
        if has_sweep[kernel.name]:
            for col, dtype in enumerate(kernel.dtypes):
                _plot_sweep(fig.add_subplot(grid[row, col]), kernel, run,
                            [r for r in results if r.dtype == dtype], dtype)
            row += 1
        if has_bars[kernel.name]:
            _plot_bars(fig.add_subplot(grid[row, :]), kernel, run, results)
            row += 1
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_sweep(ax: Any, kernel: Kernel, run: BenchRun, results: Sequence[Result], dtype: str) -> None:
    """Line plot of GFLOP/s against case size for the sized cases of one dtype."""
    for impl in run.impl_names[kernel.name]:
        points = sorted((run.sizes[(kernel.name, r.case)], r.gflops) for r in results
                        if r.impl == impl and run.sizes.get((kernel.name, r.case)) is not None)
        if points:
            xs, ys = zip(*points)
            style = "-o" if impl in run.fastops_impls[kernel.name] else "--s"
            ax.plot(xs, ys, style, label=impl, markersize=4)
    ax.set_xscale("log", base=2)
    ax.set_xlabel(kernel.size_label)
    ax.set_ylabel(kernel.unit)
    ax.set_title(f"{kernel.name} {dtype}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)


def _plot_bars(ax: Any, kernel: Kernel, run: BenchRun, results: Sequence[Result]) -> None:
    """Grouped bars of GFLOP/s for the cases without a size, per (case, dtype)."""
    groups = list(dict.fromkeys((r.case, r.dtype) for r in results if run.sizes.get((kernel.name, r.case)) is None))
    impls = run.impl_names[kernel.name]
    by_key = {(r.case, r.dtype, r.impl): r.gflops for r in results}
    width = 0.8 / max(len(impls), 1)
    for j, impl in enumerate(impls):
        xs = [i + j * width for i in range(len(groups))]
        ax.bar(xs, [by_key.get((case, dtype, impl), 0.0) for case, dtype in groups], width, label=impl)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(groups))])
    ax.set_xticklabels([f"{case}\n{dtype}" for case, dtype in groups], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(kernel.unit)
    ax.set_title(f"{kernel.name}: other shapes")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7)


# --------------------------------------------------------------------------- matmul_t


MATMUL_T_SQUARE = (1, 8, 64, 256, 1024, 2048, 4096)
MATMUL_T_SQUARE_QUICK = (1, 8, 64, 256, 1024)
#: name -> (shape of a, shape of b) for the non-square matmul_t cases
MATMUL_T_OTHER: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "batch (4096,8,8)@(4096,8,8)": ((4096, 8, 8), (4096, 8, 8)),
    "batch (1024,32,32)@(1024,32,32)": ((1024, 32, 32), (1024, 32, 32)),
    "batch (64,128,128)@(64,128,128)": ((64, 128, 128), (64, 128, 128)),
    "llama (1,128,1)@(1,1,1024)": ((1, 128, 1), (1, 1, 1024)),
    "bcast (8,128,64)@(64,256)": ((8, 128, 64), (64, 256)),
    "matvec (4096,4096)@(4096,1)": ((4096, 4096), (4096, 1)),
    "vecmat (32,1,128)@(32,128,512)": ((32, 1, 128), (32, 128, 512)),
    "decode (8,4096)@(4096,4096)": ((8, 4096), (4096, 4096)),
    "decode16 (16,4096)@(4096,4096)": ((16, 4096), (4096, 4096)),
    "prefill (128,4096)@(4096,11008)": ((128, 4096), (4096, 11008)),
}
#: name -> (shape of x, shape of W) for the x @ W.T cases, as torch.nn.Linear
#: computes them: b is the transposed view of a C-contiguous W (its columns contiguous)
MATMUL_T_LINEAR: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "linear (16,4096)@(4096,4096).T": ((16, 4096), (4096, 4096)),
}


def _random(shape: tuple[int, ...], dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
    """Uniform(-1, 1) array of ``dtype`` (generated in that dtype, no float64 temporary)."""
    arr = rng.random(shape, dtype=dtype)
    arr *= 2
    arr -= 1
    return arr


def _matmul_t_case(name: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...], size: int | None = None,
                   b_transposed: bool = False) -> Case:
    """A matmul_t case for ``a @ b`` with the given shapes (FLOPs: 2 * batch * m * n * k; least
    traffic: a and b read once, the result written once).  ``b_transposed``: b is the
    transposed view of a C-contiguous (..., n, k) array (x @ W.T)."""
    batch = math.prod(np.broadcast_shapes(a_shape[:-2], b_shape[:-2]))
    m, k = a_shape[-2:]
    n = b_shape[-1]
    stored_b = (*b_shape[:-2], n, k) if b_transposed else b_shape

    def make_inputs(dtype: np.dtype) -> Inputs:
        rng = np.random.default_rng(12345)
        a, b = _random(a_shape, dtype, rng), _random(stored_b, dtype, rng)
        return a, (np.swapaxes(b, -1, -2) if b_transposed else b)

    return Case(name=name, flops=2 * batch * m * n * k, make_inputs=make_inputs, size=size,
                elements=math.prod(a_shape) + math.prod(b_shape) + batch * n * m)


def matmul_t_cases(quick: bool = False) -> list[Case]:
    """Square n x n @ n x n sweep, then batched, the Llama node, a broadcast case, matrix-vector,
    vector-matrix, 8- and 16-row (decode) products, 128 rows against a Llama-2 MLP weight
    (prefill) and x @ W.T (linear)."""
    sizes = MATMUL_T_SQUARE_QUICK if quick else MATMUL_T_SQUARE
    cases = [_matmul_t_case(f"square {n}", (n, n), (n, n), size=n) for n in sizes]
    cases += [_matmul_t_case(name, a, b) for name, (a, b) in MATMUL_T_OTHER.items()]
    cases += [_matmul_t_case(name, x, (*w[:-2], w[-1], w[-2]), b_transposed=True)
              for name, (x, w) in MATMUL_T_LINEAR.items()]
    return cases


def _result_shape(a: np.ndarray, b: np.ndarray) -> tuple[int, ...]:
    """Shape of ``swapaxes(a @ b, -1, -2)``."""
    return (*np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), b.shape[-1], a.shape[-2])


def _fastops_factory(method: str) -> Callable[[Inputs, Settings], Call]:
    """``fastops.matmul_t(a, b, num_threads=..., method=method)``: the plain call, a new C-contiguous result.

    ``num_threads`` is ``--threads`` (None: fastops' default, all usable cores).
    The plain call is the idiomatic one; ``out=`` saves the allocation, which
    is negligible next to the product at large sizes, and currently costs
    more than it saves at tiny ones (the overlap check of ``out``).
    """

    def factory(inputs: Inputs, settings: Settings) -> Call:
        from fastops import matmul_t

        a, b = inputs
        threads = settings.threads
        return lambda: matmul_t(a, b, num_threads=threads, method=method)

    return factory


def _fastops_route(method: str) -> Callable[[Inputs, Settings], str]:
    """The route of ``_fastops_factory(method)``'s call, from :func:`fastops.matmul_t_plan`:
    e.g. "native few-rows avx2 x2 product" (method, kernel, SIMD variant or "-" for BLAS, threads, split)."""

    def route(inputs: Inputs, settings: Settings) -> str:
        from fastops import matmul_t_plan

        a, b = inputs
        plan = matmul_t_plan(a, b, num_threads=settings.threads, method=method)
        return f"{plan['method']} {plan['kernel']} {plan['simd'] or '-'} x{plan['threads']} {plan['split']}"

    return route


def _numpy_swap(inputs: Inputs, settings: Settings) -> Call:
    """NumPy: ``swapaxes(b) @ swapaxes(a)`` -- (A·B)ᵀ = Bᵀ·Aᵀ, a fresh C-contiguous result."""
    a, b = inputs
    at, bt = np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2)
    return lambda: np.matmul(bt, at)


def _numpy_out(inputs: Inputs, settings: Settings) -> Call:
    """NumPy: ``matmul(a, b, out=swapaxes(c))`` into a preallocated C-contiguous c."""
    a, b = inputs
    c = np.empty(_result_shape(a, b), dtype=np.result_type(a, b))
    c_view = np.swapaxes(c, -1, -2)

    def call() -> np.ndarray:
        np.matmul(a, b, out=c_view)
        return c

    return call


@functools.lru_cache(maxsize=None)
def _torch(threads: int) -> Any:
    """Import torch once and give it ``threads`` intra-op threads."""
    import torch

    torch.set_num_threads(threads)
    return torch


def _torch_matmul(inputs: Inputs, settings: Settings) -> Call:
    """PyTorch: ``bt.mT @ at.mT`` on tensors made once with ``torch.from_numpy`` (zero-copy)."""
    torch = _torch(settings.peer_threads)
    a, b = (torch.from_numpy(x) for x in inputs)
    at, bt = a.mT, b.mT
    return lambda: torch.matmul(bt, at)


def _torch_out(inputs: Inputs, settings: Settings) -> Call:
    """PyTorch: ``torch.matmul(bt.mT, at.mT, out=ct)`` into a preallocated contiguous ct."""
    torch = _torch(settings.peer_threads)
    a, b = (torch.from_numpy(x) for x in inputs)
    at, bt = a.mT, b.mT
    out = torch.empty(_result_shape(*inputs), dtype=a.dtype)
    return lambda: torch.matmul(bt, at, out=out)


_TF_NOTES: list[str] = []


@functools.lru_cache(maxsize=None)
def _tensorflow(threads: int) -> Any:
    """Import TensorFlow once and set its intra/inter-op thread pools to ``threads``.

    TF only accepts this before its runtime initialises (first op or device
    query); if something in this process initialised it earlier, the setting
    is not applied and a note is recorded (TF then uses all cores).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as exc:
        _TF_NOTES.append(f"tensorflow thread count not applied ({exc}); TF uses its default (all cores)")
    return tf


def _tf_matmul(inputs: Inputs, settings: Settings) -> Call:
    """TensorFlow: ``tf.matmul(b, a, transpose_a=True, transpose_b=True)`` on constants made once.

    The result stays a (CPU, eagerly computed) tensor; ``.numpy()`` is not timed.
    """
    tf = _tensorflow(settings.peer_threads)
    a, b = (tf.constant(x) for x in inputs)
    return lambda: tf.matmul(b, a, transpose_a=True, transpose_b=True)


def _installed(module: str) -> Callable[[], str | None]:
    """Availability check: None when ``module`` can be imported, else "not installed"."""
    return lambda: None if importlib.util.find_spec(module) is not None else "not installed"


def _fastops_blas_available() -> str | None:
    """None when fastops was built with a BLAS, else why fastops-blas cannot run."""
    import fastops

    blas = fastops.show_config(mode="dicts").get("blas", {})
    return None if blas.get("found") else "no BLAS in build"


def matmul_t_impls() -> list[Impl]:
    """fastops' three methods, then the peers (NumPy, PyTorch, TensorFlow) in their fastest forms."""
    return [
        Impl("fastops", _fastops_factory("auto"), is_fastops=True, route=_fastops_route("auto"),
             doc="matmul_t(a, b, method='auto')"),
        Impl("fastops-blas", _fastops_factory("blas"), is_fastops=True, route=_fastops_route("blas"),
             available=_fastops_blas_available, doc="matmul_t(a, b, method='blas')"),
        Impl("fastops-native", _fastops_factory("native"), is_fastops=True, route=_fastops_route("native"),
             doc="matmul_t(a, b, method='native')"),
        Impl("numpy", _numpy_swap, doc=_numpy_swap.__doc__ or ""),
        Impl("numpy-out", _numpy_out, doc=_numpy_out.__doc__ or ""),
        Impl("torch", _torch_matmul, available=_installed("torch"), doc=_torch_matmul.__doc__ or ""),
        Impl("torch-out", _torch_out, available=_installed("torch"), doc=_torch_out.__doc__ or ""),
        Impl("tensorflow", _tf_matmul, available=_installed("tensorflow"), doc=_tf_matmul.__doc__ or ""),
    ]


def matmul_t_reference(inputs: Inputs) -> np.ndarray:
    """float64 reference from ``fastops.testing.matmul_t_reference``."""
    from fastops.testing import matmul_t_reference as reference

    return np.asarray(reference(*inputs), dtype=np.float64)


def check_matmul_t(result: np.ndarray, reference: np.ndarray, inputs: Inputs) -> str | None:
    """Shape, dtype and C-contiguity, then ``np.allclose`` with ``fastops.testing.matmul_t_tolerance``.

    The tolerance models rounding error of a length-k dot product as a random
    walk (about eps·sqrt(k) relative, eps·k absolute), the yardstick the test
    suite uses too; NaN anywhere fails.
    """
    from fastops.testing import matmul_t_tolerance

    dtype = np.result_type(*inputs)
    if result.shape != reference.shape:
        return f"shape {result.shape} != expected {reference.shape}"
    if result.dtype != dtype:
        return f"dtype {result.dtype} != expected {dtype}"
    if not result.flags.c_contiguous:
        return "result is not C-contiguous"
    k = inputs[0].shape[-1]
    rtol, atol = matmul_t_tolerance(dtype, k)
    if np.allclose(result, reference, rtol=rtol, atol=atol):
        return None
    err = float(np.max(np.abs(result - reference)))
    return f"max abs error {err:.3g} exceeds rtol={rtol:.3g}, atol={atol:.3g} (k={k})"


register_kernel(Kernel(
    name="matmul_t",
    cases=matmul_t_cases,
    impls=matmul_t_impls,
    reference=matmul_t_reference,
    check=check_matmul_t,
    size_label="n (square n×n @ n×n)",
))

from fastops import _bench_preprocess  # noqa: E402,F401  (registers the "preprocess" kernel)
