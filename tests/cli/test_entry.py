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


def test_a_command_imports_its_own_module_not_every_commands(tmp_path: Path) -> None:
    """`remit keygen` loads the keygen command, not the service, CloudTrail (DuckDB) or
    the MCP proxy: each process pays for what its own command needs."""
    code = (
        "import sys; sys.argv[1:] = ['keygen', '--out', 'ciso.example']\n"
        "from remit.cli.entry import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('remit.cli.'))\n"
        "print(' '.join(loaded))\n"
        "print('duckdb' in sys.modules, 'fastapi' in sys.modules, 'mcp' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=cli_env(), capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    *_, modules, heavy = proc.stdout.strip().splitlines()
    assert "remit.cli.keygen_cmd" in modules.split()
    assert not {"remit.cli.serve_cmd", "remit.cli.cloudtrail_cmd", "remit.cli.mcp_cmd"} & set(
        modules.split()
    )
    assert heavy == "False False False"
    assert (tmp_path / "ciso.example.key").exists()
