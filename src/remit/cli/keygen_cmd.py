"""`remit keygen`: make an Ed25519 key pair for envelope sign-off or ledger checkpoints."""

from __future__ import annotations

from pathlib import Path

import typer

from remit.cli.common import FormatOption, OutputFormat, console, fail, print_json
from remit.signing.keys import KeyFormatError, generate_signing_key, write_key_pair


def keygen(
    out: Path = typer.Option(..., "--out", help="Path stem: writes STEM.key and STEM.pub."),
    name: str | None = typer.Option(
        None,
        "--name",
        help="Key name (for a ledger key: the log origin, e.g. example.com/remit-log). "
        "Default: remit.local/<stem>.",
    ),
    format_: OutputFormat = FormatOption,
) -> None:
    """Write an Ed25519 key pair (NAME.key private, NAME.pub public) and print the
    public key as a C2SP verifier key (name+keyid+base64)."""
    key_name = name or f"remit.local/{out.name}"
    try:
        key = generate_signing_key(key_name)
    except KeyFormatError as exc:
        fail(f"--name: {exc}")
    if out.parent and not out.parent.exists():
        fail(f"--out: folder {out.parent} does not exist")
    try:
        priv, pub = write_key_pair(out, key)
    except FileExistsError as exc:
        fail(str(exc))
    if format_ is OutputFormat.JSON:
        print_json(
            {
                "name": key.name,
                "private_key": str(priv),
                "public_key": str(pub),
                "verifier_key": key.verifier().to_vkey(),
            }
        )
        return
    console.print(f"private key: {priv} (keep it secret; mode 600)", highlight=False, markup=False)
    console.print(f"public key:  {pub}", highlight=False, markup=False)
    console.print("verifier key:", highlight=False)
    print(key.verifier().to_vkey())
