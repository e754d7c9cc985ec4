"""The speed paths compute what the plain paths do: the folded ZIRA readout equals zira(proj(x)) (values and
gradients, every mode, dropout included), its no-grad kernel cache never goes stale, and the token builder
equals "encode every modality, mask, concatenate, add type embeddings". Also the account modality."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import torch

from autoperp.brain.encoders import PriceEncoder
from autoperp.brain.flat import parameter_count
from autoperp.brain.observation import MODALITIES, Observation
from autoperp.brain.policy import Policy, PolicyConfig, random_observation
from autoperp.brain.presets import stage1, stage1_rl

TINY: dict[str, Any] = {
    "d_model": 16, "n_heads": 2, "h_layers": 1, "l_layers": 1, "n_cycles": 1, "t_steps": 2,
    "fast_window": 8, "slow_window": 6, "day_window": 4, "chart_channels": (2, 4), "chart_height": 16,
    "chart_width": 12,
}  # fmt: skip


def _plain(enc: PriceEncoder, x: torch.Tensor, regime: torch.Tensor | None) -> torch.Tensor:
    h = enc.proj(x)
    out = enc.zira(h, regime)[:, None, :]
    return out if enc.n_recent == 0 else torch.cat((out, h[:, -enc.n_recent :]), 1)


@pytest.mark.parametrize("mode", ["zira", "gfnet", "mlp", "identity"])
@pytest.mark.parametrize("window", [2, 7, 24, 32])
@pytest.mark.parametrize("training", [False, True])
def test_folded_readout_equals_fft_path(mode: str, window: int, training: bool) -> None:
    torch.manual_seed(0)
    enc = PriceEncoder("fast", 5, 16, window, mode, 5, n_recent=2).double().train(training)  # type: ignore[arg-type]
    if enc.zira.gain is not None:  # non-trivial gains (they start at exactly 1)
        torch.nn.init.normal_(enc.zira.gain.weight)
    x = torch.randn(32, window, 5, dtype=torch.float64, requires_grad=True)
    regime = torch.randn(32, 5, dtype=torch.float64)
    torch.manual_seed(7)  # same band-dropout draws on both paths
    fast = enc(x, regime)
    grads_fast = torch.autograd.grad(fast.square().sum(), [x, *enc.parameters()], allow_unused=True)
    torch.manual_seed(7)
    plain = _plain(enc, x, regime)
    grads_plain = torch.autograd.grad(plain.square().sum(), [x, *enc.parameters()], allow_unused=True)
    torch.testing.assert_close(fast, plain, rtol=0, atol=1e-12)
    for gf, gp in zip(grads_fast, grads_plain, strict=True):
        if gp is None:
            assert gf is None or not bool(gf.any())
        else:
            assert gf is not None
            torch.testing.assert_close(gf, gp, rtol=0, atol=1e-10)
    # float32: equal to rounding.
    enc32 = enc.float().eval()
    x32 = x.detach().float()
    torch.testing.assert_close(
        enc32(x32, regime.float()), _plain(enc32, x32, regime.float()), rtol=0, atol=2e-6
    )


def test_kernel_cache_follows_parameter_updates() -> None:
    enc = PriceEncoder("fast", 5, 16, 16).eval()
    x, regime = torch.randn(4, 16, 5), torch.randn(4, 5)
    with torch.no_grad():
        first = enc(x, regime)
        assert enc._kernel_cache is not None
        opt = torch.optim.SGD(enc.parameters(), lr=0.5)
        enc(x, regime).sum()  # cached call
    enc(x, regime).square().sum().backward()  # autograd on: rebuilt, gradients reach the filter
    assert enc.zira.filter is not None and enc.zira.filter.grad is not None
    opt.step()
    with torch.inference_mode():
        after = enc(x, regime)
        assert not torch.allclose(after, first)  # the step changed the filter: the cache did not serve it
        torch.testing.assert_close(after, _plain(enc, x, regime), rtol=0, atol=2e-6)
    enc.load_state_dict({k: v * 0.5 for k, v in enc.state_dict().items()})
    with torch.no_grad():
        torch.testing.assert_close(enc(x, regime), _plain(enc, x, regime), rtol=0, atol=2e-6)


def test_first_call_in_inference_mode_then_training() -> None:
    enc = PriceEncoder("slow", 5, 8, 13).eval()  # a window no other test uses: its FFT bases are built here
    x, regime = torch.randn(3, 13, 5), torch.randn(3, 5)
    with torch.inference_mode():
        first = enc(x, regime)
    enc(x, regime).sum().backward()  # constants cached under inference_mode must not break autograd
    assert enc.proj.weight.grad is not None and torch.isfinite(enc.proj.weight.grad).all()
    torch.testing.assert_close(first, enc(x, regime).detach())


def _reference_tokens(policy: Policy, obs: Observation) -> torch.Tensor:
    """Every token built the plain way, then the type embeddings added in one go."""
    parts = [policy.decision.expand(obs.batch, -1, -1)]
    for name in ("day", "slow", "regime", "alt", "fast", "flow", "chart", "sentiment", "account"):
        if name == "regime":
            parts.append(policy.regime_proj(obs.regime)[:, None, :])
            continue
        present, value = obs.present(name), getattr(obs, name)
        if name not in policy.encoders or value is None:
            parts.append(policy.absent[name](None, present))
            continue
        clean = torch.where(present.view(-1, *([1] * (value.dim() - 1))), value, torch.zeros(()))
        enc = policy.encoders[name]
        tokens = enc(clean, obs.regime) if isinstance(enc, PriceEncoder) else enc(clean)
        parts.append(policy.absent[name](tokens, present))
    out: torch.Tensor = policy.types(torch.cat(parts, 1), policy.type_ids)
    return out


@pytest.mark.parametrize("recent", [0, 3])
def test_token_builder_equals_reference(recent: int) -> None:
    cfg = PolicyConfig(
        **{**TINY, "n_recent_tokens": recent, "modalities": ("fast", "flow", "alt", "account")}
    )
    policy = Policy(cfg).eval()
    obs = random_observation(cfg, 5, torch.Generator().manual_seed(0))
    masked = replace(obs, presence={"flow": torch.tensor([True, False, True, True, False])}, alt=None)
    with torch.no_grad():
        for o in (obs, masked):
            assert torch.equal(policy.tokens(o), _reference_tokens(policy, o))


def test_account_modality_token_and_absence() -> None:
    assert MODALITIES[-1] == "account"
    cfg = PolicyConfig(**TINY)
    assert cfg.account_features == 4 and cfg.n_tokens() == 10
    policy = Policy(cfg).eval()
    obs = random_observation(cfg, 3, torch.Generator().manual_seed(1))
    assert obs.account is not None and obs.account.shape == (3, 4)
    with torch.no_grad():
        base = policy(obs).value
        moved = policy(replace(obs, account=obs.account + 1.0)).value
        none = policy(replace(obs, account=None)).value
        all_absent = policy(replace(obs, presence={"account": torch.zeros(3, dtype=torch.bool)})).value
    assert not torch.allclose(base, moved)  # the account reaches the decision
    torch.testing.assert_close(none, all_absent)  # missing = learned absent token
    with pytest.raises(Exception, match="'account'"):
        Observation(regime=torch.zeros(2, 5), account=torch.zeros(2, 4, 1))


def test_rl_preset() -> None:
    cfg = stage1_rl()
    assert cfg.modalities == ("fast", "slow", "flow", "alt", "account")
    assert (cfg.fast_window, cfg.slow_window, cfg.d_model) == (32, 24, stage1().d_model)
    assert 500_000 <= parameter_count(Policy(cfg)) <= 3_000_000
    assert stage1_rl(fast_window=16).fast_window == 16


def test_attention_rotary_on_the_qkv_block_equals_apply_rotary_per_head() -> None:
    import torch.nn.functional as F

    from autoperp.brain.layers import Attention, apply_rotary

    torch.manual_seed(0)
    attn = Attention(64, 4)
    x = torch.randn(5, 9, 64)
    cos, sin = torch.randn(9, 8), torch.randn(9, 8)
    qkv = attn.qkv(x).view(5, 9, 3, 4, 16).permute(2, 0, 3, 1, 4)
    q, k = apply_rotary(qkv[0], cos, sin), apply_rotary(qkv[1], cos, sin)
    y = F.scaled_dot_product_attention(q, k, qkv[2])
    ref = attn.out(y.transpose(1, 2).reshape(5, 9, 64))
    assert torch.equal(attn(x, cos, sin), ref)
