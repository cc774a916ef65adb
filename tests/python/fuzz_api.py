"""atheris harness over simdrop's Python argument handling (issue 23).

Each input drives one call of the numpy API (dropout, dropout_backward, mask,
fill_u32) or of simdrop.torch (dropout, dropout1d/2d/3d, bias_dropout_add, the
modules, the raw operators) with arguments decoded from the fuzzer's bytes:
shapes, strides, dtypes (valid and not), keep_prob / p (NaN, infinities, out of
range), 64-bit values beyond their range, generator names, widths, out= and
mask= arrays of wrong shape or dtype, placements (global_shape / shard_start),
in-place calls. What must hold, for every input:

  - nothing crashes (a crash or sanitizer report is a finding);
  - an error is ValueError or TypeError (MemoryError for an output larger than memory,
    numpy's own; RuntimeError only where torch's own
    dispatcher refuses the arguments before simdrop sees them, or for torch's
    own rules: an in-place call on a leaf that requires grad);
  - a call that raises writes nothing: out=, an in-place input and a module's
    step are unchanged.

    python tests/python/fuzz_api.py -runs=2000 -seed=1 <corpus folder>   # what CI runs
    python tests/python/fuzz_api.py -atheris_runs=1000000 <corpus>      # a campaign

A finding is an uncaught exception (atheris prints the input and saves crash-*).
"""
import sys
import warnings

import atheris

with atheris.instrument_imports(include=["simdrop"]):
    import numpy as np
    import torch

    import simdrop
    import simdrop.torch as sdt

warnings.simplefilter("ignore")
torch.set_num_threads(1)

# Each list: the values a call accepts, then values it must refuse (drawn a quarter of the time).
NUMPY_DTYPES = ([np.float32, np.float64, np.float16], [np.int32, np.uint8, np.complex64, np.bool_])
TORCH_DTYPES = ([torch.float32, torch.float64, torch.bfloat16, torch.float16], [torch.int64, torch.uint8, torch.bool])
SPECIAL_FLOATS = ([0.0, 1.0, 0.5, 0.1, 0.9, -0.0, 1e-30], [1.0000001, float("nan"), float("inf"), -float("inf"),
                                                         2.0, 1e300, -1e-30])
SPECIAL_INTS = ([0, 1, 2**63 - 1, 2**63, 2**64 - 1, -1, -2**63, 7], [2**64, -2**63 - 1, 2**100])
GENERATOR_NAMES = (["philox", "xoshiro"], ["", "PHILOX", "aes", 3, None])
WIDTHS = ([8, 16, 32], [0, 12, 64, -8, 2**40, 16.0, True, "16"])

# Torch raises these for its own rules (the dispatcher's argument parsing, autograd's in-place rules).
TORCH_OWN = (RuntimeError,)  # RankError is a ValueError first
ALLOWED = (ValueError, TypeError)
# mask(n) and fill_u32(n) with an n whose output cannot exist in memory (2^60 bytes): numpy's own MemoryError.
NUMPY_ALLOWED = ALLOWED + (MemoryError,)


class Decoder:
    def __init__(self, data):
        self.fdp = atheris.FuzzedDataProvider(data)

    def pick(self, items):
        if isinstance(items, tuple):  # (accepted, refused): mostly accepted values
            items = items[0] if self.fdp.ConsumeIntInRange(0, 3) else items[1]
        return items[self.fdp.ConsumeIntInRange(0, len(items) - 1)]

    def small(self, low, high):
        return self.fdp.ConsumeIntInRange(low, high)

    def flag(self):
        return self.fdp.ConsumeBool()

    def number(self):
        choice = self.small(0, 3)
        if choice == 0:
            return self.fdp.ConsumeFloat()
        return self.pick(SPECIAL_FLOATS) if choice == 1 else self.fdp.ConsumeProbability()

    def integer(self):
        return self.pick(SPECIAL_INTS) if self.flag() else self.fdp.ConsumeIntInRange(-2**64, 2**65)

    def shape(self, max_dims=4):
        return tuple(self.small(0, 7) for _ in range(self.small(0, max_dims)))

    def placement(self, dims):
        choice = self.small(0, 3)
        if choice == 0:
            return None, None
        global_shape = [self.small(-1, 12) for _ in range(dims + self.small(-1, 1) * (choice == 3))]
        shard_start = [self.small(-1 if self.small(0, 3) == 0 else 0, 6) for _ in range(dims)]
        if choice == 2:
            return global_shape, None
        return global_shape, shard_start


def _numpy_array(d):
    shape = d.shape()
    dtype = d.pick(NUMPY_DTYPES)
    base = np.arange(int(np.prod(shape, dtype=np.int64)) if shape else 1, dtype=np.float64).reshape(shape or ())
    with np.errstate(all="ignore"):
        x = base.astype(dtype)
    if x.ndim and d.flag():
        x = x[tuple(slice(None, None, d.pick([1, 2, -1])) for _ in range(x.ndim))]
    if x.ndim >= 2 and d.flag():
        x = x.T
    return x


def _expect_unchanged(before, after, what):
    for a, b in zip(before, after):
        if a is not None and not np.array_equal(a, b, equal_nan=True):
            raise AssertionError("a call that raised wrote into %s" % what)


def numpy_call(d):
    which = d.small(0, 3)
    x = _numpy_array(d)
    keep_prob = d.number()
    seed, stream, offset = d.integer(), d.integer() if d.flag() else 0, d.integer() if d.flag() else 0
    generator = d.pick(GENERATOR_NAMES)
    bits = d.pick(WIDTHS)
    global_shape, shard_start = d.placement(x.ndim)
    out = None
    if d.flag():
        out = x.copy() if d.flag() else np.zeros(d.shape(), dtype=d.pick(NUMPY_DTYPES))
        if d.flag():
            out = x  # in place
    snapshot = (None if out is None else out.copy(),)
    try:
        if which == 0:
            simdrop.dropout(x, keep_prob, seed, stream=stream, offset=offset, generator=generator,
                            threshold_bits=bits, out=out, return_mask=d.flag(), global_shape=global_shape,
                            shard_start=shard_start)
        elif which == 1:
            mask = None
            if d.flag():
                mask = np.zeros(d.small(0, 40), dtype=d.pick([np.uint8, np.int32]))
            simdrop.dropout_backward(x, keep_prob, seed, stream=stream, offset=offset, generator=generator,
                                     threshold_bits=bits, mask=mask, out=out, global_shape=global_shape,
                                     shard_start=shard_start)
        elif which == 2:
            simdrop.mask(d.integer() if d.flag() else d.small(0, 100), keep_prob, seed, stream=stream,
                         offset=offset, generator=generator, threshold_bits=bits)
        else:
            simdrop.fill_u32(d.integer() if d.flag() else d.small(0, 100), seed, stream=stream, offset=offset,
                             generator=generator)
    except NUMPY_ALLOWED:
        _expect_unchanged(snapshot, (out,), "out")


def _torch_tensor(d, dtype=None):
    shape = d.shape(5)
    dtype = dtype or d.pick(TORCH_DTYPES)
    numel = 1
    for n in shape:
        numel *= n
    x = torch.arange(numel, dtype=torch.float64).reshape(shape).to(dtype)
    if x.dim() >= 2 and d.flag():
        x = x.transpose(0, x.dim() - 1)
    if x.dim() >= 1 and d.flag():
        x = x[..., ::2]
    if x.dim() == 4 and d.flag():
        x = x.contiguous(memory_format=torch.channels_last)
    if d.flag() and x.is_floating_point():
        x = x.clone().requires_grad_()
    return x


def torch_call(d):
    which = d.small(0, 6)
    x = _torch_tensor(d)
    p = d.number()
    seed = d.integer() if d.flag() else None
    stream = d.integer() if d.flag() else None
    offset = d.integer() if d.flag() else 0
    generator = d.pick(GENERATOR_NAMES)
    bits = d.pick(WIDTHS)
    inplace = d.flag()
    global_shape, shard_start = d.placement(x.dim())
    options = dict(seed=seed, stream=stream, offset=offset, generator=generator, threshold_bits=bits,
                   global_shape=global_shape, shard_start=shard_start)
    target = x.detach().clone()
    try:
        if which == 0:
            sdt.dropout(x, p, True, inplace, **options)
        elif which in (1, 2, 3):
            function = (sdt.dropout1d, sdt.dropout2d, sdt.dropout3d)[which - 1]
            function(x, p, True, inplace, **options)
        elif which == 4:
            bias = _torch_tensor(d, x.dtype if d.flag() else None)
            residual = _torch_tensor(d, x.dtype if d.flag() else None)
            sdt.bias_dropout_add(x, bias, residual, p, True, **options)
        elif which == 5:
            cls = d.pick([sdt.Dropout, sdt.Dropout1d, sdt.Dropout2d, sdt.Dropout3d])
            module = cls(p, inplace, seed=seed, generator=generator, threshold_bits=bits,
                         global_shape=global_shape, shard_start=shard_start)
            step = int(module.step)
            try:
                module(x)
            except ALLOWED + TORCH_OWN:
                if int(module.step) != step:
                    raise AssertionError("a module call that raised advanced step")
                raise
        else:
            op = d.pick(["dropout", "dropout_", "dropout2d", "dropout2d_", "dropout_mask"])
            seed_t = torch.tensor(d.small(-5, 5), dtype=d.pick([torch.int64, torch.int32]))
            getattr(torch.ops.simdrop, op)(x, p, seed_t, torch.tensor(d.small(0, 3)), d.small(0, 9), generator,
                                           bits, global_shape, shard_start)
    except ALLOWED + TORCH_OWN as error:
        if not isinstance(error, ALLOWED) and not _torch_own_rule(error):
            raise
        if inplace and not torch.equal(torch.nan_to_num(x.detach()), torch.nan_to_num(target)):
            raise AssertionError("an in-place call that raised wrote into its input") from error


def _torch_own_rule(error):
    text = str(error)
    return any(rule in text for rule in (
        "Expected a value of type",            # the dispatcher's argument parsing (the raw operators)
        "a leaf Variable that requires grad",  # autograd: in place on a leaf
        "is being used in an in-place operation",
        "doesn't have storage",
        "simdrop: seed must", "simdrop: stream must",  # TORCH_CHECK_TYPE/VALUE inside a raw operator are
                                                        # TypeError/ValueError; this covers older builds
        "overflow",
    ))


def TestOneInput(data):
    d = Decoder(data)
    if d.flag():
        numpy_call(d)
    else:
        torch_call(d)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
