"""Thread-count policy shared by every fastops kernel.

``num_threads`` follows scikit-learn's convention: ``None`` means what OpenMP
would use (``OMP_NUM_THREADS``, threadpoolctl limits) capped by the CPUs this
process may run on (affinity / cgroup quota), a positive int is taken as is,
``-1`` means all CPUs, ``-2`` all but one, and so on.
"""
import operator
import os

import numpy as np

cdef int _cpu_budget = 0


cdef int _available_cpus():
    """CPUs this process may use: affinity mask, capped by a cgroup v2 quota."""
    global _cpu_budget
    if _cpu_budget:
        return _cpu_budget
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()
        if quota != "max":
            n = max(1, min(n, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    _cpu_budget = n
    return n


def available_cpus() -> int:
    """CPUs this process may use (affinity mask, cgroup v2 quota)."""
    return _available_cpus()


def openmp_enabled() -> bool:
    """True when the extension modules were compiled with OpenMP."""
    return bool(FO_OPENMP_ENABLED)


cdef int default_n_threads() except -1:
    """Threads for ``num_threads=None``: OpenMP's default capped by the usable CPUs."""
    return min(omp_get_max_threads(), _available_cpus()) if FO_OPENMP_ENABLED else 1


def openmp_effective_n_threads(n_threads=None) -> int:
    """Number of threads a kernel should start for ``n_threads`` (see module doc).

    Raises TypeError for non-integers (bool included) and ValueError for 0.
    Without OpenMP the answer is always 1.
    """
    cdef int n
    if n_threads is None:
        return default_n_threads()
    if isinstance(n_threads, (bool, np.bool_)):
        raise TypeError(f"num_threads must be None or an int, got {n_threads!r}")
    try:
        n_threads = operator.index(n_threads)
    except TypeError:
        raise TypeError(f"num_threads must be None or an int, got {n_threads!r}") from None
    if n_threads == 0:
        raise ValueError("num_threads=0 is invalid: use None, a positive count, "
                         "or a negative one for 'all CPUs but |n|-1'")
    n = max(1, _available_cpus() + 1 + n_threads) if n_threads < 0 else n_threads
    return n if FO_OPENMP_ENABLED else 1
