"""The stream contract of docs/stream.md, evaluated literally in numpy.

The Python tests compare simdrop's numpy and PyTorch bindings with this module,
which takes nothing from simdrop: its own Philox4x32-10 (checked against
Random123's known-answer vectors in test_reference.py), its own xoshiro128++,
word-index arithmetic, thresholds, scales, value rounding and mask bits.
Vectorised over elements with uint64 arithmetic, so a few hundred thousand
elements take well under a second; meant for small and medium sizes.
"""
import numpy as np

MASK32 = np.uint64(0xFFFFFFFF)
PHILOX_M0 = np.uint64(0xD2511F53)
PHILOX_M1 = np.uint64(0xCD9E8D57)
PHILOX_W0 = np.uint64(0x9E3779B9)
PHILOX_W1 = np.uint64(0xBB67AE85)


def _u64(value):
    """A Python int in [-2^63, 2^64) as the uint64 with the same bits."""
    return np.uint64(value % (1 << 64))


def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Random123's philox4x32 with 10 rounds, on arrays of 32-bit values held in uint64."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) for c in (c0, c1, c2, c3))
    k0 = np.asarray(k0, dtype=np.uint64)
    k1 = np.asarray(k1, dtype=np.uint64)
    for _ in range(10):
        product_a = PHILOX_M0 * c0  # < 2^64: both factors are below 2^32
        product_b = PHILOX_M1 * c2
        c0, c1, c2, c3 = ((product_b >> np.uint64(32)) ^ c1 ^ k0, product_b & MASK32,
                          (product_a >> np.uint64(32)) ^ c3 ^ k1, product_a & MASK32)
        k0 = (k0 + PHILOX_W0) & MASK32
        k1 = (k1 + PHILOX_W1) & MASK32
    return c0, c1, c2, c3


def _philox_block(counter, stream, seed):
    """The contract's Philox call: ctr = {lo(counter), hi(counter), lo(stream), hi(stream)}, key = {lo(seed), hi(seed)}."""
    counter = np.asarray(counter, dtype=np.uint64)
    stream, seed = _u64(stream), _u64(seed)
    zeros = np.zeros_like(counter)
    return philox4x32_10(counter & MASK32, counter >> np.uint64(32),
                         zeros + (stream & MASK32), zeros + (stream >> np.uint64(32)),
                         zeros + (seed & MASK32), zeros + (seed >> np.uint64(32)))


def philox_words(k, seed, stream):
    """W[k] of SIMDROP_PHILOX4X32_10 for an array of word indices k (uint64)."""
    k = np.asarray(k, dtype=np.uint64)
    group = k // np.uint64(64)
    r = k % np.uint64(64)
    j = r // np.uint64(16)
    q = np.uint64(16) * group + r % np.uint64(16)
    words = _philox_block(q, stream, seed)
    out = np.choose(j.astype(np.int64), words)
    return out.astype(np.uint32)


def _rotl(x, r):
    return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & MASK32


def xoshiro_words(k, seed, stream):
    """W[k] of SIMDROP_XOSHIRO128PP: 16 xoshiro128++ lanes per 4096-word tile, seeded by Philox."""
    k = np.asarray(k, dtype=np.uint64)
    if k.size == 0:
        return np.zeros(0, dtype=np.uint32)
    t = k // np.uint64(4096)
    r = k % np.uint64(4096)
    lane = (r % np.uint64(16)).astype(np.int64)
    step = (r // np.uint64(16)).astype(np.int64)
    tiles, tile_of = np.unique(t, return_inverse=True)
    m = (np.uint64(1 << 63) + np.uint64(16) * tiles[:, None] + np.arange(16, dtype=np.uint64)[None, :])
    s0, s1, s2, s3 = _philox_block(m, stream, seed)
    zero = (s0 | s1 | s2 | s3) == 0
    s0 = np.where(zero, np.uint64(1), s0)
    last = int(step.max())
    outputs = np.empty((last + 1,) + s0.shape, dtype=np.uint64)
    for n in range(last + 1):
        outputs[n] = (_rotl((s0 + s3) & MASK32, 7) + s0) & MASK32
        tmp = (s1 << np.uint64(9)) & MASK32
        s2 = s2 ^ s0
        s3 = s3 ^ s1
        s1 = s1 ^ s2
        s0 = s0 ^ s3
        s2 = s2 ^ tmp
        s3 = _rotl(s3, 11)
    return outputs[step, tile_of, lane].astype(np.uint32)


def words(k, seed, stream, generator):
    if generator == "philox":
        return philox_words(k, seed, stream)
    if generator == "xoshiro":
        return xoshiro_words(k, seed, stream)
    raise ValueError(generator)


def threshold(keep_prob, bits):
    """T = floor(keep_prob * 2^bits + 0.5), keep_prob rounded to float32, computed in double."""
    return int(np.floor(float(np.float32(keep_prob)) * 2.0 ** bits + 0.5))


def keep(n, keep_prob, seed, stream=0, offset=0, generator="philox", threshold_bits=16):
    """Decisions of global indices offset .. offset + n - 1, as a bool array."""
    g = np.uint64(offset % (1 << 64)) + np.arange(n, dtype=np.uint64)
    T = threshold(keep_prob, threshold_bits)
    if threshold_bits == 32:
        return words(g, seed, stream, generator).astype(np.uint64) < np.uint64(T)
    if threshold_bits == 16:
        k = (g // np.uint64(32)) * np.uint64(16) + g % np.uint64(16)
        high = (g // np.uint64(16)) % np.uint64(2) == 1
        w = words(k, seed, stream, generator).astype(np.uint64)
        u = np.where(high, w >> np.uint64(16), w & np.uint64(0xFFFF))
        return u < np.uint64(T)
    if threshold_bits == 8:
        # k = (g / 64) * 16 + g % 16, b = (g / 16) % 4, u = (W[k] >> (8*b)) & 0xFF.
        k = (g // np.uint64(64)) * np.uint64(16) + g % np.uint64(16)
        b = (g // np.uint64(16)) % np.uint64(4)
        w = words(k, seed, stream, generator).astype(np.uint64)
        u = (w >> (np.uint64(8) * b)) & np.uint64(0xFF)
        return u < np.uint64(T)
    raise ValueError("threshold_bits %r" % threshold_bits)


def mask_bytes(decisions):
    """Bit i % 8 of byte i // 8 set when element i is kept; unused bits 0."""
    return np.packbits(np.asarray(decisions, dtype=bool), bitorder="little")


def scale32(keep_prob, bits):
    T = threshold(keep_prob, bits)
    return np.float32(0.0) if T == 0 else np.float32(2.0 ** bits / T)


def scale64(keep_prob, bits):
    T = threshold(keep_prob, bits)
    return 0.0 if T == 0 else 2.0 ** bits / T


def bf16_to_f32(bits16):
    return (np.asarray(bits16, dtype=np.uint32) << np.uint32(16)).view(np.float32)


def f32_to_bf16(values):
    """Round to nearest even; NaN made quiet with its sign and top payload bits."""
    u = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((u + np.uint64(0x7FFF) + ((u >> np.uint64(16)) & np.uint64(1))) >> np.uint64(16))
    nan = (u & np.uint64(0x7FFFFFFF)) > np.uint64(0x7F800000)
    quiet = (u >> np.uint64(16)) | np.uint64(0x0040)
    return np.where(nan, quiet, rounded).astype(np.uint16)


def values(x, decisions, keep_prob, threshold_bits, dtype):
    """The contract's outputs for stored decisions. x: float32/float64/float16 arrays, or
    uint16 bit patterns for dtype "bfloat16". Dropped elements are +0."""
    decisions = np.asarray(decisions, dtype=bool).reshape(np.shape(x))
    if dtype == "float64":
        kept = np.asarray(x, dtype=np.float64) * scale64(keep_prob, threshold_bits)
        return np.where(decisions, kept, 0.0)
    s = scale32(keep_prob, threshold_bits)
    with np.errstate(all="ignore"):
        if dtype == "float32":
            return np.where(decisions, np.asarray(x, dtype=np.float32) * s, np.float32(0.0)).astype(np.float32)
        if dtype == "float16":
            kept = (np.asarray(x, dtype=np.float16).astype(np.float32) * s).astype(np.float16)
            return np.where(decisions, kept, np.float16(0.0)).astype(np.float16)
        if dtype == "bfloat16":
            kept = f32_to_bf16(bf16_to_f32(x) * s)
            return np.where(decisions, kept, np.uint16(0)).astype(np.uint16)
    raise ValueError(dtype)


def dropout(x, keep_prob, seed, stream=0, offset=0, generator="philox", threshold_bits=16, dtype=None):
    """Forward of the contract on x's logical C order; returns (y, mask)."""
    x = np.asarray(x)
    dtype = dtype or x.dtype.name
    d = keep(x.size, keep_prob, seed, stream, offset, generator, threshold_bits)
    return values(x, d.reshape(x.shape), keep_prob, threshold_bits, dtype), mask_bytes(d)
