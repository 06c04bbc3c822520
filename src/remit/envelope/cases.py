"""Policy tests for an envelope, like `opa test`: a YAML file of cases, each a request
and the tier it must get (and, optionally, reason codes it must carry). Decided by the
gate with the envelope taken as authority (its rules are tested, not its sign-offs) and
an empty history, at a fixed time. Reads files; decides nothing on any ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from remit.decide import Gate
from remit.decide.state import StaticState
from remit.domain.requests import ActionRequest
from remit.domain.tiers import Tier
from remit.domain.trust import EnvelopeTrust
from remit.envelope.loader import LoadedEnvelope


class CasesError(ValueError):
    """The cases file is unusable; the message names the case and field."""


@dataclass(frozen=True)
class CaseResult:
    name: str
    expected: str
    got: str
    missing_codes: tuple[str, ...]
    reason: str

    @property
    def passed(self) -> bool:
        return self.expected == self.got and not self.missing_codes

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "expected": self.expected,
            "got": self.got,
            "missing_codes": list(self.missing_codes),
            "passed": self.passed,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Case:
    name: str
    request: ActionRequest
    expect: Tier
    codes: tuple[str, ...]


def load_cases(path: Path, default_now: datetime) -> tuple[datetime, list[Case]]:
    """Parse `path`: {now?: time, cases: [{name, request: file or mapping, expect, codes?}]}."""
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CasesError(f"{path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise CasesError(f"{path}: expected a mapping with a 'cases' list")
    now = default_now
    if "now" in data:
        raw = data["now"]
        try:
            now = (
                raw
                if isinstance(raw, datetime)
                else datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            )
        except ValueError:
            raise CasesError(f"{path}: now: not an ISO-8601 time: {raw!r}") from None
        if now.tzinfo is None:
            raise CasesError(f"{path}: now: the time must carry a zone")
    tiers = [t.value for t in Tier]
    cases = []
    for i, c in enumerate(data["cases"]):
        where = f"{path}: cases[{i}]"
        if not isinstance(c, dict):
            raise CasesError(f"{where}: expected a mapping")
        name = str(c.get("name") or f"case {i + 1}")
        expect = c.get("expect")
        if expect not in tiers:
            raise CasesError(
                f"{where} ({name}): expect must be one of {', '.join(tiers)}, not {expect!r}"
            )
        req = c.get("request")
        try:
            if isinstance(req, str):
                text = (path.parent / req).read_text("utf-8")
            elif isinstance(req, dict):
                text = json.dumps(req, default=str)
            else:
                raise CasesError(f"{where} ({name}): request must be a file name or a mapping")
            request = ActionRequest.model_validate_json(text)
        except OSError as exc:
            raise CasesError(f"{where} ({name}): request: {exc}") from None
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise CasesError(f"{where} ({name}): request.{loc}: {first['msg']}") from None
        codes = c.get("codes") or []
        if not isinstance(codes, list):
            raise CasesError(f"{where} ({name}): codes must be a list")
        cases.append(Case(name, request, Tier(expect), tuple(str(x) for x in codes)))
    return now, cases


def run_cases(loaded: LoadedEnvelope, now: datetime, cases: list[Case]) -> list[CaseResult]:
    trust = EnvelopeTrust(True, now, "taken as authority for policy tests")
    gate = Gate(loaded.envelope, loaded.digest, trust)
    results = []
    for case in cases:
        d = gate.decide(case.request, now, StaticState())
        got_codes = {r.code.value for r in d.reasons}
        missing = tuple(c for c in case.codes if c not in got_codes)
        first = d.reasons[0].message if d.reasons else ""
        results.append(CaseResult(case.name, case.expect.value, d.tier.value, missing, first))
    return results
