"""Command-line mistakes (unknown option, bad choice, missing command) are one line and exit 2."""

from __future__ import annotations

import pytest

from autoperp.cli.app import main


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["list-data", "--bogus"], "No such option: --bogus"),
        (["import-data", "--kind", "foo", "x.csv"], "'foo' is not one of"),
        (["no-such-command"], "No such command"),
    ],
)
def test_usage_errors_are_one_line_exit_2(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_version_prints_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("autoperp ")
