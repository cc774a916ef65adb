"""simdrop.torch's functions and the torch.ops.simdrop operators: values against the
contract (reference.py) and the numpy module, layouts, autograd, saved tensors,
threads and bad input."""
import threading

import numpy as np
import pytest
import torch

import reference as R
import simdrop
import simdrop.torch as sdt
from opcalls import ops
from conftest import supported_isas

GENERATORS = ("philox", "xoshiro")
WIDTHS = (32, 16, 8)
TORCH_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)
NUMPY_OF = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16}


def bits_of(t):
    """A tensor's bytes, as a numpy array (bfloat16 has no numpy type)."""
    t = t.detach().contiguous().reshape(-1)
    if t.dtype in (torch.bfloat16, torch.float16):
        return t.view(torch.int16).numpy().view(np.uint16)
    return t.numpy().view(np.uint8)


def same_bits(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(bits_of(a), bits_of(b))


def sample(shape, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * 3).to(dtype)


def expected(x, p, seed, stream=0, offset=0, generator="philox", bits=16):
    """The contract's output for a tensor, computed by reference.py."""
    keep_prob = 1.0 - p
    decisions = R.keep(x.numel(), keep_prob, seed, stream, offset, generator, bits)
    if x.dtype == torch.bfloat16:
        values = R.values(bits_of(x), decisions, keep_prob, bits, "bfloat16")
        return torch.from_numpy(values.view(np.int16)).view(torch.bfloat16).reshape(x.shape)
    values = R.values(x.contiguous().numpy(), decisions, keep_prob, bits, str(x.dtype).replace("torch.", ""))
    return torch.from_numpy(np.ascontiguousarray(values)).reshape(x.shape)


# ---------------------------------------------------------------- values

@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("generator", GENERATORS)
@pytest.mark.parametrize("bits", WIDTHS)
def test_dropout_equals_the_contract(dtype, generator, bits):
    for n, p, seed, stream, offset in [(1, 0.5, 0, 0, 0), (1000, 0.1, 2**64 - 1, 2**63 + 9, 4091),
                                       (5000, 0.7, 12345, 1, 2**64 - 5000)]:
        x = sample(n, dtype, seed=n)
        y = sdt.dropout(x, p, seed=seed, stream=stream, offset=offset, generator=generator, threshold_bits=bits)
        assert y.dtype == dtype and y.shape == x.shape
        assert same_bits(y, expected(x, p, seed, stream, offset, generator, bits)), (n, offset)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_torch_numpy_and_the_contract_agree(dtype):
    x = sample((300, 1000), dtype, seed=3)  # large enough for several threads
    for generator in GENERATORS:
        for bits in WIDTHS:
            y = sdt.dropout(x, 0.25, seed=-5, stream=7, offset=3, generator=generator, threshold_bits=bits)
            y_np, mask = simdrop.dropout(x.numpy(), np.float32(0.75), 2**64 - 5, stream=7, offset=3,
                                         generator=generator, threshold_bits=bits, return_mask=True)
            assert same_bits(y, torch.from_numpy(y_np))
            _, mask_torch = ops.dropout_mask(x, 0.75, -5, 7, 3, generator, bits)
            assert np.array_equal(mask_torch.numpy(), mask)
    small = x[:2, :300]
    assert same_bits(sdt.dropout(small, 0.25, seed=4), expected(small, 0.25, 4))


def test_keep_prob_is_one_minus_p_rounded_to_float32():
    x = sample(4096, torch.float32)
    for p in (0.1, 1.0 / 3.0, 1e-9, 0.999999):
        y = sdt.dropout(x, p, seed=1)
        assert same_bits(y, torch.from_numpy(simdrop.dropout(x.numpy(), np.float32(1.0 - p), 1)))
    assert same_bits(sdt.dropout(x, 0.0, seed=1), x)
    assert not bits_of(sdt.dropout(x, 1.0, seed=1)).any()


@pytest.mark.parametrize("isa", supported_isas())
def test_every_implementation(isa):
    simdrop.set_isa(isa)
    x = sample(70000, torch.bfloat16)
    y = sdt.dropout(x, 0.5, seed=9, generator="xoshiro", threshold_bits=16)
    assert same_bits(y, expected(x, 0.5, 9, generator="xoshiro", bits=16))
    assert sdt._runtime()[:2] == (isa, isa)  # the extension's copy follows simdrop.set_isa


# ---------------------------------------------------------------- layouts

def layouts(dtype):
    base = sample((48, 130), dtype, seed=5)
    image = sample((4, 6, 9, 7), dtype, seed=6)
    return {
        "transposed": base.t(),
        "columns_64": base[:, 3:67],
        "columns_odd": base[:, 3:60],
        "every_other_row": base[::2],
        "every_third_column": base[:, ::3],
        "channels_last": image.contiguous(memory_format=torch.channels_last),
        "permuted": image.permute(2, 0, 3, 1),
        "expanded": base[0].expand(5, 130),
        "scalar": torch.tensor(2.5, dtype=dtype),
    }


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_strided_tensors_follow_the_logical_order(dtype):
    for name, x in layouts(dtype).items():
        for generator in GENERATORS:
            y = sdt.dropout(x, 0.3, seed=77, stream=2, offset=29, generator=generator)
            y_c = sdt.dropout(x.contiguous(), 0.3, seed=77, stream=2, offset=29, generator=generator)
            # The decisions of the logical order, the memory layout of torch's own element-wise result.
            assert same_bits(y, y_c) and y.stride() == (x * 1).stride(), name
            if dtype == torch.float32:
                _, mask = ops.dropout_mask(x, 0.7, 77, 2, 29, generator, 32)
                _, mask_c = ops.dropout_mask(x.contiguous(), 0.7, 77, 2, 29, generator, 32)
                assert torch.equal(mask, mask_c), name


def test_in_place_on_views_touches_only_the_view():
    for dtype in TORCH_DTYPES:
        base = sample((40, 50), dtype, seed=1)
        for view in (lambda a: a, lambda a: a[:, 5:37], lambda a: a[::3, ::2], lambda a: a.t()):
            work = base.clone()
            x = view(work)
            want = sdt.dropout(x.contiguous(), 0.4, seed=12)
            outside = torch.ones(work.shape, dtype=torch.bool)
            view(outside).fill_(False)
            assert sdt.dropout(x, 0.4, inplace=True, seed=12) is x
            assert same_bits(x, want)
            assert np.array_equal(bits_of(work[outside]), bits_of(base[outside]))


# ---------------------------------------------------------------- autograd

@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_backward_regenerates_the_decisions(dtype):
    x = sample((33, 17), dtype, seed=2).requires_grad_()
    g = sample((33, 17), dtype, seed=3)
    y = sdt.dropout(x, 0.4, seed=5, stream=6, offset=7, generator="xoshiro", threshold_bits=16)
    y.backward(g)
    assert same_bits(x.grad, expected(g, 0.4, 5, 6, 7, "xoshiro", 16))


def test_mask_backward_equals_regenerating_backward():
    for dtype in TORCH_DTYPES:
        for bits in WIDTHS:
            x = sample(1001, dtype, seed=8).requires_grad_()
            g = sample(1001, dtype, seed=9)
            y, mask = ops.dropout_mask(x, 0.6, 11, 2, 3, "philox", bits)
            assert mask.dtype == torch.uint8 and mask.numel() == 126 and not mask.requires_grad
            y.backward(g)
            assert same_bits(x.grad, ops.dropout(g, 0.6, 11, 2, 3, "philox", bits))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_mask_backward_of_every_16_bit_pattern(dtype):
    # The extension's own rounding for stored bits equals the C library's bf16/f16 calls.
    patterns = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16).view(dtype)
    grad = torch.cat([patterns, patterns])
    for keep_prob in (0.5, 0.9):
        for bits in WIDTHS:
            _, mask = ops.dropout_mask(torch.zeros_like(grad), keep_prob, 3, 0, 0, "philox", bits)
            from_mask = ops.dropout_backward_mask(grad, mask, keep_prob, bits)
            regenerated = ops.dropout(grad, keep_prob, 3, 0, 0, "philox", bits)
            assert same_bits(from_mask, regenerated)


def test_gradcheck_and_gradgradcheck_in_float64():
    x = sample((6, 5), torch.float64, seed=4).requires_grad_()
    bias = sample(5, torch.float64, seed=5).requires_grad_()
    residual = sample((6, 5), torch.float64, seed=6).requires_grad_()
    image = sample((2, 3, 4), torch.float64, seed=7).requires_grad_()
    functions = [
        (lambda t: sdt.dropout(t, 0.5, seed=3, stream=1), (x,)),
        (lambda t: ops.dropout_mask(t, 0.5, 3, 1, 0, "xoshiro", 16)[0], (x,)),
        (lambda t: ops.dropout2d(t, 0.5, 3, 1, 0, "philox", 32), (image,)),
        (lambda a, b, c: sdt.bias_dropout_add(a, b, c, 0.5, seed=3), (x, bias, residual)),
    ]
    for function, inputs in functions:
        assert torch.autograd.gradcheck(function, inputs)
        assert torch.autograd.gradgradcheck(function, inputs)


# What a regenerating backward saves: the seed and the stream, one int64 each.
SEED_AND_STREAM = 16


def saved_bytes(run):
    """Bytes of the tensors autograd saves while `run` builds its graph."""
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = run()
    return sum(saved), out


def test_saved_tensors_regenerating_and_stored_mask():
    n = 10_000
    x = sample(n, torch.float32).requires_grad_()
    regenerating, _ = saved_bytes(lambda: sdt.dropout(x, 0.5, seed=1))
    assert regenerating == SEED_AND_STREAM  # two int64 scalars: nothing of the input's size
    stored, _ = saved_bytes(lambda: sdt.Dropout(0.5, save_mask=True)(x))
    assert stored == (n + 7) // 8
    pytorch, _ = saved_bytes(lambda: torch.nn.functional.dropout(x, 0.5))
    assert pytorch >= 4 * n  # PyTorch 1.13 saves a float mask of the input's size
    fused, _ = saved_bytes(lambda: sdt.bias_dropout_add(x.view(100, 100), torch.zeros(100), torch.zeros(100, 100), 0.5))
    assert fused == SEED_AND_STREAM


def test_in_place_with_autograd():
    a = sample(500, torch.float32).requires_grad_()
    h = a * 2.0
    y = sdt.dropout(h, 0.5, inplace=True, seed=4)
    assert y is h and h._version > 0
    y.sum().backward()
    assert same_bits(a.grad, expected(torch.full((500,), 2.0), 0.5, 4))
    leaf = sample(10, torch.float32).requires_grad_()
    with pytest.raises(RuntimeError, match="leaf Variable"):
        sdt.dropout(leaf, 0.5, inplace=True, seed=1)


def test_double_backward_reuses_the_decisions():
    x = sample(300, torch.float64, seed=1).requires_grad_()
    y = sdt.dropout(x, 0.5, seed=21)
    (grad,) = torch.autograd.grad((y * y).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(grad.sum(), x)
    keep = torch.from_numpy(R.keep(300, 0.5, 21)).double()
    assert torch.allclose(second, 2 * keep * 4.0)  # d^2/dx^2 of sum((2 x keep)^2) per element: 2 * 2^2


# ---------------------------------------------------------------- functional behaviour

def test_training_false_returns_the_input():
    x = sample(10, torch.float32)
    assert sdt.dropout(x, 0.5, training=False) is x
    b, r = sample(10, torch.float32, 1), sample(10, torch.float32, 2)
    assert torch.equal(sdt.bias_dropout_add(x, b, r, 0.5, training=False), r + (x + b))


def test_seed_none_draws_from_torch_manual_seed():
    x = sample(1000, torch.float32)
    torch.manual_seed(123)
    first = [sdt.dropout(x, 0.5) for _ in range(3)]
    torch.manual_seed(123)
    again = [sdt.dropout(x, 0.5) for _ in range(3)]
    assert all(same_bits(a, b) for a, b in zip(first, again))
    assert not same_bits(first[0], first[1])  # a fresh mask on every call


# ---------------------------------------------------------------- channels and the fused call

def scaled(x, keep_prob, bits=32):
    """The contract's kept value of every element of x."""
    ones = np.ones(x.numel(), dtype=bool)
    if x.dtype == torch.bfloat16:
        values = R.values(bits_of(x), ones, keep_prob, bits, "bfloat16")
        return torch.from_numpy(values.view(np.int16)).view(torch.bfloat16).reshape(x.shape)
    name = str(x.dtype).replace("torch.", "")
    return torch.from_numpy(np.ascontiguousarray(R.values(x.contiguous().numpy(), ones, keep_prob, bits, name))).reshape(x.shape)


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_dropout2d_drops_whole_channels(dtype):
    x = sample((5, 7, 4, 3), dtype, seed=11)
    for generator in GENERATORS:
        for bits in WIDTHS:
            y = ops.dropout2d(x, 0.6, 9, 4, 13, generator, bits)
            # Channel (n, c) is decided at global index offset + n*C + c.
            decisions = torch.from_numpy(R.keep(35, 0.6, 9, 4, 13, generator, bits)).reshape(5, 7, 1, 1)
            want = torch.where(decisions.expand_as(x), scaled(x, 0.6, bits), torch.zeros((), dtype=dtype))
            assert same_bits(y, want)
            last = x.contiguous(memory_format=torch.channels_last)
            y_last = ops.dropout2d(last, 0.6, 9, 4, 13, generator, bits)
            assert y_last.is_contiguous(memory_format=torch.channels_last) and same_bits(y_last, y)
            odd = x.permute(0, 1, 3, 2)
            assert same_bits(ops.dropout2d(odd, 0.6, 9, 4, 13, generator, bits),
                             ops.dropout2d(odd.contiguous(), 0.6, 9, 4, 13, generator, bits))
    flat = sample((6, 10), dtype, seed=12)  # (N, C): spatial size 1 is element-wise dropout
    assert same_bits(ops.dropout2d(flat, 0.5, 1, 0, 0, "philox", 32),
                     ops.dropout(flat, 0.5, 1, 0, 0, "philox", 32))


def test_dropout2d_in_place_and_backward():
    x = sample((3, 4, 5, 5), torch.float32, seed=2).contiguous(memory_format=torch.channels_last)
    want = ops.dropout2d(x, 0.5, 3, 0, 0, "philox", 32)
    work = x.clone()
    assert ops.dropout2d_(work, 0.5, 3, 0, 0, "philox", 32) is None  # in place: the operator returns nothing
    assert same_bits(work, want)
    leaf = x.clone().requires_grad_()
    g = sample((3, 4, 5, 5), torch.float32, seed=3)
    ops.dropout2d(leaf, 0.5, 3, 0, 0, "philox", 32).backward(g)
    assert same_bits(leaf.grad, ops.dropout2d(g, 0.5, 3, 0, 0, "philox", 32))


def test_bias_dropout_add_float32_is_fused():
    x, bias, residual = sample((64, 96), torch.float32, 1), sample(96, torch.float32, 2), sample((64, 96), torch.float32, 3)
    y = sdt.bias_dropout_add(x, bias, residual, 0.3, seed=5, stream=2, offset=64)
    keep = torch.from_numpy(R.keep(x.numel(), 0.7, 5, 2, 64)).reshape(x.shape)
    h = (x + bias).numpy().astype(np.float64)
    fused = torch.from_numpy((h * float(R.scale32(0.7, 16)) + residual.numpy().astype(np.float64)).astype(np.float32))
    assert same_bits(torch.where(keep, residual, y), residual)  # dropped: residual, bit for bit
    assert same_bits(torch.where(keep, y, fused), fused)         # kept: fma(x + bias, s, residual)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
def test_bias_dropout_add_other_types(dtype):
    x, bias, residual = sample((8, 40), dtype, 1), sample(40, dtype, 2), sample((8, 40), dtype, 3)
    y = sdt.bias_dropout_add(x, bias, residual, 0.5, seed=5)
    assert same_bits(y, sdt.dropout(x + bias, 0.5, seed=5) + residual)


def test_bias_dropout_add_gradients():
    x = sample((16, 32), torch.float32, 1).requires_grad_()
    bias = sample(32, torch.float32, 2).requires_grad_()
    residual = sample((16, 32), torch.float32, 3).requires_grad_()
    g = sample((16, 32), torch.float32, 4)
    sdt.bias_dropout_add(x, bias, residual, 0.5, seed=8, offset=32).backward(g)
    dh = sdt.dropout(g, 0.5, seed=8, offset=32)
    assert same_bits(x.grad, dh) and same_bits(residual.grad, g)
    assert torch.allclose(bias.grad, dh.sum(0))


# ---------------------------------------------------------------- threads

def test_calls_use_torch_threads():
    info = torch.__config__.parallel_info()
    assert "OpenMP" in info
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            assert sdt._runtime()[3] == threads
        seen = []
        worker = threading.Thread(target=lambda: seen.append(sdt._runtime()[3]))
        worker.start()
        worker.join()
        assert seen == [torch.get_num_threads()]  # a new thread starts from torch's setting too
        simdrop.set_num_threads(3)
        assert sdt._runtime()[2:] == (3, 3)  # simdrop's own nonzero setting wins, in both copies
    finally:
        torch.set_num_threads(before)


def test_thread_counts_do_not_change_results():
    x = sample(200_000, torch.float32)
    want = sdt.dropout(x, 0.5, seed=3, generator="xoshiro")
    before = torch.get_num_threads()
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            assert same_bits(sdt.dropout(x, 0.5, seed=3, generator="xoshiro"), want)
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------- bad input

def test_bad_input_raises_and_writes_nothing():
    x = sample(100, torch.float32)
    keep = x.clone()
    cases = [
        (ValueError, "dropout probability has to be between 0 and 1", dict(p=-0.1)),
        (ValueError, "dropout probability has to be between 0 and 1", dict(p=1.5)),
        (ValueError, "dropout probability has to be between 0 and 1", dict(p=float("nan"))),
        (ValueError, "unknown generator", dict(generator="mt19937")),
        (TypeError, "generator must be a str", dict(generator=None)),
        (ValueError, "threshold_bits", dict(threshold_bits=12)),
        (ValueError, "threshold_bits", dict(threshold_bits=-1)),
        (ValueError, "threshold_bits", dict(threshold_bits=2**40)),
        (TypeError, "threshold_bits must be an int", dict(threshold_bits=16.0)),
        (ValueError, "global element index overflows", dict(offset=2**64 - 10)),
        (ValueError, "seed must be an integer in", dict(seed=2**64)),
        (ValueError, "stream must be an integer in", dict(stream=-2**63 - 1)),
        (TypeError, "seed must be an integer", dict(seed="1")),
    ]
    for error, match, change in cases:
        args = dict(p=0.5, seed=1)
        args.update(change)
        for inplace in (False, True):
            with pytest.raises(error, match=match):
                sdt.dropout(x, inplace=inplace, **args)
            assert same_bits(x, keep)
    with pytest.raises(TypeError, match="unsupported dtype"):
        sdt.dropout(torch.ones(10, dtype=torch.int32), 0.5)
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        sdt.dropout(np.ones(10, np.float32), 0.5)
    with pytest.raises(ValueError, match="only CPU tensors"):
        sdt.dropout(torch.ones(10, device="meta"), 0.5)
    with pytest.raises(ValueError, match="only CPU tensors"):
        sdt.bias_dropout_add(torch.ones(2, 3), torch.ones(3, device="meta"), torch.ones(2, 3), 0.5)
    with pytest.raises(ValueError, match="element.*share memory"):
        ops.dropout_(torch.ones(3).expand(4, 3), 0.5, 1, 0, 0, "philox", 32)


def test_ops_reject_bad_input_themselves():
    x = sample(64, torch.float32)
    for keep_prob in (1.5, -1e300, 1e300, float("nan")):
        with pytest.raises(ValueError, match="keep_prob must be a number"):
            ops.dropout(x, keep_prob, 1, 0, 0, "philox", 32)
    with pytest.raises(ValueError, match="unknown generator"):
        ops.dropout2d(x.view(4, 4, 4), 0.5, 1, 0, 0, "aes", 32)
    with pytest.raises(TypeError, match="unsupported dtype"):
        ops.dropout_mask(x.to(torch.int64), 0.5, 1, 0, 0, "philox", 32)
    _, mask = ops.dropout_mask(x, 0.5, 1, 0, 0, "philox", 32)
    with pytest.raises(ValueError, match="bytes"):
        ops.dropout_backward_mask(x, mask[:-1], 0.5, 32)
    with pytest.raises(TypeError, match="uint8"):
        ops.dropout_backward_mask(x, mask.to(torch.int32), 0.5, 32)
    with pytest.raises(ValueError, match=r"shape \(N, C, \*\)"):
        ops.dropout2d(x, 0.5, 1, 0, 0, "philox", 32)
    with pytest.raises(ValueError, match="bias must have shape"):
        ops.bias_dropout_add(x.view(8, 8), x[:7], x.view(8, 8), 0.5, 1, 0, 0, "philox", 32)
    with pytest.raises(ValueError, match="residual must have"):
        ops.bias_dropout_add(x.view(8, 8), x[:8], x.view(4, 16), 0.5, 1, 0, 0, "philox", 32)
    with pytest.raises(TypeError, match="one dtype"):
        ops.bias_dropout_add(x.view(8, 8), x[:8].double(), x.view(8, 8), 0.5, 1, 0, 0, "philox", 32)
