"""The ranks of test_dtensor.py: a gloo group on 127.0.0.1 in which every rank runs simdrop.torch
on DTensors and gathers the results with full_tensor().

Scenarios, each for float32 and bfloat16 (another generator and width each):
- "elementwise" (5, 7, 11) and "channels" (3, 5, 2, 3): every placement of PLACEMENTS on a 1-D
  mesh of all ranks and on the 2-D mesh MESH_2D (data x tensor parallel): Shard(d) on every
  dim (uneven: 5, 7, 11 over 2, 3 and 4 ranks), [Shard(0), Shard(0)], Replicate, Partial;
- "strided": a Shard(1) DTensor viewed as (35, 11), which DTensor marks _StridedShard(0);
- "block": a parallelize_module plan (SequenceParallel, ColwiseParallel, RowwiseParallel) around
  simdrop's Dropout modules, trained STEPS steps;
- "reshard" (4 ranks): that block trained at TP 2 (on a 2 x 2 mesh), checkpointed with
  torch.distributed.checkpoint, resumed at TP 4;
- "outer": a DTensor placed in a larger batch with shard_start= / global_shape= (data parallel
  outside the mesh);
- "compiled" (2 ranks): torch.compile (aot_eager, fullgraph) of a function, a module and the
  parallelized block on DTensors.

compute() is written once for both sides: with a Layout on a mesh it makes DTensors and reads
results back with full_tensor(); with Layout() it makes plain tensors, and the test process
calls it so for the single-process reference. Every rank gathers its whole results, so the test
sees every replica's (Replicate) values, not only rank 0's.
"""
import datetime
import os

import numpy as np
import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor import DTensor, Partial, Replicate, Shard, distribute_tensor
from torch.distributed.tensor.parallel import (ColwiseParallel, RowwiseParallel, SequenceParallel,
                                               parallelize_module)

import simdrop.torch as sdt

DTYPES = (torch.float32, torch.bfloat16)
CONFIG = {torch.float32: ("philox", 16), torch.bfloat16: ("xoshiro", 8)}
P, SEED, STREAM, OFFSET = 0.3, 2**64 - 4321, 5, 9
STEPS = 3
SHAPES = {"elementwise": (5, 7, 11), "channels": (3, 5, 2, 3), "strided": (5, 7, 11)}
# The 2-D mesh (data parallel x tensor parallel) of each world size.
MESH_2D = {1: (1, 1), 2: (2, 1), 3: (1, 3), 4: (2, 2)}
# Placements, one letter per mesh dimension: S<d> = Shard(d), R = Replicate(), P = Partial().
PLACEMENTS = {
    ("elementwise", 1): ["S0", "S1", "S2", "R", "P"],
    ("elementwise", 2): ["S0,S0", "S0,S2", "S2,S1", "R,S1", "S1,R", "R,R", "P,S2", "S2,P"],
    ("channels", 1): ["S0", "S1", "S2", "S3", "R"],
    ("channels", 2): ["S0,S1", "S1,S1", "S3,S0", "R,S2", "P,S1"],
    ("strided", 1): ["S1"],
}
RESHARD_STEPS = (2, 4)   # steps at TP 2, then at TP 4 after the checkpoint


def parse(placements):
    kinds = {"R": lambda: Replicate(), "P": lambda: Partial()}
    return [Shard(int(text[1:])) if text[0] == "S" else kinds[text]() for text in placements.split(",")]


def scenarios(world_size):
    """(kind, mesh shape, placements) of every scenario a group of world_size runs."""
    result = []
    for (kind, dims), lists in sorted(PLACEMENTS.items()):
        mesh_shape = (world_size,) if dims == 1 else MESH_2D[world_size]
        result.extend((kind, mesh_shape, placements) for placements in lists)
    return result


def global_inputs(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=g, dtype=torch.float64) * 3).to(dtype)
    dy = torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)
    bias = torch.randn(shape[-1], generator=g, dtype=torch.float64).to(dtype)
    residual = torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)
    return x, dy, bias, residual


def unpack(mask, shape):
    n = int(np.prod(shape))
    bits = np.unpackbits(mask.numpy(), bitorder="little")[:n]
    return torch.from_numpy(bits.reshape(tuple(shape)).copy())  # uint8: gloo gathers no bool


class Layout:
    """Plain tensors (Layout()) or DTensors on mesh with placements."""

    def __init__(self, mesh=None, placements=None):
        self.mesh, self.placements = mesh, placements

    def make(self, tensor, requires_grad=False, placements=None):
        """tensor (the same global value on every rank) as this layout's input; a Partial
        placement puts the value on the mesh coordinate 0 of that dimension and zeros elsewhere,
        so that the sum is the value bit for bit."""
        if self.mesh is None:
            result = tensor.clone()
        else:
            placements = placements or self.placements
            plain = [Replicate() if p.is_partial() else p for p in placements]
            # A copy: the split of the global tensor may be a view into it, which in place would change.
            local = distribute_tensor(tensor, self.mesh, plain, src_data_rank=None).to_local().clone()
            coordinate = self.mesh.get_coordinate()
            if any(p.is_partial() and coordinate[d] != 0 for d, p in enumerate(placements)):
                local = torch.zeros_like(local)
            result = DTensor.from_local(local, self.mesh, placements, run_check=False, shape=tensor.shape,
                                        stride=tensor.stride())
        return result.requires_grad_() if requires_grad else result

    def like(self, output, tensor):
        """tensor as a gradient for output (its placements)."""
        if self.mesh is None:
            return tensor
        return distribute_tensor(tensor, self.mesh, output.placements, src_data_rank=None)

    def full(self, tensor):
        tensor = tensor.detach()
        return tensor.full_tensor() if isinstance(tensor, DTensor) else tensor

    def mask(self, layer, output):
        """A Dropout(save_mask=True)'s last mask over the whole tensor (0/1 uint8)."""
        if self.mesh is None:
            return unpack(layer.last_mask, output.shape)
        return whole_mask(layer, output.device_mesh, output.placements, output.shape)


def whole_mask(layer, mesh, placements, shape):
    """The whole mask of a Dropout(save_mask=True) whose last input was a DTensor of this shape and
    placements on mesh: the rank's bits as a DTensor, gathered."""
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset
    local_shape, _ = compute_local_shape_and_global_offset(shape, mesh, placements)
    local = unpack(layer.last_mask, local_shape)
    whole = DTensor.from_local(local, mesh, placements, run_check=False, shape=torch.Size(shape),
                               stride=torch.empty(shape).stride())
    return whole.full_tensor()


def compute(kind, dtype, layout):
    """{quantity: whole tensor} of one scenario and dtype."""
    generator, bits = CONFIG[dtype]
    options = dict(generator=generator, threshold_bits=bits)
    kwargs = dict(seed=SEED, stream=STREAM, offset=OFFSET, **options)
    x, dy, bias, residual = global_inputs(SHAPES[kind], dtype, seed=len(kind))
    if kind == "strided":
        x, dy = x.reshape(35, 11), dy.reshape(35, 11)
    out = {}
    partial = layout.placements is not None and any(p.is_partial() for p in layout.placements)

    def function_and_gradient(name, function):
        leaf = layout.make(x, requires_grad=True)
        y = function(leaf)
        y.backward(layout.like(y, dy))
        out[name + "_y"], out[name + "_dx"] = layout.full(y), layout.full(leaf.grad)
        if layout.mesh is not None:
            out[name + "_placements"] = str(tuple(y.placements))

    def module_steps(name, layer, mask=False):
        for step in range(STEPS):
            leaf = layout.make(x, requires_grad=True)
            y = layer(leaf)
            y.backward(layout.like(y, dy))
            out["%s_y%d" % (name, step)], out["%s_dx%d" % (name, step)] = layout.full(y), layout.full(leaf.grad)
            if mask:
                out["%s_mask%d" % (name, step)] = layout.mask(layer, y)

    def in_place(name, function):
        with torch.no_grad():
            work = layout.make(x)
            result = function(work)
            assert result is work
            out[name] = layout.full(work)

    if kind == "strided":
        # Shard(1) of (5, 7, 11) viewed as (35, 11): DTensor marks dim 0 _StridedShard, each rank
        # holds 5 runs of rows.
        if layout.mesh is not None:
            layout = _StridedLayout(layout.mesh)
        function_and_gradient("dropout", lambda t: sdt.dropout(t, P, **kwargs))
        module_steps("module", sdt.Dropout(P, seed=SEED, **options))
        in_place("dropout_inplace_y", lambda t: sdt.dropout(t, P, inplace=True, **kwargs))
        return out

    if kind == "channels":
        function_and_gradient("dropout2d", lambda t: sdt.dropout2d(t, P, **kwargs))
        # A 4-D input to dropout3d is one unbatched (C, D, H, W) sample: channel c has index c.
        function_and_gradient("dropout3d", lambda t: sdt.dropout3d(t, P, **kwargs))
        module_steps("module2d", sdt.Dropout2d(P, seed=SEED, **options))
        if not partial:
            in_place("dropout2d_inplace_y", lambda t: sdt.dropout2d(t, P, inplace=True, **kwargs))
        return out

    function_and_gradient("dropout", lambda t: sdt.dropout(t, P, **kwargs))
    function_and_gradient("dropout1d", lambda t: sdt.dropout1d(t, P, **kwargs))
    if not partial:
        in_place("dropout_inplace_y", lambda t: sdt.dropout(t, P, inplace=True, **kwargs))
        # In place under autograd: the input is the result of an op, its gradient flows through.
        function_and_gradient("dropout_inplace_autograd",
                              lambda t: sdt.dropout(t * 1, P, inplace=True, **kwargs))
    module_steps("module", sdt.Dropout(P, seed=SEED, **options))
    module_steps("module1d", sdt.Dropout1d(P, seed=SEED, **options))
    module_steps("module_saved_mask", sdt.Dropout(P, seed=SEED, save_mask=True, **options), mask=True)
    # bias + dropout + residual: bias arrives replicated (redistributed to follow x's last dim).
    leaves = [layout.make(x, True), layout.make(bias, True, placements=[Replicate()] * _ndim(layout)),
              layout.make(residual, True)]
    y = sdt.bias_dropout_add(*leaves, P, **kwargs)
    y.backward(layout.like(y, dy))
    for name, value in zip(("y", "dx", "dbias", "dresidual"), [y] + [leaf.grad for leaf in leaves]):
        out["bias_dropout_add_" + name] = layout.full(value)
    layer = sdt.BiasDropoutAdd(P, seed=SEED, **options)
    for step in range(STEPS):
        operands = [layout.make(x), layout.make(bias, placements=[Replicate()] * _ndim(layout)), layout.make(residual)]
        out["bias_module_y%d" % step] = layout.full(layer(*operands))
    return out


def _ndim(layout):
    return 0 if layout.mesh is None else layout.mesh.ndim


class _StridedLayout(Layout):
    """Inputs made as Shard(1) of (5, 7, 11) and viewed as (35, 11): _StridedShard(0)."""

    def __init__(self, mesh):
        super().__init__(mesh, [Shard(1)])

    def make(self, tensor, requires_grad=False, placements=None):
        whole = distribute_tensor(tensor.reshape(5, 7, 11), self.mesh, [Shard(1)], src_data_rank=None)
        leaf = whole.view(35, 11).detach()
        assert type(leaf.placements[0]).__name__ == "_StridedShard", leaf.placements
        return leaf.requires_grad_() if requires_grad else leaf

    def like(self, output, tensor):
        return self.make(tensor)


# ---- parallelize_module ------------------------------------------------------------------------------
HIDDEN, FFN, BATCH, TOKENS = 16, 36, 3, 7


class TransformerMlp(torch.nn.Module):
    """x + Dropout(fc2(Dropout(relu(fc1(norm(x)))))), the feed-forward half of a transformer block."""

    def __init__(self):
        super().__init__()
        self.norm = torch.nn.LayerNorm(HIDDEN)
        self.fc1 = torch.nn.Linear(HIDDEN, FFN)
        self.drop1 = sdt.Dropout(P, seed=SEED, save_mask=True)
        self.fc2 = torch.nn.Linear(FFN, HIDDEN)
        self.drop2 = sdt.Dropout(P, seed=SEED + 1, save_mask=True)

    def forward(self, x):
        h = self.drop1(torch.relu(self.fc1(self.norm(x))))
        return x + self.drop2(self.fc2(h))


def plan():
    """Sequence parallel outside the MLP, tensor parallel inside; use_local_output=False keeps the
    linears' outputs DTensors, so the dropout layers after them see their placements."""
    return {"norm": SequenceParallel(),
            "fc1": ColwiseParallel(input_layouts=Shard(1), use_local_output=False),
            "fc2": RowwiseParallel(output_layouts=Shard(1), use_local_output=False)}


def block_inputs(step):
    g = torch.Generator().manual_seed(1000 + step)
    return torch.randn(BATCH, TOKENS, HIDDEN, generator=g)


# What the plan hands the dropout layers (block_steps checks it on the eager runs).
BLOCK_DROPOUT_INPUTS = {"drop1": ((BATCH, TOKENS, FFN), (Shard(2),)), "drop2": ((BATCH, TOKENS, HIDDEN), (Shard(1),))}


def block_steps(model, steps, mesh=None, compiled=False):
    """Trains model (parallelized on the 1-D mesh, or plain without one; compiled: run through
    torch.compile) for the given steps: per step the loss and both dropout layers' whole masks."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    seen = {}
    if not compiled:
        for layer in (model.drop1, model.drop2):
            layer.register_forward_hook(lambda module, args, output: seen.__setitem__(module, output))
    run = torch.compile(model, backend="aot_eager", fullgraph=True) if compiled else model
    out = {}
    for step in steps:
        x = block_inputs(step)
        if mesh is not None:
            x = distribute_tensor(x, mesh, [Shard(1)], src_data_rank=None)
        optimizer.zero_grad()
        y = run(x)
        loss = y.pow(2).mean()
        loss.backward()
        optimizer.step()
        out["loss%d" % step] = Layout(mesh).full(loss).reshape(())
        for name, (shape, placements) in BLOCK_DROPOUT_INPUTS.items():
            layer = getattr(model, name)
            if mesh is None:
                out["%s_mask%d" % (name, step)] = unpack(layer.last_mask, shape)
                continue
            if not compiled:
                assert tuple(seen[layer].shape) == shape and tuple(seen[layer].placements) == placements, name
            out["%s_mask%d" % (name, step)] = whole_mask(layer, mesh, placements, shape)
    return out


def block_run(mesh):
    torch.manual_seed(7)
    model = TransformerMlp()
    if mesh is not None:
        parallelize_module(model, mesh, plan())
    return block_steps(model, range(STEPS), mesh)


def reshard_run(world_size, folder):
    """TP 2 (a 2 x 2 mesh: two replicas of TP 2) for RESHARD_STEPS[0] steps, a checkpoint, then TP 4."""
    import torch.distributed.checkpoint as dcp
    first, total = RESHARD_STEPS
    mesh = init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp", "tp"))
    torch.manual_seed(7)
    model = TransformerMlp()
    parallelize_module(model, mesh["tp"], plan())
    out = block_steps(model, range(first), mesh["tp"])
    dcp.save({"model": model.state_dict()}, checkpoint_id=folder)
    dist.barrier()
    torch.manual_seed(8)  # other weights and seeds: the checkpoint must bring them back
    model = TransformerMlp()
    model.drop1.seed.fill_(1)
    model.drop2.seed.fill_(2)
    tp4 = init_device_mesh("cpu", (world_size,))
    parallelize_module(model, tp4, plan())
    state = {"model": model.state_dict()}
    dcp.load(state, checkpoint_id=folder)
    model.load_state_dict(state["model"])
    out.update(block_steps(model, range(first, total), tp4))
    return out


# ---- torch.compile -------------------------------------------------------------------------------------
def compiled_run(mesh):
    """torch.compile(fullgraph=True, backend="aot_eager") of a function and of a module on DTensors."""
    torch._dynamo.reset()
    x, dy, _, _ = global_inputs((5, 7, 11), torch.float32, seed=3)
    layout = Layout(mesh, [Shard(1)]) if mesh is not None else Layout()
    out = {}

    def function(t, stream):
        return sdt.dropout(t, P, seed=SEED, stream=stream) * 2

    run = torch.compile(function, backend="aot_eager", fullgraph=True) if mesh is not None else function
    for step in range(2):
        leaf = layout.make(x, requires_grad=True)
        y = run(leaf, torch.tensor(step))
        y.backward(layout.like(y, dy))
        out["function_y%d" % step], out["function_dx%d" % step] = layout.full(y), layout.full(leaf.grad)
    layer = sdt.Dropout(P, seed=SEED)
    model = torch.compile(layer, backend="aot_eager", fullgraph=True) if mesh is not None else layer
    for step in range(STEPS):
        out["module_y%d" % step] = layout.full(model(layout.make(x)))
    out["module_step"] = layer.step.clone()
    # The parallelized block compiled whole (SequenceParallel, ColwiseParallel, RowwiseParallel hooks
    # and simdrop's modules on intermediate DTensors).
    torch.manual_seed(7)
    model = TransformerMlp()
    if mesh is not None:
        parallelize_module(model, mesh, plan())
    for quantity, value in block_steps(model, range(2), mesh, compiled=mesh is not None).items():
        out["block_" + quantity] = value
    return out


# ---- a DTensor that is itself a block: data parallel outside its mesh ------------------------------
OUTER_SHAPE, OUTER_ROWS = (9, 7, 11), (2, 7)


def outer_run(mesh):
    """A DTensor on the mesh holds rows 2 .. 6 of a (9, 7, 11) batch (what a data-parallel rank holds,
    unseen by the tensor-parallel mesh): shard_start / global_shape place it, per call and from a
    module's constructor; the gathered rows equal those rows of the single-process call."""
    x, dy, _, _ = global_inputs(OUTER_SHAPE, torch.float32, seed=11)
    first, stop = OUTER_ROWS
    place = dict(shard_start=(first, 0, 0), global_shape=OUTER_SHAPE)
    rows = x[first:stop]
    layout = Layout(mesh, [Shard(2)]) if mesh is not None else Layout()
    out = {}
    leaf = layout.make(rows, requires_grad=True)
    y = sdt.dropout(leaf, P, seed=SEED, stream=STREAM, **(place if mesh is not None else {}))
    y.backward(layout.like(y, dy[first:stop]))
    out["function_y"], out["function_dx"] = layout.full(y), layout.full(leaf.grad)
    per_call = sdt.Dropout(P, seed=SEED)
    constructed = sdt.Dropout(P, seed=SEED, **{k: list(v) for k, v in place.items()})
    for step in range(2):
        out["per_call_y%d" % step] = layout.full(per_call(layout.make(rows), **place))
        out["constructor_y%d" % step] = layout.full(constructed(layout.make(rows)))
    return out


def outer_reference():
    """The same rows of the single-process calls on the whole (9, 7, 11) batch."""
    x, dy, _, _ = global_inputs(OUTER_SHAPE, torch.float32, seed=11)
    first, stop = OUTER_ROWS
    leaf = x.clone().requires_grad_()
    y = sdt.dropout(leaf, P, seed=SEED, stream=STREAM)
    y.backward(dy)
    out = {"function_y": y.detach()[first:stop], "function_dx": leaf.grad[first:stop]}
    layer = sdt.Dropout(P, seed=SEED)
    for step in range(2):
        whole = layer(x)[first:stop]
        out["per_call_y%d" % step] = out["constructor_y%d" % step] = whole
    return out


def strided_save_mask_is_refused(mesh):
    """save_mask=True keeps one mask per call: a _StridedShard block of several runs is refused, and
    the refused forward leaves the module's step as it was."""
    layer = sdt.Dropout(P, seed=SEED, save_mask=True)
    try:
        layer(_StridedLayout(mesh).make(torch.ones(35, 11)))
    except NotImplementedError:
        return int(layer.step) == 0
    return False


# ---- the group -------------------------------------------------------------------------------------------
def rank_results(world_size, folder):
    results = {}
    meshes = {}
    for kind, mesh_shape, placements in scenarios(world_size):
        if mesh_shape not in meshes:
            meshes[mesh_shape] = init_device_mesh("cpu", mesh_shape)
        layout = Layout(meshes[mesh_shape], parse(placements))
        for dtype in DTYPES:
            for quantity, value in compute(kind, dtype, layout).items():
                results[(kind, mesh_shape, placements, str(dtype), quantity)] = value
    for quantity, value in block_run(meshes[(world_size,)]).items():
        results[("block", quantity)] = value
    for quantity, value in outer_run(meshes[(world_size,)]).items():
        results[("outer", quantity)] = value
    if world_size > 1:
        results[("strided_save_mask_refused", "")] = strided_save_mask_is_refused(meshes[(world_size,)])
    if world_size == 2:
        for quantity, value in compiled_run(meshes[(world_size,)]).items():
            results[("compiled", quantity)] = value
    if world_size == 4:
        for quantity, value in reshard_run(world_size, os.path.join(folder, "checkpoint")).items():
            results[("reshard", quantity)] = value
    return results


def run(rank, world_size, port, folder):
    """torch.multiprocessing.spawn's entry point: one rank of the group."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port, rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=60))
    try:
        results = rank_results(world_size, folder)
        gathered = [None] * world_size if rank == 0 else None
        dist.gather_object(results, gathered, dst=0)
        if rank == 0:
            torch.save({"world_size": world_size, "ranks": gathered}, os.path.join(folder, "gathered.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()
