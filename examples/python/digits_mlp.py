#!/usr/bin/env python3
"""The regularisation comparison of the dropout tutorial, on real data and a real runtime.

Trains one multilayer perceptron (64 -> 256 -> 256 -> 10, ReLU) on
scikit-learn's digits dataset (1,797 8x8 images, shipped with Debian's
python3-sklearn: no download) four ways, with the same initial weights, the
same batches and the same number of epochs:

  none                    no regularisation
  L2                      weight_decay on the optimiser
  torch.nn.Dropout        PyTorch's dropout after each hidden layer
  simdrop.torch.Dropout   simdrop's dropout in the same places

and prints, for each, train and test accuracy, the time per epoch (median of
--repeats trainings; the time the dropout layers' forward calls take is shown
on its own, since the matrix products dominate the epoch with Debian's
generic BLAS), and the bytes the dropout layers saved for backward in one
training step (counted with torch.autograd.graph.saved_tensors_hooks around the
dropout calls).

    PYTHONPATH=build/python /usr/bin/python3 examples/python/digits_mlp.py
"""
import argparse
import statistics
import time

import torch

import simdrop.torch as sdt


class Measured(torch.nn.Module):
    """Wraps a dropout layer: counts the bytes autograd saves inside it and the time of its forward calls."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.bytes = 0
        self.seconds = 0.0

    def forward(self, x):
        def pack(t):
            self.bytes += t.numel() * t.element_size()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            start = time.perf_counter()
            y = self.inner(x)
            self.seconds += time.perf_counter() - start
            return y


def load_digits(seed):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target, dtype=torch.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, random_state=seed, stratify=y)
    return x_train, y_train, x_test, y_test


def build(way, p, hidden, seed):
    torch.manual_seed(seed)
    # The linear layers first, so every way starts from the same weights (simdrop's
    # Dropout draws its seed from the same generator when it is built).
    linears = [torch.nn.Linear(64, hidden), torch.nn.Linear(hidden, hidden), torch.nn.Linear(hidden, 10)]
    if way == "torch.nn.Dropout":
        drops = [Measured(torch.nn.Dropout(p)) for _ in range(2)]
    elif way == "simdrop.torch.Dropout":
        drops = [Measured(sdt.Dropout(p)) for _ in range(2)]
    else:
        drops = [Measured(torch.nn.Identity()) for _ in range(2)]
    layers = [linears[0], torch.nn.ReLU(), drops[0], linears[1], torch.nn.ReLU(), drops[1], linears[2]]
    return torch.nn.Sequential(*layers), drops


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item() * 100.0


def train(way, data, args):
    x_train, y_train, x_test, y_test = data
    model, drops = build(way, args.p, args.hidden, args.seed)
    weight_decay = args.weight_decay if way == "L2" else 0.0
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=weight_decay)
    batches = torch.Generator().manual_seed(args.seed)
    loss_fn = torch.nn.CrossEntropyLoss()
    step_bytes = None
    start = time.perf_counter()
    for d in drops:
        d.seconds = 0.0
    for _ in range(args.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=batches)
        for first in range(0, len(order), args.batch):
            index = order[first:first + args.batch]
            for d in drops:
                d.bytes = 0
            optimizer.zero_grad()
            loss = loss_fn(model(x_train[index]), y_train[index])
            loss.backward()
            optimizer.step()
            if step_bytes is None:
                step_bytes = sum(d.bytes for d in drops)
    seconds_per_epoch = (time.perf_counter() - start) / args.epochs
    dropout_seconds = sum(d.seconds for d in drops) / args.epochs
    return (accuracy(model, x_train, y_train), accuracy(model, x_test, y_test), seconds_per_epoch, dropout_seconds,
            step_bytes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--p", type=float, default=0.5, help="drop probability of both dropout layers")
    parser.add_argument("--weight-decay", type=float, default=1e-3, help="the L2 way's weight_decay")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (simdrop follows it)")
    parser.add_argument("--repeats", type=int, default=3, help="trainings per way; times are their median")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    data = load_digits(args.seed)
    print("digits: %d training and %d test images; MLP 64 -> %d -> %d -> 10; %d epochs, batches of %d, "
          "SGD lr %g momentum 0.9; p = %g; %d thread(s); times: median of %d trainings"
          % (len(data[0]), len(data[2]), args.hidden, args.hidden, args.epochs, args.batch, args.lr, args.p,
             args.threads, args.repeats))
    print("%-24s %8s %8s %13s %19s %21s" % ("", "train %", "test %", "ms / epoch", "dropout fwd ms / ep",
                                           "dropout saved / step"))
    for way in ("none", "L2", "torch.nn.Dropout", "simdrop.torch.Dropout"):
        runs = [train(way, data, args) for _ in range(args.repeats)]
        train_acc, test_acc, _, _, saved = runs[0]
        assert all(r[0] == train_acc and r[1] == test_acc for r in runs), "trainings of one way differ"
        seconds = statistics.median(r[2] for r in runs)
        dropout_seconds = statistics.median(r[3] for r in runs)
        label = way if way != "L2" else "L2 (weight_decay %g)" % args.weight_decay
        print("%-24s %8.1f %8.1f %13.1f %19.2f %19d B" % (label, train_acc, test_acc, seconds * 1e3,
                                                          dropout_seconds * 1e3, saved or 0))


if __name__ == "__main__":
    main()
