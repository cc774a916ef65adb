"""The reference (reference.py) itself: its Philox against Random123's known-answer
vectors, and the contract's derived quantities at their edges."""
import numpy as np

import reference as R


def test_philox_matches_random123_known_answers():
    # Random123's kat_vectors for philox4x32 with 10 rounds: zeros, ones, digits of pi.
    cases = [
        ((0, 0, 0, 0), (0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
        ((0xffffffff,) * 4, (0xffffffff,) * 2, (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
        ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
         (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1)),
    ]
    for ctr, key, expected in cases:
        out = R.philox4x32_10(*ctr, *key)
        assert tuple(int(v) for v in out) == expected


def test_philox_word_layout_is_register_major():
    # Words 0-15 are output word 0 of counters 0-15, words 16-31 output word 1, ...
    seed, stream = 0x0123456789ABCDEF, 0xFEDCBA9876543210
    w = R.philox_words(np.arange(128, dtype=np.uint64), seed, stream)
    for counter in (0, 5, 15, 16, 31):
        block = R.philox4x32_10(counter, 0, stream & 0xFFFFFFFF, stream >> 32, seed & 0xFFFFFFFF, seed >> 32)
        group, lane = divmod(counter, 16)
        for j in range(4):
            assert int(w[64 * group + 16 * j + lane]) == int(block[j])


def test_threshold_and_scale_edges():
    assert R.threshold(1.0, 32) == 1 << 32 and R.threshold(0.0, 16) == 0
    assert R.threshold(0.9, 16) == 58982  # docs/stream.md's example
    assert R.scale32(0.0, 32) == 0.0
    assert R.scale32(1.0, 16) == np.float32(1.0)


def test_sixteen_bit_decisions_use_low_then_high_halves():
    d16 = R.keep(64, 0.5, 7, 0, 0, "philox", 16)
    w = R.philox_words(np.arange(32, dtype=np.uint64), 7, 0).astype(np.int64)
    T = R.threshold(0.5, 16)
    for g in range(64):
        k = (g // 32) * 16 + g % 16
        u = (w[k] >> 16) if (g // 16) % 2 else (w[k] & 0xFFFF)
        assert bool(d16[g]) == (u < T)


def test_bf16_rounding_reference():
    assert int(R.f32_to_bf16(np.float32(1.0))) == 0x3F80
    # 1 + 2^-8 is halfway between two bfloat16 values: ties to even (down).
    assert int(R.f32_to_bf16(np.float32(1.0 + 2.0 ** -8))) == 0x3F80
    assert int(R.f32_to_bf16(np.float32(1.0 + 3 * 2.0 ** -8))) == 0x3F82
    assert int(R.f32_to_bf16(np.array([0x7F800001], dtype=np.uint32).view(np.float32))[0]) == 0x7FC0
