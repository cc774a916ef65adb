"""torch.distributed runs: shards gathered from gloo groups of 1-4 processes equal
the single-process call on the whole tensor, bit for bit.

Each world size spawns one group (torch.multiprocessing, start method "spawn") on
127.0.0.1, at a port found free at run time by binding port 0. In the group
every rank computes its block of each scenario of distributed_worker.py (data
parallel along dim 0 with uneven splits and an empty rank; tensor parallel along
the last dim, 3 ranks over 100 columns; sequence parallel; data and tensor
parallel at once on a 2-D grid; Dropout2d on an (n, c) grid), for every dtype:
outputs, masks (operator, module, numpy), input gradients through the
regenerating and the stored-mask (save_mask=True) backward, bias_dropout_add,
numpy's backwards. Rank 0 gathers the blocks and saves them; this process
computes the same quantities with single-process calls on the whole tensors
and compares. Those single-process calls are themselves checked against
reference.py in test_numpy.py, test_torch.py and test_shards.py.

Time is bounded: the process group times out after 60 s, and a group that has
not finished after GROUP_TIMEOUT_S is killed and the test fails.
"""
import functools

import numpy as np
import pytest
import torch

import distributed_worker as W
from gloo_group import spawn_and_wait

WORLD_SIZES = (1, 2, 3, 4)
GROUP_TIMEOUT_S = 150


def run_group(world_size, path):
    """Spawns the group and waits for it, at most GROUP_TIMEOUT_S; returns rank 0's gathered results."""
    spawn_and_wait(W.run, world_size, path, GROUP_TIMEOUT_S)
    saved_results = torch.load(path)
    assert saved_results["world_size"] == world_size
    return saved_results["results"]


@pytest.fixture(scope="module", params=WORLD_SIZES, ids=lambda n: "world_size_%d" % n)
def gathered(request, tmp_path_factory):
    world_size = request.param
    return world_size, run_group(world_size, tmp_path_factory.mktemp("group") / "gathered.pt")


@functools.lru_cache(maxsize=None)
def single_process(name, dtype_name):
    """The same quantities from single-process calls on the whole tensors (no placement)."""
    global_shape, _, kind = W.SCENARIOS[name]
    dtype = getattr(torch, dtype_name.replace("torch.", ""))
    x, dy, bias, residual = W.global_inputs(global_shape, dtype, seed=len(name))
    return W.compute(kind, x, dy, bias, residual, dtype, {})


def bits(t):
    t = t.contiguous().reshape(-1)
    if t.dtype in (torch.bfloat16, torch.float16):
        return t.view(torch.int16).numpy()
    return t.numpy().view(np.uint8)


@pytest.mark.parametrize("dtype", W.DTYPES, ids=str)
@pytest.mark.parametrize("name", sorted(W.SCENARIOS))
def test_gathered_shards_equal_the_single_process_call(gathered, name, dtype):
    world_size, results = gathered
    expected = single_process(name, str(dtype))
    for quantity, want in expected.items():
        got = results[(name, str(dtype), quantity)]
        assert got.shape == want.shape and got.dtype == want.dtype, quantity
        assert np.array_equal(bits(got), bits(want)), "%s differs with %d ranks" % (quantity, world_size)
    # The masks are the decisions the outputs show: every dropped element is +0.
    if "torch_mask" in expected:
        assert torch.equal(results[(name, str(dtype), "torch_mask")], expected["torch_mask"])
        dropped = ~expected["torch_mask"]
        assert bool((bits(expected["torch_y"][dropped]) == 0).all())


def test_the_splits_are_uneven_and_cover_an_empty_rank():
    assert [W.split(100, 3, r) for r in range(3)] == [(0, 34), (34, 67), (67, 100)]
    assert [W.block((3, 24), (0,), 4, r)[0] for r in range(4)] == [slice(0, 1), slice(1, 2), slice(2, 3), slice(3, 3)]
    assert W.block((11, 3, 101), (0, 2), 4, 3) == (slice(6, 11), slice(0, 3), slice(51, 101))
