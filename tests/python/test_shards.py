"""Shards in one process: global_shape= and shard_start= on every API.

A shard of a global tensor must get exactly its part of the whole tensor's
decisions. Each case is checked against the contract evaluated on the whole
global tensor by reference.py (independent of simdrop) and against simdrop's
own call on the whole tensor, for every route of python/src/layout.hpp
(flat, one view call, looped view calls, rows of one element, a contiguous
copy first), dtype, generator and width. docs/distributed.md; the
multi-process runs are in test_distributed.py.
"""
import copy
import io

import numpy as np
import pytest
import torch

import reference as R
import simdrop
import simdrop.torch as sdt
from opcalls import ops

GENERATORS = ("philox", "xoshiro")
WIDTHS = (32, 16, 8)
NUMPY_DTYPES = (np.float32, np.float64, np.float16)
TORCH_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)

# name: (global_shape, the shard's slices). Comments name the route of a contiguous shard.
CASES = {
    "batch_rows": ((10, 3, 20), (slice(4, 7), slice(None), slice(None))),          # flat: a contiguous range
    "last_dim_odd": ((6, 100), (slice(None), slice(34, 67))),                       # one view, mask re-packed
    "last_dim_mult8": ((6, 100), (slice(None), slice(16, 48))),                     # one view, mask in the call
    "batch_and_last": ((10, 3, 100), (slice(2, 5), slice(None), slice(67, 100))),   # one view (dims 0-1 merge)
    "middle_dim": ((4, 9, 20), (slice(None), slice(3, 6), slice(None))),            # one view, index_ld 180
    "two_inner_dims": ((4, 9, 20), (slice(1, 3), slice(3, 6), slice(5, 17))),       # two view calls
    "four_dims": ((3, 4, 5, 6), (slice(1, 3), slice(0, 4), slice(1, 4), slice(2, 5))),
    "one_column": ((5, 10), (slice(None), slice(3, 4))),                            # rows of one element
    "single_element": ((5, 10), (slice(2, 3), slice(7, 8))),
    "empty_at_the_end": ((5, 10), (slice(5, 5), slice(None))),
    "whole": ((5, 10), (slice(None), slice(None))),
    "one_dim": ((1000,), (slice(123, 877),)),
    "scalar": ((), ()),
}


def starts(global_shape, slices):
    return [s.indices(n)[0] for s, n in zip(slices, global_shape)]


def global_sample(shape, dtype, seed):
    values = np.random.default_rng(seed).standard_normal(int(np.prod(shape))) * 3.0
    return values.astype(dtype).reshape(shape)


def unpacked(mask, shape):
    n = int(np.prod(shape))
    return np.unpackbits(mask, bitorder="little")[:n].astype(bool).reshape(shape)


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return (a.shape == b.shape and a.dtype == b.dtype
            and np.array_equal(np.array(a, order="C").reshape(-1).view(np.uint8),
                               np.array(b, order="C").reshape(-1).view(np.uint8)))


def layouts(global_x, slices):
    """The same shard in several memory layouts: each takes another route."""
    view = global_x[slices]
    if view.ndim == 0:
        return {"contiguous": np.array(view), "view_of_global": view}
    return {
        "contiguous": np.array(view, order="C"),
        "view_of_global": view,                                       # the global array's strides
        "fortran": np.asfortranarray(view),                           # a copy first
        "reversed": np.array(view[::-1], order="C")[::-1],                # negative strides: a copy first
    }


# ---------------------------------------------------------------- numpy

@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("generator", GENERATORS)
def test_numpy_shard_equals_its_part_of_the_global_tensor(case, generator):
    global_shape, slices = CASES[case]
    shard_start = starts(global_shape, slices)
    for bits in WIDTHS:
        keep = R.keep(int(np.prod(global_shape)), 0.6, 77, 5, 29, generator, bits).reshape(global_shape)
        for dtype in NUMPY_DTYPES:
            x_global = global_sample(global_shape, dtype, seed=len(case))
            kwargs = dict(stream=5, offset=29, generator=generator, threshold_bits=bits)
            whole_y, whole_mask = simdrop.dropout(x_global, 0.6, 77, return_mask=True, **kwargs)
            want_y = R.values(x_global, keep, 0.6, bits, np.dtype(dtype).name)[slices]
            for layout, x in layouts(x_global, slices).items():
                where = (case, dtype, bits, layout)
                y, mask = simdrop.dropout(x, 0.6, 77, return_mask=True, global_shape=global_shape,
                                          shard_start=shard_start, **kwargs)
                assert y.flags.c_contiguous and y.shape == x.shape, where
                assert same_bits(y, want_y), where
                assert same_bits(y, whole_y[slices]), where
                assert mask.size == (x.size + 7) // 8 and np.array_equal(unpacked(mask, x.shape), keep[slices]), where
                assert np.array_equal(unpacked(mask, x.shape), unpacked(whole_mask, global_shape)[slices]), where
                placed = dict(global_shape=global_shape, shard_start=shard_start, **kwargs)
                assert same_bits(simdrop.dropout_backward(x, 0.6, 77, **placed), want_y), where
                assert same_bits(simdrop.dropout_backward(x, 0.6, 77, mask=mask, **placed), want_y), where


def test_numpy_shard_in_place_and_out():
    x_global = global_sample((8, 50), np.float32, seed=1)
    want = simdrop.dropout(x_global, 0.5, 3)[:, 10:30]
    work = x_global.copy()
    shard = work[:, 10:30]  # written in place, where it lies in the global array
    assert simdrop.dropout(shard, 0.5, 3, out=shard, global_shape=(8, 50), shard_start=(0, 10)) is shard
    assert same_bits(shard, want)
    assert same_bits(work[:, :10], x_global[:, :10]) and same_bits(work[:, 30:], x_global[:, 30:])
    out = np.empty((20, 8), np.float32).T
    assert simdrop.dropout(x_global[:, 10:30], 0.5, 3, out=out, global_shape=(8, 50), shard_start=(0, 10)) is out
    assert same_bits(out, want)


def test_shards_tile_the_global_tensor_at_any_split():
    # Any partition into blocks reproduces the whole call, at split points that are not multiples of 8, 16 or 64.
    x = global_sample((13, 7, 71), np.float32, seed=5)
    whole = simdrop.dropout(x, 0.3, 9, stream=2, generator="xoshiro", threshold_bits=8)
    out = np.full_like(x, np.nan)
    for rows in (slice(0, 5), slice(5, 6), slice(6, 13)):
        for cols in (slice(0, 17), slice(17, 64), slice(64, 71)):
            block = (rows, slice(None), cols)
            out[block] = simdrop.dropout(x[block], 0.3, 9, stream=2, generator="xoshiro", threshold_bits=8,
                                         global_shape=x.shape, shard_start=(rows.start, 0, cols.start))
    assert same_bits(out, whole)


@pytest.mark.parametrize("function", ["dropout", "dropout_backward"])
def test_numpy_bad_placements(function):
    call = getattr(simdrop, function)
    x = np.ones((4, 6), np.float32)
    for kwargs, message in [
        (dict(global_shape=(4, 12)), "both or neither"),
        (dict(shard_start=(0, 6)), "both or neither"),
        (dict(global_shape=(4, 12), shard_start=(0,)), "different lengths"),
        (dict(global_shape=(4, 12, 1), shard_start=(0, 0, 0)), "has 3 dimensions, the array has 2"),
        (dict(global_shape=(4, 12), shard_start=(0, 7)), "does not fit"),
        (dict(global_shape=(4, 12), shard_start=(1, 0)), "does not fit"),
        (dict(global_shape=(4, 12), shard_start=(0, 13)), "outside global_shape"),
        (dict(global_shape=(4, 12), shard_start=(-1, 0)), "negative"),
        (dict(global_shape=(-4, 12), shard_start=(0, 0)), "negative"),
        (dict(global_shape=(2**40, 2**40), shard_start=(0, 0)), "2\\^64"),
    ]:
        out = x.copy()
        with pytest.raises(ValueError, match=message):
            call(x, 0.5, 1, out=out, **kwargs)
        assert np.array_equal(out, x)  # nothing written
    with pytest.raises(ValueError, match="overflow"):
        call(x, 0.5, 1, offset=2**64 - 30, global_shape=(4, 12), shard_start=(0, 6))
    call(x, 0.5, 1, offset=2**64 - 48, global_shape=(4, 12), shard_start=(0, 6))  # the last index is 2^64 - 1
    with pytest.raises(TypeError, match="sequence of integers"):
        call(x, 0.5, 1, global_shape=4, shard_start=0)
    with pytest.raises(TypeError):
        call(x, 0.5, 1, global_shape=(4.0, 12), shard_start=(0, 0))


# ---------------------------------------------------------------- torch functions and operators

def t_bits(t):
    t = t.detach().contiguous().reshape(-1)
    if t.dtype in (torch.bfloat16, torch.float16):
        return t.view(torch.int16).numpy()
    return t.numpy().view(np.uint8)


def t_same(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(t_bits(a), t_bits(b))


def t_sample(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * 3).to(dtype)


def t_reference(x_global, keep, p, bits):
    """reference.py's values for a whole torch tensor and its decisions."""
    if x_global.dtype == torch.bfloat16:
        patterns = x_global.contiguous().view(torch.int16).numpy().view(np.uint16)
        values = R.values(patterns, keep, 1 - p, bits, "bfloat16")
        return torch.from_numpy(values.view(np.int16)).view(torch.bfloat16)
    name = str(x_global.dtype).replace("torch.", "")
    return torch.from_numpy(np.array(R.values(x_global.numpy(), keep, 1 - p, bits, name), order="C"))


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("case", ["batch_rows", "last_dim_odd", "batch_and_last", "two_inner_dims", "one_column",
                                  "empty_at_the_end", "scalar"])
def test_torch_shard_forward_mask_and_both_backwards(dtype, case):
    global_shape, slices = CASES[case]
    shard_start = starts(global_shape, slices)
    x_global = t_sample(global_shape, dtype, seed=3)
    keep = R.keep(x_global.numel(), 0.75, 21, 4, 0, "philox", 16).reshape(global_shape)
    want = t_reference(x_global, keep, 0.25, 16)[slices]
    place = dict(global_shape=global_shape, shard_start=shard_start)
    for x in (x_global[slices].contiguous(), x_global[slices]):
        y = sdt.dropout(x, 0.25, seed=21, stream=4, threshold_bits=16, **place)
        assert t_same(y, want), (case, dtype)
        y2, mask = ops.dropout_mask(x, 0.75, 21, 4, 0, "philox", 16, list(global_shape), shard_start)
        assert t_same(y2, want)
        assert np.array_equal(unpacked(mask.numpy(), tuple(x.shape)), keep[slices])
        g = t_sample(tuple(x.shape), dtype, seed=4)
        g_want = t_reference(_embed(g, global_shape, slices), keep, 0.25, 16)[slices]
        leaf = x.detach().clone().requires_grad_()
        sdt.dropout(leaf, 0.25, seed=21, stream=4, threshold_bits=16, **place).backward(g)  # regenerating
        assert t_same(leaf.grad, g_want)
        leaf = x.detach().clone().requires_grad_()
        layer = sdt.Dropout(0.25, seed=21, threshold_bits=16, save_mask=True)
        layer.step.fill_(4)
        layer(leaf, **place).backward(g)                                                  # stored mask
        assert t_same(leaf.grad, g_want) and torch.equal(layer.last_mask, mask)
        work = x.detach().clone()
        assert sdt.dropout(work, 0.25, inplace=True, seed=21, stream=4, threshold_bits=16, **place) is work
        assert t_same(work, want)


def _embed(local, global_shape, slices):
    """local placed in a zero global tensor (for gradients: the reference then covers the whole tensor)."""
    whole = torch.zeros(global_shape, dtype=local.dtype)
    whole[slices] = local
    return whole


def test_torch_shard_matches_numpy_and_the_whole_call():
    x = t_sample((6, 5, 100), torch.float32, seed=8)
    whole = sdt.dropout(x, 0.4, seed=12, stream=3, offset=1000, generator="xoshiro", threshold_bits=8)
    for block in [(slice(0, 2), slice(None), slice(0, 34)), (slice(2, 6), slice(1, 4), slice(34, 100))]:
        start = [s.indices(n)[0] for s, n in zip(block, x.shape)]
        kwargs = dict(seed=12, stream=3, offset=1000, generator="xoshiro", threshold_bits=8,
                      global_shape=x.shape, shard_start=start)
        y = sdt.dropout(x[block], 0.4, **kwargs)
        assert torch.equal(y, whole[block])
        numpy_kwargs = dict(kwargs)
        numpy_kwargs.pop("seed")
        assert np.array_equal(y.numpy(), simdrop.dropout(x[block].numpy(), np.float32(0.6), 12, **numpy_kwargs))


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_dropout2d_shard_places_its_n_c_block(dtype):
    global_shape = (6, 11, 4, 3)
    x_global = t_sample(global_shape, dtype, seed=6)
    whole = ops.dropout2d(x_global, 0.5, 7, 2, 5, "philox", 32)
    # Channel (n, c) decided at offset + n*C + c: the contract evaluated independently.
    keep = torch.from_numpy(R.keep(66, 0.5, 7, 2, 5, "philox", 32)).reshape(6, 11, 1, 1)
    dropped = torch.zeros((), dtype=dtype)
    scaled = t_reference(x_global, np.ones(global_shape, bool), 0.5, 32)
    assert t_same(whole, torch.where(keep.expand(global_shape), scaled, dropped))
    for block in [(slice(2, 5), slice(None), slice(None), slice(None)),     # batch split: one call
                  (slice(None), slice(3, 9), slice(None), slice(None)),     # channel split
                  (slice(1, 4), slice(9, 11), slice(1, 3), slice(0, 2)),    # (n, c) block and a spatial split
                  (slice(6, 6), slice(None), slice(None), slice(None))]:
        start = [s.indices(n)[0] for s, n in zip(block, global_shape)]
        for x in (x_global[block].contiguous(), x_global[block].contiguous(memory_format=torch.channels_last),
                  x_global[block]):
            y = ops.dropout2d(x, 0.5, 7, 2, 5, "philox", 32, list(global_shape), start)
            assert t_same(y, whole[block]), (block, dtype)
    layer = sdt.Dropout2d(0.5, seed=7, threshold_bits=32, global_shape=global_shape, shard_start=(0, 3, 0, 0))
    layer.step.fill_(2)
    assert t_same(layer(x_global[:, 3:9].contiguous()), ops.dropout2d(
        x_global, 0.5, 7, 2, 0, "philox", 32)[:, 3:9])


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_bias_dropout_add_shards(dtype):
    x, residual = t_sample((3, 4, 100), dtype, 1), t_sample((3, 4, 100), dtype, 2)
    bias = t_sample(100, dtype, 3)
    whole = sdt.bias_dropout_add(x, bias, residual, 0.3, seed=9, stream=2, offset=11)
    for block, bias_part in [((slice(None), slice(None), slice(0, 34)), slice(0, 34)),        # column shard
                             ((slice(None), slice(None), slice(67, 100)), slice(67, 100)),
                             ((slice(1, 3), slice(None), slice(None)), slice(None)),         # batch shard
                             ((slice(0, 2), slice(1, 3), slice(34, 67)), slice(34, 67))]:    # all three
        start = [s.indices(n)[0] for s, n in zip(block, x.shape)]
        leaf = x[block].detach().clone().requires_grad_()
        y = sdt.bias_dropout_add(leaf, bias[bias_part], residual[block], 0.3, seed=9, stream=2, offset=11,
                                 global_shape=x.shape, shard_start=start)
        assert t_same(y, whole[block]), (block, dtype)
        g = t_sample(tuple(leaf.shape), dtype, 4)
        y.backward(g)
        assert t_same(leaf.grad, sdt.dropout(_embed(g, x.shape, block), 0.3, seed=9, stream=2, offset=11)[block])


def test_torch_bad_placements():
    x = torch.ones(4, 6)
    for kwargs, message in [
        (dict(global_shape=(4, 12)), "both or neither"),
        (dict(global_shape=(4, 12, 1), shard_start=(0, 0, 0)), "has 3 dimensions"),
        (dict(global_shape=(4, 12), shard_start=(0, 7)), "does not fit"),
    ]:
        with pytest.raises(ValueError, match=message):
            sdt.dropout(x, 0.5, **kwargs)
        with pytest.raises(ValueError, match=message):
            sdt.bias_dropout_add(x, torch.ones(6), x, 0.5, **kwargs)
        with pytest.raises(ValueError, match=message):
            ops.dropout2d(x, 0.5, 1, 0, 0, "philox", 32, kwargs.get("global_shape"),
                                        kwargs.get("shard_start"))
        layer = sdt.Dropout(0.5)
        with pytest.raises(ValueError, match=message):
            layer(x, **kwargs)
        assert int(layer.step) == 0  # a refused call does not advance the step
    with pytest.raises(ValueError, match="both or neither"):
        sdt.Dropout(0.5, shard_start=(0, 0))
    with pytest.raises(ValueError, match="outside global_shape"):
        sdt.Dropout2d(0.5, global_shape=(4, 4), shard_start=(0, 5))
    with pytest.raises(TypeError, match="sequence of integers"):
        sdt.Dropout(0.5, global_shape="ab", shard_start="cd")
    with pytest.raises(TypeError):
        sdt.Dropout(0.5)(x, (0, 0), (4, 6))  # the placement is keyword-only


# ---------------------------------------------------------------- modules

def test_module_placement_from_the_constructor_and_per_call():
    x_global = t_sample((12, 40), torch.float32, seed=1)
    reference_layer = sdt.Dropout(0.5, seed=5)
    wholes = [reference_layer(x_global) for _ in range(3)]
    built = sdt.Dropout(0.5, seed=5, global_shape=(12, 40), shard_start=(0, 13))
    per_call = sdt.Dropout(0.5, seed=5, save_mask=True)
    for k in range(3):
        rows = slice(4 * k, 4 * k + 4)  # a data-parallel rank's batch shard moves with the step
        assert torch.equal(built(x_global[:, 13:]), wholes[k][:, 13:])
        assert torch.equal(per_call(x_global[rows], shard_start=(rows.start, 0), global_shape=(12, 40)),
                           wholes[k][rows])
    # A per-call placement replaces the constructor's for that call.
    built.step.fill_(1)
    assert torch.equal(built(x_global[2:5], shard_start=(2, 0), global_shape=(12, 40)), wholes[1][2:5])
    assert "global_shape=(12, 40), shard_start=(0, 13)" in repr(built)
    # The placement is not state: a checkpoint loads into a module placed elsewhere.
    other = sdt.Dropout(0.5, seed=1, global_shape=(12, 40), shard_start=(6, 0))
    other.load_state_dict(built.state_dict())
    assert other.global_shape == [12, 40] and other.shard_start == [6, 0]
    assert set(built.state_dict()) == {"seed", "step"}


def test_scripted_modules_take_placements():
    x_global = t_sample((6, 4, 40), torch.float32, seed=2)
    whole = sdt.Dropout(0.3, seed=8)(x_global)  # step 0
    image = t_sample((4, 6, 3, 3), torch.float32, seed=3)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = sdt.Dropout(0.3, seed=8, save_mask=True)
            self.fixed = sdt.Dropout(0.3, seed=8, global_shape=(6, 4, 40), shard_start=(0, 0, 10))
            self.channels = sdt.Dropout2d(0.5, seed=4, global_shape=(4, 6, 3, 3), shard_start=(0, 2, 0, 0))

        def forward(self, x, start: int, image):
            a = self.drop(x[start:start + 2], shard_start=[start, 0, 0], global_shape=[6, 4, 40])
            b = self.fixed(x[:, :, 10:])
            c = self.channels(image[:, 2:])
            return torch.cat([a.flatten(), b.flatten(), c.flatten()])

    eager = Model()
    scripted = torch.jit.script(copy.deepcopy(eager))
    expected_a = whole[2:4].flatten()
    expected_b = whole[:, :, 10:].flatten()
    expected_c = ops.dropout2d(image, 0.5, 4, 0, 0, "philox", 16)[:, 2:].flatten()
    expected = torch.cat([expected_a, expected_b, expected_c])
    assert torch.equal(eager(x_global, 2, image), expected)
    assert torch.equal(scripted(x_global, 2, image), expected)
    assert scripted.drop.last_mask is not None and torch.equal(scripted.drop.last_mask, eager.drop.last_mask)
    # The scripted module also takes the placement positionally, and survives save / load.
    drop = torch.jit.script(sdt.Dropout(0.3, seed=8))
    assert torch.equal(drop(x_global[2:4], [2, 0, 0], [6, 4, 40]), expected_a.view(2, 4, 40))
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    loaded.drop.step.fill_(0)
    loaded.fixed.step.fill_(0)
    loaded.channels.step.fill_(0)
    assert torch.equal(loaded(x_global, 2, image), expected)


def test_common_shards_are_one_c_call():
    # (route, C calls) of layout.hpp's plan, for a new output.
    plan = simdrop._ext.plan
    for dtype in NUMPY_DTYPES:
        x = np.zeros((8, 6, 100), dtype)
        assert plan(x[2:5], 0, x.shape, (2, 0, 0)) == ("flat", 1)                          # batch split
        assert plan(x[2:5].copy(), 0, x.shape, (2, 0, 0)) == ("flat", 1)
        assert plan(x[..., 34:67].copy(), 0, x.shape, (0, 0, 34)) == ("views", 1)          # last-dim split
        assert plan(x[2:5, :, 34:67].copy(), 0, x.shape, (2, 0, 34)) == ("views", 1)       # both
        assert plan(x[2:5, :, 34:67], 0, x.shape, (2, 0, 34)) == ("views", 1)              # ... in place
        assert plan(x[:, 1:4].copy(), 0, x.shape, (0, 1, 0)) == ("views", 1)               # sequence split
        assert plan(x[:, 1:4, 10:20].copy(), 0, x.shape, (0, 1, 10)) == ("views", 8)       # one call per batch row
        # A strided 2-D view of an array that is its own global tensor: a view call, no copy, any type.
        assert plan(x[0, :, 3:60], 0, None, None) == ("views", 1)
        assert plan(x[0, ::2], 0, None, None) == ("views", 1)
        assert plan(x[0, :, ::3], 0, None, None) == ("copy+flat", 1)
        assert plan(x.transpose(1, 0, 2)[:, 2:5, 34:67], 0, x.transpose(1, 0, 2).shape, (0, 2, 34)) == ("views", 6)


def test_scripting_a_model_leaves_its_eager_modules_working():
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), sdt.Dropout(0.5, seed=3, save_mask=True))
    scripted = torch.jit.script(model)
    # torch.jit.script put the scriptable copy into the eager model: same class family, same buffers.
    assert isinstance(model[1], sdt.Dropout) and model[1].seed is not None
    x = t_sample((4, 8), torch.float32, seed=1)
    eager_out = model[1](x, shard_start=(2, 0), global_shape=(6, 8))
    assert int(model[1].step) == 1 and int(getattr(scripted, "1").step) == 1  # shared step buffer
    want = sdt.Dropout(0.5, seed=3)(t_sample((6, 8), torch.float32, seed=9).index_copy(0, torch.arange(2, 6), x))[2:]
    assert torch.equal(eager_out, want)
