"""pytest configuration for the fastops test-suite.

Hypothesis profiles (pick one with the ``HYPOTHESIS_PROFILE`` environment
variable):

``ci`` (default)
    100 examples per property test, no deadline (timings on shared CI runners
    are meaningless), failing examples printed as reproducible blobs.
``dev``
    1000 examples per property test, for a thorough local run:
    ``HYPOTHESIS_PROFILE=dev python -m pytest tests``.

Property tests derive their example counts from the loaded profile's
``max_examples``, so switching profile scales every property test.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from fastops import _matmul_t

for _name, _examples in (("ci", 100), ("dev", 1000)):
    settings.register_profile(_name, max_examples=_examples, deadline=None, print_blob=True,
                              suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=_matmul_t.simd_supported())
def simd_variant(request):
    """Run a test once per micro-kernel variant this CPU can execute; a test
    that parametrizes it indirectly runs with the variant it names, skipped
    where this CPU lacks it."""
    if request.param not in _matmul_t.simd_supported():
        pytest.skip(f"this CPU has no {request.param}")
    active = _matmul_t.active_simd()
    _matmul_t.select_simd(request.param)
    yield request.param
    _matmul_t.select_simd(active)
