"""fastops: fused CPU kernels for the hot spots of AI inference.

    >>> import numpy as np, fastops
    >>> a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    >>> fastops.matmul_t(a, b).shape          # (a @ b).T, C-contiguous
    (4, 2)
"""
import os as _os

__version__ = "0.1.0"

from fastops import _blas_loader, _matmul_t  # noqa: E402
from fastops._config import show_config  # noqa: E402
from fastops.matmul_t import matmul_t, matmul_t_plan  # noqa: E402
from fastops.pipeline import Pipeline, PipelineStats  # noqa: E402
from fastops.preprocess import preprocess  # noqa: E402

_blas_loader.bind()
if _os.environ.get("FASTOPS_SIMD"):
    _matmul_t.select_simd(_os.environ["FASTOPS_SIMD"])

__all__ = ["matmul_t", "matmul_t_plan", "preprocess", "Pipeline", "PipelineStats", "show_config", "__version__"]
