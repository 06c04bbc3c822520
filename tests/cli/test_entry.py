"""The `remit` console script on an install without the extra a command needs: one line
saying which extra to install, exit status 3, no traceback. (A module is made missing by
putting None in `sys.modules`, which makes importing it fail as if it were not installed.)
The installed-without-extras case for real is `scripts/check-sdk-install.sh`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.cli.clikit import cli_env


def _run_without(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = (
        f"import sys; sys.modules[{module!r}] = None; sys.argv[1:] = {list(args)!r}\n"
        "from remit.cli.entry import main\nmain()"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("module", "args", "extra"),
    [
        ("typer", ["--help"], "server"),
        ("fastapi", ["serve", "--envelope", "x.yaml"], "server"),
        ("moto", ["demo", "--workdir", "demo"], "demo"),
    ],
)
def test_a_missing_extra_is_one_line_and_exit_3(
    module: str, args: list[str], extra: str, tmp_path: Path
) -> None:
    r = _run_without(module, *args, cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr
    [line] = r.stderr.strip().splitlines()
    assert line == (
        f"remit: this needs the {extra} extra, which is not installed (no module {module!r}): "
        f"install it with pip install 'remit[{extra}]'"
    )


def test_the_entry_runs_the_command_line_when_everything_is_there(tmp_path: Path) -> None:
    r = _run_without("not_a_module_remit_needs", "--help", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Usage" in r.stdout and "serve" in r.stdout
