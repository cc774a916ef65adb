#!/usr/bin/env python3
"""The digits MLP of digits_mlp.py under DistributedDataParallel: the masks of every step
are those of the single-process run with the whole batch, whatever the number of processes.

Trains the same model (64 -> 256 -> 256 -> 10, ReLU, simdrop.torch.Dropout after each
hidden layer) on scikit-learn's digits once per entry of --processes: 0 is one plain
process without torch.distributed; N >= 1 is N processes of a gloo group on 127.0.0.1
(a port found free at run time) wrapping the model in DistributedDataParallel. Every
step takes the same global batch; rank r of N holds rows split(B, N, r) of it (uneven
splits; the last batch of an epoch has 2 rows, so with 4 processes two ranks hold
none) and passes their place to the dropout layers:

    layer(h, shard_start=(first_row, 0), global_shape=(B, hidden))

Each run records, per step, a hash of both dropout layers' masks over the whole batch
(the ranks' masks, Dropout(save_mask=True).last_mask, gathered in rank order), and the
script prints them side by side, then the final accuracies. It exits with status 1 if
any step's hash differs between runs.

What differs between runs, and why: the loss of rank r is N * (its summed
cross-entropy) / B, so DDP's average of the ranks' gradients is the gradient of the
batch's mean loss; but the ranks sum their rows' contributions to the weight
gradients separately and the all-reduce adds the partial sums, so the gradients,
and from then on the weights and activations, differ in the last bits. The masks
do not depend on either.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/digits_ddp.py --processes 0,1,2,4
"""
import argparse
import datetime
import hashlib
import os
import socket
import sys
import tempfile
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_mlp import accuracy, load_digits  # noqa: E402  (the same data and split)

import simdrop.torch as sdt  # noqa: E402


class MLP(torch.nn.Module):
    def __init__(self, hidden, p):
        super().__init__()
        # The linear layers first, so the weights are digits_mlp.py's; the dropout layers then
        # draw their seeds from the same generator, on every rank alike.
        self.fc1 = torch.nn.Linear(64, hidden)
        self.fc2 = torch.nn.Linear(hidden, hidden)
        self.fc3 = torch.nn.Linear(hidden, 10)
        self.drop1 = sdt.Dropout(p, save_mask=True)
        self.drop2 = sdt.Dropout(p, save_mask=True)
        self.hidden = hidden

    def forward(self, x, first_row=0, batch_rows=None):
        # A rank's rows are the block (first_row, 0) of the global (batch_rows, hidden) activations.
        place = {} if batch_rows is None else dict(shard_start=(first_row, 0), global_shape=(batch_rows, self.hidden))
        h = self.drop1(torch.relu(self.fc1(x)), **place)
        h = self.drop2(torch.relu(self.fc2(h)), **place)
        return self.fc3(h)


def split(n, parts, index):
    """Rows [start, stop) of part `index` of `parts` near-equal parts, the larger ones first."""
    base, extra = divmod(n, parts)
    start = index * base + min(index, extra)
    return start, start + base + (1 if index < extra else 0)


def keep_bits(layer, elements):
    """A Dropout(save_mask=True)'s last mask as one 0/1 byte per element, in C order."""
    return np.unpackbits(layer.last_mask.numpy(), bitorder="little")[:elements]


def step_hash(parts):
    """sha256 of both layers' masks over the whole batch (first 12 hex digits); parts: per rank, in rank
    order, its two layers' keep bits (its rows of the batch)."""
    digest = hashlib.sha256()
    for layer in range(2):
        digest.update(np.packbits(np.concatenate([part[layer] for part in parts]), bitorder="little").tobytes())
    return digest.hexdigest()[:12]


def chain_hash(hashes):
    """One hash over every step's hash, in order."""
    return hashlib.sha256(" ".join(hashes).encode()).hexdigest()[:12]


def batches(n_train, args):
    """The global batches of every step: the same on every rank."""
    generator = torch.Generator().manual_seed(args.seed)
    steps = []
    for _ in range(args.epochs):
        order = torch.randperm(n_train, generator=generator)
        steps.extend(order[first:first + args.batch] for first in range(0, n_train, args.batch))
    return steps[:args.steps] if args.steps else steps


def train(rank, world_size, args, data):
    """One run's training loop on one rank (world_size 0: plain, without torch.distributed).
    Returns rank 0's results, None on the other ranks."""
    torch.set_num_threads(1)
    x_train, y_train, x_test, y_test = data
    torch.manual_seed(args.seed)
    model = MLP(args.hidden, args.p)
    net = torch.nn.parallel.DistributedDataParallel(model) if world_size else model
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)
    parts = max(world_size, 1)
    hashes = []
    start = time.perf_counter()
    for index in batches(len(x_train), args):
        first, stop = split(len(index), parts, rank)
        rows = index[first:stop]
        net.train()
        optimizer.zero_grad()
        if world_size and not args.no_placement:
            logits = net(x_train[rows], first, len(index))
        else:
            logits = net(x_train[rows])  # --no-placement: every rank's rows take the masks of rows 0, 1, ...
        # Rank r's loss is parts * (its summed cross-entropy) / B: DDP averages the ranks'
        # gradients, which makes them the gradient of the batch's mean loss.
        loss = F.cross_entropy(logits, y_train[rows], reduction="sum") * (parts / len(index))
        loss.backward()
        optimizer.step()
        local = [keep_bits(layer, len(rows) * args.hidden) for layer in (model.drop1, model.drop2)]
        if world_size:
            gathered = [None] * world_size if rank == 0 else None
            dist.gather_object(local, gathered, dst=0)
        else:
            gathered = [local]
        if rank == 0:
            hashes.append(step_hash(gathered))
    seconds = time.perf_counter() - start
    if rank != 0:
        return None
    return dict(hashes=hashes, train=accuracy(model, x_train, y_train), test=accuracy(model, x_test, y_test),
                seconds=seconds, state={k: v.clone() for k, v in model.state_dict().items()})


def rank_main(rank, world_size, port, args, path):
    """torch.multiprocessing.spawn's entry point: one rank of a DDP run."""
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port, rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=120))
    try:
        results = train(rank, world_size, args, load_digits(args.seed))
        if rank == 0:
            torch.save(results, path)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(world_size, args):
    if world_size == 0:
        return train(0, 0, args, load_digits(args.seed))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "rank0.pt")
        context = mp.spawn(rank_main, args=(world_size, free_port(), args, path), nprocs=world_size, join=False)
        deadline = time.monotonic() + args.timeout
        try:
            while not context.join(timeout=max(0.1, deadline - time.monotonic())):
                if time.monotonic() >= deadline:
                    raise SystemExit("the run with %d processes did not finish in %d s" % (world_size, args.timeout))
        finally:
            for process in context.processes:
                if process.is_alive():
                    process.kill()
        return torch.load(path)


def label(world_size):
    if world_size == 0:
        return "1 process, no DDP"
    return "DDP, %d process%s" % (world_size, "" if world_size == 1 else "es")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default="0,1,2,4",
                        help="comma-separated runs: 0 = one process without torch.distributed, N = DDP with N")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: all epochs)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--p", type=float, default=0.5, help="drop probability of both dropout layers")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show-steps", type=int, default=5, help="steps shown at the start (and the last one)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds one run may take")
    parser.add_argument("--no-placement", action="store_true",
                        help="for comparison: DDP ranks call the dropout layers without shard_start / global_shape "
                             "(plain DDP with one seed: each rank's rows get the masks of the batch's first rows)")
    args = parser.parse_args()
    # Each process computes on one thread; OpenMP threads wait passively on the busy 2-core machines.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")

    world_sizes = [int(w) for w in args.processes.split(",")]
    data = load_digits(args.seed)
    steps = len(batches(len(data[0]), args))
    print("digits under DistributedDataParallel (gloo, 127.0.0.1): %d training and %d test images; MLP 64 -> %d -> "
          "%d -> 10 with simdrop.torch.Dropout(p = %g, save_mask=True) after each hidden layer; batches of %d, "
          "%d steps; SGD lr %g momentum 0.9; torch %s%s"
          % (len(data[0]), len(data[2]), args.hidden, args.hidden, args.p, args.batch, steps, args.lr,
             torch.__version__, "; --no-placement" if args.no_placement else ""))
    results = {}
    for world_size in world_sizes:
        results[world_size] = run(world_size, args)
    labels = [label(w) for w in world_sizes]
    width = max(len(text) for text in labels) + 2
    print("\nmask hash per step (sha256 of both layers' masks over the whole batch, first 12 hex digits):")
    print(("%-10s" % "step" + "".join("%-*s" % (width, text) for text in labels)).rstrip())
    shown = list(range(min(args.show_steps, steps)))
    if steps - 1 not in shown:
        shown.append(steps - 1)
    for step in shown:
        if step == shown[-1] and len(shown) > 1 and step != shown[-2] + 1:
            print("...")
        print(("%-10d" % step + "".join("%-*s" % (width, results[w]["hashes"][step]) for w in world_sizes)).rstrip())
    chained = [chain_hash(results[w]["hashes"]) for w in world_sizes]
    print(("%-10s" % "all steps" + "".join("%-*s" % (width, text) for text in chained)).rstrip())
    reference = results[world_sizes[0]]
    same = sum(all(results[w]["hashes"][s] == reference["hashes"][s] for w in world_sizes) for s in range(steps))
    identical = same == steps
    print("identical masks at every step: %s (%d of %d steps)" % ("yes" if identical else "no", same, steps))

    print("\n%-*s %8s %8s %22s %10s" % (width, "", "train %", "test %", "max |w - w(first run)|", "s"))
    for world_size, text in zip(world_sizes, labels):
        r = results[world_size]
        difference = max((r["state"][k].double() - reference["state"][k].double()).abs().max().item()
                         for k in reference["state"] if reference["state"][k].is_floating_point())
        print("%-*s %8.1f %8.1f %22.3g %10.1f" % (width, text, r["train"], r["test"], difference, r["seconds"]))
    sys.exit(0 if identical else 1)


if __name__ == "__main__":
    main()
