"""Time the brain on CPU: per-decision latency at batch 1 (streaming carry) for stage1 fp32, stage2 fp32
and stage2 int8, the int8/fp32 agreement of stage2's deterministic actions, and stage1 training throughput.

Latency: after ``--warmup`` decisions, ``--decisions`` timed calls of ``Policy.act`` at batch 1 with the
carry fed back (streaming), each on a fresh random observation; p50/p99 in ms. Training: PPO-like steps
(forward, clipped surrogate + value loss + entropy, backward, Adam) on random batches of 64, in samples/s.
Torch threads are set to the machine's cores. Last line: JSON {"stage1_p99_ms": a, "stage2_fp32_p99_ms": b,
"stage2_int8_p99_ms": c, "int8_action_agreement": d, "train_samples_per_s": e}.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from autoperp.brain.policy import Policy, PolicyConfig, random_observation
from autoperp.brain.presets import stage1, stage2
from autoperp.brain.quantize import action_agreement, quantize_dynamic


@torch.inference_mode()
def _latency_ms(policy: Policy, config: PolicyConfig, warmup: int, decisions: int) -> tuple[float, float]:
    gen = torch.Generator().manual_seed(1)
    observations = [random_observation(config, 1, gen) for _ in range(warmup + decisions)]
    carry = policy.initial_carry(1)
    times = []
    for i, obs in enumerate(observations):
        t = time.perf_counter()
        _, _, _, carry = policy.act(obs, carry, deterministic=True)
        if i >= warmup:
            times.append((time.perf_counter() - t) * 1e3)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def _train_samples_per_s(config: PolicyConfig, steps: int, batch: int = 64) -> float:
    policy = Policy(config).train()
    opt = torch.optim.Adam(policy.parameters(), lr=3e-4)
    gen = torch.Generator().manual_seed(2)
    batches = [random_observation(config, batch, gen) for _ in range(steps + 1)]
    advantages = torch.randn(batch, generator=gen)
    returns = torch.randn(batch, generator=gen)
    elapsed = 0.0
    for i, obs in enumerate(batches):
        t = time.perf_counter()
        with torch.no_grad():
            action, old_logp, _, _ = policy.act(obs, None)
        out = policy(obs, None)
        ratio = torch.exp(policy.log_prob(out, action) - old_logp)
        surrogate = torch.min(ratio * advantages, ratio.clamp(0.8, 1.2) * advantages)
        loss = (
            -surrogate.mean() + 0.5 * (out.value - returns).pow(2).mean() - 0.01 * policy.entropy(out).mean()
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 0.5)
        opt.step()
        if i > 0:  # the first step pays one-off allocation costs
            elapsed += time.perf_counter() - t
    return steps * batch / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--decisions", type=int, default=200)
    ap.add_argument("--agreement-rows", type=int, default=256)
    ap.add_argument("--train-steps", type=int, default=10)
    ap.add_argument(
        "--latency-threads", type=int, default=1,
        help="torch threads for the batch-1 decisions: one decision's matrices are too small to split, and "
        "waking a second thread only adds jitter to the tail (the live loop runs the same way)",
    )  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(args.latency_threads)
    torch.manual_seed(0)

    s1_cfg, s2_cfg = stage1(), stage2()
    s1, s2 = Policy(s1_cfg).eval(), Policy(s2_cfg).eval()
    s2_int8 = quantize_dynamic(s2)

    s1_p50, s1_p99 = _latency_ms(s1, s1_cfg, args.warmup, args.decisions)
    print(f"stage1 fp32: p50 {s1_p50:.2f} ms, p99 {s1_p99:.2f} ms per decision (batch 1)")
    s2_p50, s2_p99 = _latency_ms(s2, s2_cfg, args.warmup, args.decisions)
    print(f"stage2 fp32: p50 {s2_p50:.2f} ms, p99 {s2_p99:.2f} ms per decision (batch 1)")
    q_p50, q_p99 = _latency_ms(s2_int8, s2_cfg, args.warmup, args.decisions)
    print(f"stage2 int8: p50 {q_p50:.2f} ms, p99 {q_p99:.2f} ms per decision (batch 1)")

    gen = torch.Generator().manual_seed(3)
    rows = max(1, args.agreement_rows)
    chunks = [random_observation(s2_cfg, min(64, rows - i), gen) for i in range(0, rows, 64)]
    agreement = action_agreement(s2, s2_int8, chunks)
    print(f"stage2 int8 action agreement: {agreement:.4f} of {rows} decisions")

    torch.set_num_threads(os.cpu_count() or 1)  # training batches are big enough to use every core
    train = _train_samples_per_s(s1_cfg, args.train_steps)
    print(f"stage1 training: {train:.0f} samples/s (PPO-like step, batch 64)")

    print(
        json.dumps(
            {
                "stage1_p99_ms": round(s1_p99, 3),
                "stage2_fp32_p99_ms": round(s2_p99, 3),
                "stage2_int8_p99_ms": round(q_p99, 3),
                "int8_action_agreement": round(agreement, 4),
                "train_samples_per_s": round(train, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
