"""The ranks of test_distributed.py: a gloo group on 127.0.0.1 in which every rank
computes its shard of each scenario with global_shape= / shard_start=, and rank 0
gathers the shards (torch.distributed.gather_object) into whole tensors and saves
them for the test process, which compares them with the single-process calls.

Kept apart from the test file so that the spawned processes import only this.
Everything here is deterministic: every rank builds the same global inputs and
takes its block of them.
"""
import datetime
import os

import numpy as np
import torch
import torch.distributed as dist

import simdrop
import simdrop.torch as sdt
from opcalls import ops

DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)
NUMPY_OF = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16}
# One (generator, threshold_bits) per dtype, so that the group covers every generator and width.
CONFIG = {torch.float32: ("philox", 32), torch.float64: ("xoshiro", 16),
          torch.bfloat16: ("philox", 8), torch.float16: ("xoshiro", 32)}
P, SEED, STREAM, OFFSET = 0.3, 2**64 - 12345, 3, 17
SEED_INT64 = SEED - 2**64  # the operators take the int64 with the same bits

# The 2-D process grid of a world size: (ranks along the first split dimension, along the second).
GRID = {1: (1, 1), 2: (2, 1), 3: (1, 3), 4: (2, 2)}

# name: (global shape, the dimensions split across ranks, kind). One split dimension uses all
# ranks; two use the grid. Sizes make the splits uneven (3 ranks over 100 columns: 34, 33, 33).
SCENARIOS = {
    "data_parallel": ((10, 3, 40), (0,), "elementwise"),
    "data_parallel_tiny_batch": ((3, 24), (0,), "elementwise"),      # 4 ranks: one holds no rows
    "tensor_parallel": ((4, 3, 100), (2,), "elementwise"),
    "sequence_parallel": ((4, 9, 20), (1,), "elementwise"),
    "data_and_tensor_parallel": ((11, 3, 101), (0, 2), "elementwise"),
    "channels_data_and_tensor_parallel": ((6, 10, 3, 4), (0, 1), "channels"),
}


def split(n, parts, index):
    """Part `index` of `parts` near-equal parts of range(n), the larger ones first (torch.tensor_split)."""
    base, extra = divmod(n, parts)
    start = index * base + min(index, extra)
    return start, start + base + (1 if index < extra else 0)


def block(global_shape, dims, world_size, rank):
    """The slices of a rank's block."""
    if len(dims) == 1:
        coordinates, parts = (rank,), (world_size,)
    else:
        parts = GRID[world_size]
        coordinates = (rank // parts[1], rank % parts[1])
    slices = [slice(0, n) for n in global_shape]
    for dim, part, index in zip(dims, parts, coordinates):
        slices[dim] = slice(*split(global_shape[dim], part, index))
    return tuple(slices)


def global_inputs(global_shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(global_shape, generator=g, dtype=torch.float64) * 3).to(dtype)
    dy = torch.randn(global_shape, generator=g, dtype=torch.float64).to(dtype)
    bias = torch.randn(global_shape[-1], generator=g, dtype=torch.float64).to(dtype)
    residual = torch.randn(global_shape, generator=g, dtype=torch.float64).to(dtype)
    return x, dy, bias, residual


def unpack(mask, shape):
    n = int(np.prod(shape))
    bits = np.unpackbits(mask.numpy() if isinstance(mask, torch.Tensor) else mask, bitorder="little")
    assert not bits[n:].any(), "unused mask bits must be 0"
    return torch.from_numpy(bits[:n].astype(bool).reshape(tuple(shape)))


def compute(kind, x, dy, bias, residual, dtype, place):
    """Every result of one tensor under a placement (place = {} for the single-process call).

    Returns {quantity: tensor of x's shape}. The test process calls this with the whole
    tensors and no placement, the ranks with their blocks and global_shape / shard_start.
    """
    generator, bits = CONFIG[dtype]
    kwargs = dict(seed=SEED, stream=STREAM, offset=OFFSET, generator=generator, threshold_bits=bits)
    out = {}
    if kind == "channels":
        layer = sdt.Dropout2d(P, seed=SEED, generator=generator, threshold_bits=bits)
        layer.step.fill_(STREAM)
        leaf = x.clone().requires_grad_()
        y = layer(leaf, **place)
        y.backward(dy)
        out["dropout2d_y"], out["dropout2d_dx"] = y.detach(), leaf.grad
        channels_last = x.contiguous(memory_format=torch.channels_last)
        out["dropout2d_channels_last_y"] = ops.dropout2d(
            channels_last, 1.0 - P, SEED_INT64, STREAM, OFFSET, generator, bits,
            place.get("global_shape"), place.get("shard_start"))
        return out

    # torch: the function (regenerating backward), the mask operator, in place.
    leaf = x.clone().requires_grad_()
    y = sdt.dropout(leaf, P, **kwargs, **place)
    y.backward(dy)
    out["torch_y"], out["torch_dx"] = y.detach(), leaf.grad
    _, mask = ops.dropout_mask(x, 1.0 - P, SEED_INT64, STREAM, OFFSET, generator, bits,
                                             place.get("global_shape"), place.get("shard_start"))
    out["torch_mask"] = unpack(mask, x.shape)
    work = x.clone()
    sdt.dropout(work, P, inplace=True, **kwargs, **place)
    out["torch_inplace_y"] = work
    # The module with the stored-mask backward, placed per call (offset 0, stream = its step).
    layer = sdt.Dropout(P, seed=SEED, generator=generator, threshold_bits=bits, save_mask=True)
    layer.step.fill_(STREAM)
    leaf = x.clone().requires_grad_()
    y = layer(leaf, **place)
    y.backward(dy)
    out["module_y"], out["module_dx"] = y.detach(), leaf.grad
    out["module_mask"] = unpack(layer.last_mask, x.shape)
    # bias + dropout + residual, the bias split with the last dimension.
    leaf = x.clone().requires_grad_()
    y = sdt.bias_dropout_add(leaf, bias, residual, P, **kwargs, **place)
    y.backward(dy)
    out["bias_dropout_add_y"], out["bias_dropout_add_dx"] = y.detach(), leaf.grad
    # numpy (no bfloat16 there): forward with mask, both backwards.
    if dtype in NUMPY_OF:
        numpy_kwargs = dict(kwargs, **place)
        seed = numpy_kwargs.pop("seed")
        keep_prob = np.float32(1.0 - P)
        y, mask = simdrop.dropout(x.numpy(), keep_prob, seed, return_mask=True, **numpy_kwargs)
        out["numpy_y"], out["numpy_mask"] = torch.from_numpy(y), unpack(mask, x.shape)
        out["numpy_dx"] = torch.from_numpy(simdrop.dropout_backward(dy.numpy(), keep_prob, seed, **numpy_kwargs))
        out["numpy_dx_stored_mask"] = torch.from_numpy(
            simdrop.dropout_backward(dy.numpy(), keep_prob, seed, mask=mask, **numpy_kwargs))
    return out


def rank_results(world_size, rank):
    results = {}
    for name, (global_shape, dims, kind) in SCENARIOS.items():
        slices = block(global_shape, dims, world_size, rank)
        start = [s.start for s in slices]
        for dtype in DTYPES:
            x, dy, bias, residual = global_inputs(global_shape, dtype, seed=len(name))
            place = dict(global_shape=list(global_shape), shard_start=start)
            local = compute(kind, x[slices].contiguous(), dy[slices].contiguous(), bias[slices[-1]].contiguous(),
                            residual[slices].contiguous(), dtype, place)
            for quantity, tensor in local.items():
                assert tuple(tensor.shape) == tuple(x[slices].shape), (name, quantity)
                results[(name, str(dtype), quantity)] = (start, tensor)
    return results


def assemble(gathered):
    """Whole tensors from the ranks' blocks; each element must come from exactly one rank."""
    whole = {}
    for key in gathered[0]:
        name = key[0]
        global_shape = SCENARIOS[name][0]
        dtype = gathered[0][key][1].dtype
        tensor = torch.zeros(global_shape, dtype=dtype)
        covered = torch.zeros(global_shape, dtype=torch.int64)
        for results in gathered:
            start, part = results[key]
            slices = tuple(slice(s, s + n) for s, n in zip(start, part.shape))
            tensor[slices] = part
            covered[slices] += 1
        assert bool((covered == 1).all()), ("the blocks do not tile the global tensor", key)
        whole[key] = tensor
    return whole


def run(rank, world_size, port, path):
    """torch.multiprocessing.spawn's entry point: one rank of the group."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port, rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=60))
    try:
        results = rank_results(world_size, rank)
        gathered = [None] * world_size if rank == 0 else None
        dist.gather_object(results, gathered, dst=0)
        if rank == 0:
            torch.save({"world_size": world_size, "pid": os.getpid(), "results": assemble(gathered)}, path)
        dist.barrier()
    finally:
        dist.destroy_process_group()
