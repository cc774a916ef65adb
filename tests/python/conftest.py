"""Shared pytest set-up for the Python tests (run by ctest with PYTHONPATH=<build>/python).

The tests import reference.py from this folder: the stream contract evaluated
literally in numpy, independent of simdrop.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def restore_switches():
    """Every test starts and ends on automatic ISA detection and OpenMP's default thread count."""
    import simdrop
    yield
    simdrop.set_isa("auto")
    simdrop.set_num_threads(0)


def supported_isas():
    import simdrop
    return [name for name in simdrop.isa_names() if simdrop.isa_supported(name)]
