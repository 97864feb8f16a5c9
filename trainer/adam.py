"""Adam for the trainer's sessions: torch's own update (torch.optim.adam.adam, the function that
torch.optim.Adam.step calls) and state dicts in torch.optim.Adam's format, so checkpoints load either
way. What it leaves out is torch.optim.Optimizer's wrapping of its methods for the compiler, which
imports torch._dynamo at the first call: 2.5-3 s of every training process's start on a 2-core
machine, for a compiler the trainer does not use."""
from __future__ import annotations

import torch
from torch.optim.adam import adam

# torch.optim.Adam's group options with the values the trainer never changes (state dicts carry them all)
_FIXED = {"weight_decay": 0, "amsgrad": False, "maximize": False, "capturable": False, "differentiable": False,
          "decoupled_weight_decay": False}


def _state_dtype(fused: bool) -> torch.dtype:
    """The dtype torch.optim.Adam keeps a parameter's step count in."""
    return torch.float32 if fused or torch.get_default_dtype() != torch.float64 else torch.float64


class Adam:
    """torch.optim.Adam(params, lr, betas, eps, foreach=, fused=) without weight decay, AMSGrad or
    maximising: the same update bit for bit (tests/test_adam.py), one parameter group."""

    def __init__(self, params, lr: float, betas: tuple[float, float], eps: float = 1e-8,
                 foreach: bool | None = None, fused: bool | None = None):
        params = list(params)
        if not params:
            raise ValueError("Adam was given no parameters")
        self.param_groups = [{"lr": lr, "betas": tuple(betas), "eps": eps, **_FIXED, "foreach": foreach,
                              "fused": fused, "params": params}]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def _moments(self, p: torch.Tensor, fused: bool) -> dict[str, torch.Tensor]:
        if p not in self.state:  # lazily, as torch.optim.Adam: zero moments, step 0 (on the CPU unless fused)
            step = torch.zeros((), dtype=_state_dtype(fused), device=p.device if fused else "cpu")
            self.state[p] = {"step": step, "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                             "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
        return self.state[p]

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            moments = [self._moments(p, bool(group["fused"])) for p in params]
            beta1, beta2 = group["betas"]
            adam(params, [p.grad for p in params], [m["exp_avg"] for m in moments],
                 [m["exp_avg_sq"] for m in moments], [], [m["step"] for m in moments], foreach=group["foreach"],
                 fused=group["fused"], capturable=False, differentiable=False, has_complex=False, amsgrad=False,
                 beta1=beta1, beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"], eps=group["eps"],
                 maximize=False)

    def state_dict(self) -> dict:
        """{"state": {index: moments}, "param_groups": [options and parameter indices]}, as torch's."""
        index, groups = {}, []
        for group in self.param_groups:
            ids = [index.setdefault(p, len(index)) for p in group["params"]]
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        return {"state": {index[p]: moments for p, moments in self.state.items()}, "param_groups": groups}

    def load_state_dict(self, saved: dict) -> None:
        """A state dict of this class or of torch.optim.Adam over the same parameters, in order."""
        groups = saved["param_groups"]
        if [len(g["params"]) for g in groups] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError("the saved optimiser state holds other parameters than this network's")
        self.param_groups = [{**_FIXED, "foreach": None, "fused": None, **{k: v for k, v in old.items() if k != "params"},
                              "params": new["params"]} for old, new in zip(groups, self.param_groups)]
        self.state = {}
        for old, group in zip(groups, self.param_groups):
            for i, p in zip(old["params"], group["params"]):
                if i in saved["state"]:
                    self.state[p] = {k: _placed(k, v, p, bool(group["fused"])) for k, v in saved["state"][i].items()}


def _placed(key: str, value: torch.Tensor, p: torch.Tensor, fused: bool) -> torch.Tensor:
    """A loaded moment on its parameter's device and dtype; the step count where torch.optim.Adam keeps it."""
    if key == "step":
        return value.to(device=p.device, dtype=torch.float32) if fused else value
    return value.to(device=p.device, dtype=p.dtype if p.is_floating_point() else value.dtype)
