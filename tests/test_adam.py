"""The trainer's Adam (trainer.adam) against torch.optim.Adam: the same update bit for bit, state
dicts that load either way, and a training process that never imports the compiler (torch._dynamo)."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from conftest import ROOT, TINY_TRAIN

from trainer.adam import Adam


def _net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.LeakyReLU(0.2),
                               torch.nn.Conv2d(8, 2, 1))


def _steps(net: torch.nn.Module, opt, first: int, count: int) -> None:
    for k in range(first, first + count):
        x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(k))
        opt.zero_grad()
        net(x).square().mean().backward()
        if k % 3 == 2:
            net[0].bias.grad = None  # a parameter without a gradient this step keeps its moments
        opt.step()


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("kernel", [{}, {"foreach": False}, {"foreach": True}, {"fused": True}])
def test_the_update_is_torch_adams_bit_for_bit(kernel):
    """Each of torch's kernels (fused: what the translator asks for on CUDA; a CPU has one too)."""
    ours, theirs = _net(0), _net(0)
    _steps(ours, Adam(ours.parameters(), lr=1e-2, betas=(0.5, 0.99), **kernel), 0, 7)
    _steps(theirs, torch.optim.Adam(theirs.parameters(), lr=1e-2, betas=(0.5, 0.99), **kernel), 0, 7)
    assert _same(ours, theirs)
    assert not _same(ours, _net(0))  # it did learn


@pytest.mark.parametrize("saver, loader", [(Adam, torch.optim.Adam), (torch.optim.Adam, Adam), (Adam, Adam)])
@pytest.mark.parametrize("kernel", [{}, {"fused": True}])
def test_a_state_dict_resumes_either_optimiser_exactly(saver, loader, kernel):
    straight = _net(1)
    _steps(straight, torch.optim.Adam(straight.parameters(), lr=1e-2, betas=(0.0, 0.99), **kernel), 0, 8)
    first = _net(1)
    opt = saver(first.parameters(), lr=1e-2, betas=(0.0, 0.99), **kernel)
    _steps(first, opt, 0, 4)
    saved = opt.state_dict()
    again = _net(5)
    again.load_state_dict(first.state_dict())
    resumed = loader(again.parameters(), lr=1.0, betas=(0.9, 0.9))  # the saved options win, as in torch
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == 1e-2 and resumed.param_groups[0]["betas"] == (0.0, 0.99)
    _steps(again, resumed, 4, 4)
    assert _same(again, straight)


def test_a_state_dict_of_another_network_is_refused():
    opt = Adam(_net(0).parameters(), lr=1e-3, betas=(0.9, 0.99))
    other = Adam(torch.nn.Linear(2, 2).parameters(), lr=1e-3, betas=(0.9, 0.99))
    with pytest.raises(ValueError, match="other parameters"):
        opt.load_state_dict(other.state_dict())


def test_a_training_process_does_not_import_the_compiler(tmp_path):
    """torch.optim.Optimizer's methods import torch._dynamo on their first call (seconds per process)."""
    script = ("import sys\nfrom trainer.__main__ import main\n"
              f"code = main(['train', '--out', {str(tmp_path / 'run')!r}, '--preset', 'bricks', '--steps', '2', "
              f"'--eval-every', '0', *{TINY_TRAIN!r}])\n"
              "print(code, 'torch._dynamo' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.stdout.split()[-2:] == ["0", "False"], done.stderr[-2000:]
