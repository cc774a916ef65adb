"""torch.library.opcheck on every simdrop operator (issue 23): the schema (mutation and
aliasing annotations), the autograd registration, the fake (meta) kernels against the
real ones, and AOT dispatch with dynamic shapes -- every dtype, the in-place variants,
with and without mask outputs, with shard arguments."""
import pytest
import torch

import simdrop.torch as sdt  # noqa: F401  (registers torch.ops.simdrop)

DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]
OPS = torch.ops.simdrop


def _scalar(value):
    return torch.tensor(value, dtype=torch.int64)


def _sample(shape, dtype, seed, requires_grad=False):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator).to(dtype).requires_grad_(requires_grad)


def _options(bits=16, generator="philox", placement=None):
    shape, start = placement if placement else (None, None)
    return (5, generator, bits, shape, start)


# (global_shape, shard_start) of a (6, 10) block: a column shard of a (12, 40) tensor.
SHARD = ([12, 40], [3, 17])


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("placed", [False, True], ids=["unplaced", "shard"])
@pytest.mark.parametrize("generator,bits", [("philox", 16), ("xoshiro", 8), ("philox", 32)])
def test_elementwise_operators(dtype, placed, generator, bits):
    options = _options(bits, generator, SHARD if placed else None)
    seed, stream = _scalar(-7), _scalar(3)
    x = _sample((6, 10), dtype, 1, requires_grad=True)
    torch.library.opcheck(OPS.dropout.default, (x, 0.7, seed, stream) + options)
    torch.library.opcheck(OPS.dropout_mask.default, (x, 0.7, seed, stream) + options)
    # In place: an input that autograd may write into (not a leaf that requires grad).
    torch.library.opcheck(OPS.dropout_.default, (_sample((6, 10), dtype, 2), 0.7, seed, stream) + options)
    torch.library.opcheck(OPS.dropout_mask_.default, (_sample((6, 10), dtype, 3), 0.7, seed, stream) + options)
    transposed = _sample((10, 6), dtype, 4, requires_grad=True).t()
    torch.library.opcheck(OPS.dropout.default, (transposed, 0.7, seed, stream) + options)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_backward_from_mask(dtype):
    x = _sample((5, 13), dtype, 5)
    _, mask = OPS.dropout_mask(x, 0.6, _scalar(1), _scalar(2))
    grad = _sample((5, 13), dtype, 6, requires_grad=True)
    torch.library.opcheck(OPS.dropout_backward_mask.default, (grad, mask, 0.6, 16))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("placed", [False, True], ids=["unplaced", "shard"])
def test_channel_operators(dtype, placed):
    placement = ([4, 6, 5, 5], [1, 2, 0, 0]) if placed else None
    options = _options(16, "philox", placement)
    seed, stream = _scalar(11), _scalar(0)
    x = _sample((3, 4, 5, 5), dtype, 7, requires_grad=True)
    torch.library.opcheck(OPS.dropout2d.default, (x, 0.5, seed, stream) + options)
    channels_last = _sample((3, 4, 5, 5), dtype, 8).contiguous(memory_format=torch.channels_last)
    torch.library.opcheck(OPS.dropout2d.default, (channels_last.requires_grad_(), 0.5, seed, stream) + options)
    torch.library.opcheck(OPS.dropout2d_.default, (_sample((3, 4, 5, 5), dtype, 9), 0.5, seed, stream) + options)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("placed", [False, True], ids=["unplaced", "shard"])
def test_bias_dropout_add(dtype, placed):
    options = _options(16, "philox", SHARD if placed else None)
    x = _sample((6, 10), dtype, 10, requires_grad=True)
    bias = _sample((10,), dtype, 11, requires_grad=True)
    residual = _sample((6, 10), dtype, 12, requires_grad=True)
    torch.library.opcheck(OPS.bias_dropout_add.default, (x, bias, residual, 0.8, _scalar(4), _scalar(9)) + options)


def test_stream_bookkeeping_operators():
    """The modules' private bookkeeping: schema (it mutates step and the ledger, and says so) and fake kernel."""
    step = torch.tensor(3, dtype=torch.int64)
    ledger = torch.zeros(9, 3, dtype=torch.int64)
    torch.library.opcheck(OPS._claim_stream.default, (step, ledger, [torch.ones(4)]),
                          test_utils=("test_schema", "test_faketensor"))
