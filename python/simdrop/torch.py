"""simdrop.torch: simdrop's dropout for PyTorch (CPU tensors).

    import simdrop.torch as sdt
    y = sdt.dropout(x, p=0.1)                  # like torch.nn.functional.dropout
    layer = sdt.Dropout(p=0.1)                 # like torch.nn.Dropout; scriptable
    h = sdt.bias_dropout_add(x, bias, residual, p=0.1)

`p` is the drop probability, as in torch.nn.functional.dropout; the keep
probability handed to the C library is 1 - p, computed in double and rounded
to float32. The element at logical C-order position i of a tensor has global
index offset + i (whatever its strides), so the decisions are exactly those of
simdrop.dropout(x.numpy(), 1 - p, seed, stream=stream, offset=offset, ...).

A shard of a larger tensor (data, tensor or sequence parallelism) passes
global_shape= and shard_start= and gets exactly its part of the whole
tensor's decisions (docs/distributed.md).

Importing this module loads the extension _torch_ops.so, which registers the
operators torch.ops.simdrop.* (with CPU and autograd kernels), so import it
before torch.jit.load of a model that uses them. docs/python.md documents the
ops, the seed and step rules and what each call accepts.
"""
import copy
import operator
import os
from typing import List, Optional, Tuple

import torch

import simdrop as _simdrop

__all__ = ["dropout", "Dropout", "Dropout2d", "bias_dropout_add"]

torch.ops.load_library(os.path.join(os.path.dirname(os.path.abspath(__file__)), "_torch_ops.so"))
_ops = torch.ops.simdrop


# ---- the process-wide switches of the extension's copy of the C library ----------
def _apply_switch(kind, value):
    if kind == "isa":
        _ops._set_isa(value)
    else:
        _ops._set_num_threads(int(value))


_simdrop._switch_listeners.append(_apply_switch)
if _simdrop._forced_isa is not None:
    _ops._set_isa(_simdrop._forced_isa)
if _simdrop.get_num_threads() != 0:
    _ops._set_num_threads(_simdrop.get_num_threads())


def _runtime():
    """The extension's view: (active implementation, this thread's last call's
    implementation, simdrop.get_num_threads(), threads a call from this thread uses)."""
    return tuple(_ops._runtime())


# ---- arguments --------------------------------------------------------------------
_TWO_64 = 1 << 64
_TWO_63 = 1 << 63


def _int64_bits(value, name):
    """A 64-bit unsigned value (or a negative int64) as the int64 with the same bits."""
    if type(value) is int and -_TWO_63 <= value < _TWO_63:
        return value
    if isinstance(value, torch.Tensor):
        value = int(value)
    if not isinstance(value, int):
        try:
            value = value.__index__()
        except AttributeError:
            raise TypeError("%s must be an integer, not %s" % (name, type(value).__name__)) from None
    if not -_TWO_63 <= value < _TWO_64:
        raise ValueError("%s must be an integer in [-2^63, 2^64)" % name)
    return value - _TWO_64 if value >= _TWO_63 else value


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError("dropout probability has to be between 0 and 1, but got {}".format(p))


def _check_options(generator, threshold_bits):
    if type(generator) is str and type(threshold_bits) is int and 0 <= threshold_bits < (1 << 32):
        return
    if not isinstance(generator, str):
        raise TypeError("generator must be a str (\"philox\" or \"xoshiro\"), not %s" % type(generator).__name__)
    if isinstance(threshold_bits, bool) or not isinstance(threshold_bits, int):
        raise TypeError("threshold_bits must be an int, not %s" % type(threshold_bits).__name__)
    if not 0 <= threshold_bits < (1 << 32):
        raise ValueError(_simdrop._ext.status_string(3))  # SIMDROP_ERR_THRESHOLD_BITS


def _check_tensor(tensor, name="input"):
    if not isinstance(tensor, torch.Tensor):
        raise TypeError("%s must be a torch.Tensor, not %s" % (name, type(tensor).__name__))
    if not tensor.is_cpu:
        raise ValueError("simdrop.torch: %s is on device %s; only CPU tensors are supported" % (name, tensor.device))


def _shape_arg(value, name):
    """global_shape / shard_start as a list of int64 values (None stays None); the C++ side judges the values."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        raise TypeError("%s must be a sequence of integers, not %s" % (name, type(value).__name__))
    try:
        items = list(value)
    except TypeError:
        raise TypeError("%s must be a sequence of integers, not %s" % (name, type(value).__name__)) from None
    entries = []
    for item in items:
        try:
            item = operator.index(item)
        except TypeError:
            raise TypeError("%s must be a sequence of integers, not one holding %s"
                            % (name, type(item).__name__)) from None
        if not -_TWO_63 <= item < _TWO_63:
            raise ValueError("%s entries must fit in int64" % name)
        entries.append(item)
    return entries


def _draw_seed():
    """64 bits from torch's default CPU generator (torch.manual_seed makes them repeatable), as an int64."""
    return int(torch.empty((), dtype=torch.int64).random_(-_TWO_63, None))


# ---- functions ----------------------------------------------------------------------
def dropout(input, p=0.5, training=True, inplace=False, *, seed=None, stream=None, offset=0,
            generator="philox", threshold_bits=32, global_shape=None, shard_start=None):
    """torch.nn.functional.dropout with simdrop's decisions.

    seed=None draws a fresh 64-bit seed from torch's default CPU generator on
    every call; stream=None is stream 0. Autograd regenerates the decisions in
    backward: nothing of the input's size is saved.
    global_shape, shard_start (both or neither): input is the block of a global
    tensor of shape global_shape whose first element sits at shard_start; its
    element (i_0, ..., i_k) has global index
    offset + sum_j (shard_start[j] + i_j) * gstride[j], gstride the C-order
    strides of global_shape (ValueError for a shard outside it, or another
    number of dimensions). Give every rank the same seed.
    """
    _check_p(p)
    if not training:
        return input
    _check_tensor(input)
    _check_options(generator, threshold_bits)
    seed = _draw_seed() if seed is None else _int64_bits(seed, "seed")
    stream = 0 if stream is None else _int64_bits(stream, "stream")
    offset = _int64_bits(offset, "offset")
    global_shape = _shape_arg(global_shape, "global_shape")
    shard_start = _shape_arg(shard_start, "shard_start")
    op = _ops.dropout_ if inplace else _ops.dropout
    return op(input, 1.0 - float(p), seed, stream, offset, generator, threshold_bits, global_shape, shard_start)


def bias_dropout_add(x, bias, residual, p=0.5, training=True, *, seed=None, stream=None, offset=0,
                     generator="philox", threshold_bits=32, global_shape=None, shard_start=None):
    """residual + dropout(x + bias), fused in one pass for float32.

    x: (..., cols); bias: (cols,); residual: x's shape; one dtype. Element i of
    x + bias (C order) has global index offset + i. training=False returns
    residual + (x + bias). global_shape, shard_start: x's placement in the
    global tensor, as for dropout (bias is the shard's own cols entries).
    """
    _check_p(p)
    if not training:
        return residual + (x + bias)
    for tensor, name in ((x, "x"), (bias, "bias"), (residual, "residual")):
        _check_tensor(tensor, name)
    _check_options(generator, threshold_bits)
    seed = _draw_seed() if seed is None else _int64_bits(seed, "seed")
    stream = 0 if stream is None else _int64_bits(stream, "stream")
    offset = _int64_bits(offset, "offset")
    global_shape = _shape_arg(global_shape, "global_shape")
    shard_start = _shape_arg(shard_start, "shard_start")
    return _ops.bias_dropout_add(x, bias, residual, 1.0 - float(p), seed, stream, offset, generator, threshold_bits,
                                 global_shape, shard_start)


# ---- modules ----------------------------------------------------------------------------
class _SeededDropout(torch.nn.Module):
    """State shared by the modules: the seed (drawn once) and the step counter, both buffers,
    and the placement given at construction (plain attributes: not in state_dict, since a
    resumed run may have another number of ranks)."""

    global_shape: Optional[List[int]]
    shard_start: Optional[List[int]]

    def __init__(self, p, inplace, seed, generator, threshold_bits, global_shape, shard_start):
        super().__init__()
        _check_p(p)
        _check_options(generator, threshold_bits)
        self.p = float(p)
        self.keep_prob = 1.0 - self.p
        self.inplace = bool(inplace)
        self.generator = generator
        self.threshold_bits = int(threshold_bits)
        # Let the C library judge the options now rather than at the first forward.
        _simdrop.mask(0, self.keep_prob, 0, generator=generator, threshold_bits=threshold_bits)
        self.global_shape = _shape_arg(global_shape, "global_shape")
        self.shard_start = _shape_arg(shard_start, "shard_start")
        _simdrop._ext.check_placement(self.global_shape, self.shard_start)  # the checks that need no input
        seed = _draw_seed() if seed is None else _int64_bits(seed, "seed")
        self.register_buffer("seed", torch.tensor(seed, dtype=torch.int64))
        self.register_buffer("step", torch.tensor(0, dtype=torch.int64))

    def _placement(self, input: torch.Tensor, module: str, shard_start: Optional[List[int]],
                   global_shape: Optional[List[int]]) -> Tuple[Optional[List[int]], Optional[List[int]]]:
        """A training call's placement: the one given (both or neither), else the constructor's."""
        if input.device.type != "cpu":
            raise ValueError("simdrop.torch." + module + ": only CPU tensors are supported")
        if shard_start is None and global_shape is None:
            return self.shard_start, self.global_shape
        return shard_start, global_shape

    def extra_repr(self):
        text = "p={}, inplace={}, generator={!r}, threshold_bits={}".format(
            self.p, self.inplace, self.generator, self.threshold_bits)
        if self.global_shape is not None:
            text += ", global_shape={}, shard_start={}".format(tuple(self.global_shape), tuple(self.shard_start))
        return text

    def __prepare_scriptable__(self):
        # TorchScript 1.13 cannot compile forward's keyword-only arguments: torch.jit.script
        # compiles a copy whose forward takes them as ordinary ones (same buffers, same state).
        scriptable = copy.copy(self)
        scriptable.__class__ = self._scriptable_class
        return scriptable


class Dropout(_SeededDropout):
    """torch.nn.Dropout with simdrop's decisions; TorchScript-able.

    The seed is drawn once, at construction, from torch's default CPU generator
    (or given); the training forward number k (k = 0, 1, ...) uses stream k and
    offset 0, i.e. the decisions of simdrop.dropout(x, 1 - p, seed, stream=k).
    `seed` and `step` are buffers, so state_dict() holds them and a resumed run
    continues the mask sequence. save_mask=True keeps the 1-bit mask
    (ceil(n/8) bytes) for backward instead of regenerating the decisions, and
    also in the attribute `last_mask` (the last training forward's).

    global_shape, shard_start (both or neither) place the module's inputs in a
    global tensor (docs/distributed.md); forward(x, shard_start=..., global_shape=...)
    places one call instead (a data-parallel rank's batch shard moves with the step).
    """

    last_mask: Optional[torch.Tensor]

    def __init__(self, p=0.5, inplace=False, *, seed=None, generator="philox", threshold_bits=32, save_mask=False,
                 global_shape=None, shard_start=None):
        super().__init__(p, inplace, seed, generator, threshold_bits, global_shape, shard_start)
        self.save_mask = bool(save_mask)
        self.last_mask = None

    def forward(self, input, *, shard_start=None, global_shape=None):
        """input's placement for this call: shard_start and global_shape (both or neither);
        without them, the constructor's (or none: input is its own global tensor)."""
        return self._dropout(input, _shape_arg(shard_start, "shard_start"), _shape_arg(global_shape, "global_shape"))

    def _dropout(self, input: torch.Tensor, shard_start: Optional[List[int]],
                 global_shape: Optional[List[int]]) -> torch.Tensor:
        if not self.training:
            return input
        shard_start, global_shape = self._placement(input, "Dropout", shard_start, global_shape)
        seed = int(self.seed)
        stream = int(self.step)
        if self.save_mask:
            if self.inplace:
                output, mask = torch.ops.simdrop.dropout_mask_(input, self.keep_prob, seed, stream, 0, self.generator,
                                                               self.threshold_bits, global_shape, shard_start)
            else:
                output, mask = torch.ops.simdrop.dropout_mask(input, self.keep_prob, seed, stream, 0, self.generator,
                                                              self.threshold_bits, global_shape, shard_start)
            self.last_mask = mask
        elif self.inplace:
            output = torch.ops.simdrop.dropout_(input, self.keep_prob, seed, stream, 0, self.generator,
                                                self.threshold_bits, global_shape, shard_start)
        else:
            output = torch.ops.simdrop.dropout(input, self.keep_prob, seed, stream, 0, self.generator,
                                               self.threshold_bits, global_shape, shard_start)
        self.step.add_(1)
        return output

    def extra_repr(self):
        return super().extra_repr() + ", save_mask={}".format(self.save_mask)


class _ScriptableDropout(Dropout):
    """What torch.jit.script compiles for a Dropout: forward's placement arguments are ordinary ones."""

    def forward(self, input: torch.Tensor, shard_start: Optional[List[int]] = None,
                global_shape: Optional[List[int]] = None) -> torch.Tensor:
        return self._dropout(input, shard_start, global_shape)

    def __prepare_scriptable__(self):
        return self


class Dropout2d(_SeededDropout):
    """torch.nn.Dropout2d with simdrop's decisions: whole channels of (N, C, *) inputs.

    The decision of channel (n, c) has global index n*C + c (offset 0), in
    stream k for the training forward number k; contiguous and channels_last
    inputs are processed in place of memory, others through a contiguous copy.
    A shard (global_shape (N_g, C_g, *) and shard_start (n0, c0, *), of the
    input's rank) takes the decisions of its (n, c) block: channel (n, c) at
    (n0 + n)*C_g + c0 + c; a split of the spatial dimensions does not change
    them. forward(x, shard_start=..., global_shape=...) places one call.
    """

    def __init__(self, p=0.5, inplace=False, *, seed=None, generator="philox", threshold_bits=32,
                 global_shape=None, shard_start=None):
        super().__init__(p, inplace, seed, generator, threshold_bits, global_shape, shard_start)

    def forward(self, input, *, shard_start=None, global_shape=None):
        """input's placement for this call, as for Dropout.forward."""
        return self._dropout2d(input, _shape_arg(shard_start, "shard_start"),
                               _shape_arg(global_shape, "global_shape"))

    def _dropout2d(self, input: torch.Tensor, shard_start: Optional[List[int]],
                   global_shape: Optional[List[int]]) -> torch.Tensor:
        if not self.training:
            return input
        shard_start, global_shape = self._placement(input, "Dropout2d", shard_start, global_shape)
        seed = int(self.seed)
        stream = int(self.step)
        if self.inplace:
            output = torch.ops.simdrop.dropout2d_(input, self.keep_prob, seed, stream, 0, self.generator,
                                                  self.threshold_bits, global_shape, shard_start)
        else:
            output = torch.ops.simdrop.dropout2d(input, self.keep_prob, seed, stream, 0, self.generator,
                                                 self.threshold_bits, global_shape, shard_start)
        self.step.add_(1)
        return output


class _ScriptableDropout2d(Dropout2d):
    """What torch.jit.script compiles for a Dropout2d."""

    def forward(self, input: torch.Tensor, shard_start: Optional[List[int]] = None,
                global_shape: Optional[List[int]] = None) -> torch.Tensor:
        return self._dropout2d(input, shard_start, global_shape)

    def __prepare_scriptable__(self):
        return self


Dropout._scriptable_class = _ScriptableDropout
Dropout2d._scriptable_class = _ScriptableDropout2d
