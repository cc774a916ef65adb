"""Run by scripts/test-python.sh in a venv without torch: the numpy module works
alone, and import simdrop.torch says what to install."""
import sys

import numpy as np

import simdrop

assert "torch" not in sys.modules
y = simdrop.dropout(np.ones(64, np.float32), 0.5, 3)
assert y.shape == (64,) and set(np.unique(y)) <= {0.0, 2.0}
try:
    import simdrop.torch  # noqa: F401
except ImportError as error:
    message = str(error)
    assert "pip install torch==2.13.0" in message and "--no-build-isolation" in message, message
    print("without torch: numpy module works; import simdrop.torch says:", message)
else:
    raise AssertionError("import simdrop.torch succeeded without torch")
