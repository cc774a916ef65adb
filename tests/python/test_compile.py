"""simdrop.torch under torch.compile and torch.export (issue 23).

Every test compares a compiled (or exported) copy of a model with the same
model run eagerly, bit for bit: outputs, gradients, parameters and the
modules' `step` buffers. Recompilations are counted with a backend that
counts its calls: the seed and the step are graph inputs (tensors), never
constants, so 20 training steps compile once.
"""
import copy

import pytest
import torch
from torch._dynamo.testing import CompileCounterWithBackend
from torch.utils.checkpoint import checkpoint

import simdrop.torch as sdt

STEPS = 20


class Net(torch.nn.Module):
    """Conv -> Dropout2d -> Linear -> BiasDropoutAdd -> Dropout -> Linear."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.drop2d = sdt.Dropout2d(0.25, seed=1)
        self.fc = torch.nn.Linear(4 * 6 * 6, 32, bias=False)
        self.bias = torch.nn.Parameter(torch.linspace(-0.2, 0.2, 32))
        self.bda = sdt.BiasDropoutAdd(0.1, seed=2)
        self.drop = sdt.Dropout(0.3, seed=3, generator="xoshiro")
        self.head = torch.nn.Linear(32, 10)

    def forward(self, x):
        h = self.drop2d(torch.relu(self.conv(x))).flatten(1)
        h = self.fc(h)
        h = self.bda(h, self.bias, h * 0.5)
        return self.head(self.drop(torch.relu(h)))


def _batch(step, batch=8):
    generator = torch.Generator().manual_seed(1000 + step)
    return torch.randn(batch, 3, 6, 6, generator=generator)


def _train(model, run, steps=STEPS, batch_sizes=(8,)):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    record = []
    for step in range(steps):
        x = _batch(step, batch_sizes[step % len(batch_sizes)])
        optimizer.zero_grad()
        out = run(x)
        out.square().mean().backward()
        record.append((out.detach().clone(), {n: p.grad.clone() for n, p in model.named_parameters()},
                       {n: int(b) for n, b in model.named_buffers() if n.endswith("step")}))
        optimizer.step()
    return record


def _compiled_entries(function):
    """How many compiled versions dynamo keeps for a function: one means it never recompiled."""
    return len(torch._dynamo.eval_frame._debug_get_cache_entry_list(function.__code__))


def _assert_same(want, got):
    for step, (a, b) in enumerate(zip(want, got)):
        assert torch.equal(a[0], b[0]), "output differs at step %d" % step
        for name in a[1]:
            assert torch.equal(a[1][name], b[1][name]), "grad of %s differs at step %d" % (name, step)
        assert a[2] == b[2], step


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def test_aot_eager_fullgraph_trains_like_eager_and_compiles_once():
    torch.manual_seed(0)
    eager = Net()
    compiled = copy.deepcopy(eager)
    counter = CompileCounterWithBackend("aot_eager")
    run = torch.compile(compiled, backend=counter, fullgraph=True)
    want = _train(eager, eager)
    got = _train(compiled, run)
    _assert_same(want, got)
    for a, b in zip(eager.parameters(), compiled.parameters()):
        assert torch.equal(a, b)
    assert {n: int(b) for n, b in compiled.named_buffers()} == {n: int(b) for n, b in eager.named_buffers()}
    assert counter.frame_count == 1, "recompiled: %d compilations for %d steps" % (counter.frame_count, STEPS)
    assert _compiled_entries(Net.forward) == 1


def test_dynamic_shapes_compile_once_over_batch_sizes():
    torch.manual_seed(0)
    eager = Net()
    compiled = copy.deepcopy(eager)
    counter = CompileCounterWithBackend("aot_eager")
    run = torch.compile(compiled, backend=counter, fullgraph=True, dynamic=True)
    sizes = (8, 5, 11, 3)
    _assert_same(_train(eager, eager, steps=8, batch_sizes=sizes), _train(compiled, run, steps=8, batch_sizes=sizes))
    # One compiled graph for every size (dynamo may restart its first analysis once, when AOT
    # autograd adds shape guards: that is one compilation, counted here by the cache).
    assert _compiled_entries(Net.forward) == 1 and counter.frame_count <= 2


class DropoutOnly(torch.nn.Module):
    """Dropout layers alone, for Inductor: every value comes from simdrop's operators."""

    def __init__(self):
        super().__init__()
        self.drop2d = sdt.Dropout2d(0.2, seed=4)
        self.drop = sdt.Dropout(0.4, seed=5, threshold_bits=32)
        self.fused = sdt.BiasDropoutAdd(0.1, seed=6)

    def forward(self, x, bias):
        h = self.drop(self.drop2d(x))
        return self.fused(h.flatten(1), bias, h.flatten(1))


def test_inductor_dropout_layers_are_bit_identical():
    torch.manual_seed(0)
    eager = DropoutOnly()
    compiled = copy.deepcopy(eager)
    counter = CompileCounterWithBackend("inductor")
    run = torch.compile(compiled, backend=counter, fullgraph=True)
    bias = torch.linspace(-1, 1, 3 * 6 * 6)
    for step in range(3):
        x = _batch(step).requires_grad_()
        x2 = x.detach().clone().requires_grad_()
        want, got = eager(x, bias), run(x2, bias)
        assert torch.equal(want, got), step
        grad = torch.randn_like(want)
        want.backward(grad)
        got.backward(grad)
        assert torch.equal(x.grad, x2.grad), step
    assert int(compiled.drop.step) == int(eager.drop.step) == 3
    assert counter.frame_count == 1


def test_functional_calls_compile_with_tensor_streams():
    """The functional API under compile: a stream that changes per call is a tensor, so one graph."""
    counter = CompileCounterWithBackend("aot_eager")

    def f(x, stream):
        return sdt.dropout(x, 0.5, seed=99, stream=stream) + sdt.dropout1d(x.view(2, 4, 8), 0.5, seed=7,
                                                                            stream=stream).flatten()

    run = torch.compile(f, backend=counter, fullgraph=True)
    x = torch.randn(64)
    for k in range(5):
        stream = torch.tensor(k)
        assert torch.equal(run(x, stream), f(x, stream))
    assert counter.frame_count == 1


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_export_runs_and_gives_eager_results(train):
    torch.manual_seed(0)
    eager = Net().train(train)
    exported_from = copy.deepcopy(eager)
    x = _batch(0)
    program = torch.export.export(exported_from, (x,))
    module = program.module()
    for step in range(3):
        x = _batch(step)
        assert torch.equal(module(x), eager(x)), step
    if train:
        assert "simdrop.dropout" in str(program.graph) and int(eager.drop.step) == 3


def test_checkpointed_block_inside_a_compiled_model():
    """A block under torch.utils.checkpoint inside a torch.compile'd model: bit-identical to eager
    without checkpointing, and each module's step advances once per forward."""

    class Checkpointed(Net):
        def forward(self, x):
            h = checkpoint(lambda t: self.drop2d(torch.relu(self.conv(t))), x, use_reentrant=False,
                           preserve_rng_state=False).flatten(1)
            h = self.fc(h)
            h = checkpoint(self.bda, h, self.bias, h * 0.5, use_reentrant=False, preserve_rng_state=False)
            return self.head(self.drop(torch.relu(h)))

    torch.manual_seed(0)
    eager = Net()
    compiled = Checkpointed()
    compiled.load_state_dict(eager.state_dict())
    run = torch.compile(compiled, backend="aot_eager")
    _assert_same(_train(eager, eager, steps=6), _train(compiled, run, steps=6))
