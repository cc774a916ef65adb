#!/usr/bin/env python3
"""Tensor parallelism without mask drift (pytorch #168058) on the CPU: a small transformer on digits,
trained at TP 1, 2 and 4 and at DP x TP 2 x 2 with DTensor, with simdrop's dropout, with torch's
dropout on the local shards seeded per rank (Megatron-style), and with torch's dropout on the DTensor.

The model: each 8 x 8 digit is 16 tokens of 2 x 2 pixels, embedded to 64 features (plus a learned
position), two pre-norm transformer blocks (4 heads, feed-forward 128) and a linear classifier on
the mean token. Every block has four dropout layers: on the attention probabilities (B, heads, S, S),
after the attention's output projection, on the feed-forward hidden layer, and after its output
projection. The blocks are parallelized with parallelize_module on the tensor-parallel mesh:

    norm*        SequenceParallel()                                             tokens split (Shard(1))
    q, k, v      ColwiseParallel(input_layouts=Shard(1), use_local_output=False)   heads split
    proj         RowwiseParallel(output_layouts=Shard(1), use_local_output=False)  tokens split
    fc1          ColwiseParallel(input_layouts=Shard(1), use_local_output=False)   hidden split
    fc2          RowwiseParallel(output_layouts=Shard(1), use_local_output=False)  tokens split

so every dropout layer sees a DTensor: Shard(1) of the attention probabilities (the heads),
Shard(2) of the feed-forward hidden layer, Shard(1) (the tokens) after the projections. With
data parallelism (DP x TP 2 x 2) each data-parallel rank holds rows r0 .. r1 of the batch, which
the tensor-parallel mesh does not see; the model passes them to the dropout layers as for plain
tensors: layer(h, shard_start=(r0, 0, ...), global_shape=(B, ...)), and the ranks all-reduce their
gradients over the data-parallel group.

The dropouts (--dropouts):
  simdrop     simdrop.torch.Dropout(p, save_mask=True) on the DTensor: each rank computes its
              shard's part of the whole tensor's decisions.
  megatron    torch.native_dropout (torch's own dropout kernel) on the local shard, drawing from a
              CPU generator seeded seed + 2718 + tp_rank, as Megatron-LM's tensor-parallel RNG
              tracker does (the same on every data-parallel replica).
  torch       torch.native_dropout on the DTensor itself (what torch.nn.functional.dropout runs).
              DTensor's offset-based RNG tracker does not take CPU meshes (pytorch #138329): torch
              2.13 warns ("DTensor random operators may not have complete support on cpu device
              mesh") and each rank draws its shard's mask from its own default generator, seeded
              alike on every rank.

Every layout runs in a gloo group on 127.0.0.1 (TP 1 a group of one; TP 4 and DP x TP 2 x 2 share
a group of four) with the same seed, weights and batches. Per step the script gathers every dropout
layer's mask over the whole batch and hashes them (sha256, 12 hex digits), and records the loss of
the whole batch. It prints the hashes side by side, whether they are identical at every step, and
max |loss - loss at TP 1| over the run, per dropout. Exit status 1 if simdrop's hashes differ
between layouts.

    python examples/python/tp_dropout.py                 # 300 steps, 3 dropouts, 4 layouts
    python examples/python/tp_dropout.py --steps 8 --dropouts simdrop,megatron   # the tests' short run
"""
import argparse
import datetime
import hashlib
import math
import os
import socket
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_mlp import load_digits  # noqa: E402  (the same data and split as the other examples)

import simdrop.torch as sdt  # noqa: E402

LAYOUTS = {"tp1": (1, 1), "tp2": (1, 2), "tp4": (1, 4), "dp2xtp2": (2, 2)}   # name: (dp, tp)
LABELS = {"tp1": "TP 1", "tp2": "TP 2", "tp4": "TP 4", "dp2xtp2": "DP 2 x TP 2"}
DROPOUTS = ("simdrop", "megatron", "torch")
TOKENS, PATCH = 16, 4


# ---- the two dropouts -------------------------------------------------------------------------------
class Recorder:
    """Every dropout call's mask of this step: (layer number, whole shape, block start, 0/1 bytes)."""

    def __init__(self):
        self.masks = []


def block_start(tensor, outer):
    """The global start of this rank's block of DTensor tensor, within the batch (outer: the data
    parallel rows' start), from torch's own offset computation."""
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset
    _, offset = compute_local_shape_and_global_offset(tensor.shape, tensor.device_mesh, tensor.placements)
    return tuple(o + s for o, s in zip(offset, outer))


class SimdropDropout(torch.nn.Module):
    def __init__(self, p, recorder):
        super().__init__()
        self.layer = sdt.Dropout(p, save_mask=True)
        self.recorder = recorder

    def forward(self, h, first_row, batch_rows):
        outer = (first_row,) + (0,) * (h.dim() - 1)
        whole = (batch_rows,) + tuple(h.shape[1:])
        y = self.layer(h, shard_start=outer, global_shape=whole)
        if self.training:
            local = tuple(y.to_local().shape)
            bits = np.unpackbits(self.layer.last_mask.numpy(), bitorder="little")[:int(np.prod(local))]
            self.recorder.masks.append((len(self.recorder.masks), whole, block_start(y, outer), local, bits))
        return y


class MegatronTracker:
    """One CPU generator state per tensor-parallel rank, seeded seed + 2718 + tp_rank (Megatron-LM's
    model-parallel RNG tracker), forked around every dropout call."""

    def __init__(self, seed, tp_rank):
        self.generator = torch.Generator().manual_seed(seed + 2718 + tp_rank)


class MegatronDropout(torch.nn.Module):
    def __init__(self, p, recorder, tracker):
        super().__init__()
        self.p, self.recorder, self.tracker = p, recorder, tracker

    def forward(self, h, first_row, batch_rows):
        if not self.training:
            return h
        from torch.distributed.tensor import DTensor
        local = h.to_local()
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.tracker.generator.get_state())
            y, mask = torch.native_dropout(local, self.p, True)
            self.tracker.generator.set_state(torch.get_rng_state())
        outer = (first_row,) + (0,) * (h.dim() - 1)
        whole = (batch_rows,) + tuple(h.shape[1:])
        self.recorder.masks.append((len(self.recorder.masks), whole, block_start(h, outer), tuple(local.shape),
                                    mask.reshape(-1).to(torch.uint8).numpy()))
        return DTensor.from_local(y, h.device_mesh, h.placements, run_check=False, shape=h.shape, stride=h.stride())


class TorchDropout(torch.nn.Module):
    def __init__(self, p, recorder):
        super().__init__()
        self.p, self.recorder = p, recorder

    def forward(self, h, first_row, batch_rows):
        if not self.training:
            return h
        y, mask = torch.native_dropout(h, self.p, True)
        outer = (first_row,) + (0,) * (h.dim() - 1)
        whole = (batch_rows,) + tuple(h.shape[1:])
        local = mask.to_local()
        self.recorder.masks.append((len(self.recorder.masks), whole, block_start(h, outer), tuple(local.shape),
                                    local.reshape(-1).to(torch.uint8).numpy()))
        return y


# ---- the model ----------------------------------------------------------------------------------------
class Block(torch.nn.Module):
    def __init__(self, hidden, heads, ffn, make_dropout):
        super().__init__()
        self.heads = heads
        self.norm1 = torch.nn.LayerNorm(hidden)
        self.q = torch.nn.Linear(hidden, hidden)
        self.k = torch.nn.Linear(hidden, hidden)
        self.v = torch.nn.Linear(hidden, hidden)
        self.proj = torch.nn.Linear(hidden, hidden)
        self.norm2 = torch.nn.LayerNorm(hidden)
        self.fc1 = torch.nn.Linear(hidden, ffn)
        self.fc2 = torch.nn.Linear(ffn, hidden)
        self.drop_attention, self.drop_proj, self.drop_ffn, self.drop_out = (make_dropout() for _ in range(4))

    def forward(self, x, first_row, batch_rows):
        batch, tokens, hidden = x.shape
        h = self.norm1(x)
        split = (batch, tokens, self.heads, hidden // self.heads)
        q, k, v = (layer(h).view(split).transpose(1, 2) for layer in (self.q, self.k, self.v))
        scores = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(hidden // self.heads), dim=-1)
        attention = self.drop_attention(scores, first_row, batch_rows) @ v
        x = x + self.drop_proj(self.proj(attention.transpose(1, 2).reshape(batch, tokens, hidden)), first_row,
                               batch_rows)
        h = self.drop_ffn(F.gelu(self.fc1(self.norm2(x))), first_row, batch_rows)
        return x + self.drop_out(self.fc2(h), first_row, batch_rows)


class Transformer(torch.nn.Module):
    def __init__(self, args, make_dropout):
        super().__init__()
        self.embed = torch.nn.Linear(PATCH, args.hidden)
        self.position = torch.nn.Parameter(torch.randn(TOKENS, args.hidden) * 0.02)
        self.blocks = torch.nn.ModuleList(Block(args.hidden, args.heads, args.ffn, make_dropout)
                                          for _ in range(args.layers))
        self.norm = torch.nn.LayerNorm(args.hidden)
        self.head = torch.nn.Linear(args.hidden, 10)

    def forward(self, images, mesh, first_row=0, batch_rows=None):
        from torch.distributed.tensor import DTensor, Replicate, Shard
        batch_rows = len(images) if batch_rows is None else batch_rows
        # 8 x 8 pixels -> 16 tokens of 2 x 2 pixels.
        patches = images.reshape(-1, 4, 2, 4, 2).permute(0, 1, 3, 2, 4).reshape(-1, TOKENS, PATCH)
        x = self.embed(patches) + self.position
        # Every tensor-parallel rank holds the embedding; the blocks take the tokens split.
        x = DTensor.from_local(x, mesh, [Replicate()], run_check=False).redistribute(mesh, [Shard(1)])
        for block in self.blocks:
            x = block(x, first_row, batch_rows)
        x = x.redistribute(mesh, [Replicate()]).to_local()
        return self.head(self.norm(x).mean(dim=1))


def plan():
    from torch.distributed.tensor import Shard
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, SequenceParallel
    def column():
        return ColwiseParallel(input_layouts=Shard(1), use_local_output=False)

    def row():
        return RowwiseParallel(output_layouts=Shard(1), use_local_output=False)

    return {"norm1": SequenceParallel(), "q": column(), "k": column(), "v": column(), "proj": row(),
            "norm2": SequenceParallel(), "fc1": column(), "fc2": row()}


# ---- training -----------------------------------------------------------------------------------------
def split(n, parts, index):
    """Rows [start, stop) of part `index` of `parts` near-equal parts, the larger ones first."""
    base, extra = divmod(n, parts)
    start = index * base + min(index, extra)
    return start, start + base + (1 if index < extra else 0)


def batches(n_train, args):
    generator = torch.Generator().manual_seed(args.seed)
    steps = []
    while len(steps) < args.steps:
        order = torch.randperm(n_train, generator=generator)
        steps.extend(order[first:first + args.batch] for first in range(0, n_train, args.batch))
    return steps[:args.steps]


def step_hash(parts):
    """sha256 (12 hex digits) of every dropout call's whole mask, in call order; parts: every rank's
    (layer, whole shape, start, local shape, bits). Replicas must agree, and the blocks tile."""
    layers = {}
    for layer, whole, start, local, bits in parts:
        mask, covered = layers.setdefault(layer, (np.zeros(whole, np.uint8), np.zeros(whole, np.int64)))
        where = tuple(slice(s, s + n) for s, n in zip(start, local))
        block = np.asarray(bits, np.uint8).reshape(local)
        if covered[where].any():
            assert (covered[where] > 0).all() and np.array_equal(mask[where], block), "replicas disagree"
        mask[where] = block
        covered[where] += 1
    digest = hashlib.sha256()
    for layer in sorted(layers):
        mask, covered = layers[layer]
        assert (covered > 0).all(), "the blocks do not cover the tensor"
        digest.update(np.packbits(mask, bitorder="little").tobytes())
    return digest.hexdigest()[:12]


def local_tensor(tensor):
    """A DTensor's local tensor (waited for, if a collective made it), or the tensor itself."""
    from torch.distributed.tensor import DTensor
    if not isinstance(tensor, DTensor):
        return tensor
    local = tensor.to_local()
    return local.trigger_wait() if hasattr(local, "trigger_wait") else local


def train(layout, dropout, rank, data, args):
    """One run on the group's first dp * tp ranks (all of them). Returns rank 0's results."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor.parallel import parallelize_module
    dp, tp = LAYOUTS[layout]
    mesh = init_device_mesh("cpu", (dp, tp), mesh_dim_names=("dp", "tp"))
    dp_rank, tp_rank = mesh.get_coordinate()
    tp_mesh, dp_group = mesh["tp"], mesh.get_group("dp")
    x_train, y_train, x_test, y_test = data
    recorder = Recorder()
    tracker = MegatronTracker(args.seed, tp_rank)
    torch.manual_seed(args.seed)
    if dropout == "simdrop":
        model = Transformer(args, lambda: SimdropDropout(args.p, recorder))
    elif dropout == "megatron":
        model = Transformer(args, lambda: MegatronDropout(args.p, recorder, tracker))
    else:
        model = Transformer(args, lambda: TorchDropout(args.p, recorder))
    for block in model.blocks:
        parallelize_module(block, tp_mesh, plan())
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    hashes, losses = [], []
    start = time.perf_counter()
    for index in batches(len(x_train), args):
        first, stop = split(len(index), dp, dp_rank)
        rows = index[first:stop]
        model.train()
        optimizer.zero_grad()
        recorder.masks = []
        logits = model(x_train[rows], tp_mesh, first, len(index))
        # This rank's rows' share of the batch's mean loss: the data-parallel sum is the mean.
        loss = F.cross_entropy(logits, y_train[rows], reduction="sum") / len(index)
        loss.backward()
        if dp > 1:
            with torch.no_grad():
                for parameter in model.parameters():
                    dist.all_reduce(local_tensor(parameter.grad), group=dp_group)
                loss = loss.detach()
                dist.all_reduce(loss, group=dp_group)
        optimizer.step()
        gathered = [None] * dist.get_world_size() if rank == 0 else None
        dist.gather_object(recorder.masks, gathered, dst=0)
        if rank == 0:
            hashes.append(step_hash([part for parts in gathered for part in parts]))
            losses.append(float(loss.detach()))
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        correct = (model(x_test, tp_mesh).argmax(1) == y_test).float().mean().item() * 100.0
    return dict(hashes=hashes, losses=losses, test=correct, seconds=seconds) if rank == 0 else None


def rank_main(rank, world_size, port, runs, args, path):
    """torch.multiprocessing.spawn's entry point: one rank of a group that trains each of runs in turn."""
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="DTensor random operators may not have complete support")
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port, rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=120))
    try:
        data = load_digits(args.seed)
        results = {run: train(*run, rank, data, args) for run in runs}
        if rank == 0:
            torch.save(results, path)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_group(world_size, runs, args):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "rank0.pt")
        context = mp.spawn(rank_main, args=(world_size, free_port(), runs, args, path), nprocs=world_size,
                           join=False)
        deadline = time.monotonic() + args.timeout
        try:
            while not context.join(timeout=max(0.1, deadline - time.monotonic())):
                if time.monotonic() >= deadline:
                    raise SystemExit("the group of %d processes did not finish in %d s" % (world_size, args.timeout))
        finally:
            for process in context.processes:
                if process.is_alive():
                    process.kill()
        return torch.load(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", default="tp1,tp2,tp4,dp2xtp2", help="comma-separated: " + ", ".join(LAYOUTS))
    parser.add_argument("--dropouts", default="simdrop,megatron,torch", help="comma-separated: " + ", ".join(DROPOUTS))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--ffn", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--p", type=float, default=0.1, help="drop probability of every dropout layer")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show-steps", type=int, default=3, help="steps shown at the start (and the last one)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds one group may take")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    layouts = args.layouts.split(",")
    dropouts = args.dropouts.split(",")
    if "tp1" not in layouts or not set(layouts) <= set(LAYOUTS) or not set(dropouts) <= set(DROPOUTS):
        parser.error("--layouts must include tp1 (the reference) and name only %s; --dropouts only %s"
                     % (", ".join(LAYOUTS), ", ".join(DROPOUTS)))
    if args.hidden % 4 or args.heads % 4 or args.ffn % 4:
        parser.error("--hidden, --heads and --ffn must be multiples of 4 (TP 4 splits them)")
    data = load_digits(args.seed)
    print("digits, tensor parallel with DTensor (gloo, 127.0.0.1): %d training and %d test images as 16 tokens of "
          "2 x 2 pixels; %d transformer blocks (hidden %d, %d heads, feed-forward %d), 4 dropout layers each "
          "(p = %g); batches of %d, %d steps; AdamW lr %g; torch %s"
          % (len(data[0]), len(data[2]), args.layers, args.hidden, args.heads, args.ffn, args.p, args.batch,
             args.steps, args.lr, torch.__version__))
    groups = {}
    for layout in layouts:
        dp, tp = LAYOUTS[layout]
        groups.setdefault(dp * tp, []).extend((layout, dropout) for dropout in dropouts)
    results = {}
    for world_size, runs in sorted(groups.items()):
        results.update(run_group(world_size, runs, args))

    failed = False
    for dropout in dropouts:
        print("\n%s: mask hash per step (sha256 of every dropout layer's mask over the whole batch):" % dropout)
        width = max(12, max(len(LABELS[layout]) for layout in layouts)) + 2
        print(("%-10s" % "step" + "".join("%-*s" % (width, LABELS[layout]) for layout in layouts)).rstrip())
        shown = list(range(min(args.show_steps, args.steps)))
        if args.steps - 1 not in shown:
            shown.append(args.steps - 1)
        for step in shown:
            if len(shown) > 1 and step == shown[-1] and step != shown[-2] + 1:
                print("...")
            print(("%-10d" % step + "".join("%-*s" % (width, results[(layout, dropout)]["hashes"][step])
                                            for layout in layouts)).rstrip())
        reference = results[("tp1", dropout)]
        same = sum(all(results[(layout, dropout)]["hashes"][s] == reference["hashes"][s] for layout in layouts)
                   for s in range(args.steps))
        print("%s: identical masks at every step: %s (%d of %d steps)"
              % (dropout, "yes" if same == args.steps else "no", same, args.steps))
        failed |= dropout == "simdrop" and same != args.steps

    print("\nmax |loss - loss at TP 1| over %d steps (and the test accuracy after them):" % args.steps)
    print("%-12s" % "dropout" + "".join("%-22s" % LABELS[layout] for layout in layouts if layout != "tp1")
          + "TP 1 test %")
    for dropout in dropouts:
        reference = np.array(results[("tp1", dropout)]["losses"])
        cells = []
        for layout in layouts:
            if layout == "tp1":
                continue
            r = results[(layout, dropout)]
            cells.append("%.3g (%.1f%%)" % (np.abs(np.array(r["losses"]) - reference).max(), r["test"]))
        print("%-12s" % dropout + "".join("%-22s" % cell for cell in cells)
              + "%.1f" % results[("tp1", dropout)]["test"])
    for dropout in dropouts:
        reference = np.array(results[("tp1", dropout)]["losses"])
        worst = max(np.abs(np.array(results[(layout, dropout)]["losses"]) - reference).max() for layout in layouts)
        print("max |dloss| %s: %.3g" % (dropout, worst))
    print("seconds per run: " + ", ".join("%s %s %.0f" % (LABELS[layout], dropout, results[(layout, dropout)]["seconds"])
                                          for dropout in dropouts for layout in layouts))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
