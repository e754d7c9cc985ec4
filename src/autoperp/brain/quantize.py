"""int8 dynamic quantisation of a :class:`~autoperp.brain.policy.Policy` for CPU inference (DESIGN.md §4).

:func:`quantize_dynamic` replaces the ``nn.Linear`` layers by int8 dynamically quantised ones
(``torch.ao.quantization.quantize_dynamic``: int8 weights per output channel, activations quantised per
call). The result runs
on CPU only and is for inference only (no gradients). Two kinds of Linear are kept in float:

* the ZIRA gain networks (``*.zira.gain``): ``ZiraBlock`` reads ``gain.weight``/``gain.bias`` as tensors,
  which a quantised Linear does not expose (and they are tiny);
* the SwiGLU down-projections (``*.mlp.down``): their input silu(gate)·up is heavy-tailed, and a
  per-tensor activation scale sized for the tail loses the many small values (on stage 2 this alone cost
  ~1 % of action agreement); the other Linears hold most of the weights, so the speed-up stays;
* the actor and critic heads: one row each, nothing to gain, and the actor decides the action, so keeping
  it exact is what keeps the int8 policy's decisions in agreement with the fp32 one.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable

import torch
from torch import nn
from torch.ao.quantization import per_channel_dynamic_qconfig
from torch.ao.quantization import quantize_dynamic as _torch_quantize_dynamic

from autoperp.brain.observation import Observation
from autoperp.brain.policy import Policy, PolicyCarry

__all__ = ["GAUSSIAN_TOLERANCE", "action_agreement", "quantize_dynamic"]

#: Two deterministic Gaussian actions agree when they differ by at most this (fraction of max leverage).
GAUSSIAN_TOLERANCE = 0.01

_KEEP_FLOAT = ("actor", "critic")


def quantize_dynamic(policy: Policy) -> Policy:
    """An int8 copy of ``policy`` (eval mode, CPU); the original is left untouched."""
    model = copy.deepcopy(policy).cpu().eval()
    spec = {
        name: per_channel_dynamic_qconfig
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear)
        and not name.endswith((".gain", ".mlp.down"))
        and name not in _KEEP_FLOAT
    }
    with warnings.catch_warnings():
        # torch 2.x warns that torch.ao.quantization is deprecated; it still works, and the warning is
        # noise at every call. A torch without it fails loudly at import, not silently here.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        quantized: Policy = _torch_quantize_dynamic(model, spec, dtype=torch.qint8)
    return quantized


@torch.inference_mode()
def action_agreement(fp32: Policy, int8: Policy, observations: Iterable[Observation]) -> float:
    """Share (fraction) of deterministic decisions on which the two policies agree.

    Agreement means the same grid bin (categorical) or a difference of at most :data:`GAUSSIAN_TOLERANCE`
    between the deterministic actions tanh(mean) (Gaussian). Each observation batch is one decision per
    row from the initial carry; both models run on CPU.
    """
    agree = total = 0
    for obs in observations:
        cpu = obs.to("cpu")
        carry: PolicyCarry = None
        a, _, _, _ = fp32.cpu().eval().act(cpu, carry, deterministic=True)
        b, _, _, _ = int8.act(cpu, carry, deterministic=True)
        if fp32.config.action == "categorical":
            same = fp32.bin_of(a) == fp32.bin_of(b)
        else:
            same = (a - b).abs() <= GAUSSIAN_TOLERANCE
        agree += int(same.sum())
        total += int(same.numel())
    return agree / total if total else 1.0
