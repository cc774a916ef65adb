"""simdrop.torch on DTensors (torch.distributed.tensor): each rank computes its local shard's
part of the whole tensor's decisions, so a DTensor gets the single-process masks on any
DeviceMesh, under any placements and at any parallel degree (docs/distributed.md, "DTensor").

simdrop.torch's functions and modules hand a DTensor input to this module; nothing here
runs for plain tensors. The path of a call:

1. A Partial input is reduced first (redistributed to Replicate on those mesh dimensions):
   the result must be the single-process dropout of the sum, bit for bit.
2. The spec gives the rank's block: the global index range of its local tensor along every
   dimension (uneven shards and repeated shards like [Shard(0), Shard(0)] included; a
   _StridedShard may give several ranges, one call each).
3. simdrop's plain call runs on the local tensor with global_shape = the DTensor's shape
   (or a larger tensor's, see below) and shard_start = the block's start, exactly what a
   user of the placement keywords passes by hand.
4. The result is wrapped with the input's placements (DTensor.from_local with the global
   shape and stride, no communication). to_local and from_local are differentiable and
   simdrop's operators regenerate the decisions in backward, so autograd flows through
   DTensors as through plain tensors.

global_shape= / shard_start= given with a DTensor place the DTensor's whole (global)
tensor in a larger one: a data-parallel rank whose activations are DTensors on the
tensor-parallel mesh only holds rows r0 .. r1 of the batch, which that mesh does not see.
The block's start is then shard_start + the DTensor's own offset.
"""
import sys

import torch

__all__ = ["is_dtensor", "local_block"]


def is_dtensor(value):
    """Whether value is a DTensor, without importing torch.distributed.tensor (0.7 s): no DTensor
    exists before something has imported it."""
    if type(value) is torch.Tensor or not isinstance(value, torch.Tensor):
        return False
    module = sys.modules.get("torch.distributed.tensor")
    return module is not None and isinstance(value, module.DTensor)


def _sdt():
    import simdrop.torch as sdt  # simdrop.torch imports this module: resolve it at call time
    return sdt


# ---- placements -> the rank's block -------------------------------------------------------------
def _reduce_partial(x):
    """A Partial input reduced first: Replicate on every mesh dimension where it is Partial."""
    from torch.distributed.tensor import Replicate
    if not any(placement.is_partial() for placement in x.placements):
        return x
    placements = [Replicate() if placement.is_partial() else placement for placement in x.placements]
    return x.redistribute(x.device_mesh, placements)


def _check_shard_order(x):
    """The spec must lay its shards out in DTensor's default (left-to-right) mesh order,
    which is the order from_local gives the result; other orders exist only inside torch."""
    if torch.compiler.is_compiling():
        return  # dynamo does not trace a DTensor's spec (only its placements and mesh)
    spec = x._spec
    if getattr(spec, "use_strided_shard_as_shard_order", True):
        return
    default = type(spec).compute_default_shard_order(spec.placements)
    if spec.shard_order is not None and tuple(spec.shard_order) != tuple(default):
        raise NotImplementedError(
            "simdrop.torch: this DTensor shards a dimension over several mesh dimensions in a non-default order "
            "(%s); redistribute it to its placements' default order first" % (spec.shard_order,))


def _dim_positions(x):
    """Per dimension of x, the global positions of its local tensor's entries, in order:
    a range for Shard and Replicate, a list for a _StridedShard. None when this rank is
    not part of the mesh (its local tensor is empty)."""
    from torch.distributed.tensor.placement_types import Shard, _StridedShard, _StridedShardOffsetMode
    mesh = x.device_mesh
    coordinate = mesh.get_coordinate()
    if coordinate is None:
        return None
    positions = [range(n) for n in x.shape]
    # DTensor applies the shards of one dimension left to right over the mesh dimensions
    # (torch.distributed.tensor._utils.compute_local_shape_and_global_offset).
    for mesh_dim, placement in enumerate(x.placements):
        if not isinstance(placement, (Shard, _StridedShard)):
            continue
        dim = placement.dim
        current = positions[dim]
        parts, index = mesh.size(mesh_dim), coordinate[mesh_dim]
        if isinstance(placement, _StridedShard):
            _, offsets = placement.local_shard_size_and_offset(len(current), parts, index,
                                                               _StridedShardOffsetMode.ALL)
            positions[dim] = [current[offset] for offset in offsets]
        else:
            size, start = Shard.local_shard_size_and_offset(len(current), parts, index)
            positions[dim] = current[start:start + size]
    return positions


def _runs(positions):
    """(local start, global start, length) of each run of consecutive global positions."""
    if isinstance(positions, range):
        return [(0, positions.start, len(positions))]
    if not positions:
        return [(0, 0, 0)]
    runs = []
    for local, position in enumerate(positions):
        if runs and runs[-1][1] + runs[-1][2] == position:
            runs[-1] = (runs[-1][0], runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((local, position, 1))
    return runs


class Block:
    """Where a rank's local tensor sits: global_shape, and per dimension its runs
    (local start, global start, length); one run per dimension unless a _StridedShard
    interleaves."""

    def __init__(self, global_shape, runs):
        self.global_shape = list(global_shape)
        self.runs = runs

    @property
    def contiguous(self):
        return all(len(dim_runs) == 1 for dim_runs in self.runs)

    def __repr__(self):
        return "Block(global_shape=%s, runs=%s)" % (self.global_shape, self.runs)


def local_block(x, shard_start=None, global_shape=None):
    """The Block of DTensor x's local tensor on this rank (None if the rank is outside the mesh).

    shard_start / global_shape (both or neither) place x's global tensor in a larger one."""
    sdt = _sdt()
    shard_start = sdt._shape_arg(shard_start, "shard_start")
    global_shape = sdt._shape_arg(global_shape, "global_shape")
    if (shard_start is None) != (global_shape is None):
        raise ValueError("global_shape and shard_start must be given together (both or neither)")
    _check_shard_order(x)
    positions = _dim_positions(x)
    if positions is None:
        return None
    local_shape = tuple(_local(x).shape)
    if tuple(len(p) for p in positions) != local_shape:
        raise ValueError(
            "simdrop.torch: the DTensor's local tensor has shape %s, but its spec (global shape %s, placements %s) "
            "gives this rank %s; a DTensor.from_local of uneven shards needs shape= and stride="
            % (local_shape, tuple(x.shape), tuple(x.placements), tuple(len(p) for p in positions)))
    outer = [0] * x.dim()
    whole = list(x.shape)
    if global_shape is not None:
        if len(global_shape) != x.dim() or len(shard_start) != x.dim():
            raise ValueError(
                "simdrop.torch: global_shape and shard_start must have the DTensor's %d dimensions, not %d and %d"
                % (x.dim(), len(global_shape), len(shard_start)))
        for dim, (start, size, total) in enumerate(zip(shard_start, x.shape, global_shape)):
            if start < 0 or start + size > total:
                raise ValueError(
                    "simdrop.torch: the DTensor (global shape %s) placed at shard_start %s does not fit in "
                    "global_shape %s (dimension %d)" % (tuple(x.shape), tuple(shard_start), tuple(global_shape), dim))
        outer, whole = shard_start, global_shape
    runs = [[(local, first + position, length) for local, position, length in _runs(p)]
            for first, p in zip(outer, positions)]
    return Block(whole, runs)


# ---- local compute -------------------------------------------------------------------------------
def _apply(block, tensors, compute):
    """compute(local tensors, shard_start) over the block's runs: one call for a contiguous
    block, else one per combination of runs, assembled with torch.cat (differentiable).
    tensors align to x's dimensions from the right (bias: the last one)."""
    rank = len(block.runs)

    def visit(dim, parts, starts):
        if dim == rank:
            return compute(parts, starts)
        pieces = []
        for local, position, length in block.runs[dim]:
            narrowed = []
            for tensor in parts:
                own = dim - (rank - tensor.dim())
                narrowed.append(tensor if own < 0 or len(block.runs[dim]) == 1 else tensor.narrow(own, local, length))
            pieces.append(visit(dim + 1, narrowed, starts + [position]))
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim)

    return visit(0, list(tensors), [])


def _wrap(local, like):
    from torch.distributed.tensor import DTensor
    return DTensor.from_local(local, like.device_mesh, like.placements, run_check=False, shape=like.shape,
                              stride=like.stride())


def _placed(x, shard_start, global_shape, inplace):
    """x with a Partial reduced, and its Block (judged before anything is computed)."""
    if inplace and any(placement.is_partial() for placement in x.placements):
        raise ValueError("simdrop.torch: an in-place dropout of a Partial DTensor cannot keep its placements (the "
                         "sum must be reduced first); reduce it yourself (x = x.redistribute(placements=[Replicate() "
                         "or Shard(d), ...])) or drop out of place")
    x = _reduce_partial(x)
    return x, local_block(x, shard_start, global_shape)


def _local(x):
    """The DTensor's own local tensor, outside autograd, and complete: after a collective it may be
    an AsyncCollectiveTensor, a wrapper whose data the operators that read memory directly
    (the modules' stream ledger) must not see before it is waited for."""
    with torch.no_grad():
        local = x.to_local()
    wait = getattr(local, "trigger_wait", None)
    return wait() if wait is not None else local


def _elementwise(x, block, inplace, compute):
    """The DTensor path of an element-wise or channel dropout: compute(local, global_shape,
    shard_start, inplace) on the rank's block(s); the result carries x's placements."""
    if block is None:  # a rank outside the mesh holds nothing
        return x
    if inplace and not (torch.is_grad_enabled() and x.requires_grad):
        local = _local(x)
        _apply(block, [local], lambda parts, start: compute(parts[0], block.global_shape, start, True))
        return x
    local = x.to_local()
    result = _wrap(_apply(block, [local], lambda parts, start: compute(parts[0], block.global_shape, start, False)),
                   x)
    if inplace:  # under autograd: x takes the values, and the graph records the copy
        return x.copy_(result)
    return result


# ---- the functions --------------------------------------------------------------------------------
def dropout(input, p, training, inplace, *, seed, stream, offset, generator, threshold_bits, global_shape,
            shard_start):
    sdt = _sdt()
    p = sdt._check_p(p)
    if not training:
        return input
    seed, stream, offset, _, _ = sdt._call_args(generator, threshold_bits, seed, stream, offset, None, None)

    def compute(local, whole, start, in_place):
        return sdt.dropout(local, p, True, in_place, seed=seed, stream=stream, offset=offset, generator=generator,
                           threshold_bits=threshold_bits, global_shape=whole, shard_start=start)

    input, block = _placed(input, shard_start, global_shape, inplace)
    return _elementwise(input, block, inplace, compute)


def channel_dropout(function, input, p, training, inplace, *, seed, stream, offset, generator, threshold_bits,
                    global_shape, shard_start):
    """dropout1d / dropout2d / dropout3d (function: its name in simdrop.torch) of a DTensor."""
    sdt = _sdt()
    function = getattr(sdt, function)
    p = sdt._check_p(p)
    if not training:
        return input
    seed, stream, offset, _, _ = sdt._call_args(generator, threshold_bits, seed, stream, offset, None, None)

    def compute(local, whole, start, in_place):
        return function(local, p, True, in_place, seed=seed, stream=stream, offset=offset, generator=generator,
                        threshold_bits=threshold_bits, global_shape=whole, shard_start=start)

    input, block = _placed(input, shard_start, global_shape, inplace)
    return _elementwise(input, block, inplace, compute)


def _bias_placements(x):
    """The placements that give bias (x's last dimension) the same block as x's last dimension."""
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor.placement_types import _StridedShard
    last = x.dim() - 1
    placements = []
    for placement in x.placements:
        if isinstance(placement, _StridedShard) and placement.dim == last:
            placements.append(_StridedShard(0, split_factor=placement.split_factor))
        elif isinstance(placement, Shard) and placement.dim == last:
            placements.append(Shard(0))
        else:
            placements.append(Replicate())
    return placements


def _bias_gradient_placements(x, bias):
    """Where x is split along another dimension than the last, each rank's bias gradient sums
    only its own rows: a Partial sum over that mesh dimension."""
    from torch.distributed.tensor import Partial
    from torch.distributed.tensor.placement_types import Shard, _StridedShard
    last = x.dim() - 1
    return [Partial() if isinstance(placement, (Shard, _StridedShard)) and placement.dim != last else own
            for placement, own in zip(x.placements, bias.placements)]


def _operands(x, bias, residual):
    """bias and residual as DTensors laid out like x (redistributed when they are not)."""
    for tensor, name in ((bias, "bias"), (residual, "residual")):
        if not is_dtensor(tensor):
            raise TypeError("simdrop.torch.bias_dropout_add: x is a DTensor, so %s must be one too (on x's mesh), "
                            "not %s" % (name, type(tensor).__name__))
        if tensor.device_mesh != x.device_mesh:
            raise ValueError("simdrop.torch.bias_dropout_add: %s is on another DeviceMesh than x" % name)
    if bias.dim() != 1 or bias.shape[0] != x.shape[-1]:
        raise ValueError("simdrop.torch.bias_dropout_add: bias must have shape (%d,), not %s"
                         % (x.shape[-1], tuple(bias.shape)))
    if tuple(residual.shape) != tuple(x.shape):
        raise ValueError("simdrop.torch.bias_dropout_add: residual must have x's shape %s, not %s"
                         % (tuple(x.shape), tuple(residual.shape)))
    wanted = _bias_placements(x)
    if tuple(bias.placements) != tuple(wanted):
        bias = bias.redistribute(x.device_mesh, wanted)
    if tuple(residual.placements) != tuple(x.placements):
        residual = residual.redistribute(x.device_mesh, x.placements)
    return bias, residual


def bias_dropout_add(x, bias, residual, p, training, *, seed, stream, offset, generator, threshold_bits,
                     global_shape, shard_start, module=None):
    """residual + dropout(x + bias) of DTensors; x's placements decide (bias follows x's last
    dimension, residual x), the others are redistributed to them if they differ.
    module: a BiasDropoutAdd whose stream is claimed once the arguments are judged."""
    sdt = _sdt()
    p = sdt._check_p(p)
    if not training:
        return residual + (x + bias)
    x = _reduce_partial(x)
    bias, residual = _operands(x, bias, residual)
    block = local_block(x, shard_start, global_shape)
    if module is None:
        seed, stream, offset, _, _ = sdt._call_args(generator, threshold_bits, seed, stream, offset, None, None)
    else:
        seed, stream = module.seed, module._next_stream([_local(t) for t in (x, bias, residual)])
    if block is None:  # a rank outside the mesh holds nothing
        return residual + (x + bias)
    locals_ = [x.to_local(), bias.to_local(grad_placements=_bias_gradient_placements(x, bias)), residual.to_local()]

    def compute(parts, start):
        return sdt.bias_dropout_add(parts[0], parts[1], parts[2], p, True, seed=seed, stream=stream, offset=offset,
                                    generator=generator, threshold_bits=threshold_bits,
                                    global_shape=block.global_shape, shard_start=start)

    return _wrap(_apply(block, locals_, compute), x)


# ---- the modules ----------------------------------------------------------------------------------
def _check_buffers(module):
    for name in ("seed", "step"):
        if is_dtensor(getattr(module, name)):
            raise TypeError(
                "simdrop.torch.%s: its %s buffer is a DTensor (distribute_module replicated it); keep the module's "
                "buffers plain tensors, e.g. with a partition_fn that leaves simdrop's modules alone"
                % (type(module).__name__, name))


def module_forward(module, input, shard_start, global_shape):
    """Dropout / Dropout1d / Dropout2d / Dropout3d.forward of a DTensor: one stream per training
    forward, claimed (from the local tensor's fingerprint, for checkpoint recomputes) once the
    placement has been judged, so a refused call leaves `step` as it was."""
    if not module.training:
        return input
    _check_buffers(module)
    sdt = _sdt()
    shard_start, global_shape = module._placement(input, type(module).__name__, sdt._shape_arg(shard_start,
                                                  "shard_start"), sdt._shape_arg(global_shape, "global_shape"))
    input, block = _placed(input, shard_start, global_shape, module.inplace)  # judged before the stream is claimed
    save_mask = getattr(module, "save_mask", False)
    if save_mask and block is not None and not block.contiguous:
        raise NotImplementedError("simdrop.torch.Dropout(save_mask=True): this rank's shard of the DTensor is not "
                                  "one block (a _StridedShard); use save_mask=False")
    channels = isinstance(module, sdt._ChannelDropout)

    def run():
        stream = module._next_stream([_local(input)])
        if block is None:  # a rank outside the mesh holds nothing, but keeps its step in line
            return input
        if channels:
            function = {"dropout1d": sdt.dropout1d, "dropout2d": sdt.dropout2d,
                        "dropout3d": sdt.dropout3d}[module._function]

            def compute(local, whole, start, in_place):
                return function(local, module.p, True, in_place, seed=module.seed, stream=stream,
                                generator=module.generator, threshold_bits=module.threshold_bits,
                                global_shape=whole, shard_start=start)
        elif save_mask:
            def compute(local, whole, start, in_place):
                operator = torch.ops.simdrop.dropout_mask_ if in_place else torch.ops.simdrop.dropout_mask
                result = operator(local, module.keep_prob, module.seed, stream, 0, module.generator,
                                  module.threshold_bits, whole, start)
                if in_place:
                    module.last_mask = result
                    return local
                module.last_mask = result[1]
                return result[0]
        else:
            def compute(local, whole, start, in_place):
                return sdt.dropout(local, module.p, True, in_place, seed=module.seed, stream=stream,
                                   generator=module.generator, threshold_bits=module.threshold_bits,
                                   global_shape=whole, shard_start=start)

        return _elementwise(input, block, module.inplace, compute)

    return module._eager_call(run)


def bias_module_forward(module, x, bias, residual, shard_start, global_shape):
    """BiasDropoutAdd.forward of DTensors."""
    _check_buffers(module)
    sdt = _sdt()
    shard_start, global_shape = module._placement(x, "BiasDropoutAdd",
                                                  sdt._shape_arg(shard_start, "shard_start"),
                                                  sdt._shape_arg(global_shape, "global_shape"))
    return module._eager_call(
        lambda: bias_dropout_add(x, bias, residual, module.p, True, seed=module.seed, stream=None, offset=0,
                                 generator=module.generator, threshold_bits=module.threshold_bits,
                                 global_shape=global_shape, shard_start=shard_start, module=module))
