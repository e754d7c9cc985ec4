"""TOML config into pydantic models, with AUTOPERP__SECTION__KEY overrides and actionable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoperp.core.config import load_config
from autoperp.core.errors import ConfigError


def test_defaults_without_file() -> None:
    cfg = load_config(None, environ={})
    assert cfg.data.user_data_dir == Path("user_data")
    assert cfg.validation.funding_rate_cap == 0.03


def test_file_then_env_override(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[data]\nuser_data_dir = "/x"\n[validation]\nspike_z = 30\n')
    env = {
        "AUTOPERP__VALIDATION__SPIKE_Z": "40",
        "AUTOPERP__DOWNLOAD__SOURCES": '["archive"]',
        "AUTOPERP__VALIDATION__FUNDING_RATE_CAPS__BTC/USDT:USDT": "0.05",
        "OTHER": "ignored",
    }
    cfg = load_config(p, environ=env)
    assert cfg.data.user_data_dir == Path("/x")
    assert cfg.validation.spike_z == 40
    assert cfg.download.sources == ["archive"]
    assert cfg.validation.funding_rate_caps == {"BTC/USDT:USDT": 0.05}


@pytest.mark.parametrize(
    ("text", "env", "match"),
    [
        ("[validation]\nspike_z = -1\n", {}, "validation.spike_z"),
        ("[validation]\nspkie_z = 1\n", {}, "validation.spkie_z"),
        ("[validation\n", {}, "not valid TOML"),
        ("", {"AUTOPERP__VALIDATION__SPIKE_Z": "abc"}, "AUTOPERP__VALIDATION__SPIKE_Z"),
        ("", {"AUTOPERP__NOKEY": "1"}, "AUTOPERP__SECTION__KEY"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, env: dict[str, str], match: str) -> None:
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(p, environ=env)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config("/nonexistent/c.toml", environ={})


def test_example_config_loads() -> None:
    from tests.conftest import REPO

    cfg = load_config(REPO / "config.example.toml", environ={})
    assert cfg.download.sources == ["archive", "ccxt"]
