"""The ZIRA block against DESIGN.md §4: GFNet reduction, causal readout, gradients, dropout, ablations."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from autoperp.brain.bands import band_membership, dyadic_band_index, n_dyadic_bands, n_rfft_bins
from autoperp.brain.windows import windows_ending_at
from autoperp.brain.zira import RMS_EPS, ZiraBlock, ZiraConfig
from autoperp.core.errors import UsageError

D, L, B = 8, 32, 4


def make(**kw: object) -> ZiraBlock:
    torch.manual_seed(0)
    return ZiraBlock(ZiraConfig(d_model=D, window=L, **kw))  # type: ignore[arg-type]


def inputs(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, L, D, generator=g), torch.randn(B, 5, generator=g)


def rms_norm(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + RMS_EPS) * weight


def gfnet_reference(block: ZiraBlock, x: torch.Tensor) -> torch.Tensor:
    """A straightforward GFNet global filter plus residual, written independently of the block's code."""
    assert block.filter is not None and block.out is not None and block.norm is not None
    w = torch.complex(block.filter[..., 0], block.filter[..., 1])
    y = torch.fft.irfft(torch.fft.rfft(x, dim=1) * w, n=x.shape[1], dim=1)
    mixed = y @ block.out.weight.T + block.out.bias
    return rms_norm(x + mixed, block.norm.weight)


# -- bands -------------------------------------------------------------------------------------------------


def test_dyadic_bands_are_octaves() -> None:
    assert n_rfft_bins(32) == 17
    idx = dyadic_band_index(17).tolist()
    assert idx == [0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 5]
    assert n_dyadic_bands(17) == 6
    m = band_membership(17)
    assert m.shape == (17, 6)
    assert torch.equal(m.sum(dim=1), torch.ones(17))


# -- init and the GFNet reduction --------------------------------------------------------------------------


def test_gains_are_one_at_init() -> None:
    block = make()
    x, v = inputs()
    assert torch.equal(block.band_gains(v, B, x), torch.ones(B, block.n_bands))
    assert torch.equal(block.band_gains(None, B, x), torch.ones(B, block.n_bands))


def test_identity_like_at_init() -> None:
    block = make().eval()
    x, v = inputs()
    assert block.norm is not None
    expected = rms_norm(x, block.norm.weight)
    z = block.sequence(x, v)
    rel = (z - expected).norm() / expected.norm()
    assert rel < 0.1
    assert rel > 0  # the filter is not zero: gradients must reach it


def test_equals_gfnet_with_unit_gains_and_no_dropout() -> None:
    x, v = inputs()
    zira_eval = make().eval()
    ref = gfnet_reference(zira_eval, x)
    torch.testing.assert_close(zira_eval.sequence(x, v), ref, rtol=1e-5, atol=1e-5)
    # dropout switched off: training mode gives the same
    no_drop = make(use_dropout=False).train()
    torch.testing.assert_close(no_drop.sequence(x, v), ref, rtol=1e-5, atol=1e-5)
    # the gfnet ablation is the same map, with no gain network at all
    gf = make(mode="gfnet").train()
    assert gf.gain is None
    torch.testing.assert_close(gf.sequence(x, v), ref, rtol=1e-5, atol=1e-5)


def test_trained_gains_change_the_output() -> None:
    block = make().eval()
    x, v = inputs()
    before = block(x, v)
    assert block.gain is not None
    with torch.no_grad():
        block.gain.weight.normal_()
    after = block(x, v)
    assert not torch.allclose(before, after)
    g = block.band_gains(v, B, x)
    assert bool(((g > 0) & (g < 2)).all())


# -- causality of the readout ------------------------------------------------------------------------------


def test_readout_ignores_data_after_t() -> None:
    block = make().eval()
    g = torch.Generator().manual_seed(3)
    series = torch.randn(100, D, generator=g)
    t = 60
    out = block(windows_ending_at(series, t, L))
    changed = series.clone()
    changed[t + 1 :] = torch.randn(100 - t - 1, D, generator=g) * 10
    assert torch.equal(block(windows_ending_at(changed, t, L)), out)
    # the window for a later time does see the change
    assert not torch.allclose(
        block(windows_ending_at(changed, t + 1, L)), block(windows_ending_at(series, t + 1, L))
    )


def test_full_sequence_leaks_the_future() -> None:
    """Why only the last position is read out: earlier positions of Z depend on later rows of the window."""
    block = make().eval()
    x, v = inputs()
    x2 = x.clone()
    x2[:, -1, :] += 1.0  # change only the row at decision time
    z1, z2 = block.sequence(x, v), block.sequence(x2, v)
    assert not torch.allclose(z1[:, 0, :], z2[:, 0, :], atol=1e-6)


def test_windows_ending_at() -> None:
    series = torch.arange(20.0).reshape(10, 2)
    w = windows_ending_at(series, [3, 9], 4)
    assert w.shape == (2, 4, 2)
    assert w[0, -1, 0].item() == 6.0 and w[0, 0, 0].item() == 0.0
    assert w[1, -1, 0].item() == 18.0
    with pytest.raises(UsageError, match="'t'"):
        windows_ending_at(series, 2, 4)
    with pytest.raises(UsageError, match="'t'"):
        windows_ending_at(series, 10, 4)


# -- gradients ---------------------------------------------------------------------------------------------


def test_gradients_reach_filter_gains_and_output() -> None:
    block = make(use_dropout=False).train()
    x, v = inputs()
    target = torch.randn(B, D, generator=torch.Generator().manual_seed(9))
    loss = (block(x, v) - target).pow(2).mean()
    loss.backward()
    assert block.filter is not None and block.gain is not None and block.out is not None
    for name, p in [
        ("filter", block.filter),
        ("W_g", block.gain.weight),
        ("b_g", block.gain.bias),
        ("out.weight", block.out.weight),
    ]:
        assert p.grad is not None, name
        assert p.grad.abs().sum().item() > 0, name


# -- band dropout ------------------------------------------------------------------------------------------


def test_eval_mode_has_no_dropout() -> None:
    block = make(keep_prob=0.3).eval()
    x, v = inputs()
    assert torch.equal(block.band_mask(B, x), torch.ones(B, block.n_bands))
    assert torch.equal(block(x, v), block(x, v))


def test_training_mode_drops_bands_at_the_right_rate_never_all() -> None:
    p = 0.3
    block = make(keep_prob=p).train()
    n = block.n_bands
    torch.manual_seed(5)
    x = torch.zeros(1)
    draws = 20000
    m = block.band_mask(draws, x)
    kept = m > 0
    torch.testing.assert_close(m[kept], torch.full_like(m[kept], 1.0 / p))
    assert bool(kept.any(dim=1).all())
    # each band is kept with p, plus its 1/n share of the rows where every band was dropped
    expected = p + (1 - p) ** n / n
    rate = kept.float().mean().item()
    assert abs(rate - expected) < 4 * math.sqrt(expected * (1 - expected) / (draws * n))
    # training output is random, and differs from eval
    xs, v = inputs()
    assert not torch.equal(block(xs, v), block(xs, v))


def test_dropout_is_deterministic_by_seed() -> None:
    block = make(keep_prob=0.5).train()
    x, v = inputs()
    torch.manual_seed(11)
    a = block(x, v)
    torch.manual_seed(11)
    b = block(x, v)
    assert torch.equal(a, b)
    assert torch.equal(make(keep_prob=0.5).filter, make(keep_prob=0.5).filter)  # type: ignore[arg-type]


# -- ablation switches -------------------------------------------------------------------------------------


def test_no_bands_means_one_band_and_no_dropping() -> None:
    block = make(use_bands=False, keep_prob=0.2).train()
    assert block.n_bands == 1
    x, _ = inputs()
    m = block.band_mask(1000, x)
    assert torch.equal(m, torch.full((1000, 1), 1 / 0.2))


def test_no_gains_switch() -> None:
    block = make(use_gains=False)
    assert block.gain is None
    x, v = inputs()
    assert torch.equal(block.band_gains(v, B, x), torch.ones(B, block.n_bands))


def test_identity_mode_returns_last_row() -> None:
    block = make(mode="identity")
    x, v = inputs()
    assert sum(p.numel() for p in block.parameters()) == 0
    assert torch.equal(block(x, v), x[:, -1, :])


def test_mlp_mode_has_no_time_mixing() -> None:
    block = make(mode="mlp").train()
    x, v = inputs()
    x2 = x.clone()
    x2[:, -1, :] += 1.0
    z1, z2 = block.sequence(x, v), block.sequence(x2, v)
    assert torch.equal(z1[:, :-1], z2[:, :-1])
    assert not torch.allclose(z1[:, -1], z2[:, -1])
    assert block.filter is None


def test_bad_shapes_and_config_raise() -> None:
    block = make()
    x, v = inputs()
    with pytest.raises(UsageError, match="'x'"):
        block(x[:, :-1])
    with pytest.raises(UsageError, match="'regime'"):
        block(x, v[:, :3])
    with pytest.raises(ValidationError):
        ZiraConfig(d_model=D, window=L, keep_prob=0.0)
    with pytest.raises(ValidationError):
        ZiraConfig(d_model=D, window=L, mode="transformer")  # type: ignore[arg-type]


# -- dtype and device --------------------------------------------------------------------------------------


def test_float64_and_bfloat16_on_cpu() -> None:
    block = make().eval()
    x, v = inputs()
    out64 = block.double()(x.double(), v.double())
    assert out64.dtype == torch.float64 and out64.shape == (B, D)
    block16 = make().eval().to(torch.bfloat16)
    out16 = block16(x.to(torch.bfloat16), v.to(torch.bfloat16))
    assert out16.dtype == torch.bfloat16
    assert bool(torch.isfinite(out16.float()).all())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu() -> None:
    block = make().eval()
    x, v = inputs()
    cpu = block(x, v)
    gpu = block.to("cuda")(x.to("cuda"), v.to("cuda"))
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-4)
