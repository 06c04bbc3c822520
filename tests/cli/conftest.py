"""Fixtures for the CLI tests: key pairs made with `remit keygen`, and a sign-off of the
example envelope made once with `remit envelope sign`, shared by copying files.

Every command runs the installed `remit` console script in a temporary folder with an
explicit `--db` there, so nothing touches the repository's own `.remit` folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.cli.clikit import CISO_NAME, LOG_NAME, SIGNED_AT, copy_examples, ok, remit


@dataclass(frozen=True)
class Keys:
    folder: Path
    ciso_key: Path
    ciso_pub: Path
    ciso_vkey: str
    other_pub: Path
    log_key: Path
    log_pub: Path
    log_vkey: str
    keygen_stdout: str


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("keys")
    out = ok(remit("keygen", "--out", "ciso", "--name", CISO_NAME, cwd=folder)).stdout
    ok(remit("keygen", "--out", "other", "--name", CISO_NAME, cwd=folder))
    log_out = ok(remit("keygen", "--out", "log", "--name", LOG_NAME, cwd=folder)).stdout
    return Keys(
        folder=folder,
        ciso_key=folder / "ciso.key",
        ciso_pub=folder / "ciso.pub",
        ciso_vkey=out.strip().splitlines()[-1],
        other_pub=folder / "other.pub",
        log_key=folder / "log.key",
        log_pub=folder / "log.pub",
        log_vkey=log_out.strip().splitlines()[-1],
        keygen_stdout=out,
    )


@pytest.fixture(scope="session")
def signoffs(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sign-offs file over the unmodified example envelope, by the CISO key, at SIGNED_AT."""
    folder = copy_examples(tmp_path_factory.mktemp("signed"))
    ok(
        remit(
            "envelope", "sign", "envelope.yaml", "--key", keys.ciso_key,
            "--signer", "ciso@example.com", "--role", "CISO", "--at", SIGNED_AT,
            cwd=folder,
        )
    )  # fmt: skip
    return folder / "envelope.yaml.signoffs.json"


@pytest.fixture
def ws(tmp_path: Path, signoffs: Path) -> Path:
    """A scratch folder with the example envelope (signed off) and request."""
    return copy_examples(tmp_path, signoffs)


@pytest.fixture
def unsigned_ws(tmp_path: Path) -> Path:
    """A scratch folder with the example envelope (no sign-offs) and request."""
    return copy_examples(tmp_path)
