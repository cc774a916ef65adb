#!/usr/bin/env python3
"""The numpy one-liner of docs/quality.md gives `simdrop hash`'s digest: the
decisions are rebuilt in numpy from `simdrop stream`'s raw words with the
formulas of docs/stream.md (a third implementation of the contract, beside the
library's and the tests' oracle), packed with np.packbits(..., bitorder="little")
and hashed with hashlib. Exits 77 (skipped) where numpy is not installed.

usage: check_numpy_hash.py <the simdrop command and its leading arguments>
"""
import hashlib
import subprocess
import sys

try:
    import numpy as np
except ImportError:
    print("check_numpy_hash: skipped: numpy is not installed for " + sys.executable)
    sys.exit(77)

TOOL = sys.argv[1:]


def words(generator, seed, stream, first, count):
    out = subprocess.run(TOOL + ["stream", "--generator", generator, "--seed", str(seed), "--stream", str(stream),
                                 "--offset", str(first), "--count", str(count)], check=True, stdout=subprocess.PIPE)
    return np.frombuffer(out.stdout, dtype="<u4")


def decisions(n, keep_prob, generator, bits, seed, stream, offset):
    """keep[i] of global element offset + i, as docs/stream.md defines it."""
    threshold = np.floor(np.float64(np.float32(keep_prob)) * 2.0 ** bits + 0.5)
    g = np.uint64(offset) + np.arange(n, dtype=np.uint64)
    per_word = 32 // bits  # elements one word decides: 1, 2 or 4, in blocks of 16
    k = (g // np.uint64(16 * per_word)) * np.uint64(16) + g % np.uint64(16)
    part = (g // np.uint64(16)) % np.uint64(per_word)  # which half (16-bit) or byte (8-bit) of the word
    first = int(k.min())
    w = words(generator, seed, stream, first, int(k.max()) - first + 1)[(k - np.uint64(first)).astype(np.int64)]
    u = (w.astype(np.uint64) >> (part * np.uint64(bits))) & np.uint64((1 << bits) - 1)
    return u < threshold


def main():
    checked = 0
    for generator in ("philox", "xoshiro"):
        for bits in (32, 16, 8):
            for n, offset, keep_prob in ((10000, 0, 0.3), (4099, (1 << 32) - 777, 0.9)):
                seed, stream = 0x5eed, 3
                keep = decisions(n, keep_prob, generator, bits, seed, stream, offset)
                # The one-liner: a boolean keep array in element order -> the hash.
                mine = hashlib.sha256(np.packbits(keep, bitorder="little").tobytes()).hexdigest()
                theirs = subprocess.run(TOOL + ["hash", "--n", str(n), "--keep-prob", str(keep_prob),
                                                "--generator", generator, "--threshold-bits", str(bits),
                                                "--seed", str(seed), "--stream", str(stream), "--offset", str(offset)],
                                        check=True, stdout=subprocess.PIPE).stdout.decode().strip()
                if mine != theirs:
                    print("check_numpy_hash: %s %d-bit n=%d offset=%d: numpy %s, simdrop hash %s"
                          % (generator, bits, n, offset, mine, theirs), file=sys.stderr)
                    sys.exit(1)
                checked += 1
    print("check_numpy_hash: %d hashes agree" % checked)


if __name__ == "__main__":
    main()
