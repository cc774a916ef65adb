"""simdrop.torch under activation checkpointing (issue 22).

torch.utils.checkpoint runs a checkpointed block twice: the forward, and a
recompute in backward that rebuilds the activations. Every test trains a
model twice from the same weights -- once plainly, once with checkpointing --
and requires the gradients (inputs and parameters), the parameters and the
modules' `step` buffers to be bit-identical at every step, in all four modes
(use_reentrant x preserve_rng_state). preserve_rng_state=False is included on
purpose: simdrop's masks do not come from torch's generator, so they must not
need it.

The expected values are the plain (uncheckpointed) run's, computed by the
same library without any recompute: a recompute that drew a new mask changes
the gradients of the block's parameters and inputs, which these tests see
(`test_new_streams_on_recompute_break_gradients` shows it, by forcing every
forward to be a new one as the modules did before the fix).
"""
import copy

import pytest
import torch
from torch.utils.checkpoint import checkpoint, checkpoint_sequential

import simdrop.torch as sdt

MODES = [(reentrant, preserve) for reentrant in (False, True) for preserve in (True, False)]
MODE_IDS = ["reentrant=%s,preserve_rng_state=%s" % mode for mode in MODES]
STEPS = 3


def _inputs(step, shape, seed=100):
    generator = torch.Generator().manual_seed(seed + step)
    return torch.randn(*shape, generator=generator)


class MlpBlock(torch.nn.Module):
    """The issue's block: Linear(32, 64) -> ReLU -> Dropout(0.5, seed=9) -> Linear(64, 8)."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(32, 64)
        self.drop = sdt.Dropout(0.5, seed=9)
        self.fc2 = torch.nn.Linear(64, 8)

    def forward(self, x):
        return self.fc2(self.drop(torch.relu(self.fc1(x))))


class ConvBlock(torch.nn.Module):
    """Conv -> ReLU -> Dropout2d -> Conv: whole channels dropped."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.drop = sdt.Dropout2d(0.3, seed=11)
        self.conv2 = torch.nn.Conv2d(8, 4, 1)

    def forward(self, x):
        return self.conv2(self.drop(torch.relu(self.conv1(x))))


class ResidualBlock(torch.nn.Module):
    """x + dropout(fc(x) + bias), fused (BiasDropoutAdd), then a head."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(32, 32, bias=False)
        self.bias = torch.nn.Parameter(torch.linspace(-0.5, 0.5, 32))
        self.bda = sdt.BiasDropoutAdd(0.2, seed=13)
        self.out = torch.nn.Linear(32, 8)

    def forward(self, x):
        return self.out(self.bda(self.fc(x), self.bias, x))


class TwoDropoutBlock(torch.nn.Module):
    """Two dropout modules in one checkpointed block."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(32, 48)
        self.drop1 = sdt.Dropout(0.4, seed=21)
        self.fc2 = torch.nn.Linear(48, 48)
        self.drop2 = sdt.Dropout(0.25, seed=22, generator="xoshiro", threshold_bits=32)
        self.fc3 = torch.nn.Linear(48, 8)

    def forward(self, x):
        h = self.drop1(torch.relu(self.fc1(x)))
        return self.fc3(self.drop2(torch.relu(self.fc2(h))))


class SharedDropoutBlock(torch.nn.Module):
    """One Dropout module used twice in the block, on different activations."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(32, 32)
        self.fc2 = torch.nn.Linear(32, 8)
        self.drop = sdt.Dropout(0.5, seed=31)

    def forward(self, x):
        return self.fc2(self.drop(torch.tanh(self.fc1(self.drop(x)))))


class Model(torch.nn.Module):
    """stem -> block -> loss; `wrap` decides how the block runs (plainly or checkpointed)."""

    def __init__(self, block, in_shape):
        super().__init__()
        self.in_shape = in_shape
        features = in_shape[1]
        self.stem = torch.nn.Linear(features, features) if len(in_shape) == 2 else torch.nn.Conv2d(3, 3, 1)
        self.block = block

    def forward(self, x, wrap):
        return wrap(self.block, self.stem(x)).square().mean()


def plain(block, h):
    return block(h)


def checkpointed(reentrant, preserve):
    def run(block, h):
        return checkpoint(block, h, use_reentrant=reentrant, preserve_rng_state=preserve)
    return run


def _steps(model):
    return {name: int(buffer) for name, buffer in model.named_buffers() if name.endswith("step")}


def _train(model, wrap, steps=STEPS):
    """`steps` SGD steps; per step the loss, every parameter's gradient and the input's gradient."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    record = []
    for step in range(steps):
        x = _inputs(step, model.in_shape).requires_grad_()
        optimizer.zero_grad()
        loss = model(x, wrap)
        loss.backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters()}
        record.append((loss.detach().clone(), x.grad.clone(), grads, _steps(model)))
        optimizer.step()
    return record


def _assert_identical(expected, actual):
    assert len(expected) == len(actual)
    for step, (want, got) in enumerate(zip(expected, actual)):
        assert torch.equal(want[0], got[0]), "loss differs at step %d" % step
        assert torch.equal(want[1], got[1]), "input gradient differs at step %d" % step
        for name in want[2]:
            assert torch.equal(want[2][name], got[2][name]), "grad of %s differs at step %d" % (name, step)
        assert want[3] == got[3], "steps differ at step %d: %s vs %s" % (step, want[3], got[3])


BLOCKS = {
    "Dropout": (MlpBlock, (16, 32)),
    "Dropout2d": (ConvBlock, (4, 3, 6, 6)),
    "BiasDropoutAdd": (ResidualBlock, (16, 32)),
    "two modules": (TwoDropoutBlock, (16, 32)),
    "one module twice": (SharedDropoutBlock, (16, 32)),
}


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_checkpointed_training_is_bit_identical(block, mode):
    make, shape = BLOCKS[block]
    torch.manual_seed(0)
    model = Model(make(), shape)
    twin = copy.deepcopy(model)
    expected = _train(model, plain)
    actual = _train(twin, checkpointed(*mode))
    _assert_identical(expected, actual)
    # step advances exactly once per training forward: 3 steps, 3 (or 6 for a module used twice).
    calls = 2 if block == "one module twice" else 1
    assert set(actual[-1][3].values()) == {STEPS * calls}
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.equal(a, b)


def test_new_streams_on_recompute_break_gradients():
    """The bug this file guards against, reproduced: if the recompute takes a new stream (as every
    forward did before the fix; recomputing(False) forces it), the gradients differ and step doubles."""
    torch.manual_seed(0)
    model = Model(MlpBlock(), (16, 32))
    twin = copy.deepcopy(model)
    expected = _train(model, plain)

    def new_streams(block, h):
        def run(inner):
            with sdt.recomputing(False):
                return block(inner)
        return checkpoint(run, h, use_reentrant=False, preserve_rng_state=True)

    actual = _train(twin, new_streams)
    assert actual[-1][3] == {"block.drop.step": 2 * STEPS}
    # fc2 saves the recomputed dropout output for its weight gradient: a new mask there shows.
    assert not torch.equal(expected[0][2]["block.fc2.weight"], actual[0][2]["block.fc2.weight"])


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_nested_checkpoints(mode):
    reentrant, preserve = mode
    torch.manual_seed(0)
    model = Model(TwoDropoutBlock(), (16, 32))
    twin = copy.deepcopy(model)

    def nested(block, h):
        def outer(g):
            a = checkpoint(lambda t: block.drop1(torch.relu(block.fc1(t))), g, use_reentrant=reentrant,
                           preserve_rng_state=preserve)
            return block.fc3(block.drop2(torch.relu(block.fc2(a))))
        return checkpoint(outer, h, use_reentrant=reentrant, preserve_rng_state=preserve)

    _assert_identical(_train(model, plain), _train(twin, nested))


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_gradient_accumulation_backward_in_reverse_order(mode):
    """Forward A, forward B, backward B, backward A: two forwards pending, each recomputed."""
    torch.manual_seed(0)
    model = Model(MlpBlock(), (16, 32))
    twin = copy.deepcopy(model)

    def accumulate(m, wrap, order):
        xa = _inputs(0, m.in_shape).requires_grad_()
        xb = _inputs(1, m.in_shape).requires_grad_()
        la, lb = m(xa, wrap), m(xb, wrap)
        losses = {"a": la, "b": lb}
        for name in order:
            losses[name].backward()
        return xa.grad, xb.grad, {name: p.grad for name, p in m.named_parameters()}, _steps(m)

    for order in (("b", "a"), ("a", "b")):
        model.zero_grad(set_to_none=True)
        twin.zero_grad(set_to_none=True)
        want = accumulate(model, plain, order)
        got = accumulate(twin, checkpointed(*mode), order)
        assert torch.equal(want[0], got[0]) and torch.equal(want[1], got[1]), order
        for name in want[2]:
            assert torch.equal(want[2][name], got[2][name]), (order, name)
        assert want[3] == got[3], order
    assert _steps(twin) == {"block.drop.step": 4}


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_checkpoint_sequential(mode):
    reentrant, preserve = mode
    torch.manual_seed(0)
    layers = torch.nn.Sequential(
        torch.nn.Linear(32, 32), torch.nn.ReLU(), sdt.Dropout(0.5, seed=41),
        torch.nn.Linear(32, 32), torch.nn.ReLU(), sdt.Dropout(0.3, seed=42),
        torch.nn.Linear(32, 8))
    model = Model(layers, (16, 32))
    twin = copy.deepcopy(model)

    def sequential(block, h):
        return checkpoint_sequential(block, 3, h, use_reentrant=reentrant, preserve_rng_state=preserve)

    _assert_identical(_train(model, plain), _train(twin, sequential))


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_functional_with_explicit_seed_and_stream(mode):
    """The functional call decides from its arguments alone: right under checkpointing already."""
    torch.manual_seed(0)
    fc1, fc2 = torch.nn.Linear(32, 64), torch.nn.Linear(64, 8)

    def block(h, stream):
        return fc2(sdt.dropout(torch.relu(fc1(h)), 0.5, seed=77, stream=stream))

    for step in range(STEPS):
        x = _inputs(step, (16, 32)).requires_grad_()
        fc1.zero_grad(), fc2.zero_grad()
        block(x, step).square().mean().backward()
        want = (x.grad.clone(), fc1.weight.grad.clone(), fc2.weight.grad.clone())
        x.grad = None
        fc1.zero_grad(), fc2.zero_grad()
        checkpoint(block, x, step, use_reentrant=mode[0], preserve_rng_state=mode[1]).square().mean().backward()
        got = (x.grad, fc1.weight.grad, fc2.weight.grad)
        assert all(torch.equal(a, b) for a, b in zip(want, got)), step


def test_scripted_module_under_checkpoint():
    """The TorchScript path takes the same stream bookkeeping (it lives in the C++ operator)."""
    torch.manual_seed(0)
    model = Model(MlpBlock(), (16, 32))
    twin = copy.deepcopy(model)
    twin.block.drop = torch.jit.script(twin.block.drop)
    _assert_identical(_train(model, plain), _train(twin, checkpointed(False, False)))


def test_state_dict_resume_continues_the_masks():
    """Two checkpointed steps, state_dict into a fresh model (another mode), two more: the
    uninterrupted run's last two steps, bit for bit. The ledger is not part of state_dict."""
    torch.manual_seed(0)
    model = Model(MlpBlock(), (16, 32))
    first = copy.deepcopy(model)
    expected = _train(model, checkpointed(False, False), steps=2 * STEPS)
    _train(first, checkpointed(True, False), steps=STEPS)
    state = first.state_dict()
    assert {key for key in state if key.startswith("block.drop")} == {"block.drop.seed", "block.drop.step"}
    torch.manual_seed(1)  # another seed drawn at construction: state_dict must replace it
    resumed = Model(MlpBlock(), (16, 32))
    resumed.block.drop = sdt.Dropout(0.5)
    resumed.load_state_dict(state)

    def later(step):
        return _inputs(STEPS + step, resumed.in_shape)

    optimizer = torch.optim.SGD(resumed.parameters(), lr=0.05)
    for step in range(STEPS):
        x = later(step).requires_grad_()
        optimizer.zero_grad()
        loss = resumed(x, checkpointed(False, True))
        loss.backward()
        assert torch.equal(loss.detach(), expected[STEPS + step][0])
        assert torch.equal(x.grad, expected[STEPS + step][1])
        optimizer.step()
    assert int(resumed.block.drop.step) == 2 * STEPS


def test_identical_inputs_of_pending_forwards_are_an_error():
    """Two pending forwards of one module with bit-identical inputs: a recompute cannot tell them apart,
    and says so instead of guessing."""
    block = MlpBlock()
    x = _inputs(0, (16, 32)).requires_grad_()
    la = checkpoint(block, x, use_reentrant=False, preserve_rng_state=False).sum()
    lb = checkpoint(block, x, use_reentrant=False, preserve_rng_state=False).sum()
    with pytest.raises(RuntimeError, match="cannot be told"):
        lb.backward()
    del la


def test_forgotten_forward_is_an_error():
    """A recompute of a forward older than the module's ledger (LEDGER_ROWS forwards) is refused."""
    drop = sdt.Dropout(0.5, seed=3)
    fc = torch.nn.Linear(8, 8)
    x = torch.randn(4, 8, requires_grad=True)
    old = checkpoint(lambda t: drop(fc(t)), x, use_reentrant=True, preserve_rng_state=False).sum()
    for k in range(sdt.LEDGER_ROWS):
        drop(torch.full((2,), float(k)))
    with pytest.raises(RuntimeError, match="repeats none"):
        old.backward()


def test_recomputing_context_for_a_hand_written_recompute():
    """A recompute outside backward (hand-written) says so with simdrop.torch.recomputing()."""
    drop = sdt.Dropout(0.5, seed=5)
    xa, xb = torch.randn(64), torch.randn(64)
    ya, yb = drop(xa), drop(xb)
    assert int(drop.step) == 2
    with sdt.recomputing():
        assert torch.equal(drop(xb), yb)
        assert torch.equal(drop(xa), ya)
    assert int(drop.step) == 2
    assert torch.equal(drop(xa), sdt.dropout(xa, 0.5, seed=5, stream=2))
    assert int(drop.step) == 3


def test_new_forward_inside_backward():
    """recomputing(False): a module called inside a backward hook takes a new stream."""
    drop = sdt.Dropout(0.5, seed=6)
    seen = []

    def hook(grad):
        with sdt.recomputing(False):
            seen.append(drop(torch.ones(8)))
        return grad

    x = torch.randn(8, requires_grad=True)
    y = x * 2
    y.register_hook(hook)
    y.sum().backward()
    assert torch.equal(seen[0], sdt.dropout(torch.ones(8), 0.5, seed=6, stream=0))
    assert int(drop.step) == 1


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_same_batch_again_in_later_steps(mode):
    """A dropout right on the input (or after frozen layers) sees the same batch again in a later
    step: the earlier forward's backward is done, so its recompute is not ambiguous."""
    torch.manual_seed(0)
    drop, fc = sdt.Dropout(0.5, seed=51), torch.nn.Linear(32, 8)
    twin_drop, twin_fc = copy.deepcopy(drop), copy.deepcopy(fc)
    x = _inputs(0, (16, 32)).requires_grad_()
    for step in range(4):
        fc.zero_grad(), twin_fc.zero_grad()
        fc(drop(x)).square().mean().backward()
        want = fc.weight.grad.clone()
        checkpoint(lambda t: twin_fc(twin_drop(t)), x, use_reentrant=mode[0],
                   preserve_rng_state=mode[1]).square().mean().backward()
        assert torch.equal(want, twin_fc.weight.grad), step
    assert int(drop.step) == int(twin_drop.step) == 4
