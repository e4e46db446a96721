"""asv benchmark suites for fastops: one module per kernel, see README "Tracking performance with asv".

``bench_matmul_t``      fastops.matmul_t against NumPy, PyTorch and TensorFlow
``bench_preprocess``    fastops.preprocess against NumPy, PyTorch, TensorFlow and OpenCV
``bench_environment``   records which BLAS kernel the run used
``common``              helpers shared by the suites (sizes switch, threads, peer imports)

Peers at their best: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE force OpenBLAS
(NumPy's BLAS, and so fastops ``method="blas"``) onto a lesser kernel, and asv
passes the caller's environment on to every benchmark process.  OpenBLAS
reads them once, when it is loaded, and asv's runner has loaded NumPy (through
pympler) before it imports this package, so deleting them here would be too
late.  Instead, in an asv process (``asv_runner`` imported) that has them,
importing this package re-executes the process (same pid and arguments, so
asv notices nothing) without them: the policy of ``python -m fastops bench``.
``FASTOPS_ASV_KEEP_BLAS_ENV=1`` keeps them.  ``bench_environment.BlasKernel``
records the kernel OpenBLAS chose and what happened to the variables.
"""

import os
import sys

#: Environment variables that force OpenBLAS onto a lesser kernel.
BLAS_OVERRIDE_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

#: Set in the re-executed process: the ``NAME=VALUE`` pairs that were removed.
REMOVED_MARKER = "FASTOPS_ASV_REMOVED_BLAS_ENV"

#: name -> value of the BLAS-forcing variables in this process's environment.
FORCED_BLAS_ENV = {name: os.environ[name] for name in BLAS_OVERRIDE_VARS if name in os.environ}

if FORCED_BLAS_ENV and "asv_runner" in sys.modules and os.environ.get("FASTOPS_ASV_KEEP_BLAS_ENV") != "1":
    _env = {name: value for name, value in os.environ.items() if name not in BLAS_OVERRIDE_VARS}
    _env[REMOVED_MARKER] = " ".join(f"{name}={value}" for name, value in FORCED_BLAS_ENV.items())
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, _env)
