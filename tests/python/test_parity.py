"""Drop-in parity with torch.nn (issue 23): the properties PyTorch's own dropout tests
(test/nn/test_dropout.py) ask of nn.Dropout, nn.Dropout1d/2d/3d and F.dropout, asked
of torch.nn and of simdrop.torch side by side, so that a difference between the two
is a failure of simdrop's.

The statistical checks (means within a tolerance) run with fixed seeds, so they are
deterministic; with the sizes used, a correct dropout misses the 0.05 tolerance with
probability below 1e-4 per check (4 standard deviations of a mean of 1,000 kept/dropped
values at p = 0.2: sqrt(0.16 / 1000) = 0.0126), and the seeds make that draw fixed.
"""
import itertools
import warnings

import pytest
import torch
import torch.nn.functional as F

import simdrop.torch as sdt

IMPLEMENTATIONS = ["torch.nn", "simdrop.torch"]


class Impl:
    """One implementation's classes and functional dropout, seeded from torch's generator."""

    def __init__(self, name):
        self.name = name
        self.module = torch.nn if name == "torch.nn" else sdt

    def make(self, cls, p=0.5, inplace=False):
        return getattr(self.module, cls)(p=p, inplace=inplace)

    def dropout(self, x, p):
        return F.dropout(x, p) if self.name == "torch.nn" else sdt.dropout(x, p)


@pytest.fixture(params=IMPLEMENTATIONS)
def impl(request):
    torch.manual_seed(1234)  # torch's masks, and simdrop's seeds (drawn from torch's generator)
    return Impl(request.param)


def test_invalid_p(impl):
    for cls in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d"):
        for p in (-0.1, 1.1):
            with pytest.raises(ValueError):
                impl.make(cls, p)
    for p in (-0.1, 1.1):
        with pytest.raises(ValueError):
            impl.dropout(torch.ones(1), p)


def _check_dropout(impl, cls, input, memory_format=torch.contiguous_format):
    p = 0.2
    input = input.fill_(1 - p)
    for inplace in (False, True):
        module = impl.make(cls, p, inplace)
        leaf = input.clone(memory_format=memory_format).requires_grad_()
        output = module(leaf + 0 if inplace else leaf)
        assert output.is_contiguous(memory_format=memory_format)
        assert abs(output.detach().float().mean() - (1 - p)) < 0.05
        output.backward(input)
        assert leaf.grad.is_contiguous(memory_format=memory_format)
        assert abs(leaf.grad.float().mean() - (1 - p)) < 0.05
    for inplace in (True, False):
        module = impl.make(cls, p, inplace).eval()
        assert torch.equal(module(input), input)
    assert repr(module) and str(module)


def _check_discontiguous(impl, cls, memory_format=torch.contiguous_format):
    for p in (0.0, 1e-10):
        inp = torch.ones(2, 3, 3, 3)
        discontiguous = torch.empty(2, 3, 3, 6, memory_format=memory_format)[..., ::2]
        discontiguous.copy_(inp)
        out = impl.make(cls, p)(discontiguous)
        if p != 0:
            assert out.is_contiguous(memory_format=memory_format)
        assert torch.equal(discontiguous, out)


def test_dropout(impl):
    _check_dropout(impl, "Dropout", torch.empty(1000))
    _check_discontiguous(impl, "Dropout")
    _check_discontiguous(impl, "Dropout", torch.channels_last)
    _check_dropout(impl, "Dropout", torch.empty(1000).bfloat16())


def test_stride_order_and_mean_are_kept(impl):
    """All 384 permuted and sliced 4-D inputs: the output keeps the input's stride order."""
    inp = torch.ones(2, 3, 4, 5)
    checked = 0
    for perm in itertools.permutations(range(4)):
        inverse = tuple(perm.index(d) for d in range(4))
        for shift in ((0, 0), (1, 0), (0, 1), (1, 1)):
            for p in (1e-10, 0.3, 0.5, 0.7):
                permuted = inp.permute(perm).contiguous().permute(inverse)[shift[0]:, shift[1]:, :, :]
                out = impl.make("Dropout", p)(permuted)
                assert out.permute(perm).is_contiguous(), (perm, shift, p)
                assert abs(out.mean() - inp.mean()) <= 0.5 + 0.5 * inp.mean()
                if p == 1e-10:
                    assert torch.equal(permuted, out)
                else:
                    assert not torch.equal(permuted, out)
                checked += 1
    assert checked == 384


def _check_no_batch(impl, cls, input, inplace):
    seed_state = torch.get_rng_state()
    unbatched = impl.make(cls, 0.5, inplace)
    torch.set_rng_state(seed_state)
    batched = impl.make(cls, 0.5, inplace)
    state = torch.get_rng_state()
    result = unbatched(input.clone())
    torch.set_rng_state(state)
    expected = batched(input.clone().unsqueeze(0)).squeeze(0)
    assert torch.equal(result, expected)


def _check_whole_channels(impl, cls, input, inplace):
    result = impl.make(cls, 0.5, inplace)(input)
    per_channel = input[0, 0].numel()
    for b, c in itertools.product(range(input.shape[0]), range(input.shape[1])):
        assert int(result[b, c].count_nonzero()) in (0, per_channel)


def test_dropout1d(impl):
    _check_dropout(impl, "Dropout1d", torch.empty(12, 11, 13, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input, but received a 4D input"):
        impl.make("Dropout1d")(torch.rand(1, 2, 2, 2))
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input, but received a 1D input"):
        impl.make("Dropout1d")(torch.rand(2))
    for inplace in (False, True):
        _check_no_batch(impl, "Dropout1d", torch.rand(50, 2), inplace)
        _check_whole_channels(impl, "Dropout1d", torch.ones(10, 4, 2), inplace)


def test_dropout2d(impl):
    features = torch.empty(1000, 2, 3, 4)
    _check_dropout(impl, "Dropout2d", features)
    _check_dropout(impl, "Dropout2d", features, torch.channels_last)
    _check_discontiguous(impl, "Dropout2d")
    _check_discontiguous(impl, "Dropout2d", torch.channels_last)
    with pytest.warns(UserWarning, match="Received a 5-D input to dropout2d"):
        impl.make("Dropout2d")(torch.rand(1, 2, 2, 2, 2))
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        impl.make("Dropout2d")(torch.rand(1, 2))
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D dropout behavior is desired"):
        impl.make("Dropout2d")(torch.rand(1, 2, 2))
    for inplace in (False, True):
        _check_whole_channels(impl, "Dropout2d", torch.ones(10, 4, 2, 2), inplace)


def test_dropout3d(impl):
    _check_dropout(impl, "Dropout3d", torch.empty(1000, 2, 1, 3, 2))
    _check_discontiguous(impl, "Dropout3d")
    _check_discontiguous(impl, "Dropout3d", torch.channels_last)
    with pytest.warns(UserWarning, match="Received a 6-D input to dropout3d"):
        impl.make("Dropout3d")(torch.rand(1, 2, 2, 2, 2, 2))
    with pytest.warns(UserWarning, match="Received a 3-D input to dropout3d"):
        impl.make("Dropout3d")(torch.rand(1, 2, 2))
    for inplace in (False, True):
        _check_no_batch(impl, "Dropout3d", torch.rand(50, 2, 2, 2), inplace)
        _check_whole_channels(impl, "Dropout3d", torch.ones(10, 4, 2, 2, 2), inplace)


def test_empty_input(impl):
    x = torch.tensor([])
    assert impl.dropout(x, 0.5).size() == x.size()


def test_functional_forms_match_their_modules():
    """simdrop's functional channel dropouts are what the modules compute, step for step."""
    x = torch.randn(4, 6, 5)
    for cls, function in ((sdt.Dropout1d, sdt.dropout1d), (sdt.Dropout2d, sdt.dropout2d)):
        module = cls(0.5, seed=3)
        for step in range(2):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                assert torch.equal(module(x), function(x, 0.5, seed=3, stream=step))
    volume = torch.randn(2, 3, 2, 2, 2)
    module = sdt.Dropout3d(0.5, seed=4)
    assert torch.equal(module(volume), sdt.dropout3d(volume, 0.5, seed=4, stream=0))
