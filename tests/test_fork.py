"""Processes forked from one that ran fastops' OpenMP threads.

GNU OpenMP keeps the threads of a process's first parallel region for the
next ones; fork() copies that pool into the child without its threads, and a
parallel region there would wait for them forever.  fastops runs every kernel
on one thread in such a child (and in its own children), warning once where
more threads are asked for explicitly, and keeps its threads in a child forked
before any kernel ran on more than one (asking for them is not enough).

Each case runs in a fresh Python process (so this test process's own thread
history does not matter); a forked child that hangs is ended by an alarm.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork: Linux")

_FORKS = r"""
import os, signal, sys, warnings
import numpy as np
import fastops
from fastops import _openmp_helpers
from fastops.testing import assert_matmul_t_close

history = sys.argv[1]
threads_first = history == "threads-first"
openmp = _openmp_helpers.openmp_enabled()
rng = np.random.default_rng(0)
a = rng.standard_normal((256, 512), dtype=np.float32)
b = rng.standard_normal((512, 384), dtype=np.float32)
images = rng.integers(0, 256, (4, 48, 40, 3), dtype=np.uint8)
preprocess_ref = fastops.preprocess(images, size=32, crop=24, num_threads=1)
if threads_first:
    fastops.matmul_t(a, b, num_threads=2)           # the parent's OpenMP threads start here
    fastops.preprocess(images, size=32, crop=24, num_threads=2)
elif history == "asked-only":                       # threads asked for, none started
    tiny = np.ones((4, 4), np.float32)
    assert fastops.matmul_t_plan(tiny, tiny, num_threads=2)["threads"] == 1
    fastops.matmul_t(tiny, tiny, num_threads=2)
    _openmp_helpers.openmp_effective_n_threads(2)
    fastops.show_config(mode="dicts")


def in_child(depth):
    signal.alarm(30)                                # a hung child dies of SIGALRM
    serial = openmp and (threads_first or depth > 1)    # depth 1 ran 2 threads before forking
    assert _openmp_helpers.serial_after_fork() is serial
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for num_threads in (None, 2, 2):
            assert_matmul_t_close(fastops.matmul_t(a, b, num_threads=num_threads), a, b)
            got = fastops.preprocess(images, size=32, crop=24, num_threads=num_threads)
            np.testing.assert_array_equal(got, preprocess_ref)
    warned = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(warned) == (1 if serial else 0), [str(w.message) for w in warned]
    assert not warned or "spawn" in str(warned[0].message)
    plan = fastops.matmul_t_plan(a, b, num_threads=2, method="native")
    assert plan["threads"] == (1 if serial or not openmp else 2), plan
    if depth == 1:                                  # and the child's own children
        fork_and_check(depth + 1)


def fork_and_check(depth):
    pid = os.fork()
    if pid == 0:
        try:
            in_child(depth)
        except BaseException:
            import traceback
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (
        f"child at depth {depth}: " + (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                                       else f"exit {os.WEXITSTATUS(status)}"))


fork_and_check(1)
"""


@pytest.mark.parametrize("history", ["threads-first", "fork-first", "asked-only"])
def test_forked_children_run_matmul_t_and_preprocess(history):
    """After the parent ran 2 OpenMP threads, its fork children (and theirs)
    get right results on one thread, each with one RuntimeWarning for explicit
    counts; forked before any kernel ran on 2 threads (none, or only a tiny
    product asked for them), a child keeps 2 threads, silently (and its own
    children, forked after those ran, get one)."""
    done = subprocess.run([sys.executable, "-c", _FORKS, history],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
