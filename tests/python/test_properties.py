"""Property tests (hypothesis) of the numpy and torch APIs against the independent
reference (reference.py): shapes, strided views, dtypes, offsets, seeds, streams,
generators, widths and shard geometries, drawn by machine (issue 23).

derandomize=True: hypothesis draws the same examples on every run (a fixed seed
derived from each test), so a CI verdict does not depend on the draw; a failure
prints the example that reproduces it.
"""
import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference as R
import simdrop
import simdrop.torch as sdt

SETTINGS = settings(derandomize=True, max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
U64 = st.integers(0, 2**64 - 1)
GENERATORS = st.sampled_from(["philox", "xoshiro"])
WIDTHS = st.sampled_from([8, 16, 32])
KEEP = st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0, 0.3333])
NUMPY_DTYPES = st.sampled_from([np.float32, np.float64, np.float16])
TORCH_DTYPES = st.sampled_from([torch.float32, torch.float64, torch.bfloat16, torch.float16])


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.reshape(-1).view(np.uint8)


@st.composite
def strided_arrays(draw, dtypes=NUMPY_DTYPES):
    """An array of 1-4 dimensions, viewed through a permutation and positive/negative steps."""
    dims = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 9), min_size=dims, max_size=dims)))
    dtype = draw(dtypes)
    base = np.random.default_rng(draw(st.integers(0, 1000))).standard_normal(shape).astype(dtype)
    steps = tuple(draw(st.sampled_from([1, 2, -1, -2])) for _ in range(dims))
    view = base[tuple(slice(None, None, s) for s in steps)]
    order = draw(st.permutations(range(dims)))
    return np.transpose(view, order)


@SETTINGS
@given(x=strided_arrays(), keep_prob=KEEP, seed=U64, stream=U64, generator=GENERATORS, bits=WIDTHS,
       offset_from_top=st.one_of(st.integers(0, 10**6), st.just(None)))
def test_numpy_dropout_equals_the_contract(x, keep_prob, seed, stream, generator, bits, offset_from_top):
    # Offsets anywhere, and runs that end exactly at the top of the index space.
    offset = 2**64 - x.size - offset_from_top if offset_from_top is not None and x.size + offset_from_top < 2**64 \
        else 12345
    y, mask = simdrop.dropout(x, keep_prob, seed, stream=stream, offset=offset, generator=generator,
                              threshold_bits=bits, return_mask=True)
    want_y, want_mask = R.dropout(np.ascontiguousarray(x), keep_prob, seed, stream, offset, generator, bits)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert np.array_equal(_bits(y), _bits(want_y))
    assert np.array_equal(mask, want_mask)
    dx = simdrop.dropout_backward(x, keep_prob, seed, stream=stream, offset=offset, generator=generator,
                                  threshold_bits=bits)
    assert np.array_equal(_bits(dx), _bits(want_y))


@st.composite
def shards(draw):
    """A global shape and a block inside it (any split of any dimension)."""
    dims = draw(st.integers(1, 3))
    global_shape = [draw(st.integers(1, 12)) for _ in range(dims)]
    start, size = [], []
    for extent in global_shape:
        first = draw(st.integers(0, extent - 1))
        start.append(first)
        size.append(draw(st.integers(1, extent - first)))
    return global_shape, start, size


@SETTINGS
@given(geometry=shards(), dtype=TORCH_DTYPES, keep_prob=KEEP, seed=U64, stream=st.integers(0, 2**40),
       offset=st.integers(0, 2**40), generator=GENERATORS, bits=WIDTHS, transpose=st.booleans())
def test_torch_shard_equals_its_part_of_the_whole(geometry, dtype, keep_prob, seed, stream, offset, generator, bits,
                                                  transpose):
    global_shape, start, size = geometry
    g = torch.Generator().manual_seed(seed % 1000)
    whole = (torch.randn(global_shape, generator=g, dtype=torch.float64) * 3).to(dtype)
    block = tuple(slice(a, a + n) for a, n in zip(start, size))
    x = whole[block]
    if transpose and x.dim() >= 2:  # the same block, stored transposed
        x = x.transpose(0, 1).contiguous().transpose(0, 1)
    p = 1.0 - keep_prob
    y = sdt.dropout(x, p, seed=seed, stream=stream, offset=offset, generator=generator, threshold_bits=bits,
                    global_shape=global_shape, shard_start=start)
    # The contract on the whole tensor, evaluated independently, then the block cut out.
    decisions = R.keep(whole.numel(), np.float32(1.0 - p), seed, stream, offset, generator, bits)
    if dtype == torch.bfloat16:
        patterns = whole.contiguous().view(torch.int16).numpy().view(np.uint16)
        expected = torch.from_numpy(R.values(patterns, decisions, np.float32(1.0 - p), bits, "bfloat16")
                                    .view(np.int16)).view(torch.bfloat16)
    else:
        name = str(dtype).replace("torch.", "")
        expected = torch.from_numpy(np.ascontiguousarray(
            R.values(whole.numpy(), decisions, np.float32(1.0 - p), bits, name)))
    want = expected.reshape(global_shape)[block]
    assert y.shape == x.shape and y.dtype == dtype
    assert np.array_equal(_bits_t(y), _bits_t(want))


def _bits_t(t):
    t = t.detach().contiguous().reshape(-1)
    if t.dtype in (torch.bfloat16, torch.float16):
        return t.view(torch.int16).numpy().view(np.uint16)
    return t.numpy().view(np.uint8)


@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=2, max_size=5), dtype=TORCH_DTYPES, seed=U64,
       stream=st.integers(0, 2**32), channels_last=st.booleans())
def test_torch_channel_dropout_decides_per_channel(shape, dtype, seed, stream, channels_last):
    x = torch.randn(shape).to(dtype)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    y = sdt.dropout2d(x, 0.5, seed=seed, stream=stream) if x.dim() == 4 else sdt.dropout1d(x, 0.5, seed=seed,
                                                                                            stream=stream) \
        if x.dim() == 3 else sdt.dropout3d(x, 0.5, seed=seed, stream=stream) if x.dim() == 5 else None
    if y is None:  # 2-D: dropout1d takes it as one unbatched sample
        y = sdt.dropout1d(x, 0.5, seed=seed, stream=stream)
        shape = [1] + shape
        x, y = x.unsqueeze(0), y.unsqueeze(0)
    n, c = shape[0], shape[1]
    decisions = torch.from_numpy(R.keep(n * c, np.float32(0.5), seed, stream, 0, "philox", 16)).reshape(n, c)
    scale = float(R.scale32(np.float32(0.5), 16))
    for i in range(n):
        for j in range(c):
            if decisions[i, j]:
                if dtype == torch.float64:
                    want = x[i, j] * R.scale64(np.float32(0.5), 16)
                else:
                    want = (x[i, j].float() * scale).to(dtype)
                assert torch.equal(y[i, j], want), (i, j)
            else:
                assert int(y[i, j].count_nonzero()) == 0
