"""Thread-count policy shared by every fastops kernel.

``num_threads`` follows scikit-learn's convention: ``None`` means what OpenMP
would use (``OMP_NUM_THREADS``, threadpoolctl limits) capped by the CPUs this
process may run on (affinity / cgroup quota), a positive int is taken as is,
``-1`` means all CPUs, ``-2`` all but one, and so on.

In a process forked (``os.fork``, multiprocessing's "fork" start method)
after this one ran a kernel on more than one thread, every kernel runs on
one thread: GNU OpenMP keeps the threads of the first parallel region for
the next ones, ``fork()`` copies that pool into the child without its
threads, and the child's next parallel region would wait for them forever.
The kernels report each team they start (note_threads).
"""
import operator
import os
import warnings

import numpy as np

cdef extern from "pthread.h" nogil:
    int pthread_atfork(void (*prepare)() noexcept nogil, void (*parent)() noexcept nogil,
                       void (*child)() noexcept nogil)

cdef int _cpu_budget = 0
cdef bint _threads_ran = False          # this process has started a team of more than one thread
cdef bint _serial_after_fork = False    # a fork child of such a process (or of such a child)
cdef bint _warned_after_fork = False


cdef void _at_fork_child() noexcept nogil:
    global _serial_after_fork, _warned_after_fork
    _serial_after_fork = _threads_ran
    _warned_after_fork = False          # a warning per process


if pthread_atfork(NULL, NULL, _at_fork_child) != 0:
    raise ImportError("fastops: cannot register its fork handler (pthread_atfork)")


cdef void note_threads(int n) noexcept nogil:
    """Called by a kernel before it starts a team of n threads (module doc)."""
    global _threads_ran
    if n > 1:
        _threads_ran = True


cdef inline int _granted(int n) noexcept:
    """n threads, or 1 in a fork child of a process that had run more (module doc)."""
    return 1 if _serial_after_fork else n


def serial_after_fork() -> bool:
    """True in a process forked after its parent ran a kernel on more than one
    thread: there every kernel runs on one thread (module doc)."""
    return bool(_serial_after_fork)


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
    return _granted(min(omp_get_max_threads(), _available_cpus())) if FO_OPENMP_ENABLED else 1


def openmp_effective_n_threads(n_threads=None) -> int:
    """Number of threads a kernel should start for ``n_threads`` (see module doc).

    Raises TypeError for non-integers (bool included) and ValueError for 0.
    Without OpenMP the answer is always 1, and so it is in a fork child of a
    process that had run kernels on more (with a RuntimeWarning, once, where
    more is asked for explicitly).
    """
    global _warned_after_fork
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
    if not FO_OPENMP_ENABLED:
        return 1
    if _serial_after_fork and n > 1 and not _warned_after_fork:
        _warned_after_fork = True
        warnings.warn(f"fastops: num_threads={n_threads} runs on 1 thread in this process, forked "
                      "after its parent ran OpenMP threads (GNU OpenMP cannot start threads "
                      "here: it would hang); start worker processes with the 'spawn' or "
                      "'forkserver' method for threads in them", RuntimeWarning, stacklevel=2)
    return _granted(n)
