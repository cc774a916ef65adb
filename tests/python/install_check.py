"""Run by run_install_test.cmake: the installed package imports from its site
folder (argv[1]) and works: numpy API, PyTorch ops, autograd."""
import os
import sys

site = os.path.realpath(sys.argv[1])

import numpy as np  # noqa: E402

import simdrop  # noqa: E402

assert "torch" not in sys.modules, "import simdrop imported torch"
assert os.path.realpath(simdrop.__file__).startswith(site + os.sep), simdrop.__file__
y, mask = simdrop.dropout(np.ones(100, np.float32), 0.5, 7, return_mask=True)
assert y.shape == (100,) and mask.size == 13

import torch  # noqa: E402

import simdrop.torch as sdt  # noqa: E402

assert os.path.realpath(sdt.__file__).startswith(site + os.sep), sdt.__file__
x = torch.ones(100, requires_grad=True)
out = sdt.dropout(x, p=0.5, seed=7)
assert torch.equal(out.detach(), torch.from_numpy(y))
out.sum().backward()
assert torch.equal(x.grad, torch.from_numpy(y))
print("simdrop installed at", os.path.dirname(simdrop.__file__), "- numpy and torch calls work")
