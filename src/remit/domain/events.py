"""The documented organisational event kinds: what `remit event add` accepts without an
envelope naming the kind in its `revalidate_on`. A typo in a kind would otherwise be
recorded forever and hold nothing; the command line refuses kinds outside this list and
the envelope's own list unless told the kind is deliberate (`--custom`).
"""

from __future__ import annotations

KNOWN_EVENT_KINDS: tuple[str, ...] = (
    "acquisition",
    "merger",
    "divestiture",
    "reorg",
    "regulation_change",
    "architecture_change",
    "model_update",
    "vendor_change",
    "incident",
    "key_compromise",
)
"""Kinds any envelope may list in `revalidate_on` (see docs/ledger.md, `event`)."""
