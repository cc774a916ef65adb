"""torch.ops.simdrop for the tests, with integer seeds and streams.

The operators take seed and stream as one-element int64 tensors (graph values
under torch.compile); many tests call them with integer literals, which this
wrapper turns into such tensors (bits of [0, 2^64) as int64) before calling the
real operator. Tensors pass through unchanged.
"""
import torch

# Where each seeded operator's seed argument sits (stream follows it).
_SEED_AT = {"dropout": 2, "dropout_": 2, "dropout_mask": 2, "dropout_mask_": 2,
            "dropout2d": 2, "dropout2d_": 2, "bias_dropout_add": 4}


def as_tensor(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return torch.tensor(value - (1 << 64) if value >= (1 << 63) else value, dtype=torch.int64)
    return value


class _Ops:
    def __getattr__(self, name):
        op = getattr(torch.ops.simdrop, name)
        at = _SEED_AT.get(name)
        if at is None:
            return op

        def call(*args, **kwargs):
            args = list(args)
            for j in (at, at + 1):
                if j < len(args):
                    args[j] = as_tensor(args[j])
            for key in ("seed", "stream"):
                if key in kwargs:
                    kwargs[key] = as_tensor(kwargs[key])
            return op(*args, **kwargs)
        return call


ops = _Ops()
