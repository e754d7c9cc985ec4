"""Policy (DESIGN.md §4–5): shapes, presets, absent modalities, ablations, log-probs, carry, determinism."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest
import torch
from pydantic import ValidationError

from autoperp.brain.flat import parameter_count
from autoperp.brain.observation import MODALITIES
from autoperp.brain.policy import Policy, PolicyConfig, pick_device, random_observation
from autoperp.brain.presets import stage1, stage2
from autoperp.core.errors import ConfigError

TINY: dict[str, Any] = {
    "d_model": 16,
    "n_heads": 2,
    "h_layers": 1,
    "l_layers": 1,
    "n_cycles": 1,
    "t_steps": 2,
    "fast_window": 8,
    "slow_window": 6,
    "day_window": 4,
    "chart_channels": (2, 4),
    "chart_height": 16,
    "chart_width": 12,
}


def tiny(**kw: Any) -> PolicyConfig:
    return PolicyConfig(**{**TINY, **kw})


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("action", ["gaussian", "categorical"])
def test_shapes_and_action_range(action: str) -> None:
    cfg = tiny(action=action, n_bins=5, n_recent_tokens=2)
    policy = Policy(cfg).eval()
    obs = random_observation(cfg, 3, gen())
    assert policy.tokens(obs).shape == (3, cfg.n_tokens(), 16)
    out = policy(obs, policy.initial_carry(3))
    assert out.value.shape == (3,)
    if action == "gaussian":
        assert out.mean is not None and out.mean.shape == (3,)
    else:
        assert out.logits is not None and out.logits.shape == (3, 5)
    a, logp, value, carry = policy.act(obs, None)
    assert a.shape == logp.shape == value.shape == (3,)
    assert bool((a.abs() <= 1).all()) and torch.isfinite(logp).all()
    assert carry is not None and carry.z_H.shape == (3, cfg.n_tokens(), 16)


def test_preset_parameter_counts() -> None:
    n1 = parameter_count(Policy(stage1()))
    n2 = parameter_count(Policy(stage2()))
    assert 1_000_000 <= n1 <= 3_000_000
    assert 20_000_000 <= n2 <= 30_000_000


def test_absent_modality_embedding() -> None:
    cfg = tiny()
    policy = Policy(cfg).eval()
    obs = random_observation(cfg, 4, gen())
    with torch.no_grad():
        base = policy(obs).value
        absent = {"flow": torch.tensor([True, False, True, False])}
        masked = policy(replace(obs, presence=absent)).value
        # Marking rows absent changes their output and leaves the others alone.
        assert not torch.allclose(base[1], masked[1]) and not torch.allclose(base[3], masked[3])
        assert torch.allclose(base[0], masked[0]) and torch.allclose(base[2], masked[2])
        # An absent row's input values (even NaN) do not reach the output.
        assert obs.flow is not None
        garbage = replace(
            obs, flow=torch.where(absent["flow"][:, None], obs.flow, torch.nan), presence=absent
        )
        assert torch.allclose(policy(garbage).value, masked)
        # A field given as None is absent in every row: same as masking every row.
        none_flow = policy(replace(obs, flow=None, presence={})).value
        all_absent = policy(replace(obs, presence={"flow": torch.zeros(4, dtype=torch.bool)})).value
        assert torch.allclose(none_flow, all_absent)


def test_nan_in_absent_rows_keeps_gradients_finite() -> None:
    cfg = tiny()
    policy = Policy(cfg)
    obs = random_observation(cfg, 2, gen())
    assert obs.chart is not None
    chart = obs.chart.clone()
    chart[1] = torch.nan
    bad = replace(obs, chart=chart, presence={"chart": torch.tensor([True, False])})
    policy(bad).value.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in policy.parameters() if p.grad is not None)


@pytest.mark.parametrize("mode", ["identity", "gfnet", "mlp", "zira"])
def test_zira_ablation_modes_run(mode: str) -> None:
    cfg = tiny(zira_mode=mode)
    out = Policy(cfg).eval()(random_observation(cfg, 2, gen()))
    assert torch.isfinite(out.value).all()


def test_flat_backbone_matches_parameters() -> None:
    hrm_policy = Policy(tiny(h_layers=2, l_layers=2))
    flat_policy = Policy(tiny(h_layers=2, l_layers=2, backbone="flat"))
    assert flat_policy.initial_carry(2) is None
    n_hrm, n_flat = parameter_count(hrm_policy), parameter_count(flat_policy)
    assert abs(n_hrm - n_flat) / n_hrm < 0.05
    a, _, _, carry = flat_policy.act(random_observation(flat_policy.config, 2, gen()), None)
    assert carry is None and a.shape == (2,)


def test_modality_switched_off_ignores_input() -> None:
    cfg = tiny(modalities=tuple(m for m in MODALITIES if m not in ("chart", "sentiment")))
    policy = Policy(cfg).eval()
    assert "chart" not in policy.encoders and "sentiment" not in policy.encoders
    obs = random_observation(cfg, 2, gen())
    assert obs.chart is not None
    with torch.no_grad():
        v1 = policy(obs).value
        v2 = policy(replace(obs, chart=torch.rand_like(obs.chart), sentiment=None)).value
    assert torch.allclose(v1, v2)
    with pytest.raises(ValidationError, match="modalities"):
        PolicyConfig(**{**TINY, "modalities": ("news",)})


def _cdf(a: float, mu: float, sd: float) -> float:
    """P(tanh(u) <= a) for u ~ N(mu, sd^2)."""
    return 0.5 * (1 + math.erf((math.atanh(a) - mu) / (sd * math.sqrt(2))))


def test_gaussian_log_prob_matches_numeric_density() -> None:
    cfg = tiny()
    policy = Policy(cfg).eval().double()
    obs = random_observation(cfg, 2, gen())
    obs = replace(
        obs,
        **{
            n: getattr(obs, n).double()
            for n in ("regime", "fast", "slow", "day", "flow", "alt", "chart", "sentiment", "account")
        },
    )
    with torch.no_grad():
        out = policy(obs)
        # The density over a in (-1, 1) integrates to 1 and matches the pushforward of N(mean, std) by tanh.
        grid = torch.linspace(-0.999999, 0.999999, 200001, dtype=torch.float64)
        for row in range(2):
            assert out.mean is not None and out.log_std is not None
            single = replace(
                out, mean=out.mean[row].expand_as(grid), log_std=out.log_std[row].expand_as(grid)
            )
            dens = policy.log_prob(single, grid).exp()
            assert abs(float(torch.trapezoid(dens, grid)) - 1.0) < 1e-3
            a0, h = 0.3, 1e-4
            mu, sd = float(out.mean[row]), math.exp(float(out.log_std[row]))
            numeric = (_cdf(a0 + h, mu, sd) - _cdf(a0 - h, mu, sd)) / (2 * h)
            at = replace(out, mean=out.mean[row : row + 1], log_std=out.log_std[row : row + 1])
            analytic = float(policy.log_prob(at, torch.tensor([a0], dtype=torch.float64)).exp())
            assert analytic == pytest.approx(numeric, rel=1e-6)
        # act's log_prob agrees with log_prob of the returned action.
        torch.manual_seed(5)
        a, logp, _, _ = policy.act(obs, None)
        assert torch.allclose(policy.log_prob(out, a), logp, atol=1e-6)


def test_categorical_log_prob() -> None:
    cfg = tiny(action="categorical", n_bins=7)
    policy = Policy(cfg).eval()
    obs = random_observation(cfg, 3, gen())
    with torch.no_grad():
        out = policy(obs)
        assert out.logits is not None
        probs = policy.log_prob(out, policy.grid[[0, 3, 6]]).exp()
        expected = torch.softmax(out.logits, -1)[torch.arange(3), torch.tensor([0, 3, 6])]
        assert torch.allclose(probs, expected)
        a, logp, _, _ = policy.act(obs, None)
        assert set(a.tolist()) <= set(policy.grid.tolist())
        assert torch.allclose(policy.log_prob(out, a), logp)
        ent = policy.entropy(out)
        assert bool((ent > 0).all()) and bool((ent <= math.log(7) + 1e-6).all())


def test_carry_persists_and_resets() -> None:
    cfg = tiny()
    policy = Policy(cfg).eval()
    obs = random_observation(cfg, 2, gen())
    with torch.no_grad():
        c0 = policy.initial_carry(2)
        a1, _, _, c1 = policy.act(obs, c0, deterministic=True)
        _, _, _, c2 = policy.act(obs, c1, deterministic=True)
        assert c0 is not None and c1 is not None and c2 is not None
        assert not torch.allclose(c1.z_H, c2.z_H)  # the state moves on between decisions
        assert not torch.allclose(policy(obs, c1).value, policy(obs, c0).value)
        reset = policy.reset_carry(c2, torch.tensor([True, False]))
        assert reset is not None
        assert torch.equal(reset.z_H[0], c0.z_H[0]) and torch.equal(reset.z_H[1], c2.z_H[1])
        again, _, _, _ = policy.act(obs, reset, deterministic=True)
        assert torch.allclose(again[0], a1[0])


def test_determinism_by_seed() -> None:
    cfg = tiny(seed=3)
    obs = random_observation(cfg, 2, gen())
    p1, p2, p3 = Policy(cfg).eval(), Policy(cfg).eval(), Policy(tiny(seed=4)).eval()
    with torch.no_grad():
        assert torch.equal(p1(obs).value, p2(obs).value)
        assert not torch.equal(p1(obs).value, p3(obs).value)
        torch.manual_seed(9)
        s1 = p1.act(obs, None)[0]
        torch.manual_seed(9)
        s2 = p2.act(obs, None)[0]
    assert torch.equal(s1, s2)


def test_regime_width_checked() -> None:
    cfg = tiny()
    obs = random_observation(tiny(n_regime=4), 2, gen())
    with pytest.raises(ConfigError, match="'regime'"):
        Policy(cfg)(obs)


def test_pick_device_defaults() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device().type == expected
    assert pick_device("cpu").type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_runs_on_cuda() -> None:
    cfg = tiny()
    cpu = Policy(cfg).eval()
    gpu = Policy(cfg).eval().to("cuda")
    obs = random_observation(cfg, 2, gen())
    with torch.no_grad():
        out = gpu(obs.to("cuda"), gpu.initial_carry(2, "cuda"))
        assert out.value.is_cuda and out.carry is not None and out.carry.z_H.is_cuda
        torch.testing.assert_close(out.value.cpu(), cpu(obs).value, atol=1e-4, rtol=1e-4)
