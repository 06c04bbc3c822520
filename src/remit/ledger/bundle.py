"""The audit bundle: a self-contained JSON file (entries, checkpoints, the log's public
key) that `remit ledger verify --bundle` checks on a machine that never saw the database.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from remit.ledger.store import LedgerStore
from remit.ledger.verify import CheckpointIn

FORMAT = "remit.dev/audit-bundle/v1"


class BundleError(ValueError):
    """The bundle file is unreadable or malformed."""


def write_bundle(store: LedgerStore, public_key: str, out: TextIO) -> int:
    """Stream the bundle for `store` to `out`; return the number of entries written."""
    out.write('{"format":' + json.dumps(FORMAT) + ',"public_key":' + json.dumps(public_key))
    out.write(
        ',"checkpoints":'
        + json.dumps([{"size": c.size, "note": c.note} for c in store.checkpoints()])
    )
    out.write(',"entries":[')
    n = 0
    for e in store.entries():
        if n:
            out.write(",")
        out.write(json.dumps({"index": e.index, "leaf": base64.b64encode(e.body).decode()}))
        n += 1
    out.write("]}\n")
    return n


@dataclass
class Bundle:
    public_key: str
    checkpoints: list[CheckpointIn]
    entries: list[dict[str, Any]]

    def rows(self) -> Iterator[tuple[int, bytes, None]]:
        for i, e in enumerate(self.entries):
            try:
                yield int(e["index"]), base64.b64decode(e["leaf"], validate=True), None
            except (KeyError, TypeError, ValueError, binascii.Error) as exc:
                raise BundleError(f"entries[{i}]: {exc}") from None


def read_bundle(path: Path) -> Bundle:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: cannot read bundle: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BundleError(f"{path}: not a Remit audit bundle (expected format {FORMAT})")
    try:
        cps = [CheckpointIn(int(c["size"]), str(c["note"])) for c in data["checkpoints"]]
        return Bundle(str(data["public_key"]), cps, list(data["entries"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{path}: malformed bundle: {exc}") from None
