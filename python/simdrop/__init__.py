"""simdrop: fused, deterministic inverted dropout on the CPU, for numpy.

    y = simdrop.dropout(x, keep_prob=0.9, seed=1234)
    dx = simdrop.dropout_backward(dy, 0.9, 1234)        # regenerates the same decisions

Whether the element at logical C-order position i of an array is kept is a
pure function of (generator, seed, stream, offset + i, threshold_bits,
keep_prob) -- the stream contract of simdrop's docs/stream.md -- whatever the
array's strides, the instruction set or the number of threads. docs/python.md
documents every call; simdrop.torch (imported on its own, it needs PyTorch)
has the PyTorch ops and modules.

Integers seed, stream and offset are 64-bit: values in [0, 2^64) are taken as
they are and values in [-2^63, 0) as their two's complement (the bits of a
torch int64). `import simdrop` does not import torch.
"""
from . import _simdrop as _ext

__all__ = [
    "dropout", "dropout_backward", "mask", "fill_u32",
    "set_isa", "active_isa", "isa_names", "isa_supported", "last_call_isa",
    "set_num_threads", "get_num_threads",
]

#: The version of the C library in this package ("MAJOR.MINOR.PATCH", simdrop_version()):
#: CMake's project version, the one place it is set.
__version__ = _ext.library_version
version = tuple(int(part) for part in __version__.split("."))


def dropout(x, keep_prob, seed, *, stream=0, offset=0, generator="philox", threshold_bits=16,
            out=None, return_mask=False, global_shape=None, shard_start=None):
    """Inverted dropout of x: kept elements are x * s, dropped ones +0.

    x: float32, float64 or float16 array (anything numpy.asarray takes).
    keep_prob: the probability of keeping an element, in [0, 1] (rounded to float32).
    The element at C-order position i has global index offset + i.
    generator: "philox" or "xoshiro"; threshold_bits: what the C library accepts (8, 16 or 32).
    out: an array of x's shape and dtype to write into (out=x works in place).
    return_mask: also return the mask, np.uint8 of ceil(n/8) bytes, bit i % 8 of
    byte i // 8 set when element i (x's own C order) is kept.
    global_shape, shard_start (both or neither): x is the block of a global
    tensor of shape global_shape whose first element sits at shard_start; its
    element (i_0, ..., i_k) has global index
    offset + sum_j (shard_start[j] + i_j) * gstride[j], gstride the C-order
    strides of global_shape. A shard outside global_shape, or another number
    of dimensions than x's, raises ValueError (docs/distributed.md).
    Returns y, or (y, mask).
    """
    return _ext.dropout(x, keep_prob, seed, stream, offset, generator, threshold_bits, out, bool(return_mask),
                        global_shape, shard_start)


def dropout_backward(dy, keep_prob, seed, *, stream=0, offset=0, generator="philox", threshold_bits=16,
                     mask=None, out=None, global_shape=None, shard_start=None):
    """Gradient of dropout: dx = keep ? dy * s : +0.

    Regenerates the decisions from the forward call's parameters (global_shape
    and shard_start included), or, when mask is given (the forward's np.uint8
    mask of ceil(n/8) bytes), uses its bits; then seed, stream, offset,
    generator, global_shape and shard_start are checked but unused.
    """
    return _ext.dropout_backward(dy, keep_prob, seed, stream, offset, generator, threshold_bits, mask, out,
                                 global_shape, shard_start)


def mask(n, keep_prob, seed, *, stream=0, offset=0, generator="philox", threshold_bits=16):
    """The keep bits of elements offset .. offset + n - 1: np.uint8, ceil(n/8) bytes.

    np.unpackbits(m, bitorder="little")[:n] gives one 0/1 per element.
    """
    return _ext.mask(n, keep_prob, seed, stream, offset, generator, threshold_bits)


def fill_u32(n, seed, *, stream=0, offset=0, generator="philox"):
    """The generator's raw 32-bit words W[offset + i], i < n, as np.uint32."""
    return _ext.fill_u32(n, seed, stream, offset, generator)


# ---- process-wide switches -------------------------------------------------
# simdrop.torch's extension and this module share one C library (libsimdrop.so
# in this package), so a switch set here holds for both.


def set_isa(name):
    """Forces an implementation ("scalar", "avx2", "avx512", "neon"); "auto" returns to detection."""
    _ext.set_isa(name)


def active_isa():
    """The implementation calls use now."""
    return _ext.active_isa()


def last_call_isa():
    """The implementation that ran this thread's last call ("" before the first)."""
    return _ext.last_call_isa()


def isa_names():
    """The implementations compiled in, best first."""
    return list(_ext.isa_names())


def isa_supported(name):
    """Whether this CPU and build can run the implementation `name`."""
    return bool(_ext.isa_supported(name))


def set_num_threads(n):
    """Threads one call may use; 0 (the default) means OpenMP's default for the calling thread."""
    _ext.set_num_threads(n)


def get_num_threads():
    """The value last given to set_num_threads (0: OpenMP's default)."""
    return _ext.get_num_threads()


def __getattr__(name):
    # simdrop.torch without an explicit import (PEP 562); `import simdrop` alone never imports torch.
    if name == "torch":
        import importlib
        return importlib.import_module(".torch", __name__)
    raise AttributeError("module 'simdrop' has no attribute %r" % name)
