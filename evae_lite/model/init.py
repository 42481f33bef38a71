"""Initial weights drawn from a given generator, as torch's defaults draw them.

torch's layers draw their initial weights from the process-wide generator, which every thread
of a process shares: two runs training side by side in threads would interleave their draws.
`init_parameters` redraws every parameter from the run's own generator, in the order the
layers were built, so a generator seeded with s gives the weights that ``torch.manual_seed(s)``
followed by building the model gives, without touching the process-wide state.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .mvae import GroupedLinear


def _linear(m: nn.Linear, g: torch.Generator) -> None:
    # nn.Linear.reset_parameters, with the generator passed through
    nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=g)
    if m.bias is not None:
        fan_in = m.weight.shape[1]
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        nn.init.uniform_(m.bias, -bound, bound, generator=g)


@torch.no_grad()
def init_parameters(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Redraw every parameter of `model` from `generator`; a parameter of a layer this does
    not know is an error, not left as drawn from the process-wide generator."""
    done: set[int] = set()
    for m in model.modules():
        if isinstance(m, nn.Linear):
            _linear(m, generator)
        elif isinstance(m, GroupedLinear):
            m.reset_parameters(generator)
        else:
            continue
        done.update(id(p) for p in m.parameters(recurse=False))
    missing = [n for n, p in model.named_parameters() if id(p) not in done]
    if missing:
        raise TypeError(f"init_parameters has no initialisation for parameters {missing}")
    return model
