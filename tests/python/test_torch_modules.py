"""simdrop.torch.Dropout and Dropout2d: seeds and steps, train/eval, in place,
save_mask, state_dict continuation and TorchScript."""
import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import reference as R
import simdrop
import simdrop.torch as sdt


def bits_of(t):
    t = t.detach().contiguous().reshape(-1)
    if t.dtype in (torch.bfloat16, torch.float16):
        return t.view(torch.int16).numpy().view(np.uint16)
    return t.numpy().view(np.uint8)


def same_bits(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(bits_of(a), bits_of(b))


def sample(shape, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)


def uint64(seed_tensor):
    return int(seed_tensor) % (1 << 64)


def test_training_forward_k_uses_stream_k():
    layer = sdt.Dropout(0.3, seed=2**64 - 7)
    assert int(layer.seed) == -7 and int(layer.step) == 0
    x = sample((20, 30))
    for k in range(3):
        y = layer(x)
        want = simdrop.dropout(x.numpy(), np.float32(0.7), 2**64 - 7, stream=k)
        assert same_bits(y, torch.from_numpy(want))
        assert np.array_equal(bits_of(y), bits_of(torch.from_numpy(R.dropout(x.numpy(), 0.7, 2**64 - 7, k)[0])))
        assert int(layer.step) == k + 1
    layer.eval()
    assert layer(x) is x and int(layer.step) == 3


def test_dropout2d_module_uses_channel_indices():
    layer = sdt.Dropout2d(0.5, seed=11)
    x = sample((4, 6, 5, 5)).contiguous(memory_format=torch.channels_last)
    layer(x)
    y = layer(x)  # step 1
    assert y.is_contiguous(memory_format=torch.channels_last)
    decisions = torch.from_numpy(R.keep(24, 0.5, 11, stream=1)).reshape(4, 6, 1, 1)
    assert same_bits(y, torch.where(decisions, x * 2.0, torch.zeros(())))
    layer.eval()
    assert layer(x) is x


def test_manual_seed_makes_models_repeatable_and_layers_differ():
    def build():
        return torch.nn.Sequential(torch.nn.Linear(8, 64), sdt.Dropout(0.5), torch.nn.Linear(64, 64),
                                   sdt.Dropout(0.5), sdt.Dropout2d(0.2))

    torch.manual_seed(0)
    first = build()
    torch.manual_seed(0)
    second = build()
    seeds = [int(m.seed) for m in first if hasattr(m, "seed")]
    assert seeds == [int(m.seed) for m in second if hasattr(m, "seed")]
    assert len(set(seeds)) == 3  # every module draws its own seed
    x = sample((16, 8))
    assert same_bits(first(x), second(x))
    h = torch.ones(1000)
    assert not same_bits(first[1](h), first[3](h))  # two layers never share masks
    torch.manual_seed(1)
    assert int(build()[1].seed) != seeds[0]


def test_state_dict_round_trip_continues_the_mask_sequence():
    torch.manual_seed(5)
    model = torch.nn.Sequential(torch.nn.Linear(10, 10), sdt.Dropout(0.4), sdt.Dropout(0.1, save_mask=True))
    x = sample((7, 10))
    for _ in range(3):
        model(x)
    checkpoint = {k: v.clone() for k, v in model.state_dict().items()}
    assert int(checkpoint["1.step"]) == 3 and "1.seed" in checkpoint and "2.seed" in checkpoint
    uninterrupted = [model(x) for _ in range(2)]
    torch.manual_seed(99)  # a different process would draw different seeds at construction
    resumed = torch.nn.Sequential(torch.nn.Linear(10, 10), sdt.Dropout(0.4), sdt.Dropout(0.1, save_mask=True))
    resumed.load_state_dict(checkpoint)
    assert all(same_bits(a, resumed(x)) for a in uninterrupted)


def saved_bytes(run):
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = run()
    return sum(saved), out


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
def test_save_mask_saves_one_bit_per_element_and_matches(dtype):
    n = 12345
    x = sample(n, dtype=dtype).requires_grad_()
    g = sample(n, seed=1, dtype=dtype)
    stored = sdt.Dropout(0.3, seed=4, save_mask=True)
    regenerating = sdt.Dropout(0.3, seed=4)
    nbytes, y = saved_bytes(lambda: stored(x))
    assert nbytes == (n + 7) // 8
    y.backward(g)
    grad_stored = x.grad.clone()
    x.grad = None
    nbytes, y2 = saved_bytes(lambda: regenerating(x))
    assert nbytes == 16 and same_bits(y, y2)  # the seed and the stream (int64 each): nothing of x's size
    y2.backward(g)
    assert same_bits(x.grad, grad_stored)


def test_in_place_modules():
    x = sample((10, 10))
    for save_mask in (False, True):
        work = x.clone()
        layer = sdt.Dropout(0.5, inplace=True, seed=3, save_mask=save_mask)
        assert layer(work) is work
        assert same_bits(work, sdt.Dropout(0.5, seed=3)(x))
    image = sample((2, 3, 4, 4))
    work = image.clone()
    assert sdt.Dropout2d(0.5, inplace=True, seed=3)(work) is work
    assert same_bits(work, sdt.Dropout2d(0.5, seed=3)(image))


def test_bad_module_arguments():
    for p in (-0.5, 1.5):
        with pytest.raises(ValueError, match="dropout probability"):
            sdt.Dropout(p)
    with pytest.raises(ValueError, match="unknown generator"):
        sdt.Dropout(0.5, generator="pcg")
    with pytest.raises(ValueError, match="threshold_bits"):
        sdt.Dropout2d(0.5, threshold_bits=12)
    with pytest.raises(TypeError, match="generator must be a str"):
        sdt.Dropout(0.5, generator=3)
    with pytest.raises(ValueError, match="only CPU tensors"):
        sdt.Dropout(0.5)(torch.ones(3, device="meta"))
    with pytest.raises(TypeError, match="unsupported dtype"):
        sdt.Dropout(0.5)(torch.ones(3, dtype=torch.int64))


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(12, 32)
        self.drop1 = sdt.Dropout(0.5)
        self.fc2 = torch.nn.Linear(32, 32)
        self.drop2 = sdt.Dropout(0.2, save_mask=True, generator="xoshiro", threshold_bits=16)
        self.conv = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.drop3 = sdt.Dropout2d(0.25)
        self.out = torch.nn.Linear(32 + 4 * 16, 3)

    def forward(self, x, image):
        h = self.drop1(torch.relu(self.fc1(x)))
        h = self.drop2(torch.relu(self.fc2(h)))
        c = self.drop3(torch.relu(self.conv(image))).flatten(1)
        return self.out(torch.cat([h, c], 1))


def train_steps(model, steps):
    x, image = sample((8, 12), 1), sample((8, 2, 4, 4), 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    outputs = []
    for _ in range(steps):
        optimizer.zero_grad()
        out = model(x, image)
        out.square().mean().backward()
        optimizer.step()
        outputs.append(out.detach().clone())
    return outputs


def test_torchscript_round_trip_trains_like_eager(tmp_path):
    torch.manual_seed(3)
    eager = Net()
    scripted = torch.jit.script(Net())
    scripted.load_state_dict(eager.state_dict())
    for a, b in zip(train_steps(eager, 2), train_steps(scripted, 2)):
        assert torch.equal(a, b)
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    assert int(loaded.drop1.step) == 2
    for a, b in zip(train_steps(eager, 2), train_steps(loaded, 2)):
        assert torch.equal(a, b)
    for name, tensor in eager.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    loaded.eval()
    eager.eval()
    x, image = sample((8, 12), 1), sample((8, 2, 4, 4), 2)
    assert torch.equal(loaded(x, image), eager(x, image))

    # In a fresh process, `import simdrop.torch` registers the ops before torch.jit.load.
    path = tmp_path / "net.pt"
    torch.jit.save(scripted, str(path))
    program = textwrap.dedent("""
        import sys, torch
        import simdrop.torch
        model = torch.jit.load(sys.argv[1])
        x = torch.ones(4, 12, requires_grad=True)
        out = model(x, torch.ones(4, 2, 4, 4))
        out.sum().backward()
        assert x.grad is not None and int(model.drop1.step) == 3
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", program, str(path)], capture_output=True, text=True,
                            env=dict(os.environ), timeout=120)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr
