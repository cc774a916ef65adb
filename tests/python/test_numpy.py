"""simdrop's numpy module, against the contract evaluated literally (reference.py)."""
import re
import threading
import time

import numpy as np
import pytest

import reference as R
import simdrop
from conftest import supported_isas

GENERATORS = ("philox", "xoshiro")
WIDTHS = (32, 16, 8)
DTYPES = (np.float32, np.float64, np.float16)
U64_MAX = (1 << 64) - 1


def packed(a):
    """A C-contiguous copy with a's shape (numpy.ascontiguousarray makes 0-d arrays 1-d)."""
    return np.array(a, order="C", copy=True)


def as_bytes(a):
    return packed(a).reshape(-1).view(np.uint8)


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(as_bytes(a), as_bytes(b))


def sample(n, dtype, seed=0, shape=None):
    values = np.random.default_rng(seed).standard_normal(n) * 3.0
    return values.astype(dtype).reshape(shape if shape is not None else (n,))


# ---------------------------------------------------------------- bit for bit

@pytest.mark.parametrize("generator", GENERATORS)
@pytest.mark.parametrize("bits", WIDTHS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_and_mask_equal_the_contract(generator, bits, dtype):
    # Offsets that are not multiples of 8, 16, 32, 64 or 4096, a call that crosses
    # a xoshiro tile, the top of the index space, seeds and streams with high bits.
    for n, offset, seed, stream, keep_prob in [(1, 0, 0, 0, 0.5), (13, 3, 1, 2, 0.9), (1000, 4090, 2**63 + 5, 2**40 + 7, 0.3),
                                               (9000, 123457, U64_MAX, U64_MAX, 0.75), (777, 2**64 - 777, 42, 1, 0.5)]:
        x = sample(n, dtype, seed=n)
        y, mask = simdrop.dropout(x, keep_prob, seed, stream=stream, offset=offset, generator=generator,
                                  threshold_bits=bits, return_mask=True)
        expected_y, expected_mask = R.dropout(x, keep_prob, seed, stream, offset, generator, bits)
        assert same_bits(y, expected_y), (n, offset)
        assert same_bits(mask, expected_mask), (n, offset)
        assert mask.dtype == np.uint8 and mask.size == (n + 7) // 8
        assert same_bits(simdrop.mask(n, keep_prob, seed, stream=stream, offset=offset, generator=generator,
                                      threshold_bits=bits), expected_mask)


@pytest.mark.parametrize("isa", supported_isas())
def test_every_implementation_gives_the_contract(isa):
    simdrop.set_isa(isa)
    assert simdrop.active_isa() == isa
    for generator in GENERATORS:
        for bits in WIDTHS:
            x = sample(70000, np.float32, seed=bits)  # above the threading cut-over
            y, mask = simdrop.dropout(x, 0.8, 99, stream=3, offset=11, generator=generator, threshold_bits=bits,
                                      return_mask=True)
            expected_y, expected_mask = R.dropout(x, 0.8, 99, 3, 11, generator, bits)
            assert same_bits(y, expected_y) and same_bits(mask, expected_mask)
    assert simdrop.last_call_isa() == isa


def test_fill_u32_is_the_word_stream():
    for generator in GENERATORS:
        for offset in (0, 4093, 2**64 - 300):
            words = simdrop.fill_u32(300, 2**64 - 3, stream=2**33 + 1, offset=offset, generator=generator)
            assert words.dtype == np.uint32
            expected = R.words(np.uint64(offset) + np.arange(300, dtype=np.uint64), 2**64 - 3, 2**33 + 1, generator)
            assert np.array_equal(words, expected)


def test_keep_prob_edges():
    x = sample(4096, np.float32)
    for keep_prob in (0.0, -0.0, 1.0, 1e-30, 2.0 ** -33, 1.0 - 2.0 ** -24, 0.1):
        for bits in WIDTHS:
            y = simdrop.dropout(x, keep_prob, 5, threshold_bits=bits)
            assert same_bits(y, R.dropout(x, keep_prob, 5, threshold_bits=bits)[0]), (keep_prob, bits)
    assert same_bits(simdrop.dropout(x, 1.0, 5), x)
    assert not simdrop.dropout(x, 0.0, 5).view(np.uint32).any()  # +0 everywhere


def test_nan_and_inf_inputs():
    for dtype in DTYPES:
        x = np.array([np.nan, -np.nan, np.inf, -np.inf, -0.0, 1.0] * 50, dtype=dtype)
        y = simdrop.dropout(x, 0.5, 17)
        assert same_bits(y, R.dropout(x, 0.5, 17)[0])
        dropped = ~R.keep(x.size, 0.5, 17)
        assert not as_bytes(y.reshape(-1)[dropped]).any()  # dropped is +0 even for NaN and -0


def test_seed_stream_and_offset_take_int64_bit_patterns():
    x = sample(500, np.float32)
    for value in (1, 2**63, U64_MAX):
        negative = value - (1 << 64) if value >= 2**63 else value
        assert same_bits(simdrop.dropout(x, 0.5, value, stream=value, offset=value % 2**60),
                         simdrop.dropout(x, 0.5, negative, stream=negative, offset=value % 2**60))
    assert same_bits(simdrop.dropout(x, 0.5, np.uint64(U64_MAX)), simdrop.dropout(x, 0.5, -1))


# ---------------------------------------------------------------- backward

@pytest.mark.parametrize("generator", GENERATORS)
@pytest.mark.parametrize("bits", WIDTHS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_regenerates_and_mask_backward_agrees(generator, bits, dtype):
    dy = sample(3001, dtype, seed=4)
    kwargs = dict(stream=9, offset=2**40 + 5, generator=generator, threshold_bits=bits)
    _, mask = simdrop.dropout(sample(3001, dtype), 0.6, 1234, return_mask=True, **kwargs)
    dx = simdrop.dropout_backward(dy, 0.6, 1234, **kwargs)
    assert same_bits(dx, R.dropout(dy, 0.6, 1234, 9, 2**40 + 5, generator, bits)[0])
    assert same_bits(simdrop.dropout_backward(dy, 0.6, 1234, mask=mask, **kwargs), dx)
    # With a mask, seed, stream, offset and generator are not used.
    assert same_bits(simdrop.dropout_backward(dy, 0.6, 0, mask=mask, threshold_bits=bits), dx)


@pytest.mark.parametrize("keep_prob", [0.5, 0.9, 0.0, 1.0])
def test_float16_mask_backward_of_every_bit_pattern(keep_prob):
    # All 65,536 half patterns (NaN, infinities, subnormals), kept and dropped:
    # the bindings' own application of stored bits equals the C library's f16 call.
    patterns = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    dy = np.concatenate([patterns, patterns]).view(np.float16)
    for bits in WIDTHS:
        regenerated = simdrop.dropout_backward(dy, keep_prob, 3, threshold_bits=bits)
        mask = simdrop.mask(dy.size, keep_prob, 3, threshold_bits=bits)
        from_mask = simdrop.dropout_backward(dy, keep_prob, 3, threshold_bits=bits, mask=mask)
        assert same_bits(from_mask, regenerated)
        decisions = R.keep(dy.size, keep_prob, 3, threshold_bits=bits)
        finite = ~np.isnan(dy)
        assert same_bits(regenerated[finite], R.values(dy, decisions, keep_prob, bits, "float16")[finite])


def test_float64_mask_backward_special_values():
    dy = np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324, 1.7e308, -1.0] * 100, dtype=np.float64)
    for keep_prob in (0.3, 0.999):
        mask = simdrop.mask(dy.size, keep_prob, 8)
        assert same_bits(simdrop.dropout_backward(dy, keep_prob, 0, mask=mask),
                         simdrop.dropout_backward(dy, keep_prob, 8))


# ---------------------------------------------------------------- layouts (the index rule)

def strided_cases():
    base = sample(64 * 200, np.float32, seed=8).reshape(64, 200)
    cube = sample(4 * 30 * 50, np.float32, seed=9).reshape(4, 30, 50)
    return {
        "transposed": base.T,
        "column_block_mult8": base[:, 3:67],     # 2-D call, mask inside it
        "column_block_odd": base[:, 3:60],       # 2-D call, mask from its own call
        "every_other_row": base[::2],
        "reversed_rows": base[::-1],
        "reversed_columns": base[:, ::-1],
        "every_third_column": base[:, ::3],
        "fortran": np.asfortranarray(base),
        "cube_sliced": cube[:, 2:25, 5:45],
        "cube_transposed": cube.transpose(1, 0, 2),
        "broadcast": np.broadcast_to(base[0], (5, 200)),
        "scalar": np.float32(2.5) + np.zeros((), np.float32),
    }


@pytest.mark.parametrize("case", sorted(strided_cases()))
@pytest.mark.parametrize("generator", GENERATORS)
def test_strided_views_follow_the_logical_order(case, generator):
    x = strided_cases()[case]
    contiguous = packed(x)
    for bits in WIDTHS:
        kwargs = dict(stream=2, offset=29, generator=generator, threshold_bits=bits)
        y, mask = simdrop.dropout(x, 0.7, 77, return_mask=True, **kwargs)
        y_c, mask_c = simdrop.dropout(contiguous, 0.7, 77, return_mask=True, **kwargs)
        assert y.flags.c_contiguous and y.shape == x.shape
        assert same_bits(y, y_c) and same_bits(mask, mask_c)
        assert same_bits(y_c, R.dropout(contiguous, 0.7, 77, 2, 29, generator, bits)[0])
        assert same_bits(simdrop.dropout_backward(x, 0.7, 77, **kwargs), y_c)
        assert same_bits(simdrop.dropout_backward(x, 0.7, 77, mask=mask, **kwargs), y_c)


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_other_types_and_strided_out(dtype):
    base = sample(40 * 30, dtype, seed=3).reshape(40, 30)
    x = base[5:35:2, 1:29]
    expected = simdrop.dropout(packed(x), 0.5, 6)
    out_base = np.full((x.shape[1], x.shape[0]), 7, dtype=dtype)
    out = out_base.T  # a transposed output
    assert simdrop.dropout(x, 0.5, 6, out=out) is out
    assert same_bits(out, expected)


def test_misaligned_input():
    raw = np.zeros(4 * 1001 + 1, dtype=np.uint8)
    x = raw[1:].view(np.float32)
    assert not x.flags.aligned
    x[...] = sample(1001, np.float32)
    assert same_bits(simdrop.dropout(x, 0.5, 4), simdrop.dropout(x.copy(), 0.5, 4))


def test_in_place_on_views_touches_only_the_view():
    for dtype in DTYPES:
        base = sample(50 * 40, dtype, seed=2).reshape(50, 40)
        for view in (lambda a: a, lambda a: a[:, 5:37], lambda a: a[::3, ::2], lambda a: a.T):
            work = base.copy()
            x = view(work)
            expected = simdrop.dropout(packed(x), 0.4, 12)
            outside = np.ones(work.shape, dtype=bool)
            view(outside)[...] = False
            assert simdrop.dropout(x, 0.4, 12, out=x) is x
            assert same_bits(x, expected)
            assert same_bits(work[outside], base[outside])


def test_out_is_returned_and_written():
    x = sample(1000, np.float32)
    out = np.empty_like(x)
    y, mask = simdrop.dropout(x, 0.5, 1, out=out, return_mask=True)
    assert y is out and same_bits(out, simdrop.dropout(x, 0.5, 1))
    dx = np.empty_like(x)
    assert simdrop.dropout_backward(x, 0.5, 1, out=dx, mask=mask) is dx


def test_array_likes_and_empty_arrays():
    assert same_bits(simdrop.dropout([1.0, 2.0, 3.0], 0.5, 1), simdrop.dropout(np.array([1.0, 2.0, 3.0]), 0.5, 1))
    for dtype in DTYPES:
        y, mask = simdrop.dropout(np.zeros((0, 5), dtype), 0.5, 1, return_mask=True)
        assert y.shape == (0, 5) and y.dtype == dtype and mask.size == 0
    assert simdrop.mask(0, 0.5, 1).size == 0 and simdrop.fill_u32(0, 1).size == 0


# ---------------------------------------------------------------- threads, implementations, the GIL

def test_threads_and_implementations_do_not_change_results():
    x = sample(300_000, np.float32, seed=5)
    expected, expected_mask = simdrop.dropout(x, 0.9, 31, generator="xoshiro", return_mask=True)
    for isa in supported_isas():
        simdrop.set_isa(isa)
        for threads in (1, 2, 3):
            simdrop.set_num_threads(threads)
            assert simdrop.get_num_threads() == threads
            y, mask = simdrop.dropout(x, 0.9, 31, generator="xoshiro", return_mask=True)
            assert same_bits(y, expected) and same_bits(mask, expected_mask), (isa, threads)


def test_switch_errors():
    with pytest.raises(ValueError, match="unknown implementation name"):
        simdrop.set_isa("sse9")
    with pytest.raises(ValueError, match="number of threads must be >= 0"):
        simdrop.set_num_threads(-1)
    assert "scalar" in simdrop.isa_names() and simdrop.isa_supported("scalar")
    assert not simdrop.isa_supported("sse9")


def test_the_gil_is_released_during_a_call():
    # 16M elements on the scalar implementation, one thread: a call of about 50 ms.
    simdrop.set_isa("scalar")
    simdrop.set_num_threads(1)
    x = np.ones(16 << 20, dtype=np.float32)
    out = np.empty_like(x)
    started = threading.Event()

    def work():
        started.set()
        simdrop.dropout(x, 0.5, 1, out=out)

    worker = threading.Thread(target=work)
    worker.start()
    started.wait()
    count = 0
    begin = time.perf_counter()
    while worker.is_alive():
        count += 1
    elapsed = time.perf_counter() - begin
    worker.join()
    # With the GIL held through the call this loop could not run while it lasts.
    assert elapsed < 0.01 or count > 1000, (count, elapsed)


# ---------------------------------------------------------------- bad input: raises, writes nothing

def sentinel_like(x):
    return np.full(x.shape, 12345, dtype=x.dtype)


def check_raises_and_unchanged(error, match, call, out):
    before = out.copy()
    with pytest.raises(error, match=match):
        call()
    assert same_bits(out, before)


@pytest.mark.parametrize("function", ["dropout", "dropout_backward"])
def test_bad_input_raises_and_writes_nothing(function):
    f = getattr(simdrop, function)
    x = sample(100, np.float32)
    out = sentinel_like(x)
    cases = [
        (ValueError, r"keep_prob must be a number in \[0, 1\]", dict(keep_prob=-0.1)),
        (ValueError, r"keep_prob must be a number in \[0, 1\]", dict(keep_prob=1.5)),
        (ValueError, r"keep_prob must be a number in \[0, 1\]", dict(keep_prob=float("nan"))),
        (ValueError, r"keep_prob must be a number in \[0, 1\]", dict(keep_prob=float("inf"))),
        (ValueError, r"keep_prob must be a number in \[0, 1\]", dict(keep_prob=1e300)),
        (ValueError, r"keep_prob must be a number in \[0, 1\]", dict(keep_prob=-1e300)),
        (TypeError, "", dict(keep_prob="0.5")),
        (ValueError, "unknown generator", dict(generator="mt19937")),
        (TypeError, "generator must be a str", dict(generator=1)),
        (ValueError, "threshold_bits", dict(threshold_bits=12)),
        (ValueError, "threshold_bits", dict(threshold_bits=0)),
        (ValueError, "threshold_bits", dict(threshold_bits=-16)),
        (ValueError, "threshold_bits", dict(threshold_bits=2**32 + 16)),
        (ValueError, "threshold_bits", dict(threshold_bits=2**70)),
        (TypeError, "", dict(threshold_bits=16.0)),
        (ValueError, r"global element index overflows", dict(offset=2**64 - 50)),
        (ValueError, r"seed must be an integer in", dict(seed=2**64)),
        (ValueError, r"seed must be an integer in", dict(seed=-2**63 - 1)),
        (TypeError, "", dict(seed=1.5)),
        (ValueError, r"stream must be an integer in", dict(stream=2**65)),
        (ValueError, r"offset must be an integer in", dict(offset=-2**64)),
    ]
    for error, match, change in cases:
        args = dict(keep_prob=0.5, seed=1)
        args.update(change)
        keep_prob, seed = args.pop("keep_prob"), args.pop("seed")
        check_raises_and_unchanged(error, match, lambda: f(x, keep_prob, seed, out=out, **args), out)
    # The input is unchanged when it is the output.
    y = x.copy()
    check_raises_and_unchanged(ValueError, "keep_prob", lambda: f(y, 2.0, 1, out=y), y)


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "bool", "complex64", ">f4", "object", "U3"])
def test_unsupported_dtypes_raise_type_error_naming_them(dtype):
    x = np.zeros(10, dtype=dtype)
    with pytest.raises(TypeError, match="unsupported dtype " + re.escape(str(x.dtype))):
        simdrop.dropout(x, 0.5, 1)
    with pytest.raises(TypeError, match="unsupported dtype"):
        simdrop.dropout_backward(x, 0.5, 1)


def test_bad_out_raises_and_writes_nothing():
    buffer = sample(200, np.float32)
    cases = [
        (lambda work: np.zeros(99, np.float32), "shape"),
        (lambda work: np.zeros((10, 10), np.float32), "shape"),
        (lambda work: np.zeros(100, np.float64), "dtype"),
        (lambda work: work[50:150], "partially overlaps"),
        (lambda work: work[:100][::-1], "partially overlaps"),
        (lambda work: work[1:101], "partially overlaps"),
    ]
    for make_out, match in cases:
        work = buffer.copy()
        x = work[:100]
        out = make_out(work)
        before_work, before_out = work.copy(), out.copy()
        with pytest.raises(ValueError, match=match):
            simdrop.dropout(x, 0.5, 1, out=out)
        assert same_bits(out, before_out) and same_bits(work, before_work)
    x = buffer[:100]
    read_only = np.zeros(100, np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        simdrop.dropout(x, 0.5, 1, out=read_only)
    with pytest.raises(TypeError, match="out must be a numpy.ndarray"):
        simdrop.dropout(x, 0.5, 1, out=[0.0] * 100)


def test_bad_mask_raises_and_writes_nothing():
    dy = sample(100, np.float32)
    out = sentinel_like(dy)
    good = simdrop.mask(100, 0.5, 1)
    check_raises_and_unchanged(ValueError, "bytes", lambda: simdrop.dropout_backward(dy, 0.5, 1, mask=good[:-1], out=out), out)
    check_raises_and_unchanged(TypeError, "uint8", lambda: simdrop.dropout_backward(dy, 0.5, 1, mask=good.astype(np.int8), out=out), out)
    overlapping = np.zeros(200, np.float32)
    with pytest.raises(ValueError, match="overlaps mask"):
        simdrop.dropout_backward(dy, 0.5, 1, mask=overlapping.view(np.uint8)[:13], out=overlapping[:100])


def test_bad_counts_raise():
    for function in (simdrop.mask, simdrop.fill_u32):
        args = (0.5, 1) if function is simdrop.mask else (1,)
        with pytest.raises(ValueError, match="n must be a non-negative integer"):
            function(-1, *args)
        with pytest.raises(TypeError):
            function(2.5, *args)
    with pytest.raises(ValueError, match="global element index overflows"):
        simdrop.mask(100, 0.5, 1, offset=2**64 - 10)
    with pytest.raises(ValueError, match="unknown generator"):
        simdrop.fill_u32(10, 1, generator="aes")


def test_default_width_is_16_bits():
    """Since 0.2.0 every default is Philox with 16-bit thresholds (CHANGELOG.md); 32 bits is asked by name."""
    x = np.linspace(-3, 3, 4099, dtype=np.float32)
    y = simdrop.dropout(x, 0.9, 12345)
    assert same_bits(y, R.dropout(x, 0.9, 12345, threshold_bits=16)[0])
    assert not same_bits(y, R.dropout(x, 0.9, 12345, threshold_bits=32)[0])
    assert same_bits(simdrop.dropout(x, 0.9, 12345, threshold_bits=32), R.dropout(x, 0.9, 12345, threshold_bits=32)[0])
    assert np.array_equal(simdrop.mask(4099, 0.9, 12345), R.mask_bytes(R.keep(4099, 0.9, 12345, threshold_bits=16)))
