"""The OSCAL 1.1.2 assessment-results document of a pack: one result for the period, the
framework's controls as reviewed controls, one observation per control carrying the ledger
indexes that support it (and its CSV as relevant evidence), and a finding only where a
check failed — never a "satisfied" claim. UUIDs are derived from the content (UUIDv5), so
the same ledger gives the same document. Pure."""

from __future__ import annotations

import re
import uuid
from typing import Any

from remit.evidence.assess import Assessment, index_ranges
from remit.evidence.controls import CHECKS, EVIDENCE_CLASSES, Control
from remit.report.period import Period

OSCAL_VERSION = "1.1.2"
NS = "https://remit.dev/ns/oscal"
_ROOT = uuid.UUID("6f1c8d2e-6a43-5b7e-9c1d-52656d697421")


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_ROOT, "\x1f".join(parts)))


def control_token(framework: str, control_id: str) -> str:
    """An OSCAL token for a control id: `soc2_cc6.1`, `pcidss_10.2.1`, `euaiact_art.26.5`."""
    prefix = re.sub(r"[^a-z0-9]", "", framework.lower())
    body = control_id.lower().replace("(", ".").replace(")", "")
    return f"{prefix}_{re.sub(r'[^a-z0-9._-]', '', body)}"


def csv_name(control: Control) -> str:
    return f"controls/{control.id.replace('(', '_').replace(')', '')}.csv"


def assessment_results(
    framework: str,
    controls: tuple[Control, ...],
    period: Period,
    found: Assessment,
    origin: str,
    end_size: int,
    as_of: str,
) -> dict[str, Any]:
    """The document (`as_of`: the time of the newest entry the pack holds)."""
    p = period.to_dict()
    seed = (framework, p["since"], p["until"], origin, str(end_size))
    observations: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    for c in controls:
        indexes = found.indexes(c.evidence)
        obs_uuid = _uuid(*seed, "observation", c.id)
        kinds = "; ".join(EVIDENCE_CLASSES[e] for e in c.evidence)
        observations.append(
            {
                "uuid": obs_uuid,
                "title": f"{c.id} {c.title}: ledger evidence",
                "description": f"{len(indexes)} ledger entries of the period bear on this "
                f"control ({kinds}). How the ledger supports it: {c.how}.",
                "props": [
                    {"name": "ledger-indexes", "ns": NS, "value": index_ranges(indexes)},
                    {"name": "entry-count", "ns": NS, "value": str(len(indexes))},
                    {"name": "control-id", "ns": NS, "value": c.id},
                ],
                "methods": ["EXAMINE"],
                "types": ["control-objective"],
                "relevant-evidence": [
                    {"href": csv_name(c), "description": f"the entries supporting {c.id}"}
                ],
                "collected": as_of,
            }
        )
        failed = [(check, found.failures[check]) for check in c.checks if check in found.failures]
        if failed:
            bad = sorted(i for _, items in failed for i, _ in items)
            findings.append(
                {
                    "uuid": _uuid(*seed, "finding", c.id),
                    "title": f"{c.id} not satisfied in the period",
                    "description": " ".join(
                        f"{CHECKS[check]}: {len(items)} time(s)." for check, items in failed
                    ),
                    "props": [{"name": "ledger-indexes", "ns": NS, "value": index_ranges(bad)}],
                    "target": {
                        "type": "objective-id",
                        "target-id": control_token(framework, c.id),
                        "status": {"state": "not-satisfied"},
                    },
                    "related-observations": [{"observation-uuid": obs_uuid}],
                }
            )
    result: dict[str, Any] = {
        "uuid": _uuid(*seed, "result"),
        "title": f"Remit ledger evidence, {framework}, {period.name}",
        "description": "What the Remit ledger shows for the period. Observations carry the "
        "ledger indexes that support each control; a finding is raised only where a check "
        "failed. The absence of a finding is not a claim that a control is satisfied.",
        "start": p["since"],
        "end": p["until"],
        "reviewed-controls": {
            "control-selections": [
                {
                    "include-controls": [
                        {"control-id": control_token(framework, c.id)} for c in controls
                    ]
                }
            ]
        },
        "observations": observations,
    }
    if findings:
        result["findings"] = findings
    return {
        "assessment-results": {
            "uuid": _uuid(*seed, "assessment-results"),
            "metadata": {
                "title": f"Remit evidence pack: {framework}, {period.name}",
                "last-modified": as_of,
                "version": "1",
                "oscal-version": OSCAL_VERSION,
                "props": [{"name": "ledger-origin", "ns": NS, "value": origin}],
            },
            "import-ap": {"href": "#remit-ledger"},
            "results": [result],
        }
    }
