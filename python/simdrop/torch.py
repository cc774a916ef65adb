"""simdrop.torch: simdrop's dropout for PyTorch (CPU tensors), eager, compiled and exported.

    import simdrop.torch as sdt
    y = sdt.dropout(x, p=0.1)                  # like torch.nn.functional.dropout
    layer = sdt.Dropout(p=0.1)                 # like torch.nn.Dropout (also Dropout1d/2d/3d)
    h = sdt.bias_dropout_add(x, bias, residual, p=0.1)

`p` is the drop probability, as in torch.nn.functional.dropout; the keep
probability handed to the C library is 1 - p, computed in double and rounded
to float32. The element at logical C-order position i of a tensor has global
index offset + i (whatever its strides), so the decisions are exactly those of
simdrop.dropout(x.numpy(), 1 - p, seed, stream=stream, offset=offset, ...).
The default threshold width is 16 bits (keep_prob quantised to 1/65536).

A shard of a larger tensor (data, tensor or sequence parallelism) passes
global_shape= and shard_start= and gets exactly its part of the whole
tensor's decisions (docs/distributed.md).

Importing this module loads the extension _torch_ops.so, which registers the
operators torch.ops.simdrop.* (CPU, autograd and fake kernels: torch.compile
and torch.export trace them), so import it before torch.jit.load of a model
that uses them. docs/python.md documents the ops, the seed and step rules
(checkpointing included) and what each call accepts.
"""
import contextlib
import copy
import operator
import os
import warnings
from typing import List, Optional, Tuple

try:
    import torch
except ImportError as error:  # pragma: no cover - exercised by the no-torch install test
    raise ImportError(
        "simdrop.torch needs PyTorch, which this Python cannot import. Install the tested CPU build and "
        "rebuild simdrop against it: pip install torch==2.13.0, then pip install --no-build-isolation "
        "<simdrop source folder>") from error

import simdrop as _simdrop
from simdrop import _dtensor  # DTensor inputs (torch.distributed.tensor): docs/distributed.md, "DTensor"

__all__ = [
    "dropout", "dropout1d", "dropout2d", "dropout3d", "bias_dropout_add",
    "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "BiasDropoutAdd",
    "recomputing", "RankError",
]

_EXTENSION = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_torch_ops.so")
if not os.path.exists(_EXTENSION):
    raise ImportError(
        "simdrop was built without its PyTorch extension (torch could not be imported when it was built). "
        "pip install torch==2.13.0, then reinstall simdrop: pip install --no-build-isolation <simdrop source folder>")
try:
    torch.ops.load_library(_EXTENSION)
except OSError as error:
    raise ImportError(
        "simdrop.torch: %s does not load into torch %s (%s); it must be built against the torch it runs with: "
        "pip install --no-build-isolation <simdrop source folder>" % (_EXTENSION, torch.__version__, error)) from error
_ops = torch.ops.simdrop

# Rows of a module's ledger of recent forwards (torch_ops.cpp, _claim_stream): how many
# forwards of one module may be pending at once (micro-batches x calls per forward) and
# still be recomputed by a checkpoint.
LEDGER_ROWS = 256


def _runtime():
    """The extension's view: (active implementation, this thread's last call's
    implementation, simdrop.get_num_threads(), threads a call from this thread uses)."""
    return tuple(_ops._runtime())


# ---- fake kernels: shapes, dtypes and strides for torch.compile and torch.export --------
def _like(input):
    # The real kernels lay out their result as PyTorch lays out an element-wise op's
    # (TensorIterator: the input's stride order, dense), and so does mul on a fake tensor.
    return torch.ops.aten.mul.Scalar(input, 1)


def _mask_like(input):
    return input.new_empty(((input.numel() + 7) // 8,), dtype=torch.uint8)


@torch.library.register_fake("simdrop::dropout")
def _dropout_fake(input, keep_prob, seed, stream, offset=0, generator="philox", threshold_bits=16,
                  global_shape=None, shard_start=None):
    return _like(input)


@torch.library.register_fake("simdrop::dropout_")
def _dropout_inplace_fake(self, keep_prob, seed, stream, offset=0, generator="philox", threshold_bits=16,
                          global_shape=None, shard_start=None):
    return None


@torch.library.register_fake("simdrop::dropout_mask")
def _dropout_mask_fake(input, keep_prob, seed, stream, offset=0, generator="philox", threshold_bits=16,
                       global_shape=None, shard_start=None):
    return _like(input), _mask_like(input)


@torch.library.register_fake("simdrop::dropout_mask_")
def _dropout_mask_inplace_fake(self, keep_prob, seed, stream, offset=0, generator="philox", threshold_bits=16,
                               global_shape=None, shard_start=None):
    return _mask_like(self)


@torch.library.register_fake("simdrop::dropout_backward_mask")
def _dropout_backward_mask_fake(grad, mask, keep_prob, threshold_bits):
    return _like(grad)


@torch.library.register_fake("simdrop::dropout2d")
def _dropout2d_fake(input, keep_prob, seed, stream, offset=0, generator="philox", threshold_bits=16,
                    global_shape=None, shard_start=None):
    return _like(input)


@torch.library.register_fake("simdrop::dropout2d_")
def _dropout2d_inplace_fake(self, keep_prob, seed, stream, offset=0, generator="philox", threshold_bits=16,
                            global_shape=None, shard_start=None):
    return None


@torch.library.register_fake("simdrop::bias_dropout_add")
def _bias_dropout_add_fake(x, bias, residual, keep_prob, seed, stream, offset=0, generator="philox",
                           threshold_bits=16, global_shape=None, shard_start=None):
    return x.new_empty(x.shape)  # C-contiguous, as the CPU kernel


@torch.library.register_fake("simdrop::_claim_stream")
def _claim_stream_fake(step, ledger, inputs):
    return step.new_empty(())


# ---- arguments --------------------------------------------------------------------
class RankError(ValueError, RuntimeError):
    """An input of a rank the call does not take: a ValueError, as every bad value simdrop
    refuses, and a RuntimeError, as torch.nn.functional.dropout1d raises for the same input."""

_TWO_64 = 1 << 64
_TWO_63 = 1 << 63


def _int64_bits(value, name):
    """A 64-bit unsigned value (or a negative int64) as the int64 with the same bits."""
    if type(value) is int and -_TWO_63 <= value < _TWO_63:
        return value
    if isinstance(value, bool):
        raise TypeError("%s must be an integer, not bool" % name)
    if not isinstance(value, int):
        try:
            value = operator.index(value)
        except TypeError:
            raise TypeError("%s must be an integer, not %s" % (name, type(value).__name__)) from None
    if not -_TWO_63 <= value < _TWO_64:
        raise ValueError("%s must be an integer in [-2^63, 2^64)" % name)
    return value - _TWO_64 if value >= _TWO_63 else value


def _scalar_tensor(value, name):
    """seed / stream as the operators take them: a one-element int64 CPU tensor. A tensor
    passes as it is (under torch.compile a graph value, read when the graph runs)."""
    if isinstance(value, torch.Tensor):
        if value.dtype != torch.int64:
            raise TypeError("%s must be an int64 tensor, not %s" % (name, value.dtype))
        if value.numel() != 1:
            raise ValueError("%s must hold one value, it has shape %s" % (name, tuple(value.shape)))
        return value
    return torch.tensor(_int64_bits(value, name), dtype=torch.int64)


def _check_p(p):
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        try:
            p = float(p)
        except (TypeError, ValueError):
            raise TypeError("p must be a real number, not %s" % type(p).__name__) from None
    if not 0.0 <= p <= 1.0:
        raise ValueError("dropout probability has to be between 0 and 1, but got {}".format(p))
    return float(p)


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
    if tensor.device.type != "cpu":
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
    """64 bits from torch's default CPU generator (torch.manual_seed makes them repeatable), as an int64 tensor."""
    return torch.empty((), dtype=torch.int64).random_(-_TWO_63, None)


def _call_args(generator, threshold_bits, seed, stream, offset, global_shape, shard_start):
    """The checked (seed, stream, offset, global_shape, shard_start) of a functional call."""
    _check_options(generator, threshold_bits)
    seed = _draw_seed() if seed is None else _scalar_tensor(seed, "seed")
    stream = torch.zeros((), dtype=torch.int64) if stream is None else _scalar_tensor(stream, "stream")
    offset = _int64_bits(offset, "offset")
    return seed, stream, offset, _shape_arg(global_shape, "global_shape"), _shape_arg(shard_start, "shard_start")


# ---- functions ----------------------------------------------------------------------
def dropout(input, p=0.5, training=True, inplace=False, *, seed=None, stream=None, offset=0,
            generator="philox", threshold_bits=16, global_shape=None, shard_start=None):
    """torch.nn.functional.dropout with simdrop's decisions.

    seed=None draws a fresh 64-bit seed from torch's default CPU generator on
    every call; stream=None is stream 0. seed and stream may be integers or
    one-element int64 tensors (pass tensors for values that change from call
    to call under torch.compile). Autograd regenerates the decisions in
    backward: nothing of the input's size is saved. The output has the
    input's memory layout (its stride order), as torch's.
    global_shape, shard_start (both or neither): input is the block of a global
    tensor of shape global_shape whose first element sits at shard_start; its
    element (i_0, ..., i_k) has global index
    offset + sum_j (shard_start[j] + i_j) * gstride[j], gstride the C-order
    strides of global_shape (ValueError for a shard outside it, or another
    number of dimensions). Give every rank the same seed.
    A DTensor input gives a DTensor with its placements (docs/distributed.md, "DTensor").
    """
    if _dtensor.is_dtensor(input):
        return _dtensor.dropout(input, p, training, inplace, seed=seed, stream=stream, offset=offset,
                                generator=generator, threshold_bits=threshold_bits, global_shape=global_shape,
                                shard_start=shard_start)
    p = _check_p(p)
    if not training:
        return input
    _check_tensor(input)
    seed, stream, offset, global_shape, shard_start = _call_args(generator, threshold_bits, seed, stream, offset,
                                                                 global_shape, shard_start)
    if inplace:
        _ops.dropout_(input, 1.0 - p, seed, stream, offset, generator, threshold_bits, global_shape, shard_start)
        return input
    return _ops.dropout(input, 1.0 - p, seed, stream, offset, generator, threshold_bits, global_shape, shard_start)


def _channel_dropout(function, input, p, training, inplace, seed, stream, offset, generator, threshold_bits,
                     global_shape, shard_start, unbatched):
    if _dtensor.is_dtensor(input):
        return _dtensor.channel_dropout(function, input, p, training, inplace, seed=seed, stream=stream,
                                         offset=offset, generator=generator, threshold_bits=threshold_bits,
                                         global_shape=global_shape, shard_start=shard_start)
    p = _check_p(p)
    if not training:
        return input
    _check_tensor(input)
    seed, stream, offset, global_shape, shard_start = _call_args(generator, threshold_bits, seed, stream, offset,
                                                                 global_shape, shard_start)
    if input.dim() < 2:
        raise RankError("%s: channel dropout needs an input of shape (N, C, *) or (C, *), got %s"
                        % (function, tuple(input.shape)))
    if unbatched:
        # (C, *): one sample, whose channel c has index c (and a shard's placement gains that batch dimension).
        if global_shape is not None:
            global_shape = [1] + global_shape
        if shard_start is not None:
            shard_start = [0] + shard_start
        batched = input.unsqueeze(0)
    else:
        batched = input
    if inplace:
        _ops.dropout2d_(batched, 1.0 - p, seed, stream, offset, generator, threshold_bits, global_shape, shard_start)
        return input
    result = _ops.dropout2d(batched, 1.0 - p, seed, stream, offset, generator, threshold_bits, global_shape,
                            shard_start)
    return result.squeeze(0) if unbatched else result


def dropout1d(input, p=0.5, training=True, inplace=False, *, seed=None, stream=None, offset=0,
              generator="philox", threshold_bits=16, global_shape=None, shard_start=None):
    """torch.nn.functional.dropout1d with simdrop's decisions: whole channels of (N, C, L) or (C, L) inputs.

    Channel (n, c) has global index offset + n*C + c (an unbatched input is sample 0).
    """
    if isinstance(input, torch.Tensor) and input.dim() not in (2, 3):
        raise RankError(
            "dropout1d: Expected 2D or 3D input, but received a {}D input. Note that dropout1d exists to provide "
            "channel-wise dropout on inputs with 1 spatial dimension, a channel dimension, and an optional batch "
            "dimension (i.e. 2D or 3D inputs).".format(input.dim()))
    _check_tensor(input)
    return _channel_dropout("dropout1d", input, p, training, inplace, seed, stream, offset, generator,
                            threshold_bits, global_shape, shard_start, unbatched=input.dim() == 2)


def dropout2d(input, p=0.5, training=True, inplace=False, *, seed=None, stream=None, offset=0,
              generator="philox", threshold_bits=16, global_shape=None, shard_start=None):
    """torch.nn.functional.dropout2d with simdrop's decisions: whole channels of (N, C, H, W) inputs.

    As torch's, a 3-D input is taken as (N, C, L) (with torch's warning), and
    other ranks than 3 and 4 warn and are taken as (N, C, *).
    """
    _check_tensor(input)
    dims = input.dim()
    if dims not in (3, 4):
        warnings.warn(
            "dropout2d: Received a {}-D input to dropout2d, which is deprecated and will result in an error in a "
            "future release. To retain the behavior and silence this warning, please use dropout instead. Note "
            "that dropout2d exists to provide channel-wise dropout on inputs with 2 spatial dimensions, a channel "
            "dimension, and an optional batch dimension (i.e. 3D or 4D inputs).".format(dims), stacklevel=2)
    if dims == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior is "
            "desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior will "
            "change in a future release to interpret the input as one without a batch dimension, i.e. shape "
            "(C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using dropout1d "
            "instead.", stacklevel=2)
    return _channel_dropout("dropout2d", input, p, training, inplace, seed, stream, offset, generator,
                            threshold_bits, global_shape, shard_start, unbatched=False)


def dropout3d(input, p=0.5, training=True, inplace=False, *, seed=None, stream=None, offset=0,
              generator="philox", threshold_bits=16, global_shape=None, shard_start=None):
    """torch.nn.functional.dropout3d with simdrop's decisions: whole channels of (N, C, D, H, W) or (C, D, H, W)."""
    _check_tensor(input)
    dims = input.dim()
    if dims not in (4, 5):
        warnings.warn(
            "dropout3d: Received a {}-D input to dropout3d, which is deprecated and will result in an error in a "
            "future release. To retain the behavior and silence this warning, please use dropout instead. Note "
            "that dropout3d exists to provide channel-wise dropout on inputs with 3 spatial dimensions, a channel "
            "dimension, and an optional batch dimension (i.e. 4D or 5D inputs).".format(dims), stacklevel=2)
    return _channel_dropout("dropout3d", input, p, training, inplace, seed, stream, offset, generator,
                            threshold_bits, global_shape, shard_start, unbatched=dims != 5)


def bias_dropout_add(x, bias, residual, p=0.5, training=True, *, seed=None, stream=None, offset=0,
                     generator="philox", threshold_bits=16, global_shape=None, shard_start=None):
    """residual + dropout(x + bias), fused in one pass for float32.

    x: (..., cols); bias: (cols,); residual: x's shape; one dtype. Element i of
    x + bias (C order) has global index offset + i. training=False returns
    residual + (x + bias). global_shape, shard_start: x's placement in the
    global tensor, as for dropout (bias is the shard's own cols entries).
    DTensor x, bias and residual give a DTensor with x's placements (docs/distributed.md, "DTensor").
    """
    if _dtensor.is_dtensor(x):
        return _dtensor.bias_dropout_add(x, bias, residual, p, training, seed=seed, stream=stream, offset=offset,
                                         generator=generator, threshold_bits=threshold_bits,
                                         global_shape=global_shape, shard_start=shard_start)
    p = _check_p(p)
    if not training:
        return residual + (x + bias)
    for tensor, name in ((x, "x"), (bias, "bias"), (residual, "residual")):
        _check_tensor(tensor, name)
    seed, stream, offset, global_shape, shard_start = _call_args(generator, threshold_bits, seed, stream, offset,
                                                                 global_shape, shard_start)
    return _ops.bias_dropout_add(x, bias, residual, 1.0 - p, seed, stream, offset, generator, threshold_bits,
                                 global_shape, shard_start)


@contextlib.contextmanager
def recomputing(enabled=True):
    """Says whether the modules' training forwards on this thread are recomputes.

    By default a module's forward inside a backward pass (where both
    torch.utils.checkpoint variants recompute) re-uses the stream of the
    forward it repeats, and any other forward takes a new one
    (docs/python.md, "Checkpointing"). A hand-written recompute that runs
    outside backward wraps it in ``with simdrop.torch.recomputing():``; a new
    forward inside a backward pass in ``with simdrop.torch.recomputing(False):``.
    """
    previous = _ops._recomputing()
    _ops._set_recomputing(1 if enabled else 0)
    try:
        yield
    finally:
        _ops._set_recomputing(previous)


# ---- modules ----------------------------------------------------------------------------
class _SeededDropout(torch.nn.Module):
    """State shared by the modules: the seed (drawn once) and the step counter, both buffers,
    the ledger of recent forwards (a tensor attribute: checkpoint recomputes), and the
    placement given at construction (plain attributes: not in state_dict, since a resumed
    run may have another number of ranks)."""

    global_shape: Optional[List[int]]
    shard_start: Optional[List[int]]
    _ledger: torch.Tensor

    def __init__(self, p, inplace, seed, generator, threshold_bits, global_shape, shard_start):
        super().__init__()
        self.p = _check_p(p)
        _check_options(generator, threshold_bits)
        self.keep_prob = 1.0 - self.p
        self.inplace = bool(inplace)
        self.generator = generator
        self.threshold_bits = int(threshold_bits)
        # Let the C library judge the options now rather than at the first forward.
        _simdrop.mask(0, self.keep_prob, 0, generator=generator, threshold_bits=threshold_bits)
        self.global_shape = _shape_arg(global_shape, "global_shape")
        self.shard_start = _shape_arg(shard_start, "shard_start")
        _simdrop._ext.check_placement(self.global_shape, self.shard_start)  # the checks that need no input
        seed = _draw_seed() if seed is None else torch.tensor(_int64_bits(seed, "seed"), dtype=torch.int64)
        self.register_buffer("seed", seed.clone())
        self.register_buffer("step", torch.tensor(0, dtype=torch.int64))
        # A plain tensor attribute, not a buffer: out of state_dict (also of a scripted module's), copied by
        # deepcopy, and never touched by compiled code.
        self._ledger = torch.zeros(LEDGER_ROWS + 1, 3, dtype=torch.int64)

    def _next_stream(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        """The stream of this training forward: `step`, which then advances; a checkpoint
        recompute gets its original forward's (torch_ops.cpp, _claim_stream).

        Compiled code takes the step tensor itself as the stream and binds a new tensor,
        step + 1, to the buffer, instead of adding in place: the graph then mutates none
        of its inputs, so a value the backward recomputes from `step` (a checkpointed
        region, or a partitioner's choice) reads the step this forward used, never the
        advanced one. torch.export records an in-place update instead (a buffer mutation of
        the exported program, whose backward runs eagerly)."""
        if not torch.jit.is_scripting():
            if torch.compiler.is_exporting():
                # torch.export records an in-place buffer update as the program's buffer mutation.
                stream = self.step.clone()
                self.step.add_(1)
                return stream
            if torch.compiler.is_compiling():
                stream = self.step
                self.step = stream + 1
                return stream
        return torch.ops.simdrop._claim_stream(self.step, self._ledger, inputs)

    def _eager_call(self, run, *args):
        """run(*args) for an eager forward: a call that fails after taking its stream gives it back,
        so a refused call leaves `step` as it was (compiled and scripted code do not need this)."""
        if torch.compiler.is_compiling():
            return run(*args)
        recorded = int(self._ledger[0, 0])
        try:
            return run(*args)
        except BaseException:
            torch.ops.simdrop._unclaim_stream(self.step, self._ledger, recorded)
            raise

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
        # TorchScript cannot compile forward's keyword-only arguments: torch.jit.script
        # compiles a copy whose forward takes them as ordinary ones (same buffers, same state).
        scriptable_class = getattr(type(self), "_scriptable_class", None)
        if scriptable_class is None:
            raise RuntimeError("simdrop.torch.%s cannot be scripted: TorchScript is supported for Dropout and "
                               "Dropout2d (torch.compile and torch.export take every module)" % type(self).__name__)
        scriptable = copy.copy(self)
        scriptable.__class__ = scriptable_class
        return scriptable


class Dropout(_SeededDropout):
    """torch.nn.Dropout with simdrop's decisions; TorchScript-able, compilable, exportable.

    The seed is drawn once, at construction, from torch's default CPU generator
    (or given); the training forward number k (k = 0, 1, ...) uses stream k and
    offset 0, i.e. the decisions of simdrop.dropout(x, 1 - p, seed, stream=k).
    `seed` and `step` are buffers, so state_dict() holds them and a resumed run
    continues the mask sequence. A checkpoint recompute of a forward re-uses
    its stream (docs/python.md, "Checkpointing"). save_mask=True keeps the
    1-bit mask (ceil(n/8) bytes) for backward instead of regenerating the
    decisions, and also in the attribute `last_mask` (the last training forward's).

    global_shape, shard_start (both or neither) place the module's inputs in a
    global tensor (docs/distributed.md); forward(x, shard_start=..., global_shape=...)
    places one call instead (a data-parallel rank's batch shard moves with the step).
    """

    last_mask: Optional[torch.Tensor]

    def __init__(self, p=0.5, inplace=False, *, seed=None, generator="philox", threshold_bits=16, save_mask=False,
                 global_shape=None, shard_start=None):
        super().__init__(p, inplace, seed, generator, threshold_bits, global_shape, shard_start)
        self.save_mask = bool(save_mask)
        self.last_mask = None

    def forward(self, input, *, shard_start=None, global_shape=None):
        """input's placement for this call: shard_start and global_shape (both or neither);
        without them, the constructor's (or none: input is its own global tensor)."""
        if _dtensor.is_dtensor(input):
            return _dtensor.module_forward(self, input, shard_start, global_shape)
        return self._eager_call(self._dropout, input, _shape_arg(shard_start, "shard_start"),
                                _shape_arg(global_shape, "global_shape"))

    def _dropout(self, input: torch.Tensor, shard_start: Optional[List[int]],
                 global_shape: Optional[List[int]]) -> torch.Tensor:
        if not self.training:
            return input
        shard_start, global_shape = self._placement(input, "Dropout", shard_start, global_shape)
        stream = self._next_stream([input])
        if self.save_mask:
            if self.inplace:
                output = input
                mask = torch.ops.simdrop.dropout_mask_(input, self.keep_prob, self.seed, stream, 0, self.generator,
                                                       self.threshold_bits, global_shape, shard_start)
            else:
                output, mask = torch.ops.simdrop.dropout_mask(input, self.keep_prob, self.seed, stream, 0,
                                                              self.generator, self.threshold_bits, global_shape,
                                                              shard_start)
            self.last_mask = mask
            return output
        if self.inplace:
            torch.ops.simdrop.dropout_(input, self.keep_prob, self.seed, stream, 0, self.generator,
                                       self.threshold_bits, global_shape, shard_start)
            return input
        return torch.ops.simdrop.dropout(input, self.keep_prob, self.seed, stream, 0, self.generator,
                                         self.threshold_bits, global_shape, shard_start)

    def extra_repr(self):
        return super().extra_repr() + ", save_mask={}".format(self.save_mask)


class _ScriptableDropout(Dropout):
    """What torch.jit.script compiles for a Dropout: forward's placement arguments are ordinary ones."""

    def forward(self, input: torch.Tensor, shard_start: Optional[List[int]] = None,
                global_shape: Optional[List[int]] = None) -> torch.Tensor:
        return self._dropout(input, shard_start, global_shape)

    def __prepare_scriptable__(self):
        return self


class _ChannelDropout(_SeededDropout):
    """Dropout1d / Dropout2d / Dropout3d: whole channels of (N, C, *) inputs (torch's shape rules per class)."""

    _function = "dropout2d"

    def __init__(self, p=0.5, inplace=False, *, seed=None, generator="philox", threshold_bits=16,
                 global_shape=None, shard_start=None):
        super().__init__(p, inplace, seed, generator, threshold_bits, global_shape, shard_start)

    def forward(self, input, *, shard_start=None, global_shape=None):
        """input's placement for this call, as for Dropout.forward."""
        if not self.training:
            return input
        if _dtensor.is_dtensor(input):
            return _dtensor.module_forward(self, input, shard_start, global_shape)
        return self._eager_call(self._channels, input, _shape_arg(shard_start, "shard_start"),
                                _shape_arg(global_shape, "global_shape"))

    def _channels(self, input, shard_start, global_shape):
        shard_start, global_shape = self._placement(input, type(self).__name__, shard_start, global_shape)
        stream = self._next_stream([input])
        function = {"dropout1d": dropout1d, "dropout2d": dropout2d, "dropout3d": dropout3d}[self._function]
        return function(input, self.p, True, self.inplace, seed=self.seed, stream=stream,
                        generator=self.generator, threshold_bits=self.threshold_bits,
                        global_shape=global_shape, shard_start=shard_start)


class Dropout1d(_ChannelDropout):
    """torch.nn.Dropout1d with simdrop's decisions: whole channels of (N, C, L) or (C, L) inputs.

    Channel (n, c) of the training forward number k has global index n*C + c
    in stream k (an unbatched input is sample 0); seed, step and checkpointing
    as for Dropout.
    """

    _function = "dropout1d"


class Dropout2d(_ChannelDropout):
    """torch.nn.Dropout2d with simdrop's decisions: whole channels of (N, C, *) inputs; TorchScript-able.

    The decision of channel (n, c) has global index n*C + c (offset 0), in
    stream k for the training forward number k; contiguous and channels_last
    inputs are processed in place of memory, and the output keeps the input's
    memory layout. A shard (global_shape (N_g, C_g, *) and shard_start
    (n0, c0, *), of the input's rank) takes the decisions of its (n, c) block:
    channel (n, c) at (n0 + n)*C_g + c0 + c; a split of the spatial dimensions
    does not change them. forward(x, shard_start=..., global_shape=...) places one call.
    """

    _function = "dropout2d"

    def _dropout2d(self, input: torch.Tensor, shard_start: Optional[List[int]],
                   global_shape: Optional[List[int]]) -> torch.Tensor:
        # The TorchScript path: the channel operator directly, (N, C, *) inputs.
        if not self.training:
            return input
        shard_start, global_shape = self._placement(input, "Dropout2d", shard_start, global_shape)
        stream = self._next_stream([input])
        if self.inplace:
            torch.ops.simdrop.dropout2d_(input, self.keep_prob, self.seed, stream, 0, self.generator,
                                         self.threshold_bits, global_shape, shard_start)
            return input
        return torch.ops.simdrop.dropout2d(input, self.keep_prob, self.seed, stream, 0, self.generator,
                                           self.threshold_bits, global_shape, shard_start)


class _ScriptableDropout2d(Dropout2d):
    """What torch.jit.script compiles for a Dropout2d."""

    def forward(self, input: torch.Tensor, shard_start: Optional[List[int]] = None,
                global_shape: Optional[List[int]] = None) -> torch.Tensor:
        return self._dropout2d(input, shard_start, global_shape)

    def __prepare_scriptable__(self):
        return self


class Dropout3d(_ChannelDropout):
    """torch.nn.Dropout3d with simdrop's decisions: whole channels of (N, C, D, H, W) or (C, D, H, W) inputs."""

    _function = "dropout3d"


class BiasDropoutAdd(_SeededDropout):
    """residual + dropout(x + bias) as a module: forward(x, bias, residual).

    Seed, step, checkpointing and placement as for Dropout: the training
    forward number k takes the decisions of bias_dropout_add(..., seed=seed,
    stream=k). In eval mode it returns residual + (x + bias).
    """

    def __init__(self, p=0.5, *, seed=None, generator="philox", threshold_bits=16, global_shape=None,
                 shard_start=None):
        super().__init__(p, False, seed, generator, threshold_bits, global_shape, shard_start)

    def forward(self, x, bias, residual, *, shard_start=None, global_shape=None):
        if not self.training:
            return residual + (x + bias)
        if _dtensor.is_dtensor(x):
            return _dtensor.bias_module_forward(self, x, bias, residual, shard_start, global_shape)
        for tensor, name in ((x, "x"), (bias, "bias"), (residual, "residual")):
            _check_tensor(tensor, name)
        return self._eager_call(self._fused, x, bias, residual, _shape_arg(shard_start, "shard_start"),
                                _shape_arg(global_shape, "global_shape"))

    def _fused(self, x, bias, residual, shard_start, global_shape):
        shard_start, global_shape = self._placement(x, "BiasDropoutAdd", shard_start, global_shape)
        stream = self._next_stream([x, bias, residual])
        return torch.ops.simdrop.bias_dropout_add(x, bias, residual, self.keep_prob, self.seed, stream, 0,
                                                  self.generator, self.threshold_bits, global_shape, shard_start)

    def extra_repr(self):
        return "p={}, generator={!r}, threshold_bits={}".format(self.p, self.generator, self.threshold_bits)


Dropout._scriptable_class = _ScriptableDropout
Dropout2d._scriptable_class = _ScriptableDropout2d
